// An up-front estimate of the daemon's shared WebAssembly memory, so that a config that cannot fit
// is refused with the keys to lower, before any thread starts. The daemon's MemoryPlan
// (src/daemon/layout.ts) lays out the real regions; this estimate follows it (ring capacities
// rounded up to powers of two, the real decoder state size) and is a little generous (it also
// counts every app's wbuf_size and reserves 64 KiB for the module's static data).
import { DECODER_STATE_SIZE } from '../core/layout.ts';
import { RING_HEADER_SIZE, roundUpRingCapacity } from '../core/ring.ts';
import { KiB, WASM_MEMORY_MAX_BYTES } from './schema.ts';

/** The WebAssembly module's own static data below the host's first region. */
export const STATIC_RESERVE = 64 * KiB;

const align64 = (n: number) => Math.ceil(n / 64) * 64;

export interface MemoryInputs {
  worker_c: number;
  slotsPerWorker: number;
  worker_rbuf_size: number;
  inbound_ring_buf_size: number;
  outbound_ring_buf_size: number;
  /** One entry per app. */
  wbuf_sizes: readonly number[];
}

export interface MemoryEstimate {
  total: number;
  rings: number;
  workerScratch: number;
  decoderStates: number;
  appScratch: number;
  other: number;
}

export function estimateSharedMemory(m: MemoryInputs, decoderStateSize = DECODER_STATE_SIZE): MemoryEstimate {
  const apps = m.wbuf_sizes.length;
  const threads = 1 + m.worker_c + apps;
  const pairs = m.worker_c * apps;
  const rings = pairs * (roundUpRingCapacity(m.inbound_ring_buf_size) + roundUpRingCapacity(m.outbound_ring_buf_size) + 2 * align64(RING_HEADER_SIZE));
  const workerScratch = m.worker_c * align64(m.worker_rbuf_size);
  const decoderStates = m.worker_c * align64(m.slotsPerWorker * decoderStateSize);
  const appScratch = m.wbuf_sizes.reduce((sum, w) => sum + align64(w), 0);
  const other = STATIC_RESERVE + threads * 64;
  return { total: rings + workerScratch + decoderStates + appScratch + other, rings, workerScratch, decoderStates, appScratch, other };
}

export function fitsWasmMemory(e: MemoryEstimate): boolean {
  return e.total <= WASM_MEMORY_MAX_BYTES;
}

/**
 * "16 MiB", "1.5 GiB", "300 bytes". Fractions keep two decimals, rounded down by default so that
 * a limit just below a boundary does not read as the boundary; round 'up' for amounts that must
 * not look smaller than they are (a total that exceeds a limit).
 */
export function formatBytes(n: number, round: 'down' | 'up' = 'down'): string {
  const units: [number, string][] = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      const r = Number.isInteger(v) ? v : (round === 'up' ? Math.ceil(v * 100) : Math.floor(v * 100)) / 100;
      return `${r} ${unit}`;
    }
  }
  return `${n} bytes`;
}
