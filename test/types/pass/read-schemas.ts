// Must compile: a callback's parameter types are inferred from its read schema.
import {
  defineApp, readBin, readUtf8, readAny, readSwitch, caseBin, caseUtf8, caseAny, timerSleep, timerWake,
  net, ntoh, str, bytes, RS_BIN, RS_UTF8, DataKind, type ReadRs, type OpenRs, type CloseRs, type TimerRs, type InitRs,
} from '../../../src/app/index.ts';

/** true when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function is<_T extends true>(): void {}

// Scalars: bigint for 64-bit integers, number for the rest, in both byte orders.
readBin([net.u8, net.u16, net.u32, net.u64, net.i8, net.i16, net.i32, net.i64, net.f32, net.f64], (rs, a, b, c, d, e, f, g, h, i, j) => {
  is<Equal<typeof rs, ReadRs>>();
  is<Equal<[typeof a, typeof b, typeof c, typeof e, typeof f, typeof g, typeof i, typeof j], [number, number, number, number, number, number, number, number]>>();
  is<Equal<[typeof d, typeof h], [bigint, bigint]>>();
});
readBin([ntoh.u64, ntoh.i64, ntoh.f64], (_rs, a, b, c) => {
  is<Equal<[typeof a, typeof b, typeof c], [bigint, bigint, number]>>();
});

// Arrays: the typed array of the element type; borrowed views may sit on shared memory, copies
// are plain ArrayBuffer-backed arrays the app owns.
readBin([ntoh.u16.array(7), net.i32.array(2), ntoh.u64.array(1), ntoh.f32.between(0, 3)], (_rs, a, b, c, d) => {
  is<Equal<typeof a, Uint16Array<ArrayBufferLike>>>();
  is<Equal<typeof b, Int32Array<ArrayBufferLike>>>();
  is<Equal<typeof c, BigUint64Array<ArrayBufferLike>>>();
  is<Equal<typeof d, Float32Array<ArrayBufferLike>>>();
});
readBin([ntoh.i64.array(2).copy(), bytes().copy()], (_rs, a, b) => {
  is<Equal<typeof a, BigInt64Array<ArrayBuffer>>>();
  is<Equal<typeof b, Uint8Array<ArrayBuffer>>>();
});

// The README's silly_calc signature.
readBin([ntoh.i32, ntoh.u16.between(1, 10)], (rs, i32, arr) => {
  is<Equal<typeof i32, number>>();
  is<Equal<typeof arr, Uint16Array>>();
  rs.wI64Hton(i32 + arr.length).toEveryExceptCur(RS_BIN);
  return 0;
});

// Strings and raw bytes; fewer callback parameters than the schema are fine (as in any TS callback).
readUtf8([net.u8, str(1, 32)], (_rs, kind, name) => { is<Equal<[typeof kind, typeof name], [number, string]>>(); });
readAny([bytes()], (rs, data) => { is<Equal<typeof data, Uint8Array>>(); rs.wBytes(data).toCur(rs.readDataKind()); });
readAny([ntoh.u32, bytes(0, 8)], (rs) => rs.readDataKind());
readBin([], () => 4000);

// Explicit annotations that match are accepted.
readBin([ntoh.u16, str()], (_rs: ReadRs, v: number, s: string): number => v + s.length);

// Switch cases infer independently.
const read = readSwitch({
  0: caseBin([ntoh.u64, str(1, 100)], (_rs, to, text) => { is<Equal<[typeof to, typeof text], [bigint, string]>>(); }),
  1: caseUtf8([str()], (_rs, s) => { is<Equal<typeof s, string>>(); }),
  255: caseAny([], (rs) => { rs.toCur(rs.readDataKind()); }),
});

// Each callback kind gets its own rs type; writers chain and return that type.
export default defineApp({
  init: { appDataSize: 8, callback: (rs) => { is<Equal<typeof rs, InitRs>>(); rs.appData()[0] = 1; rs.log('info', 'up'); } },
  open: (rs) => { is<Equal<typeof rs, OpenRs>>(); const w = rs.wU8(1); is<Equal<typeof w, OpenRs>>(); w.toCur(RS_UTF8); return rs.clientAddr().family === 6 ? 4001 : 0; },
  read,
  close: (rs) => { is<Equal<typeof rs, CloseRs>>(); rs.wU64Hton(BigInt(rs.clientId())).toEvery(DataKind.BIN); },
  timer: timerSleep((rs) => { is<Equal<typeof rs, TimerRs>>(); rs.toMulti(RS_BIN, [1, 2n]); return 1000; }, 1000),
});

defineApp({ read: readBin([], () => {}), timer: timerWake(() => 0, 5) });
