// The typed client (src/client/, published as ringsocket/client) without a daemon: encode / decode
// round trips for every parameter form, every refusal compared with what the server's runtime
// refuses for the same bytes (seeded, property style), encodeCase, message forms, the connection
// over a fake WebSocket, close names, and the import graph that keeps the entry browser-safe.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  encode, encodeCase, decode, defineMessage, encodeMessage, connect, closeName, net, ntoh, str, bytes, HOST_LITTLE_ENDIAN,
  RingSocketSchemaError, RingSocketClientError, RingSocketAppError, CloseCode,
  type Client, type Incoming, type WebSocketLike, type Schema,
} from '../src/client/index.ts';
import { defineApp, readBin, readSwitch, caseBin, DataKind, type ReadForm } from '../src/app/index.ts';
import { CompiledSchema, ParamForm, type ParamSpec, type ScalarName } from '../src/app/schema.ts';
import { createAppRuntime } from '../src/app/runtime.ts';
import { createRecordingHost } from '../src/app/testing.ts';
import { prngU32 } from './helpers/random.ts';
import { browserSafety } from './helpers/import-graph.ts';
import { tempDir } from './helpers/tmp.ts';
import sillyCalc from '../apps/silly-calc/app.ts';
import { calcRequest, calcSum, CALC_REPLY } from '../apps/silly-calc/protocol.ts';
import { say, whisper } from '../apps/chat/protocol.ts';

const root = join(import.meta.dirname, '..');
const ADDR = { family: 4 as const, address: '127.0.0.1', port: 40000 };
const TYPES: readonly ScalarName[] = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f32', 'f64'];
const CTORS = {
  u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, u64: BigUint64Array, i8: Int8Array, i16: Int16Array,
  i32: Int32Array, i64: BigInt64Array, f32: Float32Array, f64: Float64Array,
} as const;

/** Typed arrays and plain arrays alike, as plain arrays (for comparisons). */
function plain(values: readonly unknown[]): unknown[] {
  return values.map((v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<unknown>) : v));
}

type ServerResult = { args: unknown[] } | { close: number };

/**
 * What the server does with `payload`: the app runtime (src/app/runtime.ts), as the daemon's app
 * thread runs it, with `read`; its callback copies the arguments (borrowed arrays die with it).
 */
function serverReads(read: (cb: (...args: unknown[]) => void) => ReadForm, payload: Uint8Array, kind: DataKind = DataKind.BIN): ServerResult {
  let args: unknown[] | null = null;
  const host = createRecordingHost();
  const rt = createAppRuntime(defineApp({ read: read((...a) => { args = plain(a.slice(1)); }) }), host);
  rt.open(257, 1, ADDR);
  rt.read(257, 1, kind, payload);
  const closes = host.closes();
  if (closes.length > 0) return { close: closes[0][1] };
  assert.ok(args !== null, 'the callback ran or the client was closed');
  return { args: args! };
}

function serverReadsBin(schema: Schema, payload: Uint8Array): ServerResult {
  return serverReads((cb) => readBin(schema, cb as never), payload);
}

/** Asserts that fn throws RingSocketSchemaError with exactly this code, close code and message. */
function throwsSchema(fn: () => unknown, code: string, closeCode: number | null, message: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, RingSocketSchemaError);
    const e = err as RingSocketSchemaError;
    assert.equal([e.code, e.closeCode, e.message], [code, closeCode, message]);
    return;
  }
  assert.unreachable(`no error thrown (expected ${code}: ${message})`);
}

const wrongSize = (fn: () => unknown, message: string) => throwsSchema(fn, 'RS_SCHEMA_WRONG_SIZE', CloseCode.WRONG_SIZE, message);
const badValue = (fn: () => unknown, message: string) => throwsSchema(fn, 'RS_SCHEMA_BAD_VALUE', null, message);

/** Untyped encode, for values TypeScript would refuse. */
const encodeAny = encode as (schema: Schema, ...values: unknown[]) => Uint8Array;

// ---------------------------------------------------------------------------------------------
const RoundTrip = suite('encode and decode');

const EDGES: Record<ScalarName, readonly (number | bigint)[]> = {
  u8: [0, 1, 127, 128, 255], u16: [0, 0x0102, 0xffff], u32: [0, 0x01020304, 0xffffffff],
  u64: [0n, 0x0102030405060708n, 2n ** 64n - 1n],
  i8: [-128, -1, 0, 127], i16: [-32768, -2, 32767], i32: [-(2 ** 31), -3, 2 ** 31 - 1],
  i64: [-(2n ** 63n), -4n, 2n ** 63n - 1n],
  f32: [0, -0, 1.5, Math.fround(Math.PI), -Infinity, Infinity, NaN, Math.fround(3.4e38)],
  f64: [0, -0, -Math.PI, 1e300, Number.MIN_VALUE, -Infinity, NaN],
};

