// Parts of the worker thread (src/daemon/worker/*) on their own, over a real core and real rings
// but without sockets or threads: the inbound producer (staging, the pending queue and its
// pause/resume, an app that goes down), the output queues, the connection state (Conn), the client
// registry, and the SNI lookup.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type net from 'node:net';
import { ringCore, initRing } from './fixtures/ring-setup.ts';
import { RingLayout, Wake } from '../src/core/ring.ts';
import { InboundProducer } from '../src/daemon/worker/inbound.ts';
import { Output } from '../src/daemon/worker/output.ts';
import { Conn, Phase } from '../src/daemon/worker/conn.ts';
import { Clients } from '../src/daemon/worker/clients.ts';
import type { InboundBudget } from '../src/daemon/worker/budget.ts';
import { CloseCode } from '../src/core/codes.ts';
import { contextForName } from '../src/daemon/worker/listen.ts';
import { OutboundDrain } from '../src/daemon/worker/outbound.ts';
import { Outbound, OUT_HEADER_SIZE, OUT_STAMP, OUT_COUNT } from '../src/daemon/records.ts';
import { Inbound, IN_HEADER_SIZE, IN_CLIENT_ID } from '../src/daemon/records.ts';
import { createLogger } from '../src/log.ts';
import type { EndpointTable, EndpointSpec, HeadAccumulator } from '../src/http/upgrade.ts';

const log = createLogger('test', 'error');

async function producer(capacities: number[]) {
  const rc = await ringCore('shared', capacities);
  const rings = capacities.map((_, i) => initRing(rc, i));
  const paused: [number, boolean][] = [];
  const p = new InboundProducer({
    core: rc.core, rings, appNames: capacities.map((_, i) => `app${i}`), log,
    pauseClients: (app, on) => paused.push([app, on]),
  });
  return { rc, rings, p, paused };
}

/** Writes one READ record of `len` payload bytes for client `id` of `app`. */
function produce(p: InboundProducer, app: number, id: number, len: number): void {
  const rec = p.reserve(app, IN_HEADER_SIZE + len);
  p.writeHeader(rec, Inbound.READ, 0, 7, id);
  rec.u8.fill(id & 0xff, rec.ptr + IN_HEADER_SIZE, rec.ptr + IN_HEADER_SIZE + len);
  p.commit(app, rec);
}

const Producer = suite('InboundProducer');

Producer('stages records and publishes them at once, in order, with their headers', async () => {
  const { rc, rings, p } = await producer([4096]);
  produce(p, 0, 11, 5);
  produce(p, 0, 12, 9);
  assert.is(rings[0].peek(), 0, 'nothing is visible before publish');
  p.publish();
  const f64 = new Float64Array(rc.core.memory.buffer);
  for (const [id, len] of [[11, 5], [12, 9]]) {
    const at = rings[0].peek();
    assert.ok(at !== 0);
    assert.is(rings[0].peekSize(), IN_HEADER_SIZE + len);
    assert.is(rc.core.u8[at], Inbound.READ);
    assert.is(rc.core.dv.getUint16(at + 2, true), 7);
    assert.is(f64[(at + IN_CLIENT_ID) >>> 3], id);
    rings[0].consume();
  }
  assert.is(p.nextSeq(0), 2);
});

Producer('keeps records for a full ring in order, pauses that app, and resumes once they went in', async () => {
  const { rings, p, paused } = await producer([256, 256]);
  let n = 0;
  while (!p.isPaused(0)) produce(p, 0, ++n, 40);
  produce(p, 0, ++n, 40);
  assert.equal(paused, [[0, true]]);
  assert.ok(p.pendingBytes === 2 * (IN_HEADER_SIZE + 40), `pending ${p.pendingBytes}`);
  assert.is(p.isPaused(1), false, 'the other app is not affected');
  produce(p, 1, 100, 10);
  p.publish();
  // The app frees its ring; the waiting records follow, in order.
  const seen: number[] = [];
  for (let round = 0; round < 10 && seen.length < n; round++) {
    for (let at = rings[0].peek(); at !== 0; at = rings[0].peek()) {
      seen.push(at);
      rings[0].consume();
    }
    rings[0].releaseConsumed();
    p.flushPending();
  }
  assert.is(seen.length, n);
  assert.is(p.pendingBytes, 0);
  p.resumeApps();
  assert.equal(paused, [[0, true], [0, false]]);
  assert.is(p.pausedApps, 0);
});

