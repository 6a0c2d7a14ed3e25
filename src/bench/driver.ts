// The bench's main thread: starts the worker threads, runs the phases (connect, warm-up, measured
// window, drain, close), samples CPU and memory at the window's edges, prints the live line, and
// returns the result.
import { siblingModule } from '../module-url.ts';
import { Worker } from 'node:worker_threads';
import { connectionsPerTarget } from './args.ts';
import type { BenchOptions } from './args.ts';
import { clientWindow, sampleServer, serverWindow } from './cpu.ts';
import type { CpuWindow, ServerSample } from './cpu.ts';
import { Histogram } from './histogram.ts';
import { addCounters, emptyCounters, emptyTargetCounters, ERROR_KEYS, errorTotal, MAX_ERROR_SAMPLES, subCounters } from './stats.ts';
import type { Counters, TargetCounters, ToMain, ToWorker } from './stats.ts';
import type { WorkerInit } from './worker.ts';

export interface LatencySummary {
  count: number;
  /** Microseconds. */
  p50: number; p90: number; p99: number; p999: number; max: number; mean: number;
}

/** One URL of the run (BenchOptions.targets): its share of the connections and what they saw. */
export interface TargetResult {
  url: string;
  /** Connections placed on this URL; for connect mode, the idle connections. */
  connections: { requested: number; opened: number; failed: number };
  /** Broadcast: how many of its connections send. */
  senders: number;
  /** Over the measured window, as in BenchResult.messages (received: by its connections). */
  messages: { sent: number; received: number; perSecond: number };
  /** Over the whole run (warm-up and drain included): sent by and received by its connections. */
  total: { sent: number; received: number };
  mbPerSecond: number;
  /** Latencies of what its connections received (connect: their handshakes). */
  latencyUs: LatencySummary;
}

/** A server process's CPU use over the measured window and its RSS at the end. */
export type ServerCpu = CpuWindow & { pid: number; rssBytes: number };

export interface BenchResult {
  tool: 'ringsocket-bench';
  mode: BenchOptions['mode'];
  /** The first URL (the only one unless several were given; `targets` has each). */
  url: string;
  options: {
    connections: number; inFlight: number; size: number; binary: boolean; duration: number;
    rate: number | null; senders: number; threads: number; pids: number[];
    /** permessage-deflate offered (and accepted: a refusal fails every connect). */
    deflate: boolean;
  };
  connections: { requested: number; opened: number; failed: number };
  /** Length of the measured window, seconds. */
  windowSeconds: number;
  /**
   * echo: echoes received; broadcast: deliveries (one message to one client); connect: handshakes.
   * All per second over the measured window.
   */
  messages: { sent: number; received: number; perSecond: number };
  /** Broadcast: messages every client had by the end of the window, per second. */
  completed: { count: number; perSecond: number } | null;
  /** Payload bytes received per second, in MB (10^6 bytes). */
  mbPerSecond: number;
  latencyUs: LatencySummary;
  cpu: {
    client: CpuWindow;
    /** Every --pid together (CPU and RSS summed), or null without --pid. */
    server: (CpuWindow & { pids: number[]; rssBytes: number }) | null;
    /** Each --pid, in the order given. */
    servers: ServerCpu[];
  };
  /** messages.received per second of server CPU, of every --pid together (needs --pid). */
  perServerCpuSecond: number | null;
  connect: {
    handshakes: number;
    handshakesPerSecond: number;
    idle: { connections: number; rssBeforeBytes: number | null; rssAfterBytes: number | null; bytesPerConnection: number | null };
  } | null;
  errors: Record<(typeof ERROR_KEYS)[number], number> & { total: number };
  errorSamples: string[];
  /** Fixed-rate broadcast: sends skipped because the rate could not be kept. */
  skipped: number;
  /** Per URL, in the order given (one entry for one URL). */
  targets: TargetResult[];
  ok: boolean;
}

export interface RunHooks {
  /** Called about once a second with the live line (already formatted). */
  live?: (line: string) => void;
}

const WARMUP_MS_MAX = 1000;
const DRAIN_DEADLINE_MS = 5000;
const IDLE_SETTLE_MS = 1000;

