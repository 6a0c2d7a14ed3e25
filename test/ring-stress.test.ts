// Two-thread stress test of the SPSC ring on the shared build: a producer worker and a consumer
// worker over one shared memory move a million records of seeded random sizes (0 .. maxRecord)
// through a small ring (so it wraps and fills constantly); the consumer checks the order, the size
// and every byte of every record. Both sides sleep on their wake words when they must wait, so
// this also exercises the sleep/wake protocol under real races: a lost wake-up shows as a timed-out
// wait. The 1 MiB ring cases exercise the producer's rewind to offset 0 when the consumer has
// caught up (assembly/ring.ts "Rewind"); the consumer counts the rewinds it follows. A failing run
// prints its seed (STRESS_SEED=<seed> replays it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { withDeadline } from './helpers/deadline.ts';
import { ringCore, initRing, type StressData, type StressResult } from './fixtures/ring-setup.ts';
import { RING_REWIND_OFFSET } from '../src/core/ring.ts';

const Stress = suite('ring two-thread stress (shared build)');

function runWorker(file: string, data: StressData): { result: Promise<StressResult>; worker: Worker } {
  const worker = new Worker(new URL(`./fixtures/${file}`, import.meta.url), { workerData: data });
  const result = new Promise<StressResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${file} exited with code ${code} before reporting`)));
  });
  return { result, worker };
}

async function stress(
  impl: 'ring' | 'as', count: number, capacity: number, seed: number, deadlineMs: number, paced?: { maxSize: number; pauseEvery: number },
) {
  const rc = await ringCore('shared', [capacity]);
  const ring = initRing(rc); // consumer wake = wakes[0], producer wake = wakes[1]
  const base = { module: rc.module, memory: rc.memory, header: ring.header, count, seed, impl, waitMs: 5000, ...paced };
  const started = performance.now();
  const consumer = runWorker('ring-consumer.ts', { ...base, wake: rc.wakes[0] });
  const producer = runWorker('ring-producer.ts', { ...base, wake: rc.wakes[1] });
  try {
    const [p, c] = await withDeadline(Promise.all([producer.result, consumer.result]), deadlineMs, `ring stress (${impl}, seed ${seed})`);
    const ms = performance.now() - started;
    const where = `impl ${impl}, seed ${seed}`;
    assert.is(p.error, undefined, `${where}: producer: ${p.error}`);
    assert.is(c.error, undefined, `${where}: consumer: ${c.error}`);
    assert.is(p.records, count);
    assert.is(c.records, count, `${where}: consumer read every record`);
    assert.is(c.bytes, p.bytes, `${where}: same payload bytes on both sides`);
    assert.is(p.timeouts + c.timeouts, 0, `${where}: no wait timed out (no lost wake-up)`);
    // Each notify swaps one SLEEPING the other side announced back to AWAKE: never more notifies
    // than announcements. (Not than waits: the sleeper's re-check may find work and cancel after
    // the notify.)
    assert.ok(p.notifies <= c.announced, `${where}: producer notified ${p.notifies} times, consumer announced SLEEPING ${c.announced} times`);
    assert.ok(c.notifies <= p.announced, `${where}: consumer notified ${c.notifies} times, producer announced SLEEPING ${p.announced} times`);
    assert.is(ring.usedBytes(), 0, `${where}: the ring ends empty`);
    if (capacity <= RING_REWIND_OFFSET) assert.is(c.rewinds, 0, `${where}: a ring of ${capacity} bytes never rewinds`);
    else assert.ok(c.rewinds! > 0, `${where}: the producer rewound (${c.rewinds} times)`);
    console.log(
      `  ${impl}, ${capacity}-byte ring: ${count} records, ${(p.bytes / 1048576).toFixed(1)} MiB in ${ms.toFixed(0)} ms; ${c.rewinds} rewinds; ` +
        `producer announced ${p.announced}x, waited ${p.waits}x, was notified ${c.notifies}x; ` +
        `consumer announced ${c.announced}x, waited ${c.waits}x, was notified ${p.notifies}x`,
    );
  } finally {
    await Promise.all([producer.worker.terminate(), consumer.worker.terminate()]);
  }
}

const seed = Number(process.env.STRESS_SEED ?? Date.now() % 100000);
console.log(`  ring stress seed ${seed} (STRESS_SEED=${seed} replays it)`);

Stress('moves 1,000,000 random-size records in order with every byte intact (Ring class, the daemon path)', async () => {
  await stress('ring', 1_000_000, 4096, seed, 60_000);
});

Stress('moves 200,000 random-size records in order with every byte intact (raw AssemblyScript exports)', async () => {
  await stress('as', 200_000, 1024, seed + 1, 30_000);
});

// Records of at most 4 KiB and a producer that pauses now and then in every other stretch of
// records: there the consumer often finds the ring empty, sometimes just as the producer starts its
// next record; in the stretches between, it runs flat out and the ring may fill up.
Stress('moves 300,000 records through a 1 MiB ring that rewinds when the consumer has caught up (Ring class)', async () => {
  await stress('ring', 300_000, 2 ** 20, seed + 2, 60_000, { maxSize: 4096, pauseEvery: 32 });
});

Stress('moves 100,000 records through a 1 MiB ring that rewinds when the consumer has caught up (raw AssemblyScript exports)', async () => {
  await stress('as', 100_000, 2 ** 20, seed + 3, 30_000, { maxSize: 4096, pauseEvery: 32 });
});

Stress.run();
