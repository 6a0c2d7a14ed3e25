// The outbound drain: this worker's side of the app -> worker rings. Each record carries one
// server frame and its recipients (records.ts, "Outbound header"); the frame is queued for every
// recipient on this worker (output.ts), the queues are flushed, then the records are released.
import type { Core } from '../../core/wasm.ts';
import type { Ring } from '../../core/ring.ts';
import { CloseCode } from '../../core/codes.ts';
import { Outbound, OUT_HEADER_SIZE, OUT_STAMP, OUT_COUNT, OUT_UPGRADE_STATUS } from '../records.ts';
import type { Logger } from '../../log.ts';
import { Conn, Phase } from './conn.ts';
import { copyOut, type Output } from './output.ts';
import type { Clients } from './clients.ts';
import type { WorkerDeflate } from './deflate.ts';
import { MetricsBlock } from '../../metrics/block.ts';

/** Records consumed from one outbound ring before their frames are flushed and the records released. */
const DRAIN_BATCH = 1024;
/** Most records taken from one app's ring per drain, so that socket I/O is never starved. */
const DRAIN_MAX = 16 * DRAIN_BATCH;

export interface OutboundOptions {
  core: Core;
  rings: readonly Ring[];
  /** appDown[a]: app a's thread is gone; its ring is not touched. */
  appDown: readonly boolean[];
  appNames: readonly string[];
  clients: Clients;
  output: Output;
  log: Logger;
  /** permessage-deflate (deflate.ts): data frames for clients that negotiated it are compressed. */
  deflate?: WorkerDeflate | null;
  /** An UPGRADE_REPLY of app `app` (upgrades.ts reply). */
  upgradeReply(app: number, id: number, status: number): void;
  /** This worker's metrics block; absent: counts go nowhere. */
  metrics?: MetricsBlock;
}

export class OutboundDrain {
  readonly #u8: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #f64: Float64Array;
  readonly #rings: readonly Ring[];
  readonly #appDown: readonly boolean[];
  readonly #names: readonly string[];
  readonly #clients: Clients;
  readonly #output: Output;
  readonly #log: Logger;
  readonly #except = new Set<number>();
  readonly #deflate: WorkerDeflate | null;
  readonly #upgradeReply: (app: number, id: number, status: number) => void;
  readonly #metrics: MetricsBlock;
  /** Frames queued for clients by the current #deliver (messages_sent, counted once per drained app). */
  #delivered = 0;

  constructor(o: OutboundOptions) {
    this.#u8 = o.core.u8;
    this.#u32 = o.core.u32;
    this.#f64 = new Float64Array(o.core.memory.buffer);
    this.#rings = o.rings;
    this.#appDown = o.appDown;
    this.#names = o.appNames;
    this.#clients = o.clients;
    this.#output = o.output;
    this.#log = o.log;
    this.#deflate = o.deflate ?? null;
    this.#upgradeReply = o.upgradeReply;
    this.#metrics = o.metrics ?? MetricsBlock.detached(o.rings.length);
  }

  /** Delivers what every live app's ring holds (at most DRAIN_MAX records each); returns how many. */
  drain(): number {
    let n = 0;
    const output = this.#output;
    for (let a = 0; a < this.#rings.length; a++) {
      if (this.#appDown[a]) continue;
      const ring = this.#rings[a];
      let batch = 0;
      for (let taken = 0; taken < DRAIN_MAX; taken++) {
        const ptr = ring.peek();
        if (ptr === 0) break;
        try {
          this.#deliver(a, ptr, ring.peekSize());
        } catch (err) {
          // A bug met delivering one record costs that record (some of its recipients may have it
          // queued already), not the worker and every client on it.
          this.#log.error(`app ${this.#names[a]}: internal error delivering an outbound record (skipped)`, err);
        }
        ring.consume();
        n++;
        if (++batch === DRAIN_BATCH) {
          // The queued slices point into the consumed records: write them, then free the records.
          this.#countDelivered(a);
          output.flush();
          ring.releaseConsumed();
          batch = 0;
        }
      }
      if (batch > 0) {
        this.#countDelivered(a);
        output.flush();
        ring.releaseConsumed();
      }
    }
    return n;
  }

  /**
   * Adds the frames queued since the last count to messages_sent: before the flush that writes
   * them, so a client that has its message can already see it counted in a scrape.
   */
  #countDelivered(app: number): void {
    if (this.#delivered > 0) {
      this.#metrics.messagesOut(app, this.#delivered);
      this.#delivered = 0;
    }
  }

