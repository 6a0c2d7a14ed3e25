// InboundBudget (src/daemon/worker/budget.ts) on its own, with fake sockets: who is paused when the
// worker's inbound budget is spent, who is closed (1013) at the next tick, and the message deadline
// (1008). The daemon-level attacks are in daemon-inbound.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type net from 'node:net';
import { InboundBudget } from '../src/daemon/worker/budget.ts';
import { Conn, Phase } from '../src/daemon/worker/conn.ts';
import { CloseCode, DataKind } from '../src/core/codes.ts';
import { FIRST_CHUNK } from '../src/core/assembler.ts';
import { createLogger } from '../src/log.ts';
import type { EndpointTable, EndpointSpec, HeadAccumulator } from '../src/http/upgrade.ts';

interface FakeSocket { paused: boolean; pause(): void; resume(): void }

function conn(id: number): Conn & { socket: FakeSocket } {
  const socket: FakeSocket = { paused: false, pause() { this.paused = true; }, resume() { this.paused = false; } };
  const c = new Conn(id, socket as unknown as net.Socket, null as unknown as EndpointTable<EndpointSpec>, null as unknown as HeadAccumulator);
  c.id = id;
  c.phase = Phase.WS;
  c.appIndex = 0;
  return c as Conn & { socket: FakeSocket };
}

function setup(limit: number, opts: { msgTimeoutS?: number; pending?: number; appPaused?: boolean } = {}) {
  const closed: [number, number][] = [];
  const budget = new InboundBudget({
    limit,
    msgTimeoutS: opts.msgTimeoutS ?? 0,
    pendingBytes: () => opts.pending ?? 0,
    appPaused: () => opts.appPaused ?? false,
    close: (c, code) => { closed.push([c.id, code]); c.phase = Phase.DEAD; },
    log: createLogger('test', 'error'),
  });
  return { budget, closed };
}

const piece = (n: number) => new Uint8Array(n);
const SIZES = [30, 70, 90, 100, 110];
const KiB = 1024;

const Budget = suite('InboundBudget');

Budget('counts partial messages by the memory they take, and releases it when they complete', () => {
  const { budget } = setup(1 << 20);
  const a = conn(1);
  budget.begin(a, DataKind.BIN, 0);
  budget.append(a, piece(10));
  assert.is(budget.held, FIRST_CHUNK);
  budget.append(a, piece(100 * KiB));
  assert.is(budget.held, 100 * KiB + 10, 'the rest of the first chunk, then one exact chunk');
  assert.is(budget.holders, 1);
  budget.release(a);
  assert.is(budget.held, 0);
  assert.is(budget.holders, 0);
});

Budget('counts records waiting for a full ring', () => {
  const { budget } = setup(1 << 20, { pending: 5000 });
  assert.is(budget.held, 5000);
});

Budget('pauses the largest holders when over budget, until the rest hold at most an eighth', () => {
  const { budget, closed } = setup(400 * KiB);
  const cs = [1, 2, 3, 4, 5].map(conn);
  cs.forEach((c) => budget.begin(c, DataKind.BIN, 0));
  // 5 holders of 30, 70, 90, 100, 110 KiB: 400 KiB, at the limit, nobody paused.
  cs.forEach((c, i) => budget.append(c, piece(SIZES[i] * KiB)));
  assert.equal(cs.map((c) => c.socket.paused), [false, false, false, false, false]);
  // 8 KiB more for the smallest: over. The largest are paused until the rest hold <= 50 KiB.
  budget.append(cs[0], piece(8 * KiB));
  assert.equal(cs.map((c) => c.socket.paused), [false, true, true, true, true]);
  assert.equal(cs.map((c) => c.budgetPaused), [false, true, true, true, true]);
  assert.equal(closed, [], 'nobody is closed before the tick');
});

Budget('closes the largest holders with 1013 at the tick until under budget, then resumes the paused', () => {
  const { budget, closed } = setup(400 * KiB);
  const cs = [1, 2, 3, 4, 5].map(conn);
  cs.forEach((c) => budget.begin(c, DataKind.BIN, 0));
  cs.forEach((c, i) => budget.append(c, piece(SIZES[i] * KiB)));
  budget.append(cs[0], piece(8 * KiB));
  budget.tick(1000);
  assert.equal(closed, [[5, CloseCode.TRY_AGAIN_LATER]], 'the largest (110 KiB) goes');
  assert.ok(budget.held <= 400 * KiB);
  assert.is(cs[4].msg!.bytes, 0, 'its partial message is dropped');
  assert.equal(cs.slice(0, 4).map((c) => c.socket.paused), [false, false, false, false], 'the others are read again');
  assert.equal(cs.map((c) => c.budgetPaused), [false, false, false, false, false]);
});

