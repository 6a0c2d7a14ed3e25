// Output queues: frames are not written one by one. Every frame for a client during an event-loop
// turn (or one drain of the outbound rings) is queued, and flush() then makes one socket.write per
// client: one syscall and one pass through Node's stream machinery for all its frames. A queued
// frame is either a Buffer (control frames, and a frame shared by several recipients) or a slice
// of a consumed outbound-ring record: slices are copied out in flush(), which the outbound drain
// calls before it releases the records.
import { Conn, Phase } from './conn.ts';
import { MetricsBlock } from '../../metrics/block.ts';

/** Above this many queued bytes a client's frames are written separately instead of joined. */
const JOIN_LIMIT = 64 * 1024;
/** Queued bytes for one client at which the queue is flushed at once (see queue). */
const EARLY_FLUSH = 1024 * 1024;
/**
 * The output slab: frames copied out of the shared memory for a flush are put here instead of in
 * a new Buffer each, when the client's socket has nothing pending (see #take). A new Buffer per
 * frame meant a malloc, and for large frames external memory that V8 collects with full GCs.
 */
const SLAB_SIZE = 1024 * 1024;
/**
 * Slabs still referenced by sockets that did not take all their bytes (see #settleSlab). Past
 * this many, frames get Buffers of their own again: the slabs of a worker never hold more than
 * (MAX_KEPT_SLABS + 1) × SLAB_SIZE, however many clients are slow.
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

/** A slab that sockets still write from: free again once none of them has bytes pending. */
interface KeptSlab {
  buf: Buffer;
  holders: Conn[];
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
  #slab: Buffer | null = null;
  #slabOff = 0;
  /** Clients written from the slab in this flush: if one of them did not take it all, it is left to them. */
  readonly #slabUsers: Conn[] = [];
  /** Slabs left to such clients, at most MAX_KEPT_SLABS. */
  readonly #kept: KeptSlab[] = [];
  readonly #flushNow = () => this.flush();
  /** Bytes written to sockets are counted once per flush (src/metrics/block.ts). */
  readonly #metrics: MetricsBlock;

  constructor(u8: Uint8Array, maxClientBytes: number, onOverflow: (c: Conn, bytes: number) => void, metrics?: MetricsBlock) {
    this.#u8 = u8;
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
    if (c.qCount === 0) this.#touched.push(c);
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
      this.#write();
      written = true;
    } finally {
      this.#settleSlab(written);
      // Whatever happened, every queue is empty afterwards: nothing is written twice.
      const touched = this.#touched;
      for (let i = 0; i < touched.length; i++) {
        const c = touched[i];
        c.qOut = null;
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
   * n bytes for a frame (or a client's joined frames) to `c`: a piece of the slab when the
   * socket has nothing pending, else a new Buffer. Node keeps a reference to what it could not
   * hand to the kernel at once; #settleSlab gives the slab up in that case.
   */
  #take(c: Conn, n: number): Buffer {
    const sock = c.socket;
    if (n > SLAB_SIZE - this.#slabOff || sock.writableLength !== 0 || (sock as { encrypted?: boolean }).encrypted) return Buffer.allocUnsafe(n);
    const slab = this.#slab ?? (this.#slab = this.#freeSlab());
    if (slab === null) return Buffer.allocUnsafe(n);
    const at = this.#slabOff;
    // 8-byte steps: copies start aligned.
    this.#slabOff = (at + n + 7) & ~7;
    this.#slabUsers.push(c);
    return slab.subarray(at, at + n);
  }

  /**
   * After a flush: every socket that wrote from the slab normally took its bytes into the kernel
   * during the write (nothing pending); then the slab is reused from the start. A socket that kept
   * some (a full kernel buffer) still points into it: the slab is kept aside until every such
   * socket has nothing pending (its queue is written in order) or is destroyed (libuv drops its
   * writes), and the next flush takes another.
   */
  #settleSlab(written: boolean): void {
    const users = this.#slabUsers;
    const slab = this.#slab;
    let holders: Conn[] | null = written ? null : users.slice();
    for (let i = 0; i < users.length && written; i++) {
      if (users[i].socket.writableLength !== 0) (holders ??= []).push(users[i]);
    }
    users.length = 0;
    if (holders !== null && slab !== null) {
      this.#kept.push({ buf: slab, holders });
      this.#slab = null;
    }
    this.#slabOff = 0;
  }

  /** A slab to write from: a kept one that is free again, a new one, or null when too many are kept. */
  #freeSlab(): Buffer | null {
    const kept = this.#kept;
    for (let i = 0; i < kept.length; i++) {
      const k = kept[i];
      if (k.holders.every((c) => c.socket.destroyed || c.socket.writableLength === 0)) {
        kept.splice(i, 1);
        return k.buf;
      }
    }
    return kept.length < MAX_KEPT_SLABS ? Buffer.allocUnsafeSlow(SLAB_SIZE) : null;
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
      if (c.qCount > 1 && c.qBytes <= JOIN_LIMIT) c.qOut = this.#take(c, c.qBytes);
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
        else out.set(u8.subarray(qAt[i], qAt[i] + qLen[i]), c.qOff);
        c.qOff += qLen[i];
      } else if (!c.socket.destroyed) {
        let b = buf;
        if (b === null) {
          b = this.#take(c, qLen[i]);
          b.set(u8.subarray(qAt[i], qAt[i] + qLen[i]));
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
