// Output queues: frames are not written one by one. Every frame for a client during an event-loop
// turn (or one drain of the outbound rings) is queued, and flush() then makes one socket.write per
// client: one syscall and one pass through Node's stream machinery for all its frames. A queued
// frame is either a Buffer (control frames, and a frame shared by several recipients) or a slice
// of a consumed outbound-ring record: slices are copied out in flush(), which the outbound drain
// calls before it releases the records.
import { Conn, Phase } from './conn.ts';
import { MetricsBlock } from '../../metrics/block.ts';
import { OUTPUT_SLAB_SIZE } from '../layout.ts';

/** Above this many queued bytes a client's frames are written separately instead of joined. */
const JOIN_LIMIT = 64 * 1024;
/** Queued bytes for one client at which the queue is flushed at once (see queue). */
const EARLY_FLUSH = 1024 * 1024;
/**
 * The output slab: frames copied out of the shared memory for a flush are put here instead of in
 * a new Buffer each, when the client's socket has nothing pending (see #take). A new Buffer per
 * frame meant a malloc, and for large frames external memory that V8 collects with full GCs.
 * The worker's first slab is a region of the shared memory itself (SharedSlab, layout.ts
 * outputSlab): a frame in a ring record goes into it with the core's memory.copy, several times
 * faster than a JavaScript copy out of a SharedArrayBuffer (docs/performance.md). Frames that are
 * private Buffers already go into a private slab.
 */
const SLAB_SIZE = OUTPUT_SLAB_SIZE;
/**
 * Private slabs still referenced by sockets that did not take all their bytes (see #settle). Past
 * this many, frames get Buffers of their own again: the slabs of a worker never hold more than
 * (MAX_KEPT_SLABS + 1) × SLAB_SIZE plus the shared slab, however many clients are slow.
 */
const MAX_KEPT_SLABS = 4;

/**
 * A private copy of [start, end) of `u8` (the shared memory). Buffer.allocUnsafe + set is about
 * 2.5x faster than Buffer.from(view) for a SharedArrayBuffer view.
 */
export function copyOut(u8: Uint8Array, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  b.set(u8.subarray(start, end));
  return b;
}

/** The worker's output slab in the shared memory. */
export interface SharedSlab {
  /** Its address and size (bytes) in the shared memory. */
  at: number;
  size: number;
  /** memory.copy inside the shared memory (the core's `copy` export). */
  copy(dst: number, src: number, len: number): void;
}

/** A slab being written from: sockets that kept some of its bytes hold it until they have none pending. */
class Slab {
  readonly buf: Buffer;
  off = 0;
  /** Clients given a piece of it in this flush. */
  readonly users: Conn[] = [];
  /** Clients that still have bytes in it pending; null: free. */
  holders: Conn[] | null = null;
  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /** Whether no socket holds bytes in it any more (then it is free: holders null). */
  released(): boolean {
    const h = this.holders;
    if (h === null) return true;
    for (let i = 0; i < h.length; i++) if (!h[i].socket.destroyed && h[i].socket.writableLength !== 0) return false;
    this.holders = null;
    return true;
  }
}

export class Output {
  readonly #u8: Uint8Array;
  #maxClientBytes: number;
  /** Called once a client's unsent bytes pass maxClientBytes (it should be closed). */
  readonly #onOverflow: (c: Conn, bytes: number) => void;
  readonly #conn: Conn[] = [];
  readonly #buf: (Buffer | null)[] = [];
  readonly #at: number[] = [];
  readonly #len: number[] = [];
  /** Clients with queued frames, in the order they got their first one. */
  readonly #touched: Conn[] = [];
  #scheduled = false;
  #flushing = false;
  /** The private slab of this flush (taken when first needed). */
  #slab: Slab | null = null;
  /** Private slabs left to clients that did not take all their bytes, at most MAX_KEPT_SLABS. */
  readonly #kept: Slab[] = [];
  /** The slab in the shared memory, if the worker has one; usable in a flush when it is released(). */
  readonly #shared: Slab | null;
  #sharedFree = false;
  /** Where in the shared memory the Buffer #take returned last starts, or -1 (a private one). */
  #took = -1;
  readonly #sharedAt: number;
  readonly #copy: ((dst: number, src: number, len: number) => void) | null;
  readonly #flushNow = () => this.flush();
  /** Bytes written to sockets are counted once per flush (src/metrics/block.ts). */
  readonly #metrics: MetricsBlock;

