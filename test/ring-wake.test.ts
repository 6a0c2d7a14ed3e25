// The sleep/wake protocol across threads (shared build): a consumer sleeping in Atomics.waitAsync
// is woken by a producer's commit in another thread, a producer blocked in reserveBlocking is woken
// by a release, and nobody calls Atomics.notify while the other side is awake.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { withDeadline, sleep } from './helpers/deadline.ts';
import { WakeWord, Wake, Ring } from '../src/core/ring.ts';
import { ringCore, initRing, type RingCore } from './fixtures/ring-setup.ts';

const Wakes = suite('ring wake words across threads (shared build)');

async function withProducer<T>(rc: RingCore, ring: Ring, body: (ask: (m: object) => Promise<any>) => Promise<T>): Promise<T> {
  const worker = new Worker(new URL('./fixtures/ring-wake-worker.ts', import.meta.url), {
    workerData: { module: rc.module, memory: rc.memory, header: ring.header, wake: rc.wakes[1] },
  });
  const ask = async (m: object) => {
    worker.postMessage(m);
    const [reply] = await withDeadline(once(worker, 'message'), 10_000, `worker reply to ${JSON.stringify(m)}`);
    return reply;
  };
  try {
    return await body(ask);
  } finally {
    await worker.terminate();
  }
}

/** Runs `body` with the event loop held open: a pending waitAsync alone does not keep it alive. */
async function keepingLoopAlive<T>(body: () => Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await body();
  } finally {
    clearInterval(keepAlive);
  }
}

Wakes('a consumer asleep in waitAsync (with a timeout and without) is woken by the commit of a producer thread, with one notify', async () => {
  for (const timeoutMs of [5000, undefined]) {
    const rc = await ringCore('shared', [4096]);
    const ring = initRing(rc);
    const wake = new WakeWord(rc.core, rc.wakes[0]);
    await withProducer(rc, ring, async (ask) => {
      const reply = ask({ op: 'commit', count: 1, size: 16, delayMs: 50 });
      wake.prepareSleep();
      assert.is(ring.peek(), 0);
      const t = performance.now();
      const result = await withDeadline(wake.waitAsync(timeoutMs), 10_000, 'waitAsync');
      assert.is(result, 'ok', `timeout ${timeoutMs}: woken by a notify, not by the timeout`);
      assert.ok(performance.now() - t < 4000);
      assert.is(rc.core.i32[rc.wakes[0] >>> 2], Wake.AWAKE);
      assert.ok(ring.peek() !== 0, 'the record is there');
      assert.equal(await reply, { notifies: 1 });
      ring.release();
    });
  }
});

Wakes('a producer commits 10,000 records to an awake consumer without a single notify', async () => {
  const rc = await ringCore('shared', [1 << 20]);
  const ring = initRing(rc);
  await withProducer(rc, ring, async (ask) => {
    assert.equal(await ask({ op: 'commit', count: 10_000, size: 24 }), { notifies: 0 });
    let n = 0;
    while (ring.peek() !== 0) { ring.release(); n++; }
    assert.is(n, 10_000);
    // Now the consumer announces SLEEPING: exactly the next commit notifies.
    new WakeWord(rc.core, rc.wakes[0]).prepareSleep();
    assert.equal(await ask({ op: 'commit', count: 100, size: 24 }), { notifies: 1 });
  });
});

Wakes('a producer blocked in reserveBlocking is woken by the release that frees space', async () => {
  const rc = await ringCore('shared', [256]);
  const ring = initRing(rc);
  await withProducer(rc, ring, async (ask) => {
    const { records } = await ask({ op: 'fill', size: 28 });
    assert.is(records, 8);
    const reply = ask({ op: 'reserveBlocking', size: 28, timeoutMs: 5000 });
    // Wait until the producer has announced that it sleeps (wantSpace + SLEEPING).
    const deadline = Date.now() + 5000;
    while (rc.core.i32[rc.wakes[1] >>> 2] !== Wake.SLEEPING && Date.now() < deadline) await sleep(5);
    assert.is(rc.core.i32[rc.wakes[1] >>> 2], Wake.SLEEPING);
    await sleep(50);
    assert.is(ring.release(), true, 'the release notifies the waiting producer');
    const r = await reply;
    assert.ok(r.ptr !== 0, 'reserveBlocking got space');
    assert.ok(r.ms < 4000, `woken by the notify after ${r.ms} ms, not by the timeout`);
    assert.is(r.waits, 1);
    for (let i = 0; i < 8; i++) assert.is(ring.release(), false, 'the producer is awake again: no notify');
  });
});