RoundTrip('round-trips every scalar type at its edges, in both byte orders', () => {
  for (const order of [net, ntoh]) {
    for (const t of TYPES) {
      for (const v of EDGES[t]) {
        const schema = [order[t]] as const;
        const bytes = encodeAny(schema, v);
        assert.is(bytes.length, schema[0].spec.size);
        const [back] = decode(schema, bytes);
        assert.ok(Object.is(back, v), `${order === net ? 'net' : 'ntoh'}.${t} ${String(v)} came back as ${String(back)}`);
        assert.equal(serverReadsBin(schema, bytes), { args: [v] });
      }
    }
  }
});

RoundTrip('writes ntoh in network byte order and net in the host order, like the parser reads them', () => {
  assert.equal([...encode([ntoh.u16, ntoh.i32, ntoh.u64], 0x0102, -2, 0x0102030405060708n)],
    [1, 2, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8]);
  const b = encode([net.u32, net.f64], 0x01020304, 1.5);
  const dv = new DataView(b.buffer);
  assert.is(dv.getUint32(0, HOST_LITTLE_ENDIAN), 0x01020304);
  assert.is(dv.getFloat64(4, HOST_LITTLE_ENDIAN), 1.5);
});

RoundTrip('takes arrays as typed arrays or plain arrays (bigint for 64-bit), for every type and both orders', () => {
  for (const order of [net, ntoh]) {
    for (const t of TYPES) {
      const values = EDGES[t];
      const Ctor = CTORS[t];
      const typed = new (Ctor as new (a: readonly unknown[]) => ArrayLike<unknown>)(values);
      for (const schema of [[order[t].array(values.length)], [order[t].between(0, 100)], [order[t].between(1, 8).copy()]] as const) {
        const fromPlain = encodeAny(schema, values);
        const fromTyped = encodeAny(schema, typed);
        assert.equal(fromTyped, fromPlain, `${t}: a typed array and a plain array encode alike`);
        const [back] = decode(schema, fromPlain);
        assert.instance(back, Ctor);
        assert.equal(Array.from(back as ArrayLike<unknown>), Array.from(typed));
        assert.equal(serverReadsBin(schema, fromPlain), { args: [Array.from(typed)] });
      }
    }
  }
});

RoundTrip('round-trips strings by their UTF-8 bytes, and raw bytes', () => {
  const s = 'héllo, 笑 😀';
  const b = encode([net.u8, str(1, 32)], 7, s);
  assert.is(b.length, 1 + new TextEncoder().encode(s).length);
  assert.equal(decode([net.u8, str(1, 32)], b), [7, s]);
  assert.equal(decode([str()], encode([str()], '')), ['']);
  const raw = encode([ntoh.u16, bytes(2, 4)], 0xabcd, [1, 2, 3]);
  assert.equal([...raw], [0xab, 0xcd, 1, 2, 3]);
  const [, back] = decode([ntoh.u16, bytes(2, 4)], raw);
  assert.equal([...back], [1, 2, 3]);
  assert.equal(decode([bytes()], new Uint8Array([9, 8]).buffer).map((v) => [...v]), [[9, 8]]);
});

RoundTrip('decodes a text message given as a string', () => {
  assert.equal(decode([net.u8, str()], '\x01hi'), [1, 'hi']);
});

RoundTrip('decodes into arrays the caller owns: later input and later decodes do not change them', () => {
  const schema = [ntoh.u16.between(0, 100)] as const;
  const input = encode(schema, [1, 2, 3]);
  const [a] = decode(schema, input);
  input.fill(0xff);
  const [b] = decode(schema, encode(schema, [7, 8, 9]));
  assert.equal([...a], [1, 2, 3]);
  assert.equal([...b], [7, 8, 9]);
  const bytesIn = new Uint8Array([5, 6]);
  const [c] = decode([bytes()], bytesIn);
  bytesIn[0] = 0;
  assert.equal([...c], [5, 6]);
  assert.instance(c.buffer, ArrayBuffer);
});

RoundTrip('encodeCase puts the case byte first, and the server reads it as that switch case', () => {
  const schema = [ntoh.u64, str(1, 10)] as const;
  const b = encodeCase(2, schema, 9n, 'hé');
  assert.equal([...b], [2, 0, 0, 0, 0, 0, 0, 0, 9, 0x68, 0xc3, 0xa9]);
  const got = serverReads((cb) => readSwitch({ 2: caseBin(schema, cb as never) }), b);
  assert.equal(got, { args: [9n, 'hé'] });
  assert.equal(decode(schema, b.subarray(1)), [9n, 'hé']);
  assert.equal([...encodeCase(255, [])], [255]);
  badValue(() => encodeCase(256, []), 'encodeCase: the case byte must be an integer in 0...255, got 256');
  badValue(() => encodeCase(-1, []), 'encodeCase: the case byte must be an integer in 0...255, got -1');
});