Budget('does not resume a client whose app ring is full', () => {
  const { budget, closed } = setup(100 * KiB, { appPaused: true });
  const a = conn(1), b = conn(2);
  budget.begin(a, DataKind.BIN, 0);
  budget.begin(b, DataKind.BIN, 0);
  budget.append(a, piece(90 * KiB));
  budget.append(b, piece(12 * KiB));
  assert.ok(a.socket.paused && a.budgetPaused);
  assert.ok(!b.socket.paused);
  budget.release(b); // b's message completed: back under the budget
  budget.tick(0);
  assert.equal(closed, []);
  assert.is(a.budgetPaused, false, 'the budget no longer holds it');
  assert.ok(a.socket.paused, 'but its app ring is full: it stays paused until the ring has room');
});

Budget('closes a client whose message is not finished within ws_msg_timeout with 1008', () => {
  const { budget, closed } = setup(1 << 20, { msgTimeoutS: 10 });
  const slow = conn(1), fresh = conn(2);
  budget.begin(slow, DataKind.UTF8, 1000);
  budget.append(slow, piece(5));
  budget.begin(fresh, DataKind.UTF8, 9000);
  budget.tick(10_999);
  assert.equal(closed, []);
  budget.tick(11_000);
  assert.equal(closed, [[1, CloseCode.POLICY_VIOLATION]]);
  assert.is(budget.holders, 1);
  assert.is(budget.held, 0, 'fresh holds nothing yet; slow was released');
});

Budget('forgets a closed socket', () => {
  const { budget } = setup(10 * KiB);
  const a = conn(1);
  budget.begin(a, DataKind.BIN, 0);
  budget.append(a, piece(20 * KiB));
  assert.ok(a.socket.paused);
  budget.forget(a);
  assert.is(budget.held, 0);
  assert.is(budget.holders, 0);
  budget.tick(0);
  assert.ok(a.socket.paused, 'a forgotten socket is not resumed');
});

Budget('drops partial messages to make room for at most half the budget of waiting records', () => {
  // 200 KiB of records wait for a full ring, more than the whole budget: closing partial messages
  // cannot help beyond half of it, so those holding at most 50 KiB together stay.
  const { budget, closed } = setup(100 * KiB, { pending: 200 * KiB });
  const cs = [1, 2, 3].map(conn);
  cs.forEach((c) => budget.begin(c, DataKind.BIN, 0));
  [10, 30, 40].forEach((k, i) => budget.append(cs[i], piece(k * KiB)));
  budget.tick(0);
  assert.equal(closed, [[3, CloseCode.TRY_AGAIN_LATER]], 'the largest (40 KiB): 80 -> 40 KiB, under 50');
  assert.is(budget.holders, 2);
});

Budget('does not count time a client is not read from against ws_msg_timeout', () => {
  let full = false;
  const closed: number[] = [];
  const budget = new InboundBudget({
    limit: 1 << 20, msgTimeoutS: 1, pendingBytes: () => 0, appPaused: () => full,
    close: (c) => { closed.push(c.id); c.phase = Phase.DEAD; }, log: createLogger('test', 'error'),
  });
  const c = conn(1);
  budget.tick(0);
  budget.begin(c, DataKind.BIN, 0);
  budget.append(c, piece(10));
  full = true; // its app's ring is full: the worker does not read from it
  for (let t = 500; t <= 5000; t += 500) budget.tick(t);
  assert.equal(closed, [], 'paused for 5 s, never timed out');
  full = false;
  budget.tick(5500);
  assert.equal(closed, []);
  budget.tick(6000);
  assert.equal(closed, [1], 'a second of reading time later it is');
});

Budget('unpause gives a paused holder its bytes back, so a later release leaves the count at zero', () => {
  const { budget } = setup(10 * KiB);
  const a = conn(1);
  budget.begin(a, DataKind.BIN, 0);
  budget.append(a, piece(20 * KiB));
  assert.ok(a.budgetPaused);
  assert.is(budget.readingBytes, 0, 'a paused holder is not counted as read from');
  budget.unpause(a); // e.g. the worker closes it, or stops
  assert.is(a.budgetPaused, false);
  assert.is(budget.readingBytes, 20 * KiB);
  budget.release(a);
  assert.is(budget.readingBytes, 0, 'never negative: every path through the budget keeps the count');
  assert.is(budget.held, 0);
  budget.unpause(a);
  assert.is(budget.readingBytes, 0, 'unpausing a client that is not paused changes nothing');
});

Budget.run();
