// Read schemas (src/app/schema.ts) driven through the runtime: every parameter form, byte order,
// the lifetime of array arguments, and every validation that closes with 4900 / 4901.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  defineApp, readBin, readUtf8, readAny, net, ntoh, str, bytes, HOST_LITTLE_ENDIAN, CloseCode, DataKind,
  RingSocketAppError, type ReadForm, type ReadRs, type Schema,
} from '../src/app/index.ts';
import { createAppRuntime } from '../src/app/runtime.ts';
import { createRecordingHost } from '../src/app/testing.ts';

const ADDR = { family: 4 as const, address: '127.0.0.1', port: 40000 };
const ID = 257;

/** An app with `read`, one open client, and a recording host. */
function setup(read: ReadForm, closes?: number[]) {
  const host = createRecordingHost();
  const rt = createAppRuntime(defineApp({ read, close: (rs) => { closes?.push(rs.clientId()); } }), host);
  rt.init();
  rt.open(ID, 1, ADDR);
  return { host, rt };
}

function be(fill: (dv: DataView) => void, size: number): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

function expectBadDefinition(fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, RingSocketAppError);
    assert.is((err as RingSocketAppError).code, 'RS_APP_BAD_DEFINITION');
    assert.is((err as Error).message, message);
    return;
  }
  assert.unreachable('no error thrown');
}

// ---------------------------------------------------------------------------------------------
const Scalars = suite('schema scalars');

Scalars('reads every ntoh scalar in network byte order', () => {
  let got: unknown[] = [];
  const { host, rt } = setup(readBin(
    [ntoh.u8, ntoh.u16, ntoh.u32, ntoh.u64, ntoh.i8, ntoh.i16, ntoh.i32, ntoh.i64, ntoh.f32, ntoh.f64],
    (_rs, ...args) => { got = args; },
  ));
  const payload = be((dv) => {
    dv.setUint8(0, 200);
    dv.setUint16(1, 0xbeef);
    dv.setUint32(3, 0xdeadbeef);
    dv.setBigUint64(7, 2n ** 64n - 2n);
    dv.setInt8(15, -5);
    dv.setInt16(16, -1234);
    dv.setInt32(18, -123456789);
    dv.setBigInt64(22, -(2n ** 62n) + 7n);
    dv.setFloat32(30, 1.5);
    dv.setFloat64(34, -Math.PI);
  }, 42);
  rt.read(ID, 1, DataKind.BIN, payload);
  assert.equal(got, [200, 0xbeef, 0xdeadbeef, 2n ** 64n - 2n, -5, -1234, -123456789, -(2n ** 62n) + 7n, 1.5, -Math.PI]);
  assert.equal(host.events, []);
});

Scalars('reads every net scalar in host byte order, without a swap', () => {
  let got: unknown[] = [];
  const { rt } = setup(readBin(
    [net.u8, net.u16, net.u32, net.u64, net.i8, net.i16, net.i32, net.i64, net.f32, net.f64],
    (_rs, ...args) => { got = args; },
  ));
  const le = HOST_LITTLE_ENDIAN;
  const payload = be((dv) => {
    dv.setUint8(0, 7);
    dv.setUint16(1, 0x0102, le);
    dv.setUint32(3, 0x01020304, le);
    dv.setBigUint64(7, 0x0102030405060708n, le);
    dv.setInt8(15, -128);
    dv.setInt16(16, -2, le);
    dv.setInt32(18, -3, le);
    dv.setBigInt64(22, -4n, le);
    dv.setFloat32(30, 0.25, le);
    dv.setFloat64(34, 1e300, le);
  }, 42);
  rt.read(ID, 1, DataKind.BIN, payload);
  assert.equal(got, [7, 0x0102, 0x01020304, 0x0102030405060708n, -128, -2, -3, -4n, 0.25, 1e300]);
});

Scalars('net.u16 and ntoh.u16 differ exactly by the byte swap', () => {
  const got: number[] = [];
  const { rt } = setup(readBin([net.u16, ntoh.u16], (_rs, a, b) => { got.push(a, b); }));
  rt.read(ID, 1, DataKind.BIN, new Uint8Array([0x01, 0x02, 0x01, 0x02]));
  assert.equal(got, HOST_LITTLE_ENDIAN ? [0x0201, 0x0102] : [0x0102, 0x0102]);
});

