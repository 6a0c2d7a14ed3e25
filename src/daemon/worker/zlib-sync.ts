// Synchronous raw DEFLATE streams that keep their state between messages, for permessage-deflate
// (RFC 7692) in the worker: the worker's read loop must inflate a message before it decodes the
// next one, and a context-takeover stream must go on where the previous message left it.
//
// Node's public synchronous API (zlib.inflateRawSync and friends) makes a new stream per call,
// and a stream's _processChunk(chunk, flush) closes the stream after one synchronous call (Node
// 24: processChunkSync ends with _close). So this module drives the stream's native handle
// directly, as processChunkSync itself does: handle.writeSync(flush, in, inOff, inLen, out,
// outOff, outLen) runs zlib once and leaves avail_out / avail_in in the stream's _writeState; a
// zlib error calls handle.onerror synchronously, which we replace so that it only records the
// error. assertSyncZlib checks at start-up that these internals are there.
import zlib from 'node:zlib';

/** What the output of one pump goes into: chunks that are reused from message to message. */
export class ByteSink {
  /** Size of each chunk (the output window of one zlib call). */
  static readonly CHUNK = 64 * 1024;
  /** Chunks kept for the next message; more are dropped after use (a large message's memory). */
  static readonly KEEP = 4;
  readonly chunks: Buffer[] = [];
  /** Chunks in use; the last one holds `tail` bytes. */
  count = 0;
  tail = 0;
  total = 0;

  reset(): void {
    this.count = 0;
    this.tail = 0;
    this.total = 0;
    if (this.chunks.length > ByteSink.KEEP) this.chunks.length = ByteSink.KEEP;
  }

  /** The chunk to write into next (room at `tail`). */
  space(): Buffer {
    if (this.count === 0 || this.tail === ByteSink.CHUNK) {
      if (this.count === this.chunks.length) this.chunks.push(Buffer.allocUnsafe(ByteSink.CHUNK));
      this.count++;
      this.tail = 0;
    }
    return this.chunks[this.count - 1];
  }

  advance(n: number): void {
    this.tail += n;
    this.total += n;
  }

  /** Copies the first `n` bytes gathered (default all) into `dst` at `at`; returns the offset after. */
  copyTo(dst: Uint8Array, at: number, n = this.total): number {
    for (let i = 0; i < this.count && n > 0; i++) {
      const used = i === this.count - 1 ? this.tail : ByteSink.CHUNK;
      const k = used < n ? used : n;
      dst.set(k === ByteSink.CHUNK ? this.chunks[i] : this.chunks[i].subarray(0, k), at);
      at += k;
      n -= k;
    }
    return at;
  }

  /** The last `k` bytes gathered (k ≤ 4; for the flush marker), as a number array. */
  last(k: number): number[] {
    const out: number[] = [];
    let i = this.count - 1, end = this.tail;
    while (out.length < k && i >= 0) {
      if (end === 0) { i--; end = ByteSink.CHUNK; continue; }
      out.unshift(this.chunks[i][--end]);
    }
    return out;
  }
}

/** pump's results. */
export const Pump = {
  OK: 0,
  /** zlib refused the input (invalid compressed data). */
  DATA_ERROR: 1,
  /** More than `limit` bytes of output: stopped there. */
  OVER_LIMIT: 2,
} as const;
export type PumpResult = (typeof Pump)[keyof typeof Pump];

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code: string) => void;
  reset(): void;
}
interface ZlibStream {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
  close(): void;
}

/**
 * The smallest output buffer a zlib stream may have (zlib.constants.Z_MIN_CHUNK). The stream
 * allocates one of chunkSize bytes that this module never uses, so it is kept small.
 */
const MIN_CHUNK = 64;

/**
 * Throws when this Node's zlib streams lack what SyncZlib drives (see the header comment), or when
 * driving them does not give what it must: the internals are not Node's API, so their presence is
 * not enough. A round trip of two messages through a deflater and an inflater that keep their
 * context (output larger than one sink chunk, so the avail_out/avail_in loop runs), the reset, the
 * output limit, and an error reported through onerror. Any difference is a clear start-up error
 * instead of wrong bytes later. (A changed writeSync signature may still abort in Node's own
 * argument checks: that too happens here, at start, rather than with a client.)
 */
