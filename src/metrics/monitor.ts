// Event-loop delay of one thread: perf_hooks' monitorEventLoopDelay (a libuv timer every
// LOOP_RESOLUTION_MS that records how late it fires), whose p99 and maximum over the last period
// are written into the thread's metrics block every LOOP_PERIOD_MS, and the histogram reset. Only
// threads of a daemon with a `metrics` listener run it.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MetricsBlock } from './block.ts';

export const LOOP_RESOLUTION_MS = 20;
export const LOOP_PERIOD_MS = 5000;

/** Starts the monitor; returns a function that stops it. */
export function monitorLoop(block: MetricsBlock, periodMs = LOOP_PERIOD_MS): () => void {
  const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  h.enable();
  const write = () => {
    // Nanoseconds; an empty histogram has max 0 (and a huge min): no sample, no delay.
    const n = h.count;
    block.loopDelay(n > 0 ? h.percentile(99) / 1e9 : 0, n > 0 ? h.max / 1e9 : 0);
    h.reset();
  };
  const timer = setInterval(write, periodMs);
  timer.unref();
  // A first value soon, so that a scrape right after the start has one.
  const first = setTimeout(write, Math.min(periodMs, 1000));
  first.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(first);
    h.disable();
  };
}
