// The main thread's side of the metrics: its own block (app restarts, its event-loop delay), and
// the listener whose /metrics sums every thread's block (collect.ts). main.ts calls this once the
// workers listen; without `metrics` in the config there is no listener (the block still counts).
import type { Config } from '../config/types.ts';
import type { DaemonLayout } from '../daemon/layout.ts';
import { MetricsBlock } from './block.ts';
import { collect } from './collect.ts';
import { render } from './exposition.ts';
import { monitorLoop } from './monitor.ts';
import { startMetricsServer } from './server.ts';

export interface DaemonMetrics {
  /** Where the listener is ("http://127.0.0.1:9090/metrics"). */
  where: string[];
  /** App `a`'s thread was started again. */
  appRestarted(a: number): void;
  close(): Promise<void>;
}

export interface DaemonHealth {
  /** null: ready; else why not. */
  notReady(): string | null;
  /** appUp()[a]: app a's thread runs. */
  appUp(): readonly boolean[];
}

/** Seconds since the epoch when the process started. */
const startTime = Math.round((performance.timeOrigin) / 1000);

export async function startDaemonMetrics(config: Config, memory: WebAssembly.Memory, layout: DaemonLayout, health: DaemonHealth): Promise<DaemonMetrics> {
  const block = new MetricsBlock(memory.buffer, layout.metrics.main, layout.metrics.layout);
  if (!config.metrics) {
    return { where: [], appRestarted: (a) => block.appRestarted(a), close: async () => {} };
  }
  const appNames = config.apps.map((a) => a.name);
  const server = await startMetricsServer(config.metrics, {
    notReady: health.notReady,
    scrape: () => render(collect({ buffer: memory.buffer, layout, appNames, appUp: health.appUp(), startTime, cluster: config.cluster !== null })),
  });
  const stopMonitor = monitorLoop(block);
  return {
    where: server.where,
    appRestarted: (a) => block.appRestarted(a),
    async close() {
      stopMonitor();
      await server.close();
    },
  };
}
