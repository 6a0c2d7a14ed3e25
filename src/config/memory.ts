// An up-front size of the daemon's shared WebAssembly memory, so that a config that cannot fit is
// refused with the keys to lower before any thread starts. It is not a second model of the memory:
// it runs the daemon's own layout planner (src/daemon/layout.ts planDaemonMemory), unbounded, from
// STATIC_RESERVE, so it is the layout the daemon will make (test/memory-estimate.test.ts). Each
// app's write buffer (wbuf_size) is part of it.
import { planDaemonMemory, type DaemonMemorySizes, type MemoryParts } from '../daemon/layout.ts';
import { KiB, WASM_MEMORY_MAX_BYTES } from './schema.ts';

/**
 * The heapBase the estimate assumes: room for the WebAssembly module's own static data below the
 * host's first region (the real heapBase is a few KiB; test/memory-estimate.test.ts checks it is
 * not above this).
 */
export const STATIC_RESERVE = 64 * KiB;

export interface MemoryEstimate extends MemoryParts {
  /** All bytes the memory needs: STATIC_RESERVE plus every part. */
  total: number;
}

export function estimateSharedMemory(sizes: DaemonMemorySizes): MemoryEstimate {
  const layout = planDaemonMemory(sizes, STATIC_RESERVE, { unbounded: true });
  return { total: layout.bytes, ...layout.parts };
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
