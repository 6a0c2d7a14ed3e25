// Frame building (client side, masked) and frame parsing (server side, unmasked) for the
// conformance harness. Written from RFC 6455 §5 directly, independent of the project's own codec,
// so the suite can judge that codec instead of agreeing with it.
import { randomFillSync } from 'node:crypto';

/** RFC 6455 §5.2 opcodes, plus the reserved ones the suite sends on purpose. */
export const Op = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export type Bytes = Uint8Array | string;

export function bytes(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** `n` bytes made by repeating `unit` (Autobahn's `payload_len` idiom). */
export function repeat(unit: Bytes, n: number): Buffer {
  const u = bytes(unit);
  const out = Buffer.allocUnsafe(n);
  if (n === 0) return out;
  u.copy(out, 0, 0, Math.min(u.length, n));
  let filled = Math.min(u.length, n);
  while (filled < n) {
    const k = Math.min(filled, n - filled);
    out.copy(out, filled, 0, k);
    filled += k;
  }
  return out;
}

export interface FrameSpec {
  opcode: number;
  payload?: Bytes;
  /** Default true. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). Default 0. */
  rsv?: number;
  /** RFC 6455 §5.3: "The client MUST mask all frames that it sends to the server." Default true. */
  mask?: boolean;
  /** A fixed masking key (4 bytes); random by default. */
  maskKey?: Uint8Array;
}

/**
 * One client frame. RFC 6455 §5.2: the payload length uses the shortest form (7 bits, then 16,
 * then 64 bits); the masking key follows the length and masks the payload with `j mod 4`.
 */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = bytes(spec.payload ?? '');
  const len = payload.length;
  const masked = spec.mask ?? true;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = 2 + lenBytes + (masked ? 4 : 0);
  const out = Buffer.allocUnsafe(head + len);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0xf);
  const maskBit = masked ? 0x80 : 0;
  if (lenBytes === 0) out[1] = maskBit | len;
  else if (lenBytes === 2) { out[1] = maskBit | 126; out.writeUInt16BE(len, 2); }
  else { out[1] = maskBit | 127; out.writeBigUInt64BE(BigInt(len), 2); }
  if (!masked) {
    payload.copy(out, head);
    return out;
  }
  const key = spec.maskKey ?? randomFillSync(Buffer.allocUnsafe(4));
  out[head - 4] = key[0]; out[head - 3] = key[1]; out[head - 2] = key[2]; out[head - 1] = key[3];
  maskInto(out, head, payload, key);
  return out;
}

function maskInto(out: Buffer, at: number, payload: Buffer, key: Uint8Array): void {
  const len = payload.length;
  let i = 0;
  if (len >= 8) {
    // Four bytes at a time through a 32-bit view of the key in the buffer's byte order.
    const k32 = Buffer.from([key[0], key[1], key[2], key[3]]).readUInt32LE(0);
    const whole = len & ~3;
    for (; i < whole; i += 4) out.writeUInt32LE((payload.readUInt32LE(i) ^ k32) >>> 0, at + i);
  }
  for (; i < len; i++) out[at + i] = payload[i] ^ key[i & 3];
}

/** A close frame payload: RFC 6455 §5.5.1, a 2-byte big-endian code then a UTF-8 reason. */
export function closePayload(code?: number, reason: Bytes = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = bytes(reason);
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** The frames of one message cut into fragments of `size` payload bytes (Autobahn `fragmentSize`). */
export function fragmentFrames(opcode: number, payload: Bytes, size: number): Buffer[] {
  const p = bytes(payload);
  if (p.length <= size) return [buildFrame({ opcode, payload: p })];
  const frames: Buffer[] = [];
  for (let at = 0; at < p.length; at += size) {
    const end = Math.min(at + size, p.length);
    frames.push(buildFrame({ opcode: at === 0 ? opcode : Op.CONTINUATION, payload: p.subarray(at, end), fin: end === p.length }));
  }
  return frames;
}

/** A complete frame received from the server. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Incremental parser of server frames. It only splits the byte stream into frames; the judging of
 * each frame (masking, RSV, opcodes, control frame rules) is done by the connection so that every
 * violation is reported with the frame it was found in.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private head: { fin: boolean; rsv: number; opcode: number; masked: boolean; key: Buffer | null; len: number } | null = null;
  private pieces: Buffer[] = [];
  private got = 0;

  /** Feeds bytes; returns the frames completed by them. Throws on a length the suite cannot hold. */
  push(chunk: Buffer): ServerFrame[] {
    const out: ServerFrame[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    for (;;) {
      if (!this.head) {
        if (buf.length < 2) break;
        const b1 = buf[1];
        const masked = (b1 & 0x80) !== 0;
        let len = b1 & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          const big = buf.readBigUInt64BE(2);
          if (big > BigInt(1 << 30)) throw new Error(`server frame declares ${big} payload bytes`);
          len = Number(big);
          at = 10;
        }
        if (masked && buf.length < at + 4) break;
        const key = masked ? Buffer.from(buf.subarray(at, at + 4)) : null;
        if (masked) at += 4;
        this.head = { fin: (buf[0] & 0x80) !== 0, rsv: (buf[0] >> 4) & 7, opcode: buf[0] & 0xf, masked, key, len };
        this.pieces = [];
        this.got = 0;
        buf = buf.subarray(at);
      }
      const need = this.head.len - this.got;
      if (need > 0) {
        if (buf.length === 0) break;
        const take = Math.min(need, buf.length);
        this.pieces.push(buf.subarray(0, take));
        this.got += take;
        buf = buf.subarray(take);
        if (this.got < this.head.len) break;
      }
      let payload = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
      if (this.head.key) {
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= this.head.key[i & 3];
      }
      out.push({ fin: this.head.fin, rsv: this.head.rsv, opcode: this.head.opcode, masked: this.head.masked, payload });
      this.head = null;
      this.pieces = [];
    }
    if (buf.length) this.pending = Buffer.from(buf);
    return out;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** RFC 3629 validity, as RFC 6455 §8.1 requires for text messages and close reasons. */
export function isValidUtf8(b: Uint8Array): boolean {
  try {
    strictUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/**
 * May this close code appear on the wire (RFC 6455 §7.4.1, §7.4.2 and the IANA registry)?
 * Written here rather than imported so the suite does not judge the daemon with its own rule.
 */
export function isWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