RoundTrip('silly-calc: a page encodes the request and decodes the sum the app writes', () => {
  const host = createRecordingHost();
  const rt = createAppRuntime(sillyCalc, host);
  rt.init();
  rt.open(257, 1, ADDR);
  rt.open(513, 1, ADDR);
  rt.read(257, 1, DataKind.BIN, encodeMessage(calcRequest, -5, [1, 65535, 3]));
  const [sum, reply] = host.sends();
  assert.equal(decode(calcSum, sum.bytes), [65534n]);
  assert.is(new TextDecoder().decode(reply.bytes), CALC_REPLY);
});

// ---------------------------------------------------------------------------------------------
const Refusals = suite('encode and decode refusals');

Refusals('refuses the sizes the server refuses, with 4900 and the reason', () => {
  wrongSize(() => encode([ntoh.u16.between(1, 10)], []), 'encode: schema[0] (ntoh.u16.between(1, 10)) takes 1 to 10 elements, got 0');
  wrongSize(() => encode([ntoh.i32, ntoh.u16.between(1, 10)], 1, new Array(11).fill(0)), 'encode: schema[1] (ntoh.u16.between(1, 10)) takes 1 to 10 elements, got 11');
  wrongSize(() => encode([net.f32.array(3)], [1, 2]), 'encode: schema[0] (net.f32.array(3)) takes exactly 3 elements, got 2');
  wrongSize(() => encode([ntoh.u64.array(1), bytes()], new BigUint64Array(2), []), 'encode: schema[0] (ntoh.u64.array(1)) takes exactly 1 elements, got 2');
  wrongSize(() => encode([str(2, 3)], 'é'.repeat(2)), 'encode: schema[0] (str(2, 3)) takes 2 to 3 bytes of UTF-8, got 4');
  wrongSize(() => encode([str(2)], 'a'), 'encode: schema[0] (str(2, Infinity)) takes at least 2 bytes of UTF-8, got 1');
  wrongSize(() => encode([bytes(1, 2)], new Uint8Array(3)), 'encode: schema[0] (net.u8.between(1, 2)) takes 1 to 2 elements, got 3');

  wrongSize(() => decode([ntoh.i64], new Uint8Array(7)), 'decode: 7 bytes do not fit [ntoh.i64], which takes exactly 8 bytes');
  wrongSize(() => decode([ntoh.i64], new Uint8Array(9)), 'decode: 9 bytes do not fit [ntoh.i64], which takes exactly 8 bytes');
  wrongSize(() => decode([], new Uint8Array(1)), 'decode: 1 bytes do not fit [], which takes exactly 0 bytes');
  wrongSize(() => decode([ntoh.i32, ntoh.u16.between(1, 10)], new Uint8Array(7)), 'decode: 7 bytes do not fit [ntoh.i32, ntoh.u16.between(1, 10)], which takes 4 bytes and then 1 to 10 elements of 2 bytes');
  wrongSize(() => decode([ntoh.i32, ntoh.u16.between(1, 10)], new Uint8Array(4)), 'decode: 4 bytes do not fit [ntoh.i32, ntoh.u16.between(1, 10)], which takes 4 bytes and then 1 to 10 elements of 2 bytes');
  wrongSize(() => decode([net.u8, str(1, 2)], new Uint8Array(4)), 'decode: 4 bytes do not fit [net.u8, str(1, 2)], which takes 1 bytes and then 1 to 2 bytes of UTF-8');
  wrongSize(() => decode([str()], new Uint8Array([0x61, 0xc3])), 'decode: the str(0, Infinity) part of [str(0, Infinity)] is not valid UTF-8');
  wrongSize(() => decode([str()], new Uint8Array([0xed, 0xa0, 0x80])), 'decode: the str(0, Infinity) part of [str(0, Infinity)] is not valid UTF-8');
});

