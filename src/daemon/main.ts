// The main thread: compiles the WebAssembly core once, lays out the one shared memory, starts one
// thread per app and `worker_c` worker threads, and stops them in order.
import { randomUUID } from 'node:crypto';
import { describeCluster } from '../config/cluster.ts';
import { Worker } from 'node:worker_threads';
import { compileCore, createMemory, instantiateCore, readHeapBase } from '../core/wasm.ts';
import { Ring, WakeWord, ringMaxRecord, roundUpRingCapacity } from '../core/ring.ts';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { planDaemonMemory, APP_BEAT_OFFSET, APP_STOP_OFFSET, type DaemonLayout } from './layout.ts';
import { siblingModule } from '../module-url.ts';
import { dropPrivileges, planPrivileges, type PrivilegePlan } from './privileges.ts';
import { fdLimitWarning, openFileLimit } from './limits.ts';
import { Reloader, readCerts, type ReloadResult } from './reload.ts';
import { startDaemonMetrics, type DaemonMetrics } from '../metrics/daemon.ts';

/**
 * Exit statuses: 0 after a requested stop (SIGTERM/SIGINT) that completed; EXIT_WORKER_DIED when a
 * worker thread died (a bug: errors while handling one client are contained and close only that
 * client with 1011), so that a service manager set to restart on failure restarts the daemon.
 * (EX_SOFTWARE, "internal software error", in BSD's sysexits.h.)
 */
export const EXIT_WORKER_DIED = 70;

export interface DaemonOptions {
  /** What to do about the user (privileges.ts planPrivileges); planned here when absent. */
  privileges?: PrivilegePlan;
}

export interface Daemon {
  stop(reason?: string): Promise<void>;
  /** Resolves to the exit code once the daemon has stopped. */
  done: Promise<number>;
  layout: DaemonLayout;
  /** SIGHUP: re-reads the config file and applies it if every change is live (reload.ts). */
  reload(): Promise<ReloadResult>;
}

type ThreadMsg = { type: 'ready' } | { type: 'listening'; where: string[] } | { type: 'error'; message: string } | { type: 'stopped'; note?: string };

/** Threads that have exited (a message to them gets no answer). */
const exited = new WeakSet<Worker>();

/**
 * The young generation (V8's new space: two semi-spaces and the new large-object space) of each
 * thread, in MiB. Without a limit a worker thread here gets 192 MiB (64 MiB semi-spaces), and V8
 * grows the new space while much of what is allocated survives, as in a burst of handshakes: after
 * 10,000 connections the worker's new space had grown from 4 to 27 MB and the app thread's from 2
 * to 6 MB, committed and resident with almost nothing in use. V8 gives it back only in a memory-reducing GC,
 * which a daemon that goes quiet never runs. These limits alone took the idle connection cost from
 * about 4.9 to 2.8 kB of RSS; the price is more frequent scavenges (the broadcast benchmark: about
 * 2% more server CPU, the echo ones within noise; docs/performance.md, "Idle memory per connection
 * (issue 10)"). The app thread's limit is the larger one: it runs the user's code, which may
 * allocate more per message.
 */
export const WORKER_YOUNG_GEN_MB = 6;
export const APP_YOUNG_GEN_MB = 12;
/** This daemon process's claim on its cluster node number (src/cluster/link.ts): the same in every app thread. */
const runToken = randomUUID();

function startThread(file: string, data: object, name: string, youngGenMb: number, log: Logger): { worker: Worker; first: Promise<ThreadMsg> } {
  const worker = new Worker(siblingModule(import.meta.url, file), {
    workerData: data, name, resourceLimits: { maxYoungGenerationSizeMb: youngGenMb },
  });
  worker.once('exit', () => exited.add(worker));
  const first = new Promise<ThreadMsg>((resolve) => {
    const onMsg = (m: ThreadMsg) => {
      worker.off('message', onMsg);
      resolve(m);
    };
    worker.on('message', onMsg);
    worker.once('error', (err) => resolve({ type: 'error', message: err.stack ?? String(err) }));
    worker.once('exit', (code) => resolve({ type: 'error', message: `${name} exited with code ${code} during start-up` }));
  });
  worker.on('error', (err) => log.error(`${name} crashed: ${err.stack ?? err}`));
  worker.on('message', (m: ThreadMsg) => { if (m.type === 'stopped' && m.note) log.info(`${name} stopped: ${m.note}`); });
  return { worker, first };
}