Producer('a record that finds its ring full asks the app to wake the worker once it frees room', async () => {
  const { rc, rings, p } = await producer([256]);
  let n = 0;
  while (!p.isPaused(0)) produce(p, 0, ++n, 40);
  assert.is(rc.core.i32[(rc.rings[0].header + RingLayout.PROD_WAITING) >>> 2], 1, 'prodWaiting set at the failing reserve, not at the wake loop\'s next turn');
  // The worker's wake loop is asleep already (its wake word says SLEEPING): the app's release wakes it.
  Atomics.store(rc.core.i32, rc.wakes[1] >>> 2, Wake.SLEEPING);
  assert.ok(rings[0].peek() !== 0);
  rings[0].consume();
  assert.is(rings[0].releaseConsumed(), true, 'the release notified the worker');
  assert.is(Atomics.load(rc.core.i32, rc.wakes[1] >>> 2), Wake.AWAKE);
});

Producer('forgets the staged and waiting records of an app that went down', async () => {
  const { rings, p } = await producer([256]);
  while (!p.isPaused(0)) produce(p, 0, 1, 40);
  produce(p, 0, 1, 40);
  assert.ok(p.pendingBytes > 0);
  p.dropApp(0);
  assert.is(p.pendingBytes, 0);
  assert.is(p.isPaused(0), false);
  assert.is(p.pausedApps, 0);
  p.appUp(0);
  assert.is(p.nextSeq(0), 0);
  assert.ok(rings[0].peek() !== 0, 'what was published before stays for the old thread (main re-initialises the ring)');
});

Producer('never publishes what was staged for an app that went down', async () => {
  const { rings, p } = await producer([4096]);
  produce(p, 0, 1, 10);
  p.dropApp(0);
  p.publish();
  assert.is(rings[0].peek(), 0, 'the main thread may re-initialise the ring: nothing of the old thread appears in it');
});

const Queues = suite('Output');

interface FakeSocket { writes: Buffer[]; writableLength: number; destroyed: boolean; ended: boolean; write(b: Buffer): boolean; end(): void; cork(): void; uncork(): void }
function fakeConn(slot: number): Conn & { socket: FakeSocket } {
  const socket: FakeSocket = {
    writes: [], writableLength: 0, destroyed: false, ended: false,
    write(b) { this.writes.push(Buffer.from(b)); return true; },
    end() { this.ended = true; }, cork() {}, uncork() {},
  };
  const c = new Conn(slot, socket as unknown as net.Socket, null as unknown as EndpointTable<EndpointSpec>, null as unknown as HeadAccumulator);
  c.phase = Phase.WS;
  return c as Conn & { socket: FakeSocket };
}

Queues('joins one client\'s frames into one write, slices of shared memory included, then ends it', async () => {
  const rc = await ringCore('shared', [64]);
  const u8 = rc.core.u8;
  u8.set([9, 8, 7], 1000);
  const over: number[] = [];
  const out = new Output(u8, 1 << 20, (c) => over.push(c.slot));
  const a = fakeConn(1), b = fakeConn(2);
  out.queue(a, Buffer.from([1, 2]), 0, 2);
  out.queue(a, null, 1000, 3);
  out.queue(b, Buffer.from([5]), 0, 1);
  out.end(a);
  assert.equal(a.socket.writes, [], 'nothing before the flush');
  out.flush();
  assert.equal(a.socket.writes, [Buffer.from([1, 2, 9, 8, 7])]);
  assert.equal(b.socket.writes, [Buffer.from([5])]);
  assert.ok(a.socket.ended);
  assert.is(b.socket.ended, false);
  assert.equal(over, []);
  assert.is(a.qCount + a.qBytes + b.qCount + b.qBytes, 0);
});

Queues('reports a client whose unsent bytes pass the limit', async () => {
  const rc = await ringCore('shared', [64]);
  const over: [number, number][] = [];
  const out = new Output(rc.core.u8, 100, (c, bytes) => { over.push([c.slot, bytes]); c.closeSent = true; });
  const a = fakeConn(3);
  a.socket.writableLength = 90;
  out.queue(a, Buffer.alloc(10), 0, 10);
  assert.equal(over, []);
  out.queue(a, Buffer.alloc(1), 0, 1);
  assert.equal(over, [[3, 101]]);
  out.queue(a, Buffer.alloc(1), 0, 1);
  assert.is(over.length, 1, 'once');
});