Wakes('reserveBlocking returns 0 after its timeout when nobody releases', async () => {
  const rc = await ringCore('shared', [128]);
  const ring = initRing(rc);
  await withProducer(rc, ring, async (ask) => {
    await ask({ op: 'fill', size: 28 });
    const r = await ask({ op: 'reserveBlocking', size: 28, timeoutMs: 100 });
    assert.is(r.ptr, 0);
    assert.ok(r.ms >= 90 && r.ms < 3000, `gave up after ${r.ms} ms`);
    assert.is(rc.core.i32[rc.wakes[1] >>> 2], Wake.AWAKE);
    assert.is(ring.release(), false, 'wantSpace was withdrawn: no notify');
  });
});

Wakes('WakeWord.wake wakes a sleeping thread from another thread, and only a sleeping one', async () => {
  const rc = await ringCore('shared', [64]);
  const ring = initRing(rc);
  const wake = new WakeWord(rc.core, rc.wakes[0]);
  await withProducer(rc, ring, async (ask) => {
    assert.equal(await ask({ op: 'wake', ptr: rc.wakes[0] }), { woke: false });
    wake.prepareSleep();
    const waiting = wake.waitAsync(5000);
    assert.equal(await ask({ op: 'wake', ptr: rc.wakes[0] }), { woke: true });
    assert.is(await withDeadline(waiting, 10_000, 'waitAsync'), 'ok');
    assert.is(wake.sleeping, false);
  });
});

Wakes('waitAsync without a timeout is ended by the thread\'s own timer (poke)', async () => {
  const rc = await ringCore('shared', [64]);
  const wake = new WakeWord(rc.core, rc.wakes[0]);
  // The daemon's threads wait without a timeout and wake themselves from a timer of their own.
  await keepingLoopAlive(async () => {
    wake.prepareSleep();
    const t = performance.now();
    setTimeout(() => wake.poke(), 30);
    assert.is(await withDeadline(wake.waitAsync(), 5000, 'waitAsync'), 'ok');
    assert.ok(performance.now() - t >= 25, 'not before the timer');
    assert.is(wake.sleeping, false);
  });
});

Wakes('poke() ends a pending waitAsync that a nested sleep left AWAKE; wake() does not', async () => {
  const rc = await ringCore('shared', [64]);
  const wake = new WakeWord(rc.core, rc.wakes[0]);
  await keepingLoopAlive(async () => {
    wake.prepareSleep();
    let ended = false;
    const waiting = wake.waitAsync().then((r) => { ended = true; return r; });
    // What reserveBlocking does on the same word from a callback while the loop waits.
    wake.prepareSleep();
    wake.cancelSleep();
    assert.is(wake.wake(), false, 'the word says AWAKE: wake() does not notify');
    await new Promise((r) => setTimeout(r, 30));
    assert.is(ended, false, 'the wait is still pending');
    wake.poke();
    assert.is(await withDeadline(waiting, 5000, 'waitAsync'), 'ok');
    assert.is(wake.sleeping, false);
  });
});

Wakes('waitAsync times out, reports it and leaves the word AWAKE; a cancelled sleep returns at once', async () => {
  const rc = await ringCore('shared', [64]);
  const wake = new WakeWord(rc.core, rc.wakes[0]);
  wake.prepareSleep();
  assert.is(wake.sleeping, true);
  assert.is(await withDeadline(wake.waitAsync(20), 5000, 'waitAsync'), 'timed-out');
  assert.is(wake.sleeping, false);
  assert.is(await wake.waitAsync(5000), 'not-equal', 'the word is AWAKE: no wait');
  assert.is(wake.waitSync(5000), 'not-equal');
  assert.is(wake.announced, 1);
  assert.is(wake.waits, 3);
});

Wakes('waiting needs the shared build: on a private memory waitAsync throws a TypeError', async () => {
  const rc = await ringCore('private', [64]);
  const wake = new WakeWord(rc.core, rc.wakes[0]);
  wake.prepareSleep();
  let error: unknown;
  try { await wake.waitAsync(10); } catch (e) { error = e; }
  assert.instance(error, TypeError);
});

Wakes.run();
