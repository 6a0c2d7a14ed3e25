// What a cross-thread wake-up costs through Atomics.waitAsync, with and without a timeout: two
// worker threads pass a token back and forth (store, Atomics.notify, waitAsync) ROUNDS times, and
// the process's CPU time per round trip is printed for each kind of wait. Run it on one core, as
// the daemon's threads run in bench:compare:
//   taskset -c 0 node bench/wait.ts            (ROUNDS=<default 200000>)
// docs/performance.md, "Waiting without a timeout", has the figures and why the daemon's loops
// wait without one.
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';

const ROUNDS = Number(process.env.ROUNDS ?? 200_000);
// Atomics.waitAsync is ES2024; tsconfig's lib is ES2023.
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number, t?: number): { async: boolean; value: unknown };
}).waitAsync;

interface Job { sab: SharedArrayBuffer; ping: boolean; timeoutMs: number | null }

if (isMainThread) {
  for (const timeoutMs of [1000, null]) {
    const sab = new SharedArrayBuffer(8);
    const start = (ping: boolean) => new Worker(new URL(import.meta.url), { workerData: { sab, ping, timeoutMs } satisfies Job });
    const before = process.cpuUsage();
    const t0 = performance.now();
    const workers = [start(true), start(false)];
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); })));
    const cpu = process.cpuUsage(before);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(`waitAsync ${timeoutMs === null ? 'without a timeout' : `with a ${timeoutMs} ms timeout`}: ` +
      `${(cpuMs * 1000 / ROUNDS).toFixed(1)} µs of CPU per round trip (${ROUNDS} round trips, ${(performance.now() - t0).toFixed(0)} ms)`);
    await Promise.all(workers.map((w) => w.terminate()));
  }
} else {
  const { sab, ping, timeoutMs } = workerData as Job;
  const flags = new Int32Array(sab);
  const mine = ping ? 0 : 1, theirs = 1 - mine;
  const pass = () => { Atomics.store(flags, theirs, 1); Atomics.notify(flags, theirs); };
  // A pending waitAsync does not keep the thread's event loop alive.
  const keepAlive = setInterval(() => {}, 60_000);
  for (let i = 0; i < ROUNDS; i++) {
    if (ping) pass();
    while (Atomics.load(flags, mine) === 0) {
      const r = timeoutMs === null ? waitAsync(flags, mine, 0) : waitAsync(flags, mine, 0, timeoutMs);
      if (r.async) await r.value;
    }
    Atomics.store(flags, mine, 0);
    if (!ping) pass();
  }
  clearInterval(keepAlive);
  parentPort!.postMessage('done');
}