Queues('reuses its output slab while sockets take every byte, and leaves it to a socket that kept some', async () => {
  const rc = await ringCore('shared', [64]);
  const u8 = rc.core.u8;
  const out = new Output(u8, 1 << 20, () => {});
  const a = fakeConn(1), b = fakeConn(2);
  // The fake socket keeps what it was given (not a copy), as Node does with what the kernel did not take.
  const kept: Buffer[] = [];
  b.socket.write = function (buf: Buffer) { kept.push(buf); this.writableLength += buf.length; return true; };
  const flushFrame = (c: typeof a, bytes: number[]) => {
    u8.set(bytes, 2000);
    out.queue(c, null, 2000, bytes.length);
    out.flush();
  };
  const keepWrites = (c: typeof a) => { const seen: Buffer[] = []; c.socket.write = function (buf: Buffer) { seen.push(buf); return true; }; return seen; };
  const seenA = keepWrites(a);
  flushFrame(a, [1, 2, 3]);
  flushFrame(a, [4, 5, 6]);
  assert.is(seenA.length, 2);
  assert.is(seenA[0].buffer, seenA[1].buffer, 'the second flush wrote from the same slab');
  assert.equal([...seenA[1]], [4, 5, 6]);
  flushFrame(b, [7, 8, 9]); // b keeps it: the slab is b's now
  flushFrame(a, [10, 11, 12]);
  assert.equal([...kept[0]], [7, 8, 9], 'what b kept is not overwritten by the next flush');
  assert.is.not(seenA[2].buffer, kept[0].buffer, 'the next flush took a new slab');
  flushFrame(b, [13, 14, 15]); // b has bytes pending: a Buffer of its own, not the slab
  assert.is.not(kept[1].buffer, seenA[2].buffer);
  assert.equal([...kept[1]], [13, 14, 15]);
  // b's pending bytes are written: the slab it held is free again and is taken before a new one.
  b.socket.writableLength = 0;
  const d = fakeConn(4);
  d.socket.write = function (buf: Buffer) { this.writableLength += buf.length; return true; };
  flushFrame(d, [16, 17]); // d keeps the current slab: the next flush needs another
  flushFrame(a, [18, 19]);
  assert.is(seenA[3].buffer, kept[0].buffer, 'the slab b held before was reused once b had nothing pending');
});

Queues('keeps at most a few slabs for clients that do not read, however many there are', async () => {
  const rc = await ringCore('shared', [64]);
  const u8 = rc.core.u8;
  const out = new Output(u8, 1 << 30, () => {});
  const slabs = new Set<ArrayBufferLike>();
  const writes: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    const c = fakeConn(10 + i);
    c.socket.write = function (buf: Buffer) { writes.push(buf); this.writableLength += 1; return true; }; // never drains
    u8.set([i, i + 1], 3000);
    out.queue(c, null, 3000, 2);
    out.flush();
    assert.equal([...writes[i]], [i, i + 1]);
    if (writes[i].buffer.byteLength >= 1024 * 1024) slabs.add(writes[i].buffer);
  }
  assert.is(slabs.size, 4, 'four slabs kept aside, then Buffers of their own');
  assert.equal(writes.slice(0, 4).map((w) => [...w]), [[0, 1], [1, 2], [2, 3], [3, 4]], 'what the slow clients hold is intact');
});

