// Must NOT compile: callbacks that do not fit their schema, and schemas that are not schemas.
// Each marked line must be a compile error, and nothing else may be.
import { readBin, readUtf8, readAny, readSwitch, caseBin, net, ntoh, str, bytes } from '../../../src/app/index.ts';

readBin([ntoh.u64], (_rs, v: number) => 0); // @error TS2345: a u64 is a bigint
readBin([ntoh.u16], (_rs, v: bigint) => 0); // @error TS2345: a u16 is a number
readBin([ntoh.u16.array(3)], (_rs, v: Uint8Array) => 0); // @error TS2345: a u16 array is a Uint16Array
readBin([net.i64.array(3)], (_rs, v: BigUint64Array) => 0); // @error TS2345: signedness counts
readBin([ntoh.f32.between(0, 4)], (_rs, v: Float64Array) => 0); // @error TS2345: f32 is Float32Array
readUtf8([str()], (_rs, s: Uint8Array) => 0); // @error TS2345: a str() is a string
readAny([bytes()], (_rs, b: string) => 0); // @error TS2345: bytes() are a Uint8Array
readBin([ntoh.i32], (_rs, a: number, b: number) => 0); // @error TS2345: more parameters than the schema has
readBin([ntoh.i32, ntoh.u16.between(1, 10)], (_rs, a: number, b: number) => 0); // @error TS2345: the variable part is an array
readBin([ntoh.u16.between(1, 2), ntoh.u8], () => 0); // @error TS2345: a variable length must be last
readBin([str(), net.u8], () => 0); // @error TS2345: str() must be last
readBin([bytes(), bytes()], () => 0); // @error TS2345: bytes() must be last
readBin(['u16'], () => 0); // @error TS2322: a schema holds parameters
readBin([ntoh.u16.between(0, 4)], (_rs, a) => { const kept: Uint16Array<ArrayBuffer> = a; return kept.length; }); // @error TS2322: a borrowed view is not an owned array
readSwitch({ 0: readBin([], () => 0) }); // @error TS2739: a switch holds cases
readSwitch({ 0: caseBin([ntoh.u8], (_rs, v: string) => 0) }); // @error TS2345: cases are checked too