  constructor(u8: Uint8Array, maxClientBytes: number, onOverflow: (c: Conn, bytes: number) => void, metrics?: MetricsBlock, shared?: SharedSlab) {
    this.#u8 = u8;
    this.#shared = shared ? new Slab(Buffer.from(u8.buffer, shared.at, shared.size)) : null;
    this.#sharedAt = shared ? shared.at : -1;
    this.#copy = shared ? shared.copy : null;
    this.#maxClientBytes = maxClientBytes;
    this.#onOverflow = onOverflow;
    this.#metrics = metrics ?? MetricsBlock.detached(1);
  }

  /** max_client_outbound_size changed (a reload): judged at the next flush. */
  set maxClientBytes(n: number) {
    this.#maxClientBytes = n;
  }

  /** Queues `len` bytes for `c`: `buf` from `at`, or (buf null) the shared memory at `at`. */
  queue(c: Conn, buf: Buffer | null, at: number, len: number): void {
    if (c.qCount === 0) {
      this.#touched.push(c);
      c.qPrivate = false;
    }
    if (buf !== null) c.qPrivate = true;
    c.qCount++;
    c.qBytes += len;
    this.#conn.push(c);
    this.#buf.push(buf);
    this.#at.push(at);
    this.#len.push(len);
    // A big batch for one client goes to the kernel before its backlog is judged: the limit is
    // about bytes the client did not take, not about how many arrived in one drain.
    if (c.qBytes >= EARLY_FLUSH && !this.#flushing) this.flush();
    const unsent = c.socket.writableLength + c.qBytes;
    if (unsent > this.#maxClientBytes && !c.closeSent) this.#onOverflow(c, unsent);
  }

  /** Queues a whole frame and makes sure a flush follows within this event-loop turn. */
  write(c: Conn, frame: Buffer): void {
    if (c.phase === Phase.DEAD || c.socket.destroyed) return;
    this.queue(c, frame, 0, frame.length);
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flushNow);
    }
  }

  /** socket.end() after the client's queued frames. */
  end(c: Conn): void {
    if (c.qCount > 0) c.endQueued = true;
    else c.socket.end();
  }

