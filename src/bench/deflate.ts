// permessage-deflate (RFC 7692) for the bench client (--deflate): the offer, the check of the
// server's answer, and per-connection compression on node:zlib. Frames are decoded by the
// WebAssembly codec (codec.ts), which marks compressed messages (RSV1) when the extension is on.
//
// The offer is the one browsers make, "permessage-deflate; client_max_window_bits": the server
// picks context takeover and window sizes, and the client follows what the 101 says. Every message
// the client sends is compressed (no threshold: the load generator always pays for compression);
// what the server sends compressed (RSV1) is inflated; both directions keep or drop their LZ77
// context as negotiated. zlib work runs on libuv's thread pool, so a connection's messages go through
// a queue that keeps their order.
import zlib from 'node:zlib';

export const DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits';
/** RFC 7692 §7.2.1: the end of a Z_SYNC_FLUSH, removed by the sender and appended by the receiver. */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MIN_WINDOW_BITS = 8;
const MAX_WINDOW_BITS = 15;

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