Scalars('an empty schema accepts only an empty message', () => {
  const closes: number[] = [];
  let calls = 0;
  const { host, rt } = setup(readBin([], () => { calls++; }), closes);
  rt.read(ID, 1, DataKind.BIN, new Uint8Array(0));
  assert.is(calls, 1);
  rt.read(ID, 1, DataKind.BIN, new Uint8Array(1));
  assert.is(calls, 1);
  assert.equal(host.closes(), [[ID, CloseCode.WRONG_SIZE]]);
  assert.equal(closes, [ID]);
});

// ---------------------------------------------------------------------------------------------
const Sizes = suite('schema sizes (4900)');

/** Runs one message through `read`; `called` is whether the callback ran (it sends one byte). */
function sizeCase(read: ReadForm, payload: Uint8Array): { called: boolean; closes: [number, number][]; closeCbs: number[] } {
  const closeCbs: number[] = [];
  const host = createRecordingHost();
  const rt = createAppRuntime(defineApp({ read, close: (rs) => { closeCbs.push(rs.clientId()); } }), host);
  rt.open(ID, 1, ADDR);
  rt.read(ID, 1, DataKind.BIN, payload);
  return { called: host.sends().length > 0, closes: host.closes(), closeCbs };
}

const marker = <const S extends Schema>(schema: S) =>
  readBin(schema, (rs: ReadRs, ..._args: unknown[]) => { rs.wU8(1).toCur(DataKind.BIN); });

Sizes('closes a too short message with 4900 and then runs the close callback', () => {
  const r = sizeCase(marker([ntoh.i32, ntoh.u16]), new Uint8Array(5));
  assert.equal(r, { called: false, closes: [[ID, 4900]], closeCbs: [ID] });
});

Sizes('closes a message with leftover bytes with 4900', () => {
  const r = sizeCase(marker([ntoh.i32, ntoh.u16]), new Uint8Array(7));
  assert.equal(r, { called: false, closes: [[ID, 4900]], closeCbs: [ID] });
});

Sizes('accepts the exact size of the fixed parameters', () => {
  const r = sizeCase(marker([ntoh.i32, ntoh.u16, ntoh.u8.array(3)]), new Uint8Array(9));
  assert.equal(r, { called: true, closes: [], closeCbs: [] });
});

Sizes('closes an element count below min with 4900', () => {
  const r = sizeCase(marker([ntoh.i32, ntoh.u16.between(1, 10)]), new Uint8Array(4));
  assert.equal(r.closes, [[ID, 4900]]);
});

Sizes('closes an element count above max with 4900', () => {
  const r = sizeCase(marker([ntoh.i32, ntoh.u16.between(1, 10)]), new Uint8Array(4 + 22));
  assert.equal(r.closes, [[ID, 4900]]);
});

Sizes('accepts the min and the max element count', () => {
  assert.ok(sizeCase(marker([ntoh.i32, ntoh.u16.between(1, 10)]), new Uint8Array(4 + 2)).called);
  assert.ok(sizeCase(marker([ntoh.i32, ntoh.u16.between(1, 10)]), new Uint8Array(4 + 20)).called);
});

Sizes('closes a variable part that is not a whole number of elements with 4900', () => {
  const r = sizeCase(marker([ntoh.u64.between(0, 10)]), new Uint8Array(12));
  assert.equal(r.closes, [[ID, 4900]]);
});

Sizes('closes a string outside min...max bytes with 4900 (bytes, not characters)', () => {
  // '笑' is one character but 3 bytes.
  const three = new TextEncoder().encode('笑');
  assert.equal(sizeCase(marker([str(1, 2)]), three).closes, [[ID, 4900]]);
  assert.ok(sizeCase(marker([str(1, 3)]), three).called);
  assert.equal(sizeCase(marker([str(4, 9)]), three).closes, [[ID, 4900]]);
});

Sizes('closes invalid UTF-8 in a str() parameter of a binary message with 4900', () => {
  for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe7, 0xac], [0xff], [0xf4, 0x90, 0x80, 0x80]]) {
    assert.equal(sizeCase(marker([str()]), new Uint8Array(bad)).closes, [[ID, 4900]], `bytes ${bad}`);
  }
});