  /** Writes every queued frame: one socket.write per client (see the file comment). */
  flush(): void {
    this.#scheduled = false;
    if (this.#conn.length === 0) return;
    this.#flushing = true;
    let written = false;
    try {
      this.#sharedFree = this.#shared !== null && this.#shared.released();
      this.#write();
      written = true;
    } finally {
      if (this.#slab !== null) this.#settle(this.#slab, written, false);
      if (this.#shared !== null) this.#settle(this.#shared, written, true);
      // Whatever happened, every queue is empty afterwards: nothing is written twice.
      const touched = this.#touched;
      for (let i = 0; i < touched.length; i++) {
        const c = touched[i];
        c.qOut = null;
        c.qAt = -1;
        c.qCount = 0;
        c.qBytes = 0;
        c.endQueued = false;
      }
      touched.length = 0;
      this.#conn.length = 0;
      this.#buf.length = 0;
      this.#at.length = 0;
      this.#len.length = 0;
      this.#flushing = false;
    }
  }

  /**
   * n bytes for a frame (or a client's joined frames) to `c`: a piece of a slab when the socket
   * has nothing pending, else a new Buffer. `fromShared`: every byte comes from the shared memory,
   * so the shared slab (filled with the core's copy) is taken when it is free. Node keeps a
   * reference to what it could not hand to the kernel at once; #settle gives the slab up then.
   */
  #take(c: Conn, n: number, fromShared: boolean): Buffer {
    this.#took = -1;
    const sock = c.socket;
    if (n > SLAB_SIZE || sock.writableLength !== 0 || (sock as { encrypted?: boolean }).encrypted) return Buffer.allocUnsafe(n);
    let slab: Slab | null = fromShared && this.#sharedFree ? this.#shared : null;
    if (slab !== null && n <= slab.buf.length - slab.off) this.#took = this.#sharedAt + slab.off;
    else {
      slab = this.#slab ?? (this.#slab = this.#freeSlab());
      if (slab === null || n > SLAB_SIZE - slab.off) return Buffer.allocUnsafe(n);
    }
    const at = slab.off;
    // 8-byte steps: copies start aligned.
    slab.off = (at + n + 7) & ~7;
    slab.users.push(c);
    return slab.buf.subarray(at, at + n);
  }

  /**
   * After a flush: every socket that wrote from the slab normally took its bytes into the kernel
   * during the write (nothing pending); then the slab is reused from the start. A socket that kept
   * some (a full kernel buffer) still points into it: the slab is kept aside until every such
   * socket has nothing pending (its queue is written in order) or is destroyed (libuv drops its
   * writes); a private slab goes to #kept and the next flush takes another.
   */
  #settle(slab: Slab, written: boolean, shared: boolean): void {
    const users = slab.users;
    // Not written from in this flush: whoever still holds it (the shared slab, not free at the
    // start) keeps holding it.
    if (users.length === 0) {
      slab.off = 0;
      return;
    }
    let holders: Conn[] | null = written ? null : users.slice();
    for (let i = 0; i < users.length && written; i++) {
      if (users[i].socket.writableLength !== 0) (holders ??= []).push(users[i]);
    }
    users.length = 0;
    slab.off = 0;
    if (holders === null) return;
    slab.holders = holders;
    if (!shared) {
      this.#kept.push(slab);
      this.#slab = null;
    }
  }

  /** A private slab to write from: a kept one that is free again, a new one, or null when too many are kept. */
  #freeSlab(): Slab | null {
    const kept = this.#kept;
    for (let i = 0; i < kept.length; i++) {
      if (kept[i].released()) return kept.splice(i, 1)[0];
    }
    return kept.length < MAX_KEPT_SLABS ? new Slab(Buffer.allocUnsafeSlow(SLAB_SIZE)) : null;
  }

  #write(): void {
    const touched = this.#touched;
    const qConn = this.#conn, qBuf = this.#buf, qAt = this.#at, qLen = this.#len;
    const n = qConn.length;
    const u8 = this.#u8;
    // Give each client its output buffer; a client with one queued Buffer writes it as it is.
    let bytes = 0;
    for (let i = 0; i < touched.length; i++) {
      const c = touched[i];
      if (c.qCount > 1 && c.qBytes <= JOIN_LIMIT) {
        c.qOut = this.#take(c, c.qBytes, !c.qPrivate);
        c.qAt = this.#took;
      }
      c.qOff = 0;
      if (!c.socket.destroyed) bytes += c.qBytes;
    }
    this.#metrics.bytesOut(bytes);
    for (let i = 0; i < n; i++) {
      const c = qConn[i];
      const buf = qBuf[i];
      const out = c.qOut;
      if (out !== null) {
        if (buf !== null) out.set(buf, c.qOff);
        else if (c.qAt >= 0) this.#copy!(c.qAt + c.qOff, qAt[i], qLen[i]);
        else out.set(u8.subarray(qAt[i], qAt[i] + qLen[i]), c.qOff);
        c.qOff += qLen[i];
      } else if (!c.socket.destroyed) {
        let b = buf;
        if (b === null) {
          b = this.#take(c, qLen[i], true);
          if (this.#took >= 0) this.#copy!(this.#took, qAt[i], qLen[i]);
          else b.set(u8.subarray(qAt[i], qAt[i] + qLen[i]));
        }
        if (c.qCount > 1 && c.qOff++ === 0) c.socket.cork();
        c.socket.write(b);
      }
    }
    for (let i = 0; i < touched.length; i++) {
      const c = touched[i];
      if (c.socket.destroyed) continue;
      if (c.qOut !== null) c.socket.write(c.qOut);
      else if (c.qCount > 1) c.socket.uncork();
      if (c.endQueued) c.socket.end();
    }
  }
}