export function assertSyncZlib(): void {
  const fail = (why: string): never => {
    throw new Error(`permessage-deflate: this Node (${process.version}) does not drive zlib streams synchronously as zlib-sync.ts expects (${why})`);
  };
  const s = new zlib.InflateRaw({ chunkSize: MIN_CHUNK }) as unknown as ZlibStream;
  const ok = s._handle !== null && typeof s._handle.writeSync === 'function' && s._writeState instanceof Uint32Array &&
    s._writeState.length >= 2 && typeof s._handle.reset === 'function';
  s.close();
  if (!ok) fail('no synchronous zlib stream handle');
  const { Z_SYNC_FLUSH } = zlib.constants;
  const def = new SyncZlib('deflate', 15, 8);
  const inf = new SyncZlib('inflate', 15);
  try {
    const sink = new ByteSink();
    const big = Buffer.alloc(ByteSink.CHUNK * 2 + 1000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) >>> 5 & 0xff;
    const msgs = [big, Buffer.from('zlib-sync self-test zlib-sync self-test')];
    for (const m of msgs) {
      sink.reset();
      if (def.pump(m, Z_SYNC_FLUSH, sink, 0xffffffff) !== Pump.OK) fail(`deflate: ${def.error}`);
      const z = Buffer.alloc(sink.total);
      sink.copyTo(z, 0);
      if (z.length < 4 || z.readUInt32BE(z.length - 4) !== 0x0000ffff) fail('deflate output does not end with a sync flush');
      sink.reset();
      if (inf.pump(z, Z_SYNC_FLUSH, sink, 0xffffffff) !== Pump.OK) fail(`inflate: ${inf.error}`);
      const back = Buffer.alloc(sink.total);
      sink.copyTo(back, 0);
      if (!back.equals(m)) fail('a round trip changed the bytes');
    }
    // After a reset both start afresh: the output limit, then invalid data reported (onerror).
    sink.reset();
    def.reset();
    inf.reset();
    if (def.pump(big.subarray(0, 2000), Z_SYNC_FLUSH, sink, 0xffffffff) !== Pump.OK) fail('deflate after reset');
    const z = Buffer.alloc(sink.total);
    sink.copyTo(z, 0);
    sink.reset();
    if (inf.pump(z, Z_SYNC_FLUSH, sink, 100) !== Pump.OVER_LIMIT || sink.total !== 101) fail('the output limit');
    inf.reset();
    sink.reset();
    if (inf.pump(Uint8Array.of(0xff, 0xff, 0xff, 0x00, 0x12), Z_SYNC_FLUSH, sink, 1000) !== Pump.DATA_ERROR || inf.error === null) {
      fail('invalid data is not reported');
    }
  } finally {
    def.close();
    inf.close();
  }
}

/** One raw DEFLATE stream (inflate or deflate) run synchronously, message after message. */
export class SyncZlib {
  readonly #stream: ZlibStream;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  #error: string | null = null;
  /** Input bytes the last pump left unread (the stream ended inside it). */
  leftover = 0;

  constructor(kind: 'inflate' | 'deflate', windowBits: number, memLevel?: number) {
    const opts: zlib.ZlibOptions = { windowBits, chunkSize: MIN_CHUNK };
    if (memLevel !== undefined) opts.memLevel = memLevel;
    const s = (kind === 'inflate' ? new zlib.InflateRaw(opts) : new zlib.DeflateRaw(opts)) as unknown as ZlibStream;
    this.#stream = s;
    this.#handle = s._handle!;
    this.#state = s._writeState;
    this.#handle.onerror = (message) => { this.#error = message; };
  }

  /** Last zlib error message (after a DATA_ERROR). */
  get error(): string | null {
    return this.#error;
  }

  /**
   * Feeds `input` with `flush` and appends every byte of output to `sink`, stopping (OVER_LIMIT)
   * as soon as the sink holds more than `limit` bytes: zlib is never given room for more than
   * limit + 1 bytes in total, so a compression bomb costs at most that.
   */
  pump(input: Uint8Array, flush: number, sink: ByteSink, limit: number): PumpResult {
    const handle = this.#handle;
    const state = this.#state;
    let inOff = 0;
    let inLen = input.length;
    this.#error = null;
    for (;;) {
      const buf = sink.space();
      let outLen = ByteSink.CHUNK - sink.tail;
      const allowed = limit + 1 - sink.total;
      if (outLen > allowed) outLen = allowed;
      handle.writeSync(flush, input, inOff, inLen, buf, sink.tail, outLen);
      if (this.#error !== null) return Pump.DATA_ERROR;
      const availOut = state[0];
      const availIn = state[1];
      sink.advance(outLen - availOut);
      if (sink.total > limit) return Pump.OVER_LIMIT;
      inOff += inLen - availIn;
      inLen = availIn;
      // Room left in the output: zlib has taken all it could of the input.
      if (availOut !== 0) {
        this.leftover = availIn;
        return Pump.OK;
      }
    }
  }

  /** Back to the state of a new stream (an empty window). */
  reset(): void {
    this.#error = null;
    this.leftover = 0;
    this.#handle.reset();
  }

  close(): void {
    this.#stream.close();
  }
}
