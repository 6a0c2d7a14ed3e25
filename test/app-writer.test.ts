// The rs.w*() writers (src/app/writer.ts through the runtime): exact bytes in host and network
// byte order, value ranges, chaining, and what wBytes accepts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defineApp, readAny, bytes, DataKind, RS_BIN, HOST_LITTLE_ENDIAN, RingSocketAppError, type ReadRs } from '../src/app/index.ts';
import { createAppRuntime } from '../src/app/runtime.ts';
import { createRecordingHost } from '../src/app/testing.ts';

const Writers = suite('app writers');

/**
 * A shared memory with a small write area in it, as the daemon gives each app (writer.ts
 * WriteArea); `copies` counts the area's copy calls.
 */
function sharedArea(size = 256, offset = 4096) {
  const memory = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  const area = { memory, offset, size, copies: 0, copy(dst: number, src: number, len: number) { area.copies++; memory.copyWithin(dst, src, src + len); } };
  return area;
}

/** The bytes one read callback sends with toCur after running `write`, with `host`. */
function writtenWith(host: ReturnType<typeof createRecordingHost>, write: (rs: ReadRs) => void, payload: Uint8Array<ArrayBufferLike> = new Uint8Array(0)): number[] {
  const rt = createAppRuntime(defineApp({ read: readAny([bytes()], (rs) => { write(rs); rs.toCur(RS_BIN); }) }), host);
  rt.open(1, 1, { family: 4, address: '127.0.0.1', port: 1 });
  rt.read(1, 1, DataKind.BIN, payload);
  const s = host.sends();
  assert.is(s.length, 1, host.logs().join('\n'));
  return [...s[0].bytes];
}

/**
 * The bytes one read callback sends with toCur after running `write`: the same with a private
 * write buffer and with one in a (256-byte) shared write area, which longer messages outgrow.
 */
function written(write: (rs: ReadRs) => void): number[] {
  const own = writtenWith(createRecordingHost(), write);
  const inArea = writtenWith({ ...createRecordingHost(), writeArea: sharedArea() }, write);
  assert.equal(inArea, own, 'the same bytes from a write buffer in a shared area');
  return own;
}

/** The host-order bytes of a big-endian byte list. */
const host = (be: number[]) => (HOST_LITTLE_ENDIAN ? [...be].reverse() : be);

