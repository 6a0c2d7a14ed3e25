// The daemon's shared-memory layout: every address is decided here, in the main thread, and sent
// to every worker and app thread (docs/design.md, "Memory layout").
import { MemoryPlan } from '../core/memory.ts';
import { RING_HEADER_SIZE, roundUpRingCapacity } from '../core/ring.ts';
import { DECODER_STATE_SIZE } from '../core/layout.ts';
import type { Config } from '../config/types.ts';

export interface RingAddr {
  header: number;
  data: number;
  capacity: number;
}

export interface WorkerRegion {
  wake: number;
  scratch: number;
  scratchSize: number;
  states: number;
  slots: number;
}

export interface DaemonLayout {
  bytes: number;
  workers: WorkerRegion[];
  apps: { wake: number }[];
  /** inbound[w][a]: worker w produces, app a consumes. */
  inbound: RingAddr[][];
  /** outbound[w][a]: app a produces, worker w consumes. */
  outbound: RingAddr[][];
}

const WAKE_LINE = 64;
/** An app's heartbeat (f64, ms since the epoch) sits in its wake word's line at this offset. */
export const APP_BEAT_OFFSET = 8;



export function planDaemonMemory(config: Config, heapBase: number): DaemonLayout {
  const plan = new MemoryPlan(heapBase);
  const W = config.worker_c;
  const A = config.apps.length;
  const slots = config.slotsPerWorker;
  const workers: WorkerRegion[] = [];
  for (let w = 0; w < W; w++) {
    workers.push({
      wake: plan.alloc(WAKE_LINE),
      scratch: plan.alloc(config.worker_rbuf_size),
      scratchSize: config.worker_rbuf_size,
      states: plan.alloc(slots * DECODER_STATE_SIZE),
      slots,
    });
  }
  const apps = config.apps.map(() => ({ wake: plan.alloc(WAKE_LINE) }));
  const ring = (capacity: number): RingAddr => ({
    header: plan.alloc(RING_HEADER_SIZE),
    data: plan.alloc(capacity),
    capacity,
  });
  const inbound: RingAddr[][] = [];
  const outbound: RingAddr[][] = [];
  for (let w = 0; w < W; w++) {
    inbound.push([]);
    outbound.push([]);
    for (let a = 0; a < A; a++) {
      inbound[w].push(ring(roundUpRingCapacity(config.inbound_ring_buf_size)));
      outbound[w].push(ring(roundUpRingCapacity(config.outbound_ring_buf_size)));
    }
  }
  return { bytes: plan.bytes, workers, apps, inbound, outbound };
}
