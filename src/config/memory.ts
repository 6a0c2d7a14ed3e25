// An up-front estimate of the daemon's shared WebAssembly memory, so that a config that cannot fit
// is refused with the keys to lower, before any thread starts. The daemon's MemoryPlan
// (src/core/memory.ts) lays out the real regions; this estimate is deliberately a little generous.
import { KiB, WASM_MEMORY_MAX_BYTES } from './schema.ts';

/** Decoder state block per connection slot, rounded up (the real size is DECODER_STATE_SIZE). */
export const DECODER_STATE_ESTIMATE = 256;
/** Ring header: producer line, consumer line, wake-word addresses (3 lines of 64), rounded up. */
export const RING_HEADER_ESTIMATE = 256;
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

export function estimateSharedMemory(m: MemoryInputs, decoderStateSize = DECODER_STATE_ESTIMATE): MemoryEstimate {
  const apps = m.wbuf_sizes.length;
  const threads = 1 + m.worker_c + apps;
  const pairs = m.worker_c * apps;
  const rings = pairs * (align64(m.inbound_ring_buf_size) + align64(m.outbound_ring_buf_size) + 2 * RING_HEADER_ESTIMATE);
  const workerScratch = m.worker_c * align64(m.worker_rbuf_size);
  const decoderStates = m.worker_c * align64(m.slotsPerWorker * decoderStateSize);
  const appScratch = m.wbuf_sizes.reduce((sum, w) => sum + align64(w), 0);
  const other = STATIC_RESERVE + threads * 64;
  return { total: rings + workerScratch + decoderStates + appScratch + other, rings, workerScratch, decoderStates, appScratch, other };
}

export function fitsWasmMemory(e: MemoryEstimate): boolean {
  return e.total <= WASM_MEMORY_MAX_BYTES;
}

/** "16 MiB", "1.5 GiB", "300 bytes". */
export function formatBytes(n: number): string {
  const units: [number, string][] = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(2).replace(/\.?0+$/, '')} ${unit}`;
    }
  }
  return `${n} bytes`;
}