Refusals('refuses values that have no encoding, naming the parameter', () => {
  badValue(() => encodeAny([ntoh.u8], 256), 'encode: schema[0] (ntoh.u8) takes an integer in 0...255, got 256');
  badValue(() => encodeAny([net.u16], -1), 'encode: schema[0] (net.u16) takes an integer in 0...65535, got -1');
  badValue(() => encodeAny([ntoh.u32], 2 ** 32), 'encode: schema[0] (ntoh.u32) takes an integer in 0...4294967295, got 4294967296');
  badValue(() => encodeAny([ntoh.i8], 128), 'encode: schema[0] (ntoh.i8) takes an integer in -128...127, got 128');
  badValue(() => encodeAny([ntoh.i16], -32769), 'encode: schema[0] (ntoh.i16) takes an integer in -32768...32767, got -32769');
  badValue(() => encodeAny([ntoh.i32], 1.5), 'encode: schema[0] (ntoh.i32) takes an integer in -2147483648...2147483647, got 1.5');
  badValue(() => encodeAny([ntoh.i32], NaN), 'encode: schema[0] (ntoh.i32) takes an integer in -2147483648...2147483647, got NaN');
  badValue(() => encodeAny([ntoh.i32], 1n), 'encode: schema[0] (ntoh.i32) takes an integer in -2147483648...2147483647, got 1n');
  badValue(() => encodeAny([ntoh.u64], 5), 'encode: schema[0] (ntoh.u64) takes a bigint in 0n...18446744073709551615n, got 5');
  badValue(() => encodeAny([ntoh.u64], -1n), 'encode: schema[0] (ntoh.u64) takes a bigint in 0n...18446744073709551615n, got -1n');
  badValue(() => encodeAny([ntoh.i64], 2n ** 63n), 'encode: schema[0] (ntoh.i64) takes a bigint in -9223372036854775808n...9223372036854775807n, got 9223372036854775808n');
  badValue(() => encodeAny([net.f64], '1'), 'encode: schema[0] (net.f64) takes a number, got string "1"');
  badValue(() => encodeAny([str()], 5), 'encode: schema[0] (str(0, Infinity)) takes a string, got 5');
  badValue(() => encodeAny([str()], 'a\uDC00b'), 'encode: schema[0] (str(0, Infinity)): the string has a lone surrogate at index 1, which UTF-8 cannot encode');
  badValue(() => encodeAny([ntoh.u16.between(0, 4)], [1, 70000]), 'encode: schema[0] (ntoh.u16.between(0, 4)): element [1] must be an integer in 0...65535, got 70000');
  badValue(() => encodeAny([ntoh.u16.between(0, 4)], new Int16Array([-1])), 'encode: schema[0] (ntoh.u16.between(0, 4)): element [0] must be an integer in 0...65535, got -1');
  badValue(() => encodeAny([ntoh.u64.array(1)], [1]), 'encode: schema[0] (ntoh.u64.array(1)): element [0] must be a bigint in 0n...18446744073709551615n, got 1');
  badValue(() => encodeAny([ntoh.u16.between(0, 4)], 'ab'), 'encode: schema[0] (ntoh.u16.between(0, 4)) takes a Uint16Array or an array of numbers, got string "ab"');
  badValue(() => encodeAny([ntoh.i64.between(0, 4)], null), 'encode: schema[0] (ntoh.i64.between(0, 4)) takes a BigInt64Array or an array of bigints, got null');
  badValue(() => encodeAny([ntoh.i32], 1, 2), 'encode: [ntoh.i32] takes 1 value, got 2');
  badValue(() => encodeAny([ntoh.i32, str()], 1), 'encode: [ntoh.i32, str(0, Infinity)] takes 2 values, got 1');
  badValue(() => decode([], 5 as never), 'decode: data must be a Uint8Array, an ArrayBuffer or a string');
});

Refusals('refuses a schema that is not one, as the app API does', () => {
  try {
    encodeAny(['u16' as never]);
    assert.unreachable('no error');
  } catch (err) {
    assert.instance(err, RingSocketAppError);
    assert.is((err as RingSocketAppError).code, 'RS_APP_BAD_DEFINITION');
  }
});

// ----- property style: the client and the server's runtime agree on every payload -----

type Rand = () => number;

/** A random integer in [lo, hi]. */
function between(r: Rand, lo: number, hi: number): number {
  return lo + (r() % (hi - lo + 1));
}

function randomScalar(r: Rand, t: ScalarName): number | bigint {
  const edges = EDGES[t];
  if (r() % 3 === 0) return edges[r() % edges.length];
  switch (t) {
    case 'u64': return (BigInt(r()) << 32n) | BigInt(r());
    case 'i64': return BigInt.asIntN(64, (BigInt(r()) << 32n) | BigInt(r()));
    case 'f32': return Math.fround((r() - 2 ** 31) / 977);
    case 'f64': return (r() - 2 ** 31) / 7919;
    case 'u8': return r() & 0xff;
    case 'u16': return r() & 0xffff;
    case 'u32': return r();
    case 'i8': return (r() << 24) >> 24;
    case 'i16': return (r() << 16) >> 16;
    case 'i32': return r() | 0;
  }
}

const STR_POOL = ['a', 'é', '笑', '😀', 'z', '\u0000', '\u007f'];
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/** A random schema: up to 3 fixed parameters and maybe a variable-length last one. */
function randomSchema(r: Rand): Schema {
  const out: unknown[] = [];
  const fixed = r() % 4;
  for (let i = 0; i < fixed; i++) {
    const order = r() % 2 ? net : ntoh;
    const t = TYPES[r() % TYPES.length];
    out.push(r() % 2 ? order[t] : order[t].array(r() % 4));
  }
  switch (r() % 4) {
    case 0: break;
    case 1: { const min = r() % 3; out.push((r() % 2 ? net : ntoh)[TYPES[r() % TYPES.length]].between(min, min + r() % 4)); break; }
    case 2: { const min = r() % 4; out.push(str(min, min + r() % 8)); break; }
    case 3: { const min = r() % 3; out.push(bytes(min, r() % 2 ? Infinity : min + r() % 5)); break; }
  }
  return out as unknown as Schema;
}

