// The daemon's shared-memory layout: every address is decided here, in the main thread, and sent
// to every worker and app thread (docs/design.md, "Memory layout"). The config check runs the same
// planner, unbounded, to size a config before any thread starts (src/config/memory.ts), so its
// estimate is this layout and cannot drift from it.
import { MemoryPlan } from '../core/memory.ts';
import { RING_HEADER_SIZE, roundUpRingCapacity } from '../core/ring.ts';
import { DECODER_STATE_SIZE } from '../core/layout.ts';
import type { Config } from '../config/types.ts';
import { blockLayout, type MetricsRegion } from '../metrics/layout.ts';

export interface RingAddr {
  header: number;
  data: number;
  capacity: number;
}

export interface WorkerRegion {
  wake: number;
  /**
   * One u32 per app (app a's at acks + 4a): how many of this worker's inbound records app a has
   * handled with what their callbacks sent published (app-thread.ts; the worker's strict close
   * ordering, close-order.ts, waits for it). Written by the app with Atomics.store, read by the worker.
   */
  acks: number;
  scratch: number;
  scratchSize: number;
  /** The worker's output slab (OUTPUT_SLAB_SIZE bytes): frames are copied here from the rings for socket writes (output.ts). */
  slab: number;
  states: number;
  slots: number;
}

/** Bytes of each kind of region (alignment padding included), which add up to bytes - heapBase. */
export interface MemoryParts {
  /** Every ring's header and data region: worker_c × apps × 2 rings. */
  rings: number;
  /** Each worker's read scratch (worker_rbuf_size). */
  workerScratch: number;
  /** Each worker's output slab (OUTPUT_SLAB_SIZE). */
  outputSlab: number;
  /** Each worker's decoder state blocks (slotsPerWorker, from fd_alloc_c). */
  decoderStates: number;
  /** One wake line per worker and per app, and each worker's app acknowledgement words (acks). */
  wakeLines: number;
  /** Each app's write buffer (its wbuf_size): messages are assembled there and copied into rings. */
  appWrite: number;
  /** One metrics block per thread (main, workers, apps): src/metrics/layout.ts. */
  metrics: number;
}

export interface DaemonLayout {
  bytes: number;
  parts: MemoryParts;
  workers: WorkerRegion[];
  /** Per app: its wake line, and its write buffer (writer.ts WriteArea) of writeSize bytes at write. */
  apps: { wake: number; write: number; writeSize: number }[];
  /** inbound[w][a]: worker w produces, app a consumes. */
  inbound: RingAddr[][];
  /** outbound[w][a]: app a produces, worker w consumes. */
  outbound: RingAddr[][];
  /** The metrics blocks, one per thread (src/metrics/layout.ts). */
  metrics: MetricsRegion;
}

/** The config values the layout depends on (a Config has them all); of the apps, their wbuf_size. */
export type DaemonMemorySizes =
  Pick<Config, 'worker_c' | 'slotsPerWorker' | 'worker_rbuf_size' | 'inbound_ring_buf_size' | 'outbound_ring_buf_size'> &
  { readonly apps: readonly { readonly wbuf_size: number }[] };

const WAKE_LINE = 64;
/** Bytes of a worker's output slab (WorkerRegion.slab). */
export const OUTPUT_SLAB_SIZE = 1024 * 1024;
/** Bytes of one app acknowledgement word (WorkerRegion.acks). */
export const ACK_SIZE = 4;
/** An app's heartbeat (f64, ms since the epoch) sits in its wake word's line at this offset. */
export const APP_BEAT_OFFSET = 8;
/**
 * An app's stop flag (i32, 1 = stop) sits in the same line: the main thread sets it and wakes the
 * app through its wake word, which reaches a thread blocked in Atomics.wait (waiting for outbound
 * room), where a message to its event loop would not.
 */
export const APP_STOP_OFFSET = 16;
/**
 * Whether the app has an upgrade hook (i32, 1 = yes) sits in the same line: the app thread stores
 * it before it posts 'ready', a worker loads it (Atomics.load) for every handshake of the app's
 * endpoints, and sends an UPGRADE record instead of opening the client at once (records.ts).
 */
export const APP_HOOK_OFFSET = 20;

/**
 * Lays out the shared memory from `heapBase` up. Throws MemoryPlanError past 4 GiB unless
 * `unbounded` (then the layout is only a measure: the config check's estimate).
 */
export function planDaemonMemory(sizes: DaemonMemorySizes, heapBase: number, { unbounded = false } = {}): DaemonLayout {
  const plan = new MemoryPlan(heapBase, { unbounded });
  const parts: MemoryParts = { rings: 0, workerScratch: 0, outputSlab: 0, decoderStates: 0, wakeLines: 0, appWrite: 0, metrics: 0 };
  const alloc = (part: keyof MemoryParts, bytes: number): number => {
    const before = plan.bytes;
    const at = plan.alloc(bytes);
    parts[part] += plan.bytes - before;
    return at;
  };
  const W = sizes.worker_c;
  const A = sizes.apps.length;
  const slots = sizes.slotsPerWorker;
  const workers: WorkerRegion[] = [];
  for (let w = 0; w < W; w++) {
    workers.push({
      wake: alloc('wakeLines', WAKE_LINE),
      acks: alloc('wakeLines', Math.max(1, A) * ACK_SIZE),
      scratch: alloc('workerScratch', sizes.worker_rbuf_size),
      scratchSize: sizes.worker_rbuf_size,
      slab: alloc('outputSlab', OUTPUT_SLAB_SIZE),
      states: alloc('decoderStates', slots * DECODER_STATE_SIZE),
      slots,
    });
  }
  const apps = sizes.apps.map((app) => ({
    wake: alloc('wakeLines', WAKE_LINE),
    write: alloc('appWrite', app.wbuf_size),
    writeSize: app.wbuf_size,
  }));
  const ring = (capacity: number): RingAddr => ({
    header: alloc('rings', RING_HEADER_SIZE),
    data: alloc('rings', capacity),
    capacity,
  });
  const inboundCapacity = roundUpRingCapacity(sizes.inbound_ring_buf_size);
  const outboundCapacity = roundUpRingCapacity(sizes.outbound_ring_buf_size);
  const inbound: RingAddr[][] = [];
  const outbound: RingAddr[][] = [];
  for (let w = 0; w < W; w++) {
    inbound.push([]);
    outbound.push([]);
    for (let a = 0; a < A; a++) {
      inbound[w].push(ring(inboundCapacity));
      outbound[w].push(ring(outboundCapacity));
    }
  }
  const block = blockLayout(A);
  const metrics: MetricsRegion = {
    layout: block,
    main: alloc('metrics', block.bytes),
    workers: Array.from({ length: W }, () => alloc('metrics', block.bytes)),
    apps: Array.from({ length: A }, () => alloc('metrics', block.bytes)),
  };
  return { bytes: plan.bytes, parts, workers, apps, inbound, outbound, metrics };
}
