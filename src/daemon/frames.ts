// Server-to-client frame headers written from JavaScript straight into ring memory or small
// Buffers (control frames). Server frames are never masked: RFC 6455 §5.1 "A server MUST NOT mask
// any frames that it sends to the client."
import { Opcode } from '../core/codes.ts';

const FIN = 0x80;
const LEN_16 = 126;
const LEN_64 = 127;
const MAX_7BIT = 125;

/** Bytes of a server frame header for a payload of `len` bytes. */
export function serverHeaderSize(len: number): number {
  return len <= MAX_7BIT ? 2 : len <= 0xffff ? 4 : 10;
}

/** Writes a FIN server frame header at `at`; returns its size. */
export function writeServerHeader(u8: Uint8Array, at: number, opcode: number, len: number): number {
  u8[at] = FIN | opcode;
  if (len <= MAX_7BIT) {
    u8[at + 1] = len;
    return 2;
  }
  if (len <= 0xffff) {
    u8[at + 1] = LEN_16;
    u8[at + 2] = len >>> 8;
    u8[at + 3] = len & 0xff;
    return 4;
  }
  u8[at + 1] = LEN_64;
  const hi = Math.floor(len / 0x100000000);
  const lo = len >>> 0;
  u8[at + 2] = 0; u8[at + 3] = 0;
  u8[at + 4] = (hi >>> 8) & 0xff; u8[at + 5] = hi & 0xff;
  u8[at + 6] = lo >>> 24; u8[at + 7] = (lo >>> 16) & 0xff; u8[at + 8] = (lo >>> 8) & 0xff; u8[at + 9] = lo & 0xff;
  return 10;
}

export function encodeServerFrame(opcode: number, payload: Uint8Array): Buffer {
  const h = serverHeaderSize(payload.length);
  const b = Buffer.allocUnsafe(h + payload.length);
  writeServerHeader(b, 0, opcode, payload.length);
  b.set(payload, h);
  return b;
}

/** A close frame; code 0 means an empty close payload. The reason is cut to fit 125 bytes. */
export function encodeCloseFrame(code: number, reason?: Uint8Array): Buffer {
  if (code === 0) return encodeServerFrame(Opcode.CLOSE, new Uint8Array(0));
  const r = reason ? reason.subarray(0, MAX_7BIT - 2) : new Uint8Array(0);
  const p = new Uint8Array(2 + r.length);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return encodeServerFrame(Opcode.CLOSE, p);
}