function summarize(h: Histogram): LatencySummary {
  const us = (ns: number) => Math.round(ns / 10) / 100;
  return {
    count: h.count,
    p50: us(h.valueAtPercentile(50)),
    p90: us(h.valueAtPercentile(90)),
    p99: us(h.valueAtPercentile(99)),
    p999: us(h.valueAtPercentile(99.9)),
    max: us(h.max),
    mean: us(h.mean),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One sample of every pid, or null when there are none or one cannot be read (noted). */
function trySample(pids: number[], notes: string[]): ServerSample[] | null {
  if (pids.length === 0) return null;
  const out: ServerSample[] = [];
  for (const pid of pids) {
    try {
      out.push(sampleServer(pid));
    } catch (err) {
      notes.push(`cannot read /proc/${pid}: ${(err as Error).message}`);
      return null;
    }
  }
  return out;
}

const rssOf = (samples: ServerSample[]) => samples.reduce((n, x) => n + x.rss, 0);

/** A worker's counters, and the same per URL. */
interface Snapshot { counters: Counters; targets: TargetCounters[] }

export async function runBench(o: BenchOptions, hooks: RunHooks = {}): Promise<BenchResult> {
  const T = o.threads;
  const shared = new SharedArrayBuffer(Math.max(4, 4 * (o.senders + T * o.senders)));
  const epochMs = performance.timeOrigin + performance.now();
  const U = o.targets.length;
  const emptySnapshot = (): Snapshot => ({ counters: emptyCounters(), targets: o.targets.map(emptyTargetCounters) });
  const latest: Snapshot[] = Array.from({ length: T }, emptySnapshot);
  /** Thread 0's `completed` of the last marked/stopped report (broadcast). */
  const completedAt: Record<string, number> = {};
  const waiting = new Map<string, { got: (Snapshot | null)[]; resolve: (c: Snapshot[]) => void }>();
  const done: { counters: Counters; targets: TargetCounters[]; hists: Histogram[]; errors: string[] }[] = [];
  let doneResolve: () => void = () => {};
  const allDone = new Promise<void>((r) => { doneResolve = r; });
  let failure: Error | null = null;
  let failReject: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => { failReject = reject; });
  // `failed` is only ever awaited inside Promise.race; this keeps a rejection that happens while
  // nobody races it from being reported as unhandled. The failure itself is kept in `failure`.
  failed.catch(() => {});

  const workers = Array.from({ length: T }, (_, thread) => {
    const data: WorkerInit = { options: o, thread, shared, epochMs };
    const w = new Worker(siblingModule(import.meta.url, './worker'), { workerData: data });
    w.on('message', (m: ToMain) => {
      latest[m.thread] = { counters: m.counters, targets: m.targets };
      if (m.type === 'done') {
        done.push({ counters: m.counters, targets: m.targets, hists: m.histograms.map((h) => Histogram.fromJSON(h)), errors: m.errors });
        if (done.length === T) doneResolve();
        return;
      }
      const wait = waiting.get(m.type);
      if (wait) {
        wait.got[m.thread] = { counters: m.counters, targets: m.targets };
        if (m.thread === 0 && m.completed !== undefined) completedAt[m.type] = m.completed;
        if (wait.got.every((c) => c !== null)) {
          waiting.delete(m.type);
          wait.resolve(wait.got as Snapshot[]);
        }
      }
    });
    w.on('error', (err) => { failure ??= err; failReject(err); });
    w.on('exit', (code) => {
      if (code !== 0 && done.length < T) {
        const err = new Error(`bench worker ${thread} exited with code ${code}`);
        failure ??= err;
        failReject(err);
      }
    });
    return w;
  });

  const expect = (type: string): Promise<Snapshot[]> => {
    const p = new Promise<Snapshot[]>((resolve) => waiting.set(type, { got: new Array(T).fill(null), resolve }));
    return Promise.race([p, failed]);
  };
  const sendAll = (m: ToWorker) => { for (const w of workers) w.postMessage(m); };
  /** The threads' snapshots added up (counters, and per URL). */
  const sum = (cs: Snapshot[]): Snapshot => cs.reduce((a, b) => ({
    counters: addCounters(a.counters, b.counters),
    targets: a.targets.map((t, k) => addCounters(t, b.targets[k])),
  }), emptySnapshot());
  const sumLatest = () => sum(latest);

  // Live line: rates from the cumulative counters of the last two ticks.
  let liveTimer: NodeJS.Timeout | null = null;
  const t0Live = performance.now();
  if (hooks.live) {
    let prev = sumLatest();
    let prevAt = performance.now();
    const live = hooks.live;
    liveTimer = setInterval(() => {
      const now = performance.now();
      const snap = sumLatest();
      const cur = snap.counters;
      const dt = (now - prevAt) / 1000;
      const d = subCounters(cur, prev.counters);
      const rateOf = (c: Counters | TargetCounters) => Math.round((o.mode === 'connect' ? c.handshakes : c.received) / dt).toLocaleString('en-US');
      // Several URLs: the rate of each too, in the order given.
      const perUrl = U > 1 ? ` [${snap.targets.map((t, k) => rateOf(subCounters(t, prev.targets[k]))).join(' | ')}]` : '';
      prev = snap;
      prevAt = now;
      const conns = cur.opened - cur.closed;
      const secs = Math.round((now - t0Live) / 1000);
      live(
        `[${String(secs).padStart(4)}s] conns ${conns}  ${o.mode === 'connect' ? 'handshakes/s' : 'msgs/s'} ` +
          `${rateOf(d)}${perUrl}  MB/s ${(d.bytesIn / dt / 1e6).toFixed(1)}  errors ${errorTotal(cur)}`,
      );
    }, 1000);
  }

  const notes: string[] = [];
  try {
    await expect('ready');
    let completedStart = 0, completedEnd = 0;
    let idle: NonNullable<BenchResult['connect']>['idle'] | null = null;

    /** The measured window: counters and CPU sampled at its start (then `started`) and end. */
    const measureWindow = async (started: () => void) => {
      const markedP = expect('marked');
      sendAll({ type: 'mark' });
      const marked = sum(await markedP);
      const tStart = performance.now();
      const clientStart = process.cpuUsage();
      const serverStart = trySample(o.pids, notes);
      started();
      await Promise.race([sleep(o.duration * 1000), failed]);
      const stoppedP = expect('stopped');
      sendAll({ type: 'stop' });
      const stopped = sum(await stoppedP);
      return { marked, stopped, tStart, tEnd: performance.now(), clientStart, clientEnd: process.cpuUsage(), serverStart, serverEnd: trySample(o.pids, notes) };
    };
    let window: Awaited<ReturnType<typeof measureWindow>>;

    if (o.mode === 'connect') {
      // Idle phase first, so that the memory baseline is the server at rest and not the garbage
      // of thousands of handshakes: memory before, open, let the server settle, memory after.
      await Promise.race([sleep(IDLE_SETTLE_MS / 2), failed]);
      const before = trySample(o.pids, notes);
      const idleP = expect('idleOpen');
      sendAll({ type: 'idle' });
      const afterOpen = sum(await idleP);
      const idleOpened = afterOpen.counters.idleOpened;
      let after: ServerSample[] | null = null;
      for (let waited = 0; waited < IDLE_SETTLE_MS; waited += 250) {
        await Promise.race([sleep(250), failed]);
        after = trySample(o.pids, notes) ?? after;
      }
      idle = {
        connections: idleOpened,
        rssBeforeBytes: before ? rssOf(before) : null,
        rssAfterBytes: after ? rssOf(after) : null,
        bytesPerConnection: before && after && idleOpened > 0 ? Math.round((rssOf(after) - rssOf(before)) / idleOpened) : null,
      };
      const closedP = expect('idleClosed');
      sendAll({ type: 'idleClose' });
      await closedP;
      await Promise.race([sleep(300), failed]);
      // Handshake phase: the threads start handshaking only once the window is open.
      window = await measureWindow(() => sendAll({ type: 'go' }));
    } else {
      sendAll({ type: 'go' });
      await Promise.race([sleep(Math.min(WARMUP_MS_MAX, o.duration * 100)), failed]);
      window = await measureWindow(() => {});
      completedStart = completedAt.marked ?? 0;
      completedEnd = completedAt.stopped ?? 0;
    }

    const { marked, stopped, tStart, tEnd, clientStart, clientEnd, serverStart, serverEnd } = window;
    sendAll({ type: 'drain', deadlineMs: DRAIN_DEADLINE_MS });
    await Promise.race([allDone, failed]);
    if (liveTimer) clearInterval(liveTimer);

    const { counters: final, targets: finalTargets } = sum(done);
    const hist = new Histogram();
    const targetHists = o.targets.map(() => new Histogram());
    for (const d of done) {
      d.hists.forEach((h, k) => { hist.merge(h); targetHists[k].merge(h); });
    }
    const errorSamples = [...notes, ...done.flatMap((d) => d.errors)].slice(0, MAX_ERROR_SAMPLES);
    const win = subCounters(stopped.counters, marked.counters);
    const seconds = (tEnd - tStart) / 1000;
    const received = o.mode === 'connect' ? win.handshakes : win.received;
    const perSecond = seconds > 0 ? received / seconds : 0;
    const client = clientWindow(clientStart, clientEnd, tEnd - tStart);
    const servers: ServerCpu[] = serverStart && serverEnd
      ? o.pids.map((pid, k) => ({ pid, ...serverWindow(serverStart[k], serverEnd[k]), rssBytes: serverEnd[k].rss }))
      : [];
    const server = servers.length > 0
      ? {
        pids: o.pids,
        seconds: servers.reduce((n, x) => n + x.seconds, 0),
        cores: servers.reduce((n, x) => n + x.cores, 0),
        rssBytes: servers.reduce((n, x) => n + x.rssBytes, 0),
      }
      : null;
    const placed = connectionsPerTarget(o);
    const targets: TargetResult[] = o.targets.map((t, k) => {
      const w = subCounters(stopped.targets[k], marked.targets[k]);
      const f = finalTargets[k];
      const got = o.mode === 'connect' ? w.handshakes : w.received;
      return {
        url: t.url,
        connections: {
          requested: placed[k].connections,
          // connect: opened counts the handshake phase's connections too.
          opened: o.mode === 'connect' ? f.opened - f.handshakes : f.opened,
          failed: f.connectFailed,
        },
        senders: placed[k].senders,
        messages: { sent: w.sent, received: got, perSecond: seconds > 0 ? got / seconds : 0 },
        total: { sent: f.sent, received: o.mode === 'connect' ? f.handshakes : f.received },
        mbPerSecond: seconds > 0 ? w.bytesIn / seconds / 1e6 : 0,
        latencyUs: summarize(targetHists[k]),
      };
    });
    const errors = { total: 0 } as BenchResult['errors'];
    for (const k of ERROR_KEYS) { errors[k] = final[k]; errors.total += final[k]; }
    const result: BenchResult = {
      tool: 'ringsocket-bench',
      mode: o.mode,
      url: o.targets[0].url,
      options: {
        connections: o.connections, inFlight: o.inFlight, size: o.size, binary: o.binary, duration: o.duration,
        rate: o.rate, senders: o.senders, threads: o.threads, pids: o.pids, deflate: o.deflate,
      },
      connections: {
        requested: o.connections,
        opened: o.mode === 'connect' ? (idle?.connections ?? 0) : final.opened,
        failed: final.connectFailed,
      },
      windowSeconds: seconds,
      messages: { sent: win.sent, received, perSecond },
      completed: o.mode === 'broadcast'
        ? { count: completedEnd - completedStart, perSecond: seconds > 0 ? (completedEnd - completedStart) / seconds : 0 }
        : null,
      mbPerSecond: seconds > 0 ? win.bytesIn / seconds / 1e6 : 0,
      latencyUs: summarize(hist),
      cpu: { client, server, servers },
      perServerCpuSecond: server && server.seconds > 0 ? received / server.seconds : null,
      connect: o.mode === 'connect'
        ? { handshakes: win.handshakes, handshakesPerSecond: perSecond, idle: idle! }
        : null,
      errors,
      errorSamples,
      skipped: final.skipped,
      targets,
      ok: errors.total === 0 && final.opened > 0,
    };
    return result;
  } finally {
    if (liveTimer) clearInterval(liveTimer);
    for (const w of workers) void w.terminate();
    if (failure) notes.push(failure.message);
  }
}
