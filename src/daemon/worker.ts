// A worker thread's entry: builds the worker (src/daemon/worker/service.ts) from what the main
// thread sent, and answers the main thread's messages (main.ts). The worker owns sockets: it
// listens on every configured address with SO_REUSEPORT, runs the HTTP upgrade and the WebSocket
// protocol (through the WebAssembly codec), feeds complete messages to the apps' inbound rings,
// and writes the apps' outbound frames to sockets.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateCore } from '../core/wasm.ts';
import { createLogger, logProcessWarnings } from '../log.ts';
import type { Config } from '../config/types.ts';
import type { DaemonLayout } from './layout.ts';
import { WorkerService } from './worker/service.ts';
import type { CertFile } from './worker/tls-contexts.ts';
import { parseFaults, FAULT_ENV } from './worker/faults.ts';

export interface WorkerInit {
  index: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  config: Config;
  layout: DaemonLayout;
}

const init = workerData as WorkerInit;
const log = createLogger(`worker#${init.index}`, init.config.log_level, { format: init.config.log_format });
logProcessWarnings(log);
const faults = parseFaults(process.env[FAULT_ENV]);
const service = new WorkerService({
  index: init.index,
  core: instantiateCore(init.module, init.memory),
  config: init.config,
  layout: init.layout,
  log,
  fault: faults.onMessage,
});
const port = parentPort!;

port.on('message', async (msg: { type: string; app?: number; id?: number; config?: Config; certs?: CertFile[] | null }) => {
  if (msg.type === 'app-down' && msg.app !== undefined) {
    service.appGone(msg.app);
    port.postMessage({ type: 'app-quiet', app: msg.app });
  } else if (msg.type === 'app-up' && msg.app !== undefined) {
    service.appUp(msg.app);
  } else if (msg.type === 'reconfigure' && msg.config) {
    // A reload (src/daemon/reload.ts): only live changes reach a worker.
    try {
      service.reconfigure(msg.config, msg.certs ?? null);
      port.postMessage({ type: 'reconfigured', id: msg.id });
    } catch (err) {
      port.postMessage({ type: 'reconfigured', id: msg.id, error: (err as Error).message });
    }
  } else if (msg.type === 'serve') {
    service.serve();
  } else if (msg.type === 'stop') {
    faults.onStop();
    await service.stop();
    port.postMessage({ type: 'stopped' });
  }
});

try {
  const where = await service.start();
  port.postMessage({ type: 'listening', where });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).message });
}
