// The worker's permessage-deflate engine (src/daemon/worker/deflate.ts, zlib-sync.ts) without a
// daemon: outbound frames (the empty payload, the per-record cache, isolation of the shared
// deflater), inflation (bounded by max_ws_msg_size, isolation of the shared inflater), the
// accounting of contexts and streams, and the start-up check of Node's zlib internals.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import zlib from 'node:zlib';
import { WorkerDeflate, Inflated, type ConnDeflate } from '../src/daemon/worker/deflate.ts';
import { assertSyncZlib, ByteSink } from '../src/daemon/worker/zlib-sync.ts';
import { DEFLATE_DEFAULTS, type DeflateConfig } from '../src/config/deflate.ts';
import type { Config } from '../src/config/types.ts';

const MAX = 256 * 1024;
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
/** A WorkerDeflate for one endpoint (app 0, endpoint 0) with these settings. */
function worker(over: Partial<DeflateConfig> = {}): WorkerDeflate {
  const config = { max_ws_msg_size: MAX, apps: [{ endpoints: [{ endpoint_id: 0, permessage_deflate: { ...DEFLATE_DEFAULTS, ...over } }] }] };
  return new WorkerDeflate(config as unknown as Config);
}
const conn = (w: WorkerDeflate, offer = 'permessage-deflate'): ConnDeflate => w.negotiate(0, 0, [offer])!;
/** A server frame (FIN, unmasked) as the app writes it into the outbound ring. */
function serverFrame(payload: Buffer, opcode = 0x2): Buffer {
  const n = payload.length;
  const h = n <= 125 ? Buffer.from([0x80 | opcode, n]) : n <= 0xffff ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]) : null;
  assert.ok(h, 'test frames stay below 64 KiB');
  return Buffer.concat([h, payload]);
}
const payloadOf = (f: Buffer): Buffer => f.subarray((f[1] & 0x7f) === 126 ? 4 : 2);
const inflateAlone = (f: Buffer): Buffer => zlib.inflateRawSync(Buffer.concat([payloadOf(f), TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
const deflated = (b: Buffer, opts: zlib.ZlibOptions = {}): Buffer => {
  const c = zlib.deflateRawSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH, ...opts });
  return c.subarray(0, c.length - 4);
};
const sinkBytes = (w: WorkerDeflate): Buffer => {
  const out = Buffer.alloc(w.sink.total);
  w.sink.copyTo(out, 0);
  return out;
};
const secret = Buffer.from('session=SECRET-of-client-A-0123456789abcdef; '.repeat(20));

const O = suite('worker deflate: outbound frames');

O('an empty payload with threshold 0 goes uncompressed, however often (it used to throw in the drain)', () => {
  for (const server_no_context_takeover of [true, false]) {
    const w = worker({ threshold: 0, server_no_context_takeover });
    const d = conn(w);
    const empty = serverFrame(Buffer.alloc(0), 0x1);
    for (let i = 0; i < 3; i++) {
      w.beginRecord();
      assert.is(w.frameFor(d, empty, 0, empty.length), null, `message ${i}, server_no_context_takeover ${server_no_context_takeover}`);
    }
    // The stream still works afterwards.
    const f = serverFrame(secret);
    w.beginRecord();
    const z = w.frameFor(d, f, 0, f.length)!;
    assert.is(z[0], 0x80 | 0x40 | 0x2);
    assert.ok(inflateAlone(z).equals(secret));
    assert.is(w.stats.deflateErrors, 0);
  }
});

O('server_max_window_bits 8 and 9 share one compression per record (8 runs as 9)', () => {
  const w = worker({ threshold: 0 });
  const a = conn(w, 'permessage-deflate; server_max_window_bits=8');
  const b = conn(w, 'permessage-deflate; server_max_window_bits=9');
  assert.is(a.serverMaxWindowBits, 8);
  const f = serverFrame(secret);
  w.beginRecord();
  const fa = w.frameFor(a, f, 0, f.length);
  const fb = w.frameFor(b, f, 0, f.length);
  assert.ok(fa !== null && fa === fb, 'the same Buffer for both recipients');
  assert.is(w.stats.deflaters, 1);
});

O('the shared deflater: no record refers to an earlier one (each inflates alone)', () => {
  const w = worker({ threshold: 0 });
  const a = conn(w);
  const b = conn(w);
  const f = serverFrame(secret);
  w.beginRecord();
  const first = w.frameFor(a, f, 0, f.length)!;
  w.beginRecord();
  const second = w.frameFor(b, f, 0, f.length)!;
  assert.ok(first.equals(second), 'the same bytes: nothing carried over');
  assert.ok(inflateAlone(second).equals(secret));
});

O('a client deflater keeps its context; a control frame or a fragment is never compressed', () => {
  const w = worker({ threshold: 0, server_no_context_takeover: false });
  const d = conn(w);
  assert.is(d.serverNoContextTakeover, false);
  const f = serverFrame(secret);
  w.beginRecord();
  const one = w.frameFor(d, f, 0, f.length)!;
  w.beginRecord();
  const two = w.frameFor(d, f, 0, f.length)!;
  assert.ok(two.length < one.length, 'the second refers back to the first');
  // One stream, as the client's inflater sees it (each message with its 00 00 ff ff back).
  const both = Buffer.concat([payloadOf(one), TAIL, payloadOf(two), TAIL]);
  assert.ok(zlib.inflateRawSync(both, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(Buffer.concat([secret, secret])));
  assert.throws(() => inflateAlone(two), /invalid distance/, 'the second one needs the first');
  for (const frame of [Buffer.from([0x89, 3, 1, 2, 3]), Buffer.from([0x88, 2, 3, 0xe8]), Buffer.concat([Buffer.from([0x02, 100]), secret.subarray(0, 100)])]) {
    assert.is(w.frameFor(d, frame, 0, frame.length), null);
  }
});

const I = suite('worker deflate: inflation');

I('a bomb stops at max_ws_msg_size + 1 inflated bytes, and the sink keeps at most KEEP chunks', () => {
  const w = worker();
  for (const offer of ['permessage-deflate', 'permessage-deflate; client_no_context_takeover']) {
    const d = conn(w, offer);
    const bomb = deflated(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    assert.is(w.inflate(d, [bomb]), Inflated.TOO_BIG, offer);
    assert.is(w.sink.total, MAX + 1, 'zlib got room for one byte past the limit, no more');
    assert.is(w.inflate(d, [deflated(Buffer.alloc(MAX, 7))]), Inflated.OK);
    assert.is(w.sink.total, MAX);
    w.sink.reset();
    assert.ok(w.sink.chunks.length <= ByteSink.KEEP);
    d.close();
  }
});

I('the shared inflater starts empty for every message: a back-reference into an earlier client\'s message is invalid data', () => {
  const w = worker();
  const offer = 'permessage-deflate; client_no_context_takeover';
  const a = conn(w, offer);
  const b = conn(w, offer);
  assert.is(w.inflate(a, [deflated(secret)]), Inflated.OK);
  assert.ok(sinkBytes(w).equals(secret));
  // b's message is compressed against a's text as a preset window: all back-references.
  const evil = deflated(secret, { dictionary: secret });
  assert.is(w.inflate(b, [evil]), Inflated.INVALID_DATA);
  assert.not.ok(sinkBytes(w).includes('SECRET'));
  // After a failed message the shared inflater serves the next client normally.
  assert.is(w.inflate(a, [deflated(Buffer.from('hello'))]), Inflated.OK);
  assert.is(sinkBytes(w).toString(), 'hello');
});

const A = suite('worker deflate: contexts and streams');

A('max_contexts is exact through negotiation and close; stats count the streams open now', () => {
  const w = worker({ max_contexts: 2, server_no_context_takeover: false, threshold: 0 });
  const a = conn(w);
  const b = conn(w);
  const c = conn(w);
  assert.equal([a.holdsContext, b.holdsContext, c.holdsContext], [true, true, false]);
  assert.is(c.header, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  const f = serverFrame(secret);
  for (const d of [a, b, c]) {
    assert.is(w.inflate(d, [deflated(secret)]), Inflated.OK);
    w.beginRecord();
    assert.ok(w.frameFor(d, f, 0, f.length));
  }
  // a, b: one inflater and one deflater each; c: the shared ones.
  assert.equal(w.stats, { contexts: 2, inflaters: 3, deflaters: 3, deflateErrors: 0 });
  a.close();
  assert.equal(w.stats, { contexts: 1, inflaters: 2, deflaters: 2, deflateErrors: 0 });
  // b's inflater is dropped after invalid data; closing b later does not count it twice.
  assert.is(w.inflate(b, [Buffer.from([0xff, 0xff, 0xff, 0x00, 0x12])]), Inflated.INVALID_DATA);
  assert.is(w.stats.inflaters, 1);
  b.close();
  c.close();
  assert.equal(w.stats, { contexts: 0, inflaters: 1, deflaters: 1, deflateErrors: 0 });
  assert.ok(conn(w).holdsContext, 'the freed context is given again');
});

const S = suite('worker deflate: zlib internals check');

S('assertSyncZlib passes on this Node', () => {
  assertSyncZlib();
});

S('assertSyncZlib refuses a Node whose stream handle behaves differently (not only one that lacks it)', () => {
  // A handle whose writeSync has every member the old presence check looked for, but does not
  // flush (as if an argument had changed meaning): nothing would reach clients.
  const probe = new zlib.InflateRaw() as unknown as { _handle: object; close(): void };
  const proto = Object.getPrototypeOf(probe._handle) as object;
  probe.close();
  const real = Object.getOwnPropertyDescriptor(proto, 'writeSync');
  assert.ok(real && typeof real.value === 'function', 'writeSync is on the handle prototype');
  const writeSync = real.value as (...args: unknown[]) => void;
  try {
    Object.defineProperty(proto, 'writeSync', {
      ...real,
      value(this: object, _flush: number, ...rest: unknown[]) { writeSync.call(this, zlib.constants.Z_NO_FLUSH, ...rest); },
    });
    assert.throws(() => assertSyncZlib(), /does not drive zlib streams synchronously/);
  } finally {
    Object.defineProperty(proto, 'writeSync', real);
  }
  assertSyncZlib();
});

O.run();
I.run();
A.run();
S.run();
