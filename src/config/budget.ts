// worker_c and the shared memory budget: an automatic worker_c (one per spare CPU) is lowered until
// the shared WebAssembly memory fits; a config that cannot fit is refused with every part of the
// estimate and the keys to lower.
import type { Collector } from './collector.ts';
import type { ConfigEnv } from './env.ts';
import type { GlobalNumberKey } from './globals.ts';
import { roundUpRingCapacity } from '../core/ring.ts';
import { OUTPUT_SLAB_SIZE, type DaemonMemorySizes } from '../daemon/layout.ts';
import { estimateSharedMemory, fitsWasmMemory, formatBytes } from './memory.ts';
import { WASM_MEMORY_MAX_BYTES } from './schema.ts';
import type { AppConfig } from './types.ts';

/** The valid values the budget depends on. */
export interface BudgetInputs {
  num: Record<GlobalNumberKey, number>;
  inboundRing: number;
  outboundRing: number;
  apps: readonly AppConfig[];
}

/** The number of worker threads, or undefined when the shared memory cannot fit (the error is recorded). */
export function fitWorkers(c: Collector, env: ConfigEnv, { num: v, inboundRing, outboundRing, apps }: BudgetInputs): number | undefined {
  const memoryFor = (workers: number): DaemonMemorySizes => ({
    worker_c: workers,
    slotsPerWorker: Math.ceil(v.fd_alloc_c / workers),
    worker_rbuf_size: v.worker_rbuf_size,
    inbound_ring_buf_size: inboundRing,
    outbound_ring_buf_size: outboundRing,
    apps,
  });
  const auto = v.worker_c === 0;
  let workers = auto ? Math.min(255, Math.max(1, env.availableParallelism() - apps.length)) : v.worker_c;
  if (auto) {
    const wanted = workers;
    while (workers > 1 && !fitsWasmMemory(estimateSharedMemory(memoryFor(workers)))) workers--;
    if (workers < wanted && fitsWasmMemory(estimateSharedMemory(memoryFor(workers)))) {
      c.warn('$.worker_c', `automatic worker_c lowered from ${wanted} to ${workers} so that the shared memory fits in ${formatBytes(WASM_MEMORY_MAX_BYTES)}`);
    }
  }
  const est = estimateSharedMemory(memoryFor(workers));
  if (!fitsWasmMemory(est)) {
    const w = workers, a = apps.length;
    c.error('$', `the shared memory would need ${formatBytes(est.total, 'up')}, more than the ${formatBytes(WASM_MEMORY_MAX_BYTES)} a WebAssembly memory can hold: ` +
      `rings ${formatBytes(est.rings)} (${w} worker${w === 1 ? '' : 's'}${auto ? ' (worker_c auto)' : ''} × ${a} app${a === 1 ? '' : 's'} × ` +
      `(${ringText('inbound_ring_buf_size', inboundRing)} + ${ringText('outbound_ring_buf_size', outboundRing)})), ` +
      `worker read scratch ${formatBytes(est.workerScratch)} (worker_c × worker_rbuf_size), ` +
      `worker output slabs ${formatBytes(est.outputSlab)} (worker_c × ${formatBytes(OUTPUT_SLAB_SIZE)}), ` +
      `connection states ${formatBytes(est.decoderStates)} (fd_alloc_c), ` +
      `app write buffers ${formatBytes(est.appWrite)} (wbuf_size of each app); ` +
      'lower worker_c, inbound_ring_buf_size and outbound_ring_buf_size (or max_ws_msg_size, which sets their default and minimum), ' +
      'worker_rbuf_size, fd_alloc_c or wbuf_size');
    return undefined;
  }
  return workers;
}

/** "inbound_ring_buf_size 64 MiB" or "inbound_ring_buf_size 33 MiB → 64 MiB" when rounded up. */
function ringText(key: string, size: number): string {
  const cap = roundUpRingCapacity(size);
  return cap === size ? `${key} ${formatBytes(size)}` : `${key} ${formatBytes(size)} → ${formatBytes(cap)}`;
}