Sizes('closes a str() that starts inside a character of a text message with 4900', () => {
  const host = createRecordingHost();
  let called = false;
  const rt = createAppRuntime(defineApp({ read: readUtf8([net.u8, str()], () => { called = true; }) }), host);
  rt.open(ID, 1, ADDR);
  rt.read(ID, 1, DataKind.UTF8, new TextEncoder().encode('笑'));
  assert.is(called, false);
  assert.equal(host.closes(), [[ID, 4900]]);
});

Sizes('closes an empty message where bytes(1) needs one byte with 4900', () => {
  assert.equal(sizeCase(marker([bytes(1)]), new Uint8Array(0)).closes, [[ID, 4900]]);
  assert.ok(sizeCase(marker([bytes()]), new Uint8Array(0)).called);
});

// ---------------------------------------------------------------------------------------------
const Kinds = suite('schema data kinds (4901)');

Kinds('readBin closes a text message with 4901', () => {
  const host = createRecordingHost();
  const closed: number[] = [];
  const rt = createAppRuntime(defineApp({ read: readBin([bytes()], () => { assert.unreachable(); }), close: (rs) => { closed.push(rs.clientId()); } }), host);
  rt.open(ID, 1, ADDR);
  rt.read(ID, 1, DataKind.UTF8, new Uint8Array([0x61]));
  assert.equal(host.closes(), [[ID, 4901]]);
  assert.equal(closed, [ID]);
});

Kinds('readUtf8 closes a binary message with 4901', () => {
  const host = createRecordingHost();
  const rt = createAppRuntime(defineApp({ read: readUtf8([str()], () => { assert.unreachable(); }) }), host);
  rt.open(ID, 1, ADDR);
  rt.read(ID, 1, DataKind.BIN, new Uint8Array([0x61]));
  assert.equal(host.closes(), [[ID, 4901]]);
});

Kinds('checks the data kind before the size', () => {
  const host = createRecordingHost();
  const rt = createAppRuntime(defineApp({ read: readUtf8([str(5, 5)], () => { assert.unreachable(); }) }), host);
  rt.open(ID, 1, ADDR);
  rt.read(ID, 1, DataKind.BIN, new Uint8Array([0x61]));
  assert.equal(host.closes(), [[ID, 4901]]);
});

Kinds('readAny takes both kinds and tells which through readDataKind', () => {
  const seen: [number, string][] = [];
  const host = createRecordingHost();
  const rt = createAppRuntime(defineApp({ read: readAny([str()], (rs, s) => { seen.push([rs.readDataKind(), s]); }) }), host);
  rt.open(ID, 1, ADDR);
  rt.read(ID, 1, DataKind.UTF8, new TextEncoder().encode('text'));
  rt.read(ID, 1, DataKind.BIN, new TextEncoder().encode('bin'));
  assert.equal(seen, [[DataKind.UTF8, 'text'], [DataKind.BIN, 'bin']]);
  assert.equal(host.closes(), []);
});

// ---------------------------------------------------------------------------------------------
const Arrays = suite('schema arrays and their lifetime');

Arrays('delivers fixed and variable arrays as typed arrays of the right type', () => {
  let got: unknown[] = [];
  const { rt } = setup(readBin(
    [ntoh.u16.array(2), ntoh.i32.array(1), ntoh.f64.array(1), ntoh.i64.between(0, 4)],
    (_rs, ...args) => { got = args; },
  ));
  const payload = be((dv) => {
    dv.setUint16(0, 1); dv.setUint16(2, 65535);
    dv.setInt32(4, -7);
    dv.setFloat64(8, 2.5);
    dv.setBigInt64(16, -1n); dv.setBigInt64(24, 2n ** 62n);
  }, 32);
  rt.read(ID, 1, DataKind.BIN, payload);
  assert.instance(got[0], Uint16Array);
  assert.instance(got[1], Int32Array);
  assert.instance(got[2], Float64Array);
  assert.instance(got[3], BigInt64Array);
  assert.equal([...(got[0] as Uint16Array)], [1, 65535]);
  assert.equal([...(got[1] as Int32Array)], [-7]);
  assert.equal([...(got[2] as Float64Array)], [2.5]);
  assert.equal([...(got[3] as BigInt64Array)], [-1n, 2n ** 62n]);
});

