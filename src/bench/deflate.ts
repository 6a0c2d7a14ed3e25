// permessage-deflate (RFC 7692) for the bench client (--deflate): the offer, the check of the
// server's answer, a frame decoder that knows RSV1, and per-connection compression on node:zlib.
//
// The offer is the one browsers make, "permessage-deflate; client_max_window_bits": the server
// picks context takeover and window sizes, and the client follows what the 101 says. Every message
// the client sends is compressed (no threshold: the load generator always pays for compression);
// what the server sends compressed (RSV1) is inflated; both directions keep or drop their LZ77
// context as negotiated. zlib work runs on libuv's thread pool, so a connection's messages go through
// a queue that keeps their order.
import zlib from 'node:zlib';
import type { ClientDecoder, FrameHandlers, ProtocolError } from './framing.ts';

export const DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits';
/** RFC 7692 §7.2.1: the end of a Z_SYNC_FLUSH, removed by the sender and appended by the receiver. */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MIN_WINDOW_BITS = 8;
const MAX_WINDOW_BITS = 15;
const MAX_CONTROL_PAYLOAD = 125;
const PROTOCOL_ERROR = 1002;
const TOO_BIG = 1009;
const NO_STATUS = 1005;
/** First header byte: FIN, RSV1 (RFC 7692's "Per-Message Compressed" bit), RSV2 + RSV3, opcode. */
const FIN = 0x80;
const RSV1 = 0x40;
const RSV23 = 0x30;
const OPCODE = 0x0f;
const MASK = 0x80;

/** What the server agreed to (RFC 7692 §7.1). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/**
 * Checks the Sec-WebSocket-Extensions of a 101 that answered DEFLATE_OFFER: exactly one
 * permessage-deflate, only its four parameters, each at most once, the no_context_takeover ones
 * without a value and the window bits with one from 8 to 15 (RFC 7692 §7.1). Returns the
 * parameters, or what is wrong.
 */
export function parseDeflateResponse(value: string | undefined): DeflateParams | string {
  if (value === undefined || value.trim() === '') return 'the server declined permessage-deflate (no Sec-WebSocket-Extensions in its 101)';
  const elements = value.split(',').map((s) => s.trim());
  if (elements.length !== 1) return `Sec-WebSocket-Extensions has ${elements.length} elements; one permessage-deflate was offered: ${value}`;
  const [name, ...params] = elements[0].split(';').map((s) => s.trim());
  if (name.toLowerCase() !== 'permessage-deflate') return `the server answered with an extension that was not offered: ${name}`;
  const p: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: MAX_WINDOW_BITS, clientMaxWindowBits: MAX_WINDOW_BITS };
  const seen = new Set<string>();
  for (const param of params) {
    const eq = param.indexOf('=');
    const key = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0 ? null : param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (seen.has(key)) return `parameter ${key} appears twice: ${value}`;
    seen.add(key);
    if (key === 'server_no_context_takeover' || key === 'client_no_context_takeover') {
      if (raw !== null) return `${key} has a value: ${value}`;
      if (key === 'server_no_context_takeover') p.serverNoContextTakeover = true; else p.clientNoContextTakeover = true;
    } else if (key === 'server_max_window_bits' || key === 'client_max_window_bits') {
      const bits = raw !== null && /^[1-9][0-9]?$/.test(raw) ? Number(raw) : NaN;
      if (!(bits >= MIN_WINDOW_BITS && bits <= MAX_WINDOW_BITS)) return `${key} needs a value from 8 to 15: ${value}`;
      if (key === 'server_max_window_bits') p.serverMaxWindowBits = bits; else p.clientMaxWindowBits = bits;
    } else {
      return `unknown parameter ${key}: ${value}`;
    }
  }
  return p;
}

/** One zlib stream used message after message; each job waits for the one before. */
class ZQueue {
  readonly #z: zlib.DeflateRaw | zlib.InflateRaw;
  readonly #reset: boolean;
  #chain: Promise<unknown> = Promise.resolve();
  #out: Buffer[] = [];
  #bytes = 0;
  #limit: number;
  #error: Error | null = null;
  #reject: ((e: Error) => void) | null = null;

  constructor(z: zlib.DeflateRaw | zlib.InflateRaw, resetAfterEach: boolean, limit = Infinity) {
    this.#z = z;
    this.#reset = resetAfterEach;
    this.#limit = limit;
    z.on('data', (b: Buffer) => {
      this.#bytes += b.length;
      if (this.#bytes > this.#limit) { this.#fail(new RangeError(`inflates to more than ${this.#limit} bytes`)); return; }
      this.#out.push(b);
    });
    z.on('error', (e: Error) => this.#fail(e));
  }

  #fail(e: Error): void {
    this.#error ??= e;
    const r = this.#reject;
    this.#reject = null;
    r?.(e);
  }

  run(input: readonly Buffer[]): Promise<Buffer> {
    const job = this.#chain.then(() => new Promise<Buffer>((resolve, reject) => {
      if (this.#error) { reject(this.#error); return; }
      this.#reject = reject;
      for (const b of input) this.#z.write(b);
      this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (this.#error) return;
        this.#reject = null;
        const out = this.#out.length === 1 ? this.#out[0] : Buffer.concat(this.#out);
        this.#out = [];
        this.#bytes = 0;
        if (this.#reset) this.#z.reset();
        resolve(out);
      });
    }));
    this.#chain = job.catch(() => {});
    return job;
  }

  close(): void {
    this.#fail(new Error('connection closed'));
    this.#z.close();
  }
}

/** A connection's compression state: what it sends is deflated, what comes with RSV1 inflated. */
export class DeflateSession {
  readonly #deflate: ZQueue;
  readonly #inflate: ZQueue;