/** Values for a schema; counts and string lengths sometimes off their range (`skew`). */
function randomValues(r: Rand, schema: Schema, skew: boolean): unknown[] {
  return (schema as readonly { spec: ParamSpec }[]).map(({ spec: p }) => {
    if (p.form === ParamForm.SCALAR) return randomScalar(r, p.type);
    const hi = p.max === Infinity ? p.min + 6 : p.max;
    const n = skew && r() % 2 ? Math.max(0, between(r, p.min - 2, hi + 2)) : between(r, p.min, hi);
    if (p.form === ParamForm.STR) {
      // Exactly n bytes: a character that would pass n is replaced by a 1-byte one.
      let s = '';
      let len = 0;
      while (len < n) {
        let c = STR_POOL[r() % STR_POOL.length];
        if (len + utf8Length(c) > n) c = 'a';
        s += c;
        len += utf8Length(c);
      }
      return s;
    }
    const values = Array.from({ length: n }, () => randomScalar(r, p.type));
    return r() % 2 ? values : new (CTORS[p.type])(values as never);
  });
}

/**
 * The oracle for skewed values: every value written as it is, without a single check (a second,
 * independent writer; only here, to build the bytes a careless sender would send).
 */
function rawBytes(schema: Schema, values: readonly unknown[]): Uint8Array {
  const parts: number[] = [];
  (schema as readonly { spec: ParamSpec }[]).forEach(({ spec: p }, i) => {
    const v = values[i];
    if (p.form === ParamForm.STR) { parts.push(...new TextEncoder().encode(v as string)); return; }
    const items = p.form === ParamForm.SCALAR ? [v] : Array.from(v as ArrayLike<unknown>);
    for (const item of items) {
      const b = new Uint8Array(p.size);
      const dv = new DataView(b.buffer);
      const le = p.order === 'ntoh' ? false : HOST_LITTLE_ENDIAN;
      const setter = ({ u8: 'setUint8', u16: 'setUint16', u32: 'setUint32', u64: 'setBigUint64', i8: 'setInt8', i16: 'setInt16', i32: 'setInt32', i64: 'setBigInt64', f32: 'setFloat32', f64: 'setFloat64' } as const)[p.type];
      (dv[setter] as (at: number, v: unknown, le: boolean) => void).call(dv, 0, item, le);
      parts.push(...b);
    }
  });
  return new Uint8Array(parts);
}

const SEEDS = 600;

Refusals('encode throws 4900 only for values whose bytes the server refuses or misreads (seeded)', () => {
  let refused = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = prngU32(seed);
    const schema = randomSchema(r);
    const values = randomValues(r, schema, true);
    let bytesOut: Uint8Array | null = null;
    try {
      bytesOut = encodeAny(schema, ...values);
    } catch (err) {
      assert.instance(err, RingSocketSchemaError, `seed ${seed}`);
      assert.is((err as RingSocketSchemaError).closeCode, CloseCode.WRONG_SIZE, `seed ${seed}: ${(err as Error).message}`);
    }
    const server = serverReadsBin(schema, bytesOut ?? rawBytes(schema, values));
    if (bytesOut !== null) {
      assert.equal(server, { args: plain(values) }, `seed ${seed}: encoded values reach the callback unchanged`);
    } else {
      refused++;
      // The server closes with 4900, or the careless bytes happen to fit and it reads other values.
      if ('close' in server) assert.is(server.close, CloseCode.WRONG_SIZE, `seed ${seed}`);
      else assert.not.equal(server.args, plain(values), `seed ${seed}: refused values must not reach the app as they are`);
    }
  }
  assert.ok(refused > SEEDS / 10 && refused < SEEDS * 0.9, `both outcomes occur (${refused} of ${SEEDS} refused)`);
});

Refusals('decode accepts exactly the payloads the server accepts, with the same values (seeded)', () => {
  let accepted = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = prngU32(seed * 7919);
    const schema = randomSchema(r);
    const good = encodeAny(schema, ...randomValues(r, schema, false));
    // Mutate: keep, flip a byte, drop bytes, add bytes.
    let payload: Uint8Array;
    switch (r() % 4) {
      case 0: payload = good; break;
      case 1: payload = good.slice(); if (payload.length) payload[r() % payload.length] ^= 1 << (r() % 8); break;
      case 2: payload = good.subarray(0, Math.max(0, good.length - 1 - (r() % 3))); break;
      default: payload = new Uint8Array([...good, ...Array.from({ length: 1 + (r() % 3) }, () => r() & 0xff)]);
    }
    const server = serverReadsBin(schema, payload);
    let client: ServerResult;
    try {
      client = { args: plain(decode(schema, payload)) };
    } catch (err) {
      assert.instance(err, RingSocketSchemaError, `seed ${seed}`);
      client = { close: (err as RingSocketSchemaError).closeCode! };
    }
    assert.equal(client, server, `seed ${seed}: ${[...payload]}`);
    if ('args' in server) accepted++;
  }
  assert.ok(accepted > SEEDS / 10 && accepted < SEEDS * 0.9, `both outcomes occur (${accepted} of ${SEEDS} accepted)`);
});