Arrays('delivers every element type of net and ntoh arrays', () => {
  const types = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f32', 'f64'] as const;
  const values = [1, 2, 3];
  for (const order of [net, ntoh]) {
    for (const t of types) {
      let got: ArrayLike<number | bigint> | null = null;
      const { rt } = setup(readBin([order[t].between(3, 3)], (_rs, a) => { got = a as ArrayLike<number | bigint>; }));
      const size = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 }[t];
      const le = order === net ? HOST_LITTLE_ENDIAN : false;
      const payload = be((dv) => {
        values.forEach((v, i) => {
          const at = i * size;
          switch (t) {
            case 'u8': dv.setUint8(at, v); break;
            case 'i8': dv.setInt8(at, -v); break;
            case 'u16': dv.setUint16(at, v, le); break;
            case 'i16': dv.setInt16(at, -v, le); break;
            case 'u32': dv.setUint32(at, v, le); break;
            case 'i32': dv.setInt32(at, -v, le); break;
            case 'f32': dv.setFloat32(at, v + 0.5, le); break;
            case 'u64': dv.setBigUint64(at, BigInt(v), le); break;
            case 'i64': dv.setBigInt64(at, BigInt(-v), le); break;
            case 'f64': dv.setFloat64(at, v + 0.25, le); break;
          }
        });
      }, 3 * size);
      rt.read(ID, 1, DataKind.BIN, payload);
      const expected = values.map((v) =>
        t === 'u64' ? BigInt(v) : t === 'i64' ? BigInt(-v) : t === 'f32' ? v + 0.5 : t === 'f64' ? v + 0.25 : t[0] === 'i' ? -v : v);
      assert.equal(Array.from(got!), expected, `${order === net ? 'net' : 'ntoh'}.${t}`);
    }
  }
});

Arrays('views an aligned host-order array in place (zero copy)', () => {
  let arg: Uint16Array | null = null;
  const { rt } = setup(readBin([net.u16.array(2), net.u16.between(0, 8)], (_rs, _a, b) => { arg = b; }));
  const payload = new Uint8Array(64).subarray(8, 8 + 4 + 6); // byteOffset 8: aligned
  new DataView(payload.buffer).setUint16(8 + 4, 0x1234, HOST_LITTLE_ENDIAN);
  rt.read(ID, 1, DataKind.BIN, payload);
  assert.is(arg!.buffer, payload.buffer);
  assert.is(arg!.byteOffset, 12);
  assert.is(arg![0], 0x1234);
});

Arrays('copies an unaligned host-order array into a reused scratch array', () => {
  const args: Uint32Array[] = [];
  const values: number[][] = [];
  const { rt } = setup(readBin([net.u8, net.u32.array(2)], (_rs, _a, b) => { args.push(b); values.push([...b]); }));
  const p1 = new Uint8Array(9);
  const dv = new DataView(p1.buffer);
  dv.setUint32(1, 11, HOST_LITTLE_ENDIAN); dv.setUint32(5, 22, HOST_LITTLE_ENDIAN);
  rt.read(ID, 1, DataKind.BIN, p1);
  dv.setUint32(1, 33, HOST_LITTLE_ENDIAN);
  rt.read(ID, 1, DataKind.BIN, p1);
  assert.equal(values, [[11, 22], [33, 22]]);
  assert.is.not(args[0].buffer, p1.buffer);
  // The same scratch array: a view kept past its callback shows the next message's values.
  assert.is(args[0], args[1]);
  assert.equal([...args[0]], [33, 22]);
});

Arrays('converts ntoh arrays into a scratch array, never a view of the payload', () => {
  let arg: Uint16Array | null = null;
  const { rt } = setup(readBin([ntoh.u16.between(1, 4)], (_rs, a) => { arg = a; }));
  const payload = new Uint8Array([0x12, 0x34, 0xab, 0xcd]);
  rt.read(ID, 1, DataKind.BIN, payload);
  assert.is.not(arg!.buffer, payload.buffer);
  assert.equal([...arg!], [0x1234, 0xabcd]);
});