  constructor(p: DeflateParams, maxMessageSize: number) {
    this.#deflate = new ZQueue(zlib.createDeflateRaw({ windowBits: p.clientMaxWindowBits }), p.clientNoContextTakeover);
    this.#inflate = new ZQueue(zlib.createInflateRaw({ windowBits: p.serverMaxWindowBits }), p.serverNoContextTakeover, maxMessageSize);
  }

  /** The compressed payload of one message (§7.2.1: the final 00 00 ff ff removed). */
  async compress(payload: Buffer): Promise<Buffer> {
    const c = await this.#deflate.run([payload]);
    const n = c.length;
    return n >= 4 && c[n - 4] === 0 && c[n - 3] === 0 && c[n - 2] === 0xff && c[n - 1] === 0xff ? c.subarray(0, n - 4) : c;
  }

  /** The message a compressed payload stands for (§7.2.2: 00 00 ff ff appended). */
  inflate(payload: Buffer): Promise<Buffer> {
    return this.#inflate.run([payload, DEFLATE_TAIL]);
  }

  close(): void {
    this.#deflate.close();
    this.#inflate.close();
  }
}

export interface DeflateFrameHandlers extends Omit<FrameHandlers, 'onMessage'> {
  /** A complete message; `compressed` when its first frame had RSV1. `bytes` is valid during the call only. */
  onMessage(binary: boolean, bytes: Buffer, compressed: boolean): void;
}

/**
 * Server frames with permessage-deflate negotiated (the WebAssembly decoder refuses RSV1): RSV1
 * only on the first frame of a data message (RFC 7692 §6.1), RSV2 and RSV3 clear, frames unmasked,
 * control frames whole and at most 125 bytes, continuations only inside a message.
 */
export class DeflateFrameDecoder implements ClientDecoder {
  readonly #h: DeflateFrameHandlers;
  readonly #max: number;
  #rest: Buffer | null = null;
  #parts: Buffer[] = [];
  #size = 0;
  #inMessage = false;
  #binary = false;
  #compressed = false;
  #done = false;

  constructor(handlers: DeflateFrameHandlers, maxMessageSize: number) {
    this.#h = handlers;
    this.#max = maxMessageSize;
  }

  #error(code: string, closeCode: number, message: string): void {
    this.#done = true;
    const e: ProtocolError = { code, closeCode, message };
    this.#h.onError(e);
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const b = this.#rest ? Buffer.concat([this.#rest, input]) : input;
    let at = 0;
    while (!this.#done && b.length - at >= 2) {
      const b0 = b[at], b1 = b[at + 1];
      if (b1 & MASK) { this.#error('MASKED', PROTOCOL_ERROR, 'the server sent a masked frame'); return; }
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (b.length - at < 4) break;
        len = b.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        if (b.length - at < 10) break;
        len = b.readUInt32BE(at + 2) * 2 ** 32 + b.readUInt32BE(at + 6);
        head = 10;
      }
      if (this.#size + len > this.#max) { this.#error('TOO_BIG', TOO_BIG, `a message over ${this.#max} bytes`); return; }
      if (b.length - at < head + len) break;
      const payload = b.subarray(at + head, at + head + len);
      at += head + len;
      this.#frame(b0, payload);
    }
    this.#rest = this.#done || at === b.length ? null : Buffer.from(b.subarray(at));
  }

  #frame(b0: number, payload: Buffer): void {
    const fin = (b0 & FIN) !== 0;
    const rsv1 = (b0 & RSV1) !== 0;
    const op = b0 & OPCODE;
    if (b0 & RSV23) { this.#error('RSV', PROTOCOL_ERROR, 'RSV2 or RSV3 set'); return; }
    if (op & 0x8) {
      if (rsv1) { this.#error('RSV', PROTOCOL_ERROR, 'RSV1 on a control frame'); return; }
      if (!fin || payload.length > MAX_CONTROL_PAYLOAD) { this.#error('CONTROL', PROTOCOL_ERROR, 'a fragmented or long control frame'); return; }
      if (op === 0x9) this.#h.onPing(payload);
      else if (op === 0x8) {
        if (payload.length === 1) { this.#error('CLOSE', PROTOCOL_ERROR, 'a 1-byte close payload'); return; }
        this.#done = true;
        this.#h.onClose(payload.length >= 2 ? payload.readUInt16BE(0) : NO_STATUS, payload.subarray(2).toString('utf8'));
      } else if (op !== 0xa) this.#error('OPCODE', PROTOCOL_ERROR, `reserved opcode ${op}`);
      return;
    }
    if (op === 0x1 || op === 0x2) {
      if (this.#inMessage) { this.#error('FRAGMENT', PROTOCOL_ERROR, 'a new message inside a fragmented one'); return; }
      this.#inMessage = true;
      this.#binary = op === 0x2;
      this.#compressed = rsv1;
    } else if (op === 0x0) {
      if (!this.#inMessage) { this.#error('FRAGMENT', PROTOCOL_ERROR, 'a continuation with no message'); return; }
      if (rsv1) { this.#error('RSV', PROTOCOL_ERROR, 'RSV1 on a continuation frame'); return; }
    } else {
      this.#error('OPCODE', PROTOCOL_ERROR, `reserved opcode ${op}`);
      return;
    }
    if (!fin) {
      this.#parts.push(payload);
      this.#size += payload.length;
      return;
    }
    const whole = this.#parts.length === 0 ? payload : Buffer.concat([...this.#parts, payload]);
    this.#parts = [];
    this.#size = 0;
    this.#inMessage = false;
    this.#h.onMessage(this.#binary, whole, this.#compressed);
  }

  free(): void {
    this.#done = true;
    this.#rest = null;
    this.#parts = [];
  }
}