Refusals('a schema compiled for decode gives owned arrays, the app\'s compile borrowed ones: same parser', () => {
  const schema = [bytes()] as const;
  const payload = new Uint8Array([1, 2]);
  const app = new CompiledSchema(schema, 'read');
  assert.is(app.parse(payload, 0), 0);
  assert.is(app.args[1], payload, 'the app gets the payload itself (zero copy)');
  const [own] = new CompiledSchema(schema, 'decode', { owned: true }).decode(payload);
  assert.is.not(own, payload);
  assert.equal(own, payload);
});

// ---------------------------------------------------------------------------------------------
const Forms = suite('message forms');

Forms('defineMessage keeps kind, case and schema, frozen', () => {
  const m = defineMessage({ kind: 'binary', case: 2, schema: [ntoh.u64, str(1, 1000)] });
  assert.equal([m.kind, m.case, m.schema.length], ['binary', 2, 2]);
  assert.ok(Object.isFrozen(m) && Object.isFrozen(m.schema));
  assert.is(defineMessage({ kind: 'text', schema: [] }).case, null);
});

Forms('defineMessage refuses what is not a message form', () => {
  const cases: [unknown, string][] = [
    [{ kind: 'blob', schema: [] }, `defineMessage: kind must be 'binary' or 'text', got "blob"`],
    [{ kind: 'text', case: 256, schema: [] }, 'defineMessage: case must be an integer in 0...255, got 256'],
    [{ kind: 'text', case: 1.5, schema: [] }, 'defineMessage: case must be an integer in 0...255, got 1.5'],
    [{ kind: 'text', schema: [str(), net.u8] }, 'defineMessage: schema[0] has a variable length, so it must be the last parameter'],
    [{ kind: 'text', schema: [], extra: 1 }, 'defineMessage: unknown key "extra" (allowed: kind, case, schema)'],
  ];
  for (const [form, message] of cases) {
    try {
      defineMessage(form as never);
      assert.unreachable(message);
    } catch (err) {
      assert.instance(err, RingSocketAppError);
      assert.equal([(err as RingSocketAppError).code, (err as Error).message], ['RS_APP_BAD_DEFINITION', message]);
    }
  }
});

Forms('encodeMessage gives a string for a text form and bytes for a binary one', () => {
  assert.is(encodeMessage(say, 'hi'), '\x00hi');
  assert.equal([...encodeMessage(whisper, 9n, 'x')], [2, 0, 0, 0, 0, 0, 0, 0, 9, 0x78]);
  const ab = defineMessage({ kind: 'text', schema: [net.u8, str()] });
  assert.is(encodeMessage(ab, 0x41, 'b'), 'Ab');
  throwsSchema(() => encodeMessage(ab, 0xff, 'b'), 'RS_SCHEMA_INVALID_UTF8', CloseCode.INVALID_PAYLOAD,
    'encode: a text message must be UTF-8, and these values make bytes that are not');
  wrongSize(() => encodeMessage(say, ''), 'encode case 0: schema[0] (str(1, 1000)) takes 1 to 1000 bytes of UTF-8, got 0');
});

Forms('a text form keeps a leading BOM (the bytes are sent as they are)', () => {
  const m = defineMessage({ kind: 'text', schema: [str()] });
  const sent = encodeMessage(m, '\uFEFFx');
  assert.equal([...new TextEncoder().encode(sent)], [0xef, 0xbb, 0xbf, 0x78]);
});

// ---------------------------------------------------------------------------------------------
const Names = suite('close names');

Names('names the codes CloseCode names, from that one table', () => {
  assert.is(closeName(4900), 'WRONG_SIZE');
  assert.is(closeName(4901), 'WRONG_DATA_KIND');
  assert.is(closeName(4902), 'UNKNOWN_CASE');
  assert.is(closeName(1000), 'NORMAL');
  assert.is(closeName(1006), 'ABNORMAL');
  assert.is(closeName(1011), 'INTERNAL_ERROR');
  for (const [name, code] of Object.entries(CloseCode)) {
    if (name !== 'APP_MIN' && name !== 'APP_MAX') assert.is(closeName(code), name);
  }
});

Names('leaves app codes and unknown codes unnamed', () => {
  for (const code of [4000, 4001, 4899, 4903, 4999, 3000, 1004, 0]) assert.is(closeName(code), undefined, String(code));
});

// ---------------------------------------------------------------------------------------------
const Conn = suite('connection (fake WebSocket)');

type Listener = (event: never) => void;

/** A WebSocket that does what the test tells it to. */
class FakeSocket implements WebSocketLike {
  static made: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  readonly sent: (string | ArrayBufferView | ArrayBuffer)[] = [];
  readonly closeCalls: [number | undefined, string | undefined][] = [];
  private readonly listeners = new Map<string, Listener[]>();
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    FakeSocket.made.push(this);
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  send(data: string | ArrayBufferView | ArrayBuffer): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError');
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closeCalls.push([code, reason]);
    this.readyState = 2;
  }
  emit(type: string, event: object = {}): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: object) => void)(event);
  }
  open(): void { this.readyState = 1; this.emit('open'); }
  message(data: unknown): void { this.emit('message', { data }); }
  closed(code: number, reason = '', wasClean = true): void { this.readyState = 3; this.emit('close', { code, reason, wasClean }); }
}