Queues('copies frames from the rings into the shared slab with the core, and falls back to private slabs while it is held', async () => {
  const rc = await ringCore('shared', [64, 1 << 20]);
  const u8 = rc.core.u8;
  const slabAt = rc.rings[1].data;
  let copies = 0;
  const copy = (dst: number, src: number, len: number) => { copies++; rc.core.exports.copy(dst, src, len); };
  const out = new Output(u8, 1 << 30, () => {}, undefined, { at: slabAt, size: 1 << 20, copy });
  const inShared = (b: Buffer) => b.buffer === u8.buffer && b.byteOffset >= slabAt && b.byteOffset + b.length <= slabAt + (1 << 20);
  const a = fakeConn(1), b = fakeConn(2), d = fakeConn(3);
  // Each socket's writes: the Buffers it was given, and their bytes at the time of the write.
  const seen = new Map<Conn, Buffer[]>();
  const bytes = new Map<Conn, number[][]>();
  for (const c of [a, b, d]) {
    seen.set(c, []);
    bytes.set(c, []);
    c.socket.write = function (buf: Buffer) { seen.get(c)!.push(buf); bytes.get(c)!.push([...buf]); return true; };
  }
  u8.set([1, 2, 3], 1000);
  u8.set([4, 5], 1100);
  // a: two slices of the shared memory, joined in the shared slab by two core copies.
  out.queue(a, null, 1000, 3);
  out.queue(a, null, 1100, 2);
  // b: one slice, in the shared slab too. d: a private Buffer and a slice, joined in a private slab.
  out.queue(b, null, 1100, 2);
  out.queue(d, Buffer.from([9]), 0, 1);
  out.queue(d, null, 1000, 3);
  out.flush();
  assert.equal(bytes.get(a), [[1, 2, 3, 4, 5]]);
  assert.equal(bytes.get(b), [[4, 5]]);
  assert.equal(bytes.get(d), [[9, 1, 2, 3]]);
  assert.ok(inShared(seen.get(a)![0]) && inShared(seen.get(b)![0]), 'slices of the rings go through the shared slab');
  assert.is(inShared(seen.get(d)![0]), false, 'a client with a private Buffer among its frames gets a private slab');
  assert.is(copies, 3, 'one core copy per slice into the shared slab (a: 2, b: 1), none into the private slab');
  // d keeps its bytes (a full kernel buffer): the shared slab is d's until it has nothing pending.
  d.socket.write = function (buf: Buffer) { seen.get(d)!.push(buf); this.writableLength += buf.length; return true; };
  out.queue(d, null, 1100, 2);
  out.flush();
  const dHeld = seen.get(d)![1];
  assert.ok(inShared(dHeld), 'd wrote from the shared slab and kept the bytes');
  out.queue(a, null, 1000, 3);
  out.flush();
  assert.is(inShared(seen.get(a)![1]), false, 'while d holds it, frames go to a private slab');
  assert.equal([...seen.get(a)![1]], [1, 2, 3]);
  assert.equal([...dHeld], [4, 5], 'what d holds is not overwritten');
  d.socket.writableLength = 0;
  out.queue(a, null, 1100, 2);
  out.flush();
  assert.ok(inShared(seen.get(a)![2]), 'the shared slab is used again once d has nothing pending');
  assert.equal([...seen.get(a)![2]], [4, 5]);
});

Queues('a flush that throws leaves the shared slab to the socket that still holds bytes in it', async () => {
  const rc = await ringCore('shared', [64, 1 << 20]);
  const u8 = rc.core.u8;
  const out = new Output(u8, 1 << 30, () => {}, undefined, { at: rc.rings[1].data, size: 1 << 20, copy: (d, s, n) => rc.core.exports.copy(d, s, n) });
  const a = fakeConn(1), b = fakeConn(2), d = fakeConn(3);
  const held: Buffer[] = [];
  a.socket.write = function (buf: Buffer) { held.push(buf); this.writableLength += buf.length; return true; }; // keeps its bytes
  u8.set([1, 2, 3], 1000);
  out.queue(a, null, 1000, 3);
  out.flush();
  assert.equal([...held[0]], [1, 2, 3]);
  // A flush in which a write throws (the shared slab is a's, so not used in it).
  b.socket.write = () => { throw new Error('write failed'); };
  out.queue(b, Buffer.from([5]), 0, 1);
  assert.throws(() => out.flush(), /write failed/);
  // The next flush must not hand a's bytes to another client.
  u8.set([7, 7, 7], 1000);
  const dWrites: Buffer[] = [];
  d.socket.write = function (buf: Buffer) { dWrites.push(buf); return true; };
  out.queue(d, null, 1000, 3);
  out.flush();
  assert.equal([...dWrites[0]], [7, 7, 7]);
  assert.equal([...held[0]], [1, 2, 3], 'what a still holds is intact');
});

const State = suite('Conn');

State('the flags, the close code and the times read back what was set, each on its own', () => {
  const c = fakeConn(0);
  assert.is(c.closeCode, CloseCode.ABNORMAL);
  const flags = ['budgetPaused', 'closeSent', 'closeReceived', 'appClosed', 'pingSent', 'endQueued', 'qPrivate'] as const;
  for (const f of flags) assert.is(c[f], false, f);
  for (const f of flags) {
    c[f] = true;
    for (const g of flags) assert.is(c[g], g === f, `${g} after setting ${f}`);
    assert.is(c.closeCode, CloseCode.ABNORMAL, `the close code after setting ${f}`);
    c[f] = false;
  }
  c.closeSent = true;
  c.pingSent = true;
  for (const code of [CloseCode.NORMAL, 4999, 65535, 0]) {
    c.closeCode = code;
    assert.is(c.closeCode, code);
    assert.ok(c.closeSent && c.pingSent && !c.appClosed, `the flags after close code ${code}`);
  }
  const now = Date.now();
  // Now, later than the small-integer range (12 days), and before the module was loaded.
  for (const t of [now, now + 1, now + 20 * 86_400_000, now - 60_000]) {
    c.lastRx = t;
    c.msgStartedAt = t + 7;
    assert.is(c.lastRx, t);
    assert.is(c.msgStartedAt, t + 7);
  }
  c.msgStartedAt = now;
  c.msgStartedAt += 500;
  assert.is(c.msgStartedAt, now + 500);
});