Writers('writes network byte order with the Hton writers', () => {
  assert.equal(written((rs) => rs.wU16Hton(0x0102)), [1, 2]);
  assert.equal(written((rs) => rs.wU32Hton(0x01020304)), [1, 2, 3, 4]);
  assert.equal(written((rs) => rs.wU64Hton(0x0102030405060708n)), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(written((rs) => rs.wU64Hton(0x010203)), [0, 0, 0, 0, 0, 1, 2, 3]);
  assert.equal(written((rs) => rs.wI16Hton(-2)), [0xff, 0xfe]);
  assert.equal(written((rs) => rs.wI32Hton(-2)), [0xff, 0xff, 0xff, 0xfe]);
  assert.equal(written((rs) => rs.wI64Hton(-2n)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
  assert.equal(written((rs) => rs.wI64Hton(-2)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
  assert.equal(written((rs) => rs.wF32Hton(1)), [0x3f, 0x80, 0, 0]);
  assert.equal(written((rs) => rs.wF64Hton(-2)), [0xc0, 0, 0, 0, 0, 0, 0, 0]);
});

Writers('writes host byte order with the plain writers', () => {
  assert.equal(written((rs) => rs.wU8(0xab)), [0xab]);
  assert.equal(written((rs) => rs.wI8(-1)), [0xff]);
  assert.equal(written((rs) => rs.wU16(0x0102)), host([1, 2]));
  assert.equal(written((rs) => rs.wU32(0x01020304)), host([1, 2, 3, 4]));
  assert.equal(written((rs) => rs.wU64(0x0102030405060708n)), host([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.equal(written((rs) => rs.wI16(-0x8000)), host([0x80, 0]));
  assert.equal(written((rs) => rs.wI32(-0x80000000)), host([0x80, 0, 0, 0]));
  assert.equal(written((rs) => rs.wI64(-(2n ** 63n))), host([0x80, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(written((rs) => rs.wF32(1)), host([0x3f, 0x80, 0, 0]));
  assert.equal(written((rs) => rs.wF64(-2)), host([0xc0, 0, 0, 0, 0, 0, 0, 0]));
});

Writers('chains writes in order, each writer returning rs', () => {
  assert.equal(
    written((rs) => {
      const r = rs.wU8(1).wStr('é').wU16Hton(0x0203).wBytes(new Uint8Array([4, 5])).wU32Hton(6).wI8(-1);
      assert.is(r, rs);
    }),
    [1, 0xc3, 0xa9, 2, 3, 4, 5, 0, 0, 0, 6, 0xff],
  );
});

Writers('writes the bytes of any ArrayBufferView or ArrayBuffer', () => {
  const u16 = new Uint16Array([0x0102, 0x0304]);
  const raw = [...new Uint8Array(u16.buffer)];
  assert.equal(written((rs) => rs.wBytes(u16)), raw);
  assert.equal(written((rs) => rs.wBytes(new DataView(u16.buffer, 1, 2))), raw.slice(1, 3));
  assert.equal(written((rs) => rs.wBytes(u16.buffer)), raw);
  const sab = new SharedArrayBuffer(3);
  new Uint8Array(sab).set([7, 8, 9]);
  assert.equal(written((rs) => rs.wBytes(sab)), [7, 8, 9]);
  assert.equal(written((rs) => rs.wBytes(new Uint8Array(0)).wStr('')), []);
});

Writers('accepts the edges of every integer range', () => {
  assert.equal(written((rs) => rs.wU8(0).wU8(255).wI8(-128).wI8(127)), [0, 255, 0x80, 0x7f]);
  assert.equal(written((rs) => rs.wU16Hton(65535).wI16Hton(32767)), [0xff, 0xff, 0x7f, 0xff]);
  assert.equal(written((rs) => rs.wU32Hton(2 ** 32 - 1).wI32Hton(-(2 ** 31))), [0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0]);
  assert.equal(written((rs) => rs.wU64Hton(2n ** 64n - 1n)), new Array(8).fill(0xff));
  assert.equal(written((rs) => rs.wU64Hton(Number.MAX_SAFE_INTEGER)), [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(written((rs) => rs.wI64Hton(2n ** 63n - 1n)), [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
});

Writers('rejects values outside the type, with the writer and the range in the message', () => {
  const cases: [(rs: ReadRs) => unknown, string][] = [
    [(rs) => rs.wU8(256), 'rs.wU8(): expected an integer in 0...255, got 256'],
    [(rs) => rs.wU8(-1), 'rs.wU8(): expected an integer in 0...255, got -1'],
    [(rs) => rs.wI8(128), 'rs.wI8(): expected an integer in -128...127, got 128'],
    [(rs) => rs.wU16(1.5), 'rs.wU16(): expected an integer in 0...65535, got 1.5'],
    [(rs) => rs.wI16Hton(-32769), 'rs.wI16Hton(): expected an integer in -32768...32767, got -32769'],
    [(rs) => rs.wU32Hton(2 ** 32), 'rs.wU32Hton(): expected an integer in 0...4294967295, got 4294967296'],
    [(rs) => rs.wI32(NaN), 'rs.wI32(): expected an integer in -2147483648...2147483647, got NaN'],
    [(rs) => rs.wU8('1' as never), 'rs.wU8(): expected an integer in 0...255, got "1"'],
    [(rs) => rs.wU64(-1n), 'rs.wU64(): expected a bigint in 0...2^64-1 or a safe integer >= 0, got -1n'],
    [(rs) => rs.wU64(2n ** 64n), 'rs.wU64(): expected a bigint in 0...2^64-1 or a safe integer >= 0, got 18446744073709551616n'],
    [(rs) => rs.wU64Hton(-1), 'rs.wU64Hton(): expected a bigint in 0...2^64-1 or a safe integer >= 0, got -1'],
    [(rs) => rs.wI64(2 ** 53), 'rs.wI64(): expected a bigint in -2^63...2^63-1 or a safe integer, got 9007199254740992'],
    [(rs) => rs.wI64Hton(2n ** 63n), 'rs.wI64Hton(): expected a bigint in -2^63...2^63-1 or a safe integer, got 9223372036854775808n'],
    [(rs) => rs.wF64('x' as never), 'rs.wF64(): expected a number, got "x"'],
    [(rs) => rs.wStr(5 as never), 'rs.wStr(): expected a string, got 5'],
    [(rs) => rs.wBytes([1, 2] as never), 'rs.wBytes(): expected a Uint8Array, another ArrayBufferView or an ArrayBuffer, got an array'],
    [(rs) => rs.wBytes(new Map() as never), 'rs.wBytes(): expected a Uint8Array, another ArrayBufferView or an ArrayBuffer, got a Map'],
  ];
  for (const [call, message] of cases) {
    const out = written((rs) => {
      try {
        call(rs);
      } catch (err) {
        assert.instance(err, RingSocketAppError);
        assert.equal({ code: (err as RingSocketAppError).code, message: (err as Error).message }, { code: 'RS_APP_BAD_VALUE', message });
        rs.wU8(0xee);
        return;
      }
      assert.unreachable(`no error for: ${message}`);
    });
    // Nothing of the rejected value was written.
    assert.equal(out, [0xee]);
  }
});

Writers('writes a 64-bit number exactly as the same bigint', () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const values = [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, -(2 ** 32) + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (let i = 0; i < 500; i++) values.push(Math.floor((rand() * 2 - 1) * 2 ** (1 + Math.floor(rand() * 53))));
  for (const v of values) {
    const b = BigInt(v);
    assert.equal(written((rs) => rs.wI64Hton(v).wI64(v)), written((rs) => rs.wI64Hton(b).wI64(b)), `i64 ${v}`);
    if (v >= 0) assert.equal(written((rs) => rs.wU64Hton(v).wU64(v)), written((rs) => rs.wU64Hton(b).wU64(b)), `u64 ${v}`);
  }
});

Writers('writes long strings through the slow path exactly', () => {
  const s = '笑'.repeat(5000) + 'a';
  assert.equal(written((rs) => rs.wStr(s)), [...new TextEncoder().encode(s)]);
});

Writers('in a shared write area, a read payload from the same memory is copied with the area\'s copy', () => {
  const area = sharedArea(4096);
  const payload = area.memory.subarray(20000, 20000 + 3000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const host = { ...createRecordingHost(), writeArea: area };
  const out = writtenWith(host, (rs) => { rs.wU8(9).wBytes(payload).wU8(10); }, payload);
  assert.equal(out, [9, ...payload, 10]);
  assert.is(area.copies, 1, 'one copy inside the shared memory');
  // The message was assembled in the area itself.
  assert.equal([...area.memory.subarray(area.offset, area.offset + 3)], [9, payload[0], payload[1]]);
});

Writers('a message larger than the shared area is assembled privately; the next one is back in the area', () => {
  const area = sharedArea(256);
  const host = { ...createRecordingHost(), writeArea: area };
  const big = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  const rt = createAppRuntime(defineApp({
    read: readAny([bytes()], (rs, data) => {
      if (data.length === 0) rs.wBytes(big).toCur(RS_BIN);
      else rs.wBytes(data).toCur(RS_BIN);
    }),
  }), host);
  rt.open(1, 1, { family: 4, address: '127.0.0.1', port: 1 });
  rt.read(1, 1, DataKind.BIN, new Uint8Array(0));
  rt.read(1, 1, DataKind.BIN, Uint8Array.of(1, 2, 3));
  const s = host.sends();
  assert.equal([...s[0].bytes], [...big]);
  assert.equal([...s[1].bytes], [1, 2, 3]);
  assert.equal([...area.memory.subarray(area.offset, area.offset + 3)], [1, 2, 3], 'the second message was written in the area');
  rt.read(1, 1, DataKind.BIN, new Uint8Array(0));
  rt.read(1, 1, DataKind.BIN, Uint8Array.of(4));
  assert.equal([...host.sends()[2].bytes], [...big], 'a second large message, in the private array kept from the first');
  assert.equal([...host.sends()[3].bytes], [4]);
});

Writers('strings and numbers land in a shared area at its offset, in both byte orders', () => {
  const area = sharedArea(512, 4099); // an odd offset: the DataView must start at the area
  const host = { ...createRecordingHost(), writeArea: area };
  const out = writtenWith(host, (rs) => rs.wStr('héllo 笑').wU32Hton(0x01020304).wF64Hton(-2).wU16(0x0102));
  const expect = [...new TextEncoder().encode('héllo 笑'), 1, 2, 3, 4, 0xc0, 0, 0, 0, 0, 0, 0, 0, ...host16(0x0102)];
  assert.equal(out, expect);
  assert.equal([...area.memory.subarray(area.offset, area.offset + expect.length)], expect);
  assert.is(area.memory[area.offset - 1], 0, 'nothing written before the area');
});

/** The host-order bytes of a u16. */
function host16(v: number): number[] {
  return HOST_LITTLE_ENDIAN ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff];
}

Writers.run();