const opts = { WebSocket: FakeSocket };

async function opened(extra: Parameters<typeof connect>[1] = {}): Promise<{ c: Client; s: FakeSocket }> {
  FakeSocket.made = [];
  const p = connect('ws://h/x', { ...opts, ...extra });
  const s = FakeSocket.made[0];
  assert.is(s.binaryType, 'arraybuffer');
  s.open();
  return { c: await p, s };
}

async function rejection(p: Promise<unknown>): Promise<RingSocketClientError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RingSocketClientError);
    return err as RingSocketClientError;
  }
  throw new Error('did not reject');
}

Conn('resolves once open, and sends each form as its kind', async () => {
  const { c, s } = await opened();
  c.send(say, 'hi');
  c.send(whisper, 9n, 'x');
  c.send(calcRequest, 1, new Uint16Array([2]));
  assert.is(s.sent[0], '\x00hi');
  assert.equal([...(s.sent[1] as Uint8Array)], [2, 0, 0, 0, 0, 0, 0, 0, 9, 0x78]);
  assert.equal([...(s.sent[2] as Uint8Array)], [0, 0, 0, 1, 0, 2]);
  c.sendRaw('raw');
  assert.is(s.sent[3], 'raw');
  assert.is(c.url, 'ws://h/x');
});

Conn('sends nothing when encode refuses', async () => {
  const { c, s } = await opened();
  wrongSize(() => c.send(calcRequest, 1, []), 'encode: schema[1] (ntoh.u16.between(1, 10)) takes 1 to 10 elements, got 0');
  badValue(() => c.send(calcRequest, 2 ** 31, [1]), 'encode: schema[0] (ntoh.i32) takes an integer in -2147483648...2147483647, got 2147483648');
  assert.equal(s.sent, []);
});

Conn('rejects with the close when the connection closes before it opened', async () => {
  FakeSocket.made = [];
  const p = connect('ws://h/x', opts);
  FakeSocket.made[0].closed(1006, '', false);
  const err = await rejection(p);
  assert.equal([err.code, err.message, err.close], ['RS_CLIENT_CONNECT_FAILED', 'could not connect to ws://h/x: closed with 1006 ABNORMAL', { code: 1006, name: 'ABNORMAL', reason: '', wasClean: false }]);
});

Conn('rejects when aborted, before or while connecting', async () => {
  const ac = new AbortController();
  ac.abort();
  assert.is((await rejection(connect('ws://h/x', { ...opts, signal: ac.signal }))).code, 'RS_CLIENT_ABORTED');
  FakeSocket.made = [];
  const ac2 = new AbortController();
  const p = connect('ws://h/x', { ...opts, signal: ac2.signal });
  ac2.abort();
  const err = await rejection(p);
  assert.equal([err.code, err.message], ['RS_CLIENT_ABORTED', 'connecting to ws://h/x was aborted']);
  assert.equal(FakeSocket.made[0].closeCalls, [[undefined, undefined]]);
});

Conn('rejects without a WebSocket', async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
  Object.defineProperty(globalThis, 'WebSocket', { value: undefined, configurable: true, writable: true });
  try {
    const err = await rejection(connect('ws://h/x'));
    assert.equal([err.code, err.message], ['RS_CLIENT_NO_WEBSOCKET', 'no WebSocket: this platform has none (Node < 22?); pass one as connect(url, { WebSocket })']);
  } finally {
    if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
  }
  assert.type((globalThis as { WebSocket?: unknown }).WebSocket, 'function');
});

Conn('queues messages from the start, in order: receive() and iteration', async () => {
  FakeSocket.made = [];
  const p = connect('ws://h/x', opts);
  const s = FakeSocket.made[0];
  s.open();
  // Delivered in the same turn as the open, before the awaiting code runs.
  s.message('first');
  s.message(new Uint8Array([1, 2]).buffer);
  const c = await p;
  assert.is(await c.receive(), 'first');
  const bin = await c.receive();
  assert.instance(bin, Uint8Array);
  assert.equal([...(bin as Uint8Array)], [1, 2]);
  const later = c.receive();
  s.message('third');
  assert.is(await later, 'third');
  s.message('fourth');
  s.closed(4900, 'x');
  const seen: Incoming[] = [];
  for await (const m of c) seen.push(m);
  assert.equal(seen, ['fourth']);
  const err = await rejection(c.receive());
  assert.equal([err.code, err.message, err.close?.name], ['RS_CLIENT_CLOSED', 'the connection closed (4900 WRONG_SIZE "x") and no message is left', 'WRONG_SIZE']);
});

Conn('gives every message to onMessage when one is given, and then receive() refuses', async () => {
  const got: Incoming[] = [];
  const { c, s } = await opened({ onMessage: (m) => got.push(m) });
  s.message('a');
  s.message(new ArrayBuffer(1));
  assert.equal(got.length, 2);
  assert.is((await rejection(c.receive())).code, 'RS_CLIENT_HAS_LISTENER');
});