const Registry = suite('Clients');

Registry('all: every connection with a socket, before, after and without its handshake', () => {
  const clients = new Clients({ worker: 0, apps: 1, slots: 4, closeWaitS: 1 });
  const forgotten: number[] = [];
  const budget = { forget: (c: Conn) => forgotten.push(c.slot) } as unknown as InboundBudget;
  clients.connect(null as unknown as Output, null as unknown as InboundProducer, budget);
  const make = () => {
    const c = fakeConn(clients.takeSlot()!);
    c.phase = Phase.HTTP;
    clients.add(c);
    return c;
  };
  const a = make(), b = make(), c = make();
  assert.is(clients.all.size, 3);
  clients.open(b, 0, 1);
  assert.is(clients.all.size, 3, 'an open client is counted once');
  assert.equal(new Set(clients.all), new Set([a, b, c]));
  assert.is(clients.byId.get(b.id), b);
  b.appClosed = true; // no CLOSE record for the app
  clients.onClosed(b);
  clients.onClosed(a);
  assert.equal([...clients.all], [c]);
  assert.is(clients.byId.size, 0);
  let empty = false;
  clients.onEmpty = () => { empty = true; };
  clients.onClosed(c);
  assert.is(clients.all.size, 0);
  assert.ok(empty, 'onEmpty after the last one');
  assert.equal(forgotten, [b.slot, a.slot, c.slot]);
  assert.is(clients.takeSlot(), c.slot, 'slots are given back');
});

const Sni = suite('contextForName');

Sni('prefers an exact name, falls back to a one-level wildcard, is case-insensitive', () => {
  const certs = [
    { id: 'wild', hostnames: ['*.example.com'] },
    { id: 'exact', hostnames: ['api.example.com'] },
    { id: 'other', hostnames: ['example.org'] },
  ];
  assert.is(contextForName(certs, 'api.example.com')?.id, 'exact');
  assert.is(contextForName(certs, 'WWW.Example.com')?.id, 'wild');
  assert.is(contextForName(certs, 'a.b.example.com'), undefined, 'one label only');
  assert.is(contextForName(certs, 'example.com'), undefined);
  assert.is(contextForName(certs, 'example.org')?.id, 'other');
});

Producer.run();
Queues.run();
State.run();
Registry.run();
Sni.run();

const Drain = suite('OutboundDrain');

Drain('an error while delivering one record costs that record: the next is delivered and the ring is released', async () => {
  const rc = await ringCore('shared', [4096]);
  const ring = initRing(rc, 0);
  const f64 = new Float64Array(rc.core.memory.buffer);
  const single = (id: number) => {
    const size = OUT_HEADER_SIZE + 8 + 2;
    const ptr = ring.reserve(size);
    rc.core.u8.fill(0, ptr, ptr + size);
    rc.core.u8[ptr] = Outbound.SINGLE;
    f64[(ptr + OUT_STAMP) >>> 3] = 1;
    rc.core.u32[(ptr + OUT_COUNT) >>> 2] = 1;
    f64[(ptr + OUT_HEADER_SIZE) >>> 3] = id;
    rc.core.u8[ptr + OUT_HEADER_SIZE + 8] = 0x81; // an empty text frame
    ring.commit(size);
  };
  single(13); // its delivery throws
  single(14);
  const looked: number[] = [];
  const lines: string[] = [];
  const clients = {
    byId: { get: (id: number) => { looked.push(id); if (id === 13) throw new Error('a bug'); return undefined; } },
    ofApp: [new Set()],
    canSend: () => true,
  } as unknown as Clients;
  const output = { queue() {}, flush() {}, write() {} } as unknown as Output;
  const drain = new OutboundDrain({
    core: rc.core, rings: [ring], appDown: [false], appNames: ['app0'], clients, output,
    log: createLogger('test', 'error', { write: (l) => { lines.push(l); } }), upgradeReply() {},
  });
  assert.is(drain.drain(), 2, 'both records taken');
  assert.equal(looked, [13, 14], 'the second record was delivered');
  assert.is(ring.peek(), 0, 'the ring is empty');
  assert.is(lines.length, 1);
  assert.match(lines[0], /app app0: internal error delivering an outbound record \(skipped\): Error: a bug/);
});

Drain.run();