function waitFor(worker: Worker, type: string, ms: number): Promise<boolean> {
  if (exited.has(worker)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => { worker.off('message', onMsg); resolve(false); }, ms);
    const onMsg = (m: ThreadMsg) => {
      if (m.type === type) {
        clearTimeout(t);
        worker.off('message', onMsg);
        resolve(true);
      }
    };
    worker.on('message', onMsg);
    worker.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/**
 * The start order (docs/design.md, "Start order"): the workers bind every listener and read the
 * certificates, holding any connection that arrives; then, started as root with a `user`, the
 * process switches to that user (every thread); then the app threads load the app modules and run
 * their init; then the workers serve, and the daemon logs "ready".
 */
export async function startDaemon(config: Config, log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
  const privileges = options.privileges ?? planPrivileges(config, process.geteuid!());
  if (privileges.kind === 'error') throw new Error(privileges.message);
  if (privileges.kind === 'keep') log.log(privileges.level, privileges.message);
  const fdWarning = fdLimitWarning(config.fd_alloc_c, openFileLimit());
  if (fdWarning) log.warning(fdWarning);
  // The certificates as the workers read them (still as root): a reload compares the files with these.
  const startCerts = readCerts(config);
  const module = await compileCore('shared');
  const layout = planDaemonMemory(config, readHeapBase(module, 'shared'));
  const memory = createMemory('shared', layout.bytes);
  const core = instantiateCore(module, memory);
  const maxRecord = Math.min(ringMaxRecord(roundUpRingCapacity(config.inbound_ring_buf_size)), ringMaxRecord(roundUpRingCapacity(config.outbound_ring_buf_size)));
  /** (Re)initialises the rings between every worker and app `a` (no thread may be using them). */
  const initAppRings = (a: number) => {
    for (let w = 0; w < config.worker_c; w++) {
      const i = layout.inbound[w][a];
      Ring.init(core, i.header, i.data, i.capacity, layout.apps[a].wake, layout.workers[w].wake);
      const o = layout.outbound[w][a];
      Ring.init(core, o.header, o.data, o.capacity, layout.workers[w].wake, layout.apps[a].wake);
    }
  };
  for (let a = 0; a < config.apps.length; a++) initAppRings(a);
  log.info(`shared memory: ${(layout.bytes / 1048576).toFixed(1)} MiB; largest ring record ${maxRecord} bytes`);

  const apps: Worker[] = [];
  const workers: Worker[] = [];
  /** Set while main itself ends the threads: those exits are no crash. */
  let terminating = false;
  /** The metrics and health listener (src/metrics/daemon.ts); its block counts app restarts. */
  let metrics: DaemonMetrics | null = null;
  const killAll = async () => {
    terminating = true;
    await Promise.all([...workers, ...apps].map((t) => t.terminate()));
    await metrics?.close();
  };

  // Workers first, while the process may still be root: they bind the ports and read the
  // certificates, and hold every connection until they are told to serve (a worker must never
  // deliver to an app that is not there).
  const workerStarts = Array.from({ length: config.worker_c }, (_, index) =>
    startThread('./worker', { index, module, memory, config, layout }, `worker#${index}`, WORKER_YOUNG_GEN_MB, log));
  for (const s of workerStarts) workers.push(s.worker);
  const workerResults = await Promise.all(workerStarts.map((s) => s.first));
  const workerErrors = workerResults.filter((m) => m.type === 'error') as { message: string }[];
  if (workerErrors.length) {
    await killAll();
    throw new Error(`cannot listen: ${workerErrors.map((e) => e.message).join('; ')}`);
  }
  const where = (workerResults[0] as { where: string[] }).where;

  // Bound while the process may still be root. Not ready until the workers serve: the health
  // check is replaced below, once the state it reads exists.
  let notReady = (): string | null => 'starting';
  let appsUp: readonly boolean[] = config.apps.map(() => false);
  try {
    const m = await startDaemonMetrics(config, memory, layout, { notReady: () => notReady(), appUp: () => appsUp });
    metrics = m;
    if (m.where.length) log.notice(`metrics and health on ${m.where.join(', ')} (/metrics, /livez, /readyz)`);
  } catch (e) {
    await killAll();
    throw e;
  }

  // Then the privilege switch, before any app code runs.
  if (privileges.kind === 'switch') {
    try {
      log.notice(dropPrivileges(privileges.runAs));
    } catch (e) {
      await killAll();
      throw e;
    }
  }

  const appStarts = config.apps.map((app, index) =>
    startThread('./app-thread', { index, module, memory, config, layout, runToken }, `app ${app.name}`, APP_YOUNG_GEN_MB, log));
  for (const s of appStarts) apps.push(s.worker);
  const appResults = await Promise.all(appStarts.map((s) => s.first));
  const appErrors = appResults.filter((m) => m.type === 'error') as { message: string }[];
  if (appErrors.length) {
    await killAll();
    throw new Error(appErrors.map((e) => e.message).join('\n'));
  }

  log.notice(`ready: ${config.worker_c} worker(s), ${config.apps.length} app(s) (${config.apps.map((a) => a.name).join(', ')}), listening on ${where.join(', ')}${config.cluster ? `; cluster ${describeCluster(config.cluster)}` : ''}`);
  // The ready line first: no client is served before it is written.
  for (const w of workers) w.postMessage({ type: 'serve' });

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => { resolveDone = r; });
  let stopping: Promise<void> | null = null;

  // A worker that dies takes its clients with it; the daemon stops with EXIT_WORKER_DIED rather
  // than serve on with part of its listeners gone (README, "Failures").
  // Also while stopping: a worker that crashes then still makes the exit status 70.
  let workerDied = false;
  workers.forEach((w, i) => {
    let gone = false;
    const died = (why: string) => {
      if (terminating || gone) return;
      gone = workerDied = true;
      log.error(`worker#${i} died (${why}): ${stopping ? 'the daemon is stopping' : 'stopping the daemon'} with exit status ${EXIT_WORKER_DIED}`);
      if (!stopping) void stop(`worker#${i} died`);
    };
    // 'error' is an uncaught exception (the thread is ending); a non-zero exit without one is a
    // crash too (out of memory, process.exit in the thread).
    w.once('error', () => died('uncaught exception'));
    w.on('exit', (code) => { if (code !== 0) died(`thread exit code ${code}`); });
  });
  // An app thread that dies (it went around the guard on process.exit, or ran out of memory) takes
  // no client with it silently: the workers close its clients with 1011 and answer its endpoints
  // with 503, the main thread initialises its rings again and starts a new thread of the app
  // (init runs again), after 1 s, then 2, 4, ... up to 60 s when it keeps dying.
  const restarts = config.apps.map(() => ({ delayMs: 1000, lastStart: Date.now() }));
  /** Each app's heartbeat (written by its thread) and whether its thread is up. */
  const beats = config.apps.map((_, a) => new Float64Array(memory.buffer, layout.apps[a].wake + APP_BEAT_OFFSET, 1));
  const alive = config.apps.map(() => true);
  appsUp = alive;
  // /readyz: 503 from the start of a graceful stop, and while an app's thread is down.
  notReady = () => {
    if (stopping) return 'stopping';
    const down = config.apps.filter((_, a) => !alive[a]).map((app) => app.name);
    return down.length ? `app ${down.join(', ')} down` : null;
  };
  const watchApp = (a: number, thread: Worker) => {
    thread.on('exit', (code) => {
      if (stopping) return;
      alive[a] = false;
      const name = config.apps[a].name;
      const r = restarts[a];
      if (Date.now() - r.lastStart > 5 * 60_000) r.delayMs = 1000; // it ran fine for a while
      log.error(`app ${name}: its thread exited unexpectedly (code ${code}); its clients are closed with 1011 and its endpoints answer 503 until it is restarted in ${r.delayMs / 1000}s`);
      void (async () => {
        await Promise.all(workers.map((w) => { w.postMessage({ type: 'app-down', app: a }); return waitFor(w, 'app-quiet', 5000); }));
        await new Promise((res) => setTimeout(res, r.delayMs));
        r.delayMs = Math.min(60_000, r.delayMs * 2);
        if (stopping) return;
        initAppRings(a);
        Atomics.store(core.i32, layout.apps[a].wake >>> 2, 0);
        Atomics.store(core.i32, (layout.apps[a].wake + APP_STOP_OFFSET) >>> 2, 0);
        const startedWith = config;
        const started = startThread('./app-thread', { index: a, module, memory, config, layout, runToken }, `app ${name}`, APP_YOUNG_GEN_MB, log);
        apps[a] = started.worker;
        watchApp(a, started.worker);
        r.lastStart = Date.now();
        metrics!.appRestarted(a);
        const first = await started.first;
        if (first.type !== 'ready') {
          log.error(`app ${name}: restart failed: ${(first as { message?: string }).message ?? first.type}`);
          return; // its exit handler schedules the next try
        }
        // A reload applied while it started did not reach it (it was not among the threads asked):
        // it gets the running config now (id 0: no reload waits for the answer).
        if (config !== startedWith) started.worker.postMessage({ type: 'reconfigure', id: 0, config, certs: null });
        for (const w of workers) w.postMessage({ type: 'app-up', app: a });
        beats[a][0] = Date.now();
        alive[a] = true;
        log.notice(`app ${name}: restarted`);
      })();
    });
  };
  apps.forEach((thread, a) => watchApp(a, thread));

  // The stall watchdog: an app thread whose loop has not come round for app_stall_timeout (a
  // callback, or the app's own code, that never returns) is terminated; its exit handler above
  // then closes its clients and restarts it. (Always running: a reload may turn it on.)
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (let a = 0; a < config.apps.length; a++) {
      const age = now - beats[a][0];
      if (config.app_stall_timeout > 0 && alive[a] && !stopping && age > config.app_stall_timeout * 1000) {
        alive[a] = false;
        log.error(`app ${config.apps[a].name}: no progress for ${(age / 1000).toFixed(1)}s (app_stall_timeout ${config.app_stall_timeout}s): a callback that does not return? terminating its thread`);
        void apps[a].terminate();
      }
    }
  }, 250);
  watchdog.unref();

  // SIGHUP (reload.ts): `config` becomes the reloaded one (it differs only in live keys), for the
  // stop, the watchdog and app threads started later.
  const reloader = new Reloader({
    log, running: config, certs: startCerts.errors.length ? null : startCerts.files,
    threads: () => [
      ...workers.map((thread, i) => ({ name: `worker#${i}`, thread, worker: true })),
      ...apps.map((thread, a) => ({ name: `app ${config.apps[a].name}`, thread, worker: false })),
    ].filter((t) => !exited.has(t.thread)),
    apply: (next) => { config = next; },
  });
  const reload = (): Promise<ReloadResult> => {
    if (stopping) {
      log.notice('reload: ignored, the daemon is stopping');
      return Promise.resolve('refused');
    }
    return reloader.reload();
  };

  function stop(reason = 'stop requested'): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      log.notice(`stopping (${reason}): closing connections with 1001, waiting up to ${config.shutdown_wait_ws}s`);
      if (watchdog) clearInterval(watchdog);
      const grace = Math.max(1, config.shutdown_wait_ws) * 1000 + 3000;
      const workersStopped = await Promise.all(workers.map((w) => { w.postMessage({ type: 'stop' }); return waitFor(w, 'stopped', grace); }));
      workersStopped.forEach((ok, i) => { if (!ok) log.warning(`worker#${i} did not stop within ${grace / 1000}s: terminating it`); });
      // The stop flag and a wake-up reach an app thread even while it blocks waiting for outbound
      // room that no stopped worker will free.
      const appsStopped = await Promise.all(apps.map((thread, a) => {
        const wake = layout.apps[a].wake;
        Atomics.store(core.i32, (wake + APP_STOP_OFFSET) >>> 2, 1);
        new WakeWord(core, wake).wake();
        return waitFor(thread, 'stopped', 5000);
      }));
      appsStopped.forEach((ok, a) => { if (!ok) log.warning(`app ${config.apps[a].name} did not stop within 5s: terminating its thread`); });
      await killAll();
      // The one source of the exit status: a worker that died, whenever, makes it 70.
      resolveDone(workerDied ? EXIT_WORKER_DIED : 0);
    })();
    return stopping;
  }

  return { stop, done, layout, reload };
}