Conn('closed resolves with the code, its name and the reason; send then throws', async () => {
  const { c, s } = await opened();
  c.close(4000, 'bye');
  assert.equal(s.closeCalls, [[4000, 'bye']]);
  s.closed(4000, 'bye');
  assert.equal(await c.closed, { code: 4000, reason: 'bye', wasClean: true });
  try {
    c.send(say, 'late');
    assert.unreachable('no error');
  } catch (err) {
    assert.instance(err, RingSocketClientError);
    assert.equal([(err as RingSocketClientError).code, (err as Error).message], ['RS_CLIENT_NOT_OPEN', 'the connection is not open (readyState 3)']);
  }
  const { c: c2, s: s2 } = await opened();
  s2.closed(4901, '', true);
  assert.equal(await c2.closed, { code: 4901, name: 'WRONG_DATA_KIND', reason: '', wasClean: true });
});

Conn('offers subprotocols to the real WebSocket (Node\'s own) and reports the one a ws server selected', async () => {
  const { WebSocketServer } = await import('ws');
  const offered: string[][] = [];
  const wss = new WebSocketServer({
    port: 0, host: '127.0.0.1',
    handleProtocols: (protocols: Set<string>) => { offered.push([...protocols]); return protocols.has('chat.v2') ? 'chat.v2' : false; },
  });
  await new Promise((r) => wss.once('listening', r));
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
  try {
    const c = await connect(url, { protocols: ['chat.v3', 'chat.v2'] });
    assert.is(c.protocol, 'chat.v2');
    c.close();
    await c.closed;
    // The WHATWG WebSocket fails a connection that offered subprotocols when the server selects
    // none (browsers do the same): connect() rejects.
    const err = await rejection(connect(url, { protocols: 'other' }));
    assert.is(err.code, 'RS_CLIENT_CONNECT_FAILED');
    const none = await connect(url);
    assert.is(none.protocol, '');
    none.close();
    await none.closed;
    assert.equal(offered, [['chat.v3', 'chat.v2'], ['other']], 'offered in order; nothing offered without the option');
  } finally {
    wss.close();
  }
});

// ---------------------------------------------------------------------------------------------
const Graph = suite('browser-safe import graph');

/** Everything ringsocket/client may load: nothing of Node, nothing of the daemon. */
const ALLOWED = [/^src\/client\/[^/]+\.ts$/, /^src\/app\/schema\.ts$/, /^src\/app\/errors\.ts$/, /^src\/core\/codes\.ts$/, /^apps\/[^/]+\/protocol\.ts$/];

// browserSafety (test/helpers/import-graph.ts) walks every import, export-from and import() of an
// entry, type-only ones too: any bare specifier (node:, a built-in, a package), a file outside the
// allow-list or a Node-only global is a problem.

Graph('ringsocket/client and the protocol modules import nothing of Node and nothing outside the allow-list', () => {
  for (const entry of ['src/client/index.ts', 'apps/chat/protocol.ts', 'apps/silly-calc/protocol.ts']) {
    const { files, problems } = browserSafety(entry, root, ALLOWED);
    assert.equal(problems, [], entry);
    assert.ok(files.includes('src/app/schema.ts') && files.includes('src/core/codes.ts'), `${entry} reaches the shared schema: ${files}`);
  }
});

Graph('the walk finds what it guards against', () => {
  const { problems } = browserSafety('src/app/runtime.ts', root, [/./]);
  assert.ok(problems.some((p) => p.includes('imports "node:')), problems.join('\n'));
  const { problems: outside } = browserSafety('src/app/index.ts', root, ALLOWED);
  assert.ok(outside.some((p) => p === 'src/app/define.ts is outside the allow-list'), outside.join('\n'));
  // Node globals: a member's name is not a use; anything next to it, a shorthand or a local of that name is.
  const dir = tempDir('rs-client-graph-');
  writeFileSync(join(dir, 'a.ts'), [
    'export const a = globalThis.process?.version, b = { process: 1 };',
    'export interface I { Buffer: number; process(): void; t: typeof globalThis.Buffer }',
    'export class C { process = 1; get Buffer() { return 1; } }',
    'export const c = { p: process };', // 4
    'export class D { q = Buffer; }', // 5
    'export const d = { require };', // 6
    'export type E = typeof process.env;', // 7
    'export function f(global: number) { return global; }', // 8 (twice)
    'export type F = NodeJS.Process | Buffer;', // 9
  ].join('\n'));
  assert.equal(browserSafety(join(dir, 'a.ts'), dir).problems,
    ['4: process', '5: Buffer', '6: require', '7: process', '8: global', '8: global', '9: Buffer'].map((l) => `a.ts:${l} (a Node-only global)`));
});

RoundTrip.run();
Refusals.run();
Forms.run();
Names.run();
Conn.run();
Graph.run();
