// A scrape (main thread): every thread's metrics block is read and summed, the rings' fill is
// computed from their positions, and the result becomes the metric families of exposition.ts.
// Nothing here writes to the shared memory.
import { ringBytesInUse } from '../core/ring.ts';
import type { DaemonLayout } from '../daemon/layout.ts';
import {
  Slot, CLOSE_CODE_MIN, CLOSE_OTHER, STATUS_MIN, STATUS_OTHER, type BlockLayout,
} from './layout.ts';
import type { Family, Sample } from './exposition.ts';

export interface ScrapeSource {
  buffer: ArrayBufferLike;
  layout: DaemonLayout;
  appNames: readonly string[];
  /** appUp[a]: app a's thread is running (main.ts). */
  appUp: readonly boolean[];
  /** Seconds since the epoch at which the process started. */
  startTime: number;
  /** Whether the daemon is a cluster node (the ringsocket_cluster_* families are there only then). */
  cluster?: boolean;
}

/** A thread's label value: "main", "worker#0", "app:<name>". */
export function threadNames(workers: number, appNames: readonly string[]): string[] {
  return ['main', ...Array.from({ length: workers }, (_, w) => `worker#${w}`), ...appNames.map((n) => `app:${n}`)];
}

export function collect(src: ScrapeSource): Family[] {
  const { layout, appNames } = src;
  const l: BlockLayout = layout.metrics.layout;
  const block = (at: number) => new Float64Array(src.buffer, at, l.slots);
  const main = block(layout.metrics.main);
  const workers = layout.metrics.workers.map(block);
  const apps = layout.metrics.apps.map(block);
  const sumW = (slot: number) => workers.reduce((s, f) => s + f[slot], 0);
  const perApp = (base: number, from: Float64Array[] = workers): Sample[] =>
    appNames.map((app, a) => ({ labels: { app }, value: from.reduce((s, f) => s + f[base + a], 0) }));

  const closes: Sample[] = [];
  for (let i = 0; i <= CLOSE_OTHER; i++) {
    const v = sumW(l.closes + i);
    if (v > 0) closes.push({ labels: { code: i === CLOSE_OTHER ? 'other' : String(CLOSE_CODE_MIN + i) }, value: v });
  }
  const refused: Sample[] = [];
  for (let i = 0; i <= STATUS_OTHER; i++) {
    const v = sumW(l.refused + i);
    if (v > 0) refused.push({ labels: { status: i === STATUS_OTHER ? 'other' : String(STATUS_MIN + i) }, value: v });
  }
  const opened = perApp(l.opened);
  const closed = perApp(l.closed);

  const i32 = new Int32Array(src.buffer);
  const fill: Sample[] = [];
  for (const [direction, rings] of [['inbound', layout.inbound], ['outbound', layout.outbound]] as const) {
    rings.forEach((row, w) => row.forEach((r, a) => {
      const used = ringBytesInUse(i32, r.header, r.data, r.capacity);
      fill.push({ labels: { direction, worker: String(w), app: appNames[a] }, value: Math.min(1, used / r.capacity) });
    }));
  }

  const names = threadNames(workers.length, appNames);
  const threads = [main, ...workers, ...apps];
  const delay = (slot: number): Sample[] => threads.flatMap((f, i) => f[Slot.ELD_SET] ? [{ labels: { thread: names[i] }, value: f[slot] }] : []);
  const cpu = process.cpuUsage();
  const ofApps = (slot: number): Sample[] => appNames.map((app, a) => ({ labels: { app }, value: apps[a][slot] }));
  const cluster: Family[] = !src.cluster ? [] : [
    { name: 'ringsocket_cluster_up', type: 'gauge', help: 'Whether the app\'s link to Redis is up (1): cross-node messages are published and received; 0: they are dropped.', samples: ofApps(Slot.CLUSTER_UP) },
    { name: 'ringsocket_cluster_published_total', type: 'counter', help: 'Batches the app published to other nodes through Redis (acknowledged by Redis).', samples: ofApps(Slot.CLUSTER_PUBLISHED) },
    { name: 'ringsocket_cluster_published_bytes_total', type: 'counter', help: 'Bytes of those batches.', samples: ofApps(Slot.CLUSTER_PUBLISHED_BYTES) },
    { name: 'ringsocket_cluster_received_total', type: 'counter', help: 'Batches received from Redis for the app (this node\'s own broadcasts included: every node reads the broadcast channel).', samples: ofApps(Slot.CLUSTER_RECEIVED) },
    { name: 'ringsocket_cluster_received_bytes_total', type: 'counter', help: 'Bytes of those batches.', samples: ofApps(Slot.CLUSTER_RECEIVED_BYTES) },
    { name: 'ringsocket_cluster_dropped_total', type: 'counter', help: 'Batches for other nodes dropped: Redis unreachable or failing, or max_pending_size reached (delivery across nodes is at most once).', samples: ofApps(Slot.CLUSTER_DROPPED) },
    { name: 'ringsocket_cluster_dropped_bytes_total', type: 'counter', help: 'Bytes of those batches.', samples: ofApps(Slot.CLUSTER_DROPPED_BYTES) },
    { name: 'ringsocket_cluster_refused_total', type: 'counter', help: 'Batches from Redis that were not well-formed and were refused.', samples: ofApps(Slot.CLUSTER_REFUSED) },
  ];

  return [
    { name: 'ringsocket_connections', type: 'gauge', help: 'Open WebSocket connections (from the 101 until the socket closed).',
      samples: opened.map((s, a) => ({ labels: s.labels, value: s.value - closed[a].value })) },
    { name: 'ringsocket_connections_opened_total', type: 'counter', help: 'WebSocket connections opened (101 Switching Protocols sent).', samples: opened },
    { name: 'ringsocket_closes_total', type: 'counter',
      help: 'WebSocket connections closed, by the code of the close that ended them: the first close frame sent or received; 1006 when there was none. Codes 1000-1015 by value, any other code as "other".',
      samples: closes },
    { name: 'ringsocket_upgrades_refused_total', type: 'counter',
      help: 'HTTP upgrade requests answered with an error status (the daemon\'s checks, the connection limit, an upgrade hook\'s refusal). Statuses 400-599 by value, others as "other".',
      samples: refused },
    { name: 'ringsocket_messages_received_total', type: 'counter', help: 'WebSocket messages received from clients and passed to the app.', samples: perApp(l.msgIn) },
    { name: 'ringsocket_messages_sent_total', type: 'counter', help: 'WebSocket messages of the app delivered to clients: a message to n clients counts n.', samples: perApp(l.msgOut) },
    { name: 'ringsocket_bytes_received_total', type: 'counter', help: 'Bytes read from client sockets (HTTP and WebSocket; for wss:// after decryption).', samples: [{ value: sumW(Slot.BYTES_IN) }] },
    { name: 'ringsocket_bytes_sent_total', type: 'counter', help: 'Bytes written to client sockets (HTTP and WebSocket; for wss:// before encryption).', samples: [{ value: sumW(Slot.BYTES_OUT) }] },
    { name: 'ringsocket_slow_clients_closed_total', type: 'counter', help: 'Clients closed because they did not read what was sent to them, by the limit they passed.',
      samples: [
        { labels: { limit: 'max_client_outbound_size' }, value: sumW(Slot.SLOW_CLIENT) },
        { labels: { limit: 'max_worker_outbound_size' }, value: sumW(Slot.SLOW_WORKER) },
      ] },
    { name: 'ringsocket_ring_fill_ratio', type: 'gauge', help: 'Bytes in use in a ring over its capacity (inbound: worker to app; outbound: app to worker), at the scrape.', samples: fill },
    { name: 'ringsocket_app_restarts_total', type: 'counter', help: 'Times an app\'s thread was started again after it died or was stopped by the stall watchdog.', samples: perApp(l.restarts, [main]) },
    { name: 'ringsocket_app_up', type: 'gauge', help: 'Whether the app\'s thread is running (1) or down until its restart (0).',
      samples: appNames.map((app, a) => ({ labels: { app }, value: src.appUp[a] ? 1 : 0 })) },
    { name: 'ringsocket_worker_restarts_total', type: 'counter', help: 'Always 0: worker threads are not restarted; a worker that dies stops the daemon with exit status 70.', samples: [{ value: 0 }] },
    { name: 'ringsocket_event_loop_delay_p99_seconds', type: 'gauge', help: 'The 99th percentile of a thread\'s event-loop delay over the last 5-second period.', samples: delay(Slot.ELD_P99) },
    { name: 'ringsocket_event_loop_delay_max_seconds', type: 'gauge', help: 'The largest event-loop delay of a thread over the last 5-second period.', samples: delay(Slot.ELD_MAX) },
    ...cluster,
    { name: 'process_cpu_seconds_total', type: 'counter', help: 'User and system CPU time of the process (all threads), seconds.', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
    { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident set size of the process.', samples: [{ value: process.memoryUsage.rss() }] },
    { name: 'process_start_time_seconds', type: 'gauge', help: 'When the process started, seconds since the epoch.', samples: [{ value: src.startTime }] },
  ];
}