Arrays('gives .copy() arrays that the app owns and that survive the next message', () => {
  const kept: Uint16Array<ArrayBuffer>[] = [];
  const { rt } = setup(readBin([ntoh.u16.between(1, 4).copy()], (_rs, a) => { kept.push(a); }));
  rt.read(ID, 1, DataKind.BIN, new Uint8Array([0, 1, 0, 2]));
  rt.read(ID, 1, DataKind.BIN, new Uint8Array([0, 3]));
  assert.equal(kept.map((a) => [...a]), [[1, 2], [3]]);
  assert.is.not(kept[0].buffer, kept[1].buffer);
  assert.instance(kept[0].buffer, ArrayBuffer);
});

Arrays('gives a .copy() of bytes that is detached from a shared payload', () => {
  const kept: Uint8Array[] = [];
  const { rt } = setup(readBin([bytes().copy()], (_rs, a) => { kept.push(a); }));
  const shared = new Uint8Array(new SharedArrayBuffer(16)).subarray(3, 6);
  shared.set([1, 2, 3]);
  rt.read(ID, 1, DataKind.BIN, shared);
  shared.fill(9);
  assert.equal([...kept[0]], [1, 2, 3]);
  assert.instance(kept[0].buffer, ArrayBuffer);
});

Arrays('passes the payload itself to a lone bytes() parameter', () => {
  let arg: Uint8Array | null = null;
  const { rt } = setup(readAny([bytes()], (_rs, a) => { arg = a; }));
  const payload = new Uint8Array([1, 2, 3]);
  rt.read(ID, 1, DataKind.BIN, payload);
  assert.is(arg, payload);
});

Arrays('reads scalars and strings from a payload in shared memory', () => {
  let got: unknown[] = [];
  const { rt } = setup(readBin([ntoh.u32, str()], (_rs, ...a) => { got = a; }));
  const shared = new Uint8Array(new SharedArrayBuffer(64)).subarray(13, 13 + 4 + 3);
  shared.set([0, 0, 1, 0, 0x61, 0x62, 0x63]);
  rt.read(ID, 1, DataKind.BIN, shared);
  assert.equal(got, [256, 'abc']);
});

Arrays('keeps a leading byte order mark in a str() parameter', () => {
  let got = '';
  const { rt } = setup(readAny([str()], (_rs, s) => { got = s; }));
  rt.read(ID, 1, DataKind.UTF8, new Uint8Array([0xef, 0xbb, 0xbf, 0x41]));
  assert.is(got, '\ufeffA');
});

// ---------------------------------------------------------------------------------------------
const Defs = suite('schema definition errors');

Defs('rejects a variable-length parameter that is not last', () => {
  expectBadDefinition(
    () => readBin([ntoh.u16.between(1, 2), ntoh.u8] as never, () => {}),
    'readBin: schema[0] has a variable length, so it must be the last parameter',
  );
  expectBadDefinition(
    () => readAny([str(), bytes()] as never, () => {}),
    'readAny: schema[0] has a variable length, so it must be the last parameter',
  );
});

Defs('rejects bad counts and ranges', () => {
  expectBadDefinition(() => ntoh.u16.array(-1), 'ntoh.u16.array(count) must be an integer >= 0, got -1');
  expectBadDefinition(() => net.i32.array(1.5), 'net.i32.array(count) must be an integer >= 0, got 1.5');
  expectBadDefinition(() => ntoh.u16.between(5, 2), 'ntoh.u16.between(min, max): max must be an integer >= min (5) or Infinity, got 2');
  expectBadDefinition(() => str(-1, 3), 'str(min, max): min must be an integer >= 0, got -1');
  expectBadDefinition(() => bytes(0, NaN), 'bytes(min, max): max must be an integer >= min (0) or Infinity, got NaN');
});

Defs('rejects something that is not a parameter', () => {
  expectBadDefinition(
    () => readBin([ntoh.u8, 'u16'] as never, () => {}),
    'readBin: schema[1] is not a parameter (use net.*, ntoh.*, str() or bytes())',
  );
  expectBadDefinition(() => readBin({} as never, () => {}), 'readBin: the schema must be an array of parameters');
  expectBadDefinition(() => readBin([], 'cb' as never), 'readBin: the callback must be a function');
});

Scalars.run();
Sizes.run();
Kinds.run();
Arrays.run();
Defs.run();
