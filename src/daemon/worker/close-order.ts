// Strict close ordering: when a client's close frame or a protocol error arrives right behind
// messages its app has not handled yet, our close frame waits until the app has handled them and
// their replies are queued, so the replies go out first (as they would from a single-threaded
// server, which answers each message before it reads the next frame).
//
// How the worker knows: every inbound record has a sequence number per (worker, app)
// (inbound.ts nextSeq), and the app thread stores, in its acknowledgement word for this worker
// (layout.ts WorkerRegion.acks), how many records it has handled, after it has published what
// their callbacks sent (app-thread.ts drainOnce). So: read the word, then drain the outbound ring;
// if the word has reached the sequence number the next record would have had when the close was
// asked for, every reply to that client's messages is now queued ahead of the close frame.
//
// Replies an app sends later from asynchronous code (after an await) are not waited for. Nothing
// more is read from the client while it waits (its socket is paused and its input ignored).
import type { Core } from '../../core/wasm.ts';
import type { Conn } from './conn.ts';
import { Phase } from './conn.ts';
import type { Clients } from './clients.ts';

/** The longest a close waits for the app to handle the client's earlier messages. */
export const CLOSE_ORDER_WAIT_MS = 1000;
/** How often the waiting closes are looked at when no outbound record wakes the worker. */
export const CLOSE_ORDER_POLL_MS = 2;

export interface CloseOrderOptions {
  core: Core;
  /** This worker's app acknowledgement words (layout.ts WorkerRegion.acks): one i32 per app. */
  acks: number;
  apps: number;
  /** The sequence number the next inbound record for `app` gets (inbound.ts). */
  nextSeq(app: number): number;
  /** appDown[a]: app a's thread is gone (its clients are closed with 1011 anyway). */
  appDown: readonly boolean[];
  /** Delivers what the outbound rings hold (outbound.ts drain). */
  drain(): void;
  clients: Clients;
  /** Milliseconds; CLOSE_ORDER_WAIT_MS unless a test says otherwise. */
  waitMs?: number;
}

interface Waiting {
  /** Our close frame. */
  frame: Buffer;
  /** nextSeq(app) when the close was asked for, as an i32 (compared modulo 2^32). */
  target: number;
  /** Date.now() after which the close goes out anyway. */
  until: number;
}

export class CloseOrder {
  readonly #acks: Int32Array;
  readonly #nextSeq: (app: number) => number;
  readonly #appDown: readonly boolean[];
  readonly #drain: () => void;
  readonly #clients: Clients;
  readonly #waitMs: number;
  readonly #waiting = new Map<Conn, Waiting>();
  /** Acknowledgement words read before the drain of the current check (one per app). */
  readonly #seen: Int32Array;
  #timer: NodeJS.Timeout | null = null;

  constructor(o: CloseOrderOptions) {
    this.#acks = new Int32Array(o.core.memory.buffer, o.acks, o.apps);
    this.#seen = new Int32Array(o.apps);
    this.#nextSeq = o.nextSeq;
    this.#appDown = o.appDown;
    this.#drain = o.drain;
    this.#clients = o.clients;
    this.#waitMs = o.waitMs ?? CLOSE_ORDER_WAIT_MS;
  }

  /** Closes waiting for the app. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Whether `c`'s close waits for its app (its input is ignored meanwhile). */
  has(c: Conn): boolean {
    return this.#waiting.size > 0 && this.#waiting.has(c);
  }

  /**
   * Sends our close frame to `c` and closes its TCP connection, once its app has handled every
   * record of `c` produced so far: at once when it has, else from a later check.
   */
  close(c: Conn, frame: Buffer): void {
    if (this.#waiting.has(c)) return;
    const app = c.appIndex;
    const target = this.#nextSeq(app) | 0;
    if (this.#appDown[app]) {
      this.#finish(c, frame);
      return;
    }
    if (reached(Atomics.load(this.#acks, app), target)) {
      // Handled, but its replies may still be in the ring: deliver them first.
      this.#drain();
      this.#settle(c, frame);
      return;
    }
    c.socket.pause();
    this.#waiting.set(c, { frame, target, until: Date.now() + this.#waitMs });
    this.#timer ??= setInterval(() => this.check(), CLOSE_ORDER_POLL_MS);
  }

  /** Sends the closes whose app has caught up (or that waited too long). */
  check(): void {
    if (this.#waiting.size === 0) return;
    // The words first, then the drain: what the words count has been published, so the drain
    // queues those replies before the close frames below.
    for (let a = 0; a < this.#seen.length; a++) this.#seen[a] = Atomics.load(this.#acks, a);
    this.#drain();
    const now = Date.now();
    for (const [c, w] of this.#waiting) {
      if (c.phase === Phase.DEAD || c.socket.destroyed || c.closeSent ||
        this.#appDown[c.appIndex] || reached(this.#seen[c.appIndex], w.target) || now >= w.until) {
        this.#waiting.delete(c);
        this.#settle(c, w.frame);
      }
    }
    if (this.#waiting.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** The close of `c` goes ahead: unless something else ended or closed it meanwhile. */
  #settle(c: Conn, frame: Buffer): void {
    // Gone (the peer ended, a limit aborted it): nothing left to order.
    if (c.phase === Phase.DEAD || c.socket.destroyed) return;
    // Closed by the server meanwhile (the app, its failure, a stop): finish the TCP side.
    if (c.closeSent) this.#clients.finishTcp(c);
    else this.#finish(c, frame);
  }

  #finish(c: Conn, frame: Buffer): void {
    this.#clients.sendClose(c, frame);
    // RFC 6455 §7.1.1: "the server SHOULD close the underlying TCP connection first".
    this.#clients.finishTcp(c);
  }
}

/** Whether the acknowledgement word `ack` has reached `target` (both i32, modulo 2^32). */
function reached(ack: number, target: number): boolean {
  return ((ack - target) | 0) >= 0;
}