  /** Whether any live app's ring has a record. */
  any(): boolean {
    for (let a = 0; a < this.#rings.length; a++) if (!this.#appDown[a] && this.#rings[a].peek() !== 0) return true;
    return false;
  }

  /** An f64 at an 8-byte aligned address (ring records keep ids and stamps aligned). */
  #f64At(at: number): number {
    return this.#f64[at >>> 3];
  }

  /**
   * Queues the compressed form of the frame at [at, at + len) for a client with permessage-deflate;
   * false when the frame goes as it is (deflate.ts frameFor).
   */
  #queueDeflated(c: Conn, at: number, len: number): boolean {
    const frame = this.#deflate!.frameFor(c.deflate!, this.#u8, at, len);
    if (frame === null) return false;
    this.#output.queue(c, frame, 0, frame.length);
    this.#delivered++;
    return true;
  }

  #deliver(app: number, ptr: number, size: number): void {
    const u8 = this.#u8;
    const clients = this.#clients;
    const output = this.#output;
    const kind = u8[ptr];
    const count = this.#u32[(ptr + OUT_COUNT) >>> 2];
    const stamp = this.#f64At(ptr + OUT_STAMP);
    const idsAt = ptr + OUT_HEADER_SIZE;
    const frameAt = idsAt + count * 8;
    const frameLen = ptr + size - frameAt;
    // One recipient: its frame is copied straight from the ring at the flush. Several: one copy
    // out of the ring, shared by all of them (made on the second recipient).
    let shared: Buffer | null = null;
    let first: Conn | null = null;
    if (this.#deflate !== null) this.#deflate.beginRecord();
    switch (kind) {
      case Outbound.SINGLE:
      case Outbound.MULTI:
        for (let i = 0; i < count; i++) {
          const c = clients.byId.get(this.#f64At(idsAt + i * 8));
          if (c === undefined || c.appIndex !== app || !clients.canSend(c)) continue;
          if (c.deflate !== null && this.#queueDeflated(c, frameAt, frameLen)) continue;
          if (count === 1) output.queue(c, null, frameAt, frameLen);
          else {
            if (shared === null) shared = copyOut(u8, frameAt, frameAt + frameLen);
            output.queue(c, shared, 0, frameLen);
          }
          this.#delivered++;
        }
        break;
      case Outbound.EVERY:
      case Outbound.EVERY_EXCEPT: {
        const ex = kind === Outbound.EVERY_EXCEPT;
        const except = this.#except;
        if (ex) {
          except.clear();
          for (let i = 0; i < count; i++) except.add(this.#f64At(idsAt + i * 8));
        }
        for (const c of clients.ofApp[app]) {
          if (c.openSeq >= stamp || !clients.canSend(c) || (ex && except.has(c.id))) continue;
          if (c.deflate !== null && this.#queueDeflated(c, frameAt, frameLen)) continue;
          if (first === null) {
            first = c;
            continue;
          }
          if (shared === null) {
            shared = copyOut(u8, frameAt, frameAt + frameLen);
            output.queue(first, shared, 0, frameLen);
            this.#delivered++;
          }
          output.queue(c, shared, 0, frameLen);
          this.#delivered++;
        }
        if (first !== null && shared === null) {
          output.queue(first, null, frameAt, frameLen);
          this.#delivered++;
        }
        break;
      }
      case Outbound.CLOSE_CLIENT: {
        const c = clients.byId.get(this.#f64At(idsAt));
        if (c && c.appIndex === app) {
          c.appClosed = true;
          if (c.phase === Phase.WS && !c.closeSent) {
            const frame = copyOut(u8, frameAt, frameAt + frameLen);
            c.closeCode = frame.length >= 4 ? frame.readUInt16BE(2) : CloseCode.NORMAL;
            clients.sendClose(c, frame);
          }
        }
        break;
      }
      case Outbound.UPGRADE_REPLY:
        this.#upgradeReply(app, this.#f64At(idsAt), u8[ptr + OUT_UPGRADE_STATUS] | (u8[ptr + OUT_UPGRADE_STATUS + 1] << 8));
        break;
      default:
        this.#log.error(`app ${this.#names[app]}: unknown outbound record kind ${kind}`);
    }
  }
}
