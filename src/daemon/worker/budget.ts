// The worker's inbound budget (max_worker_inbound_size) and message deadline (ws_msg_timeout):
// what a worker holds of its clients' input (the pieces of partially received messages, and
// records waiting for room in a full inbound ring) stays bounded however many clients send large
// or slow messages (docs/design.md, "Inbound memory").
//
//   - A partial message costs its payload plus less than MAX_SLACK (core/assembler.ts).
//   - When what the worker holds passes the budget, it stops reading from the clients with the
//     largest partial messages, until those it still reads from hold at most an eighth of the
//     budget: they can finish their messages; the paused ones cannot grow. (Sorted once until the
//     next tick; after that, a client that grows past the eighth is paused itself: O(1) a chunk.)
//   - Each housekeeping tick, while still over, the largest partial messages are dropped and their
//     clients closed with 1013 (Try Again Later); then every paused client is resumed. Records
//     waiting for a full ring count, but they are the slow app's to drain: partial messages are
//     dropped to make room for at most half the budget of them. So between two ticks the worker
//     holds at most 1.125 × the budget of partial messages, plus the waiting records.
//   - A message not finished within ws_msg_timeout of its first frame is dropped and its client
//     closed with 1008 (Policy Violation): a client cannot hold memory by trickling. Time during
//     which the worker itself does not read from the client (a full ring, the budget) is not
//     counted, to the nearest tick.
import { CloseCode } from '../../core/codes.ts';
import { MessageAssembler, type ChunkAlloc } from '../../core/assembler.ts';
import type { Logger } from '../../log.ts';
import { Conn, Phase } from './conn.ts';

export interface BudgetOptions {
  /** max_worker_inbound_size, bytes. */
  limit: number;
  /** ws_msg_timeout, seconds (0 = no deadline). */
  msgTimeoutS: number;
  /** Bytes of records waiting for room in full inbound rings (inbound.ts). */
  pendingBytes(): number;
  /** Whether reads from an app's clients are paused because its ring is full (inbound.ts). */
  appPaused(app: number): boolean;
  /** Closes a client with a code, not reading from it again (clients.ts abort). */
  close(c: Conn, code: number): void;
  log: Logger;
  /** Chunk allocator for the assemblers (default: zeroed Uint8Arrays). */
  alloc?: ChunkAlloc;
}

export class InboundBudget {
  readonly #o: BudgetOptions;
  /** Clients with a partial message. */
  readonly #holders = new Set<Conn>();
  /** Clients not read from because of the budget. */
  readonly #paused = new Set<Conn>();
  /** Memory taken by all partial messages. */
  #partial = 0;
  /** The part of #partial held by clients still read from. */
  #reading = 0;
  /** When tick last ran (-1: never). */
  #lastTick = -1;
  /** #pauseLargest has sorted the holders since the last tick. */
  #sorted = false;

  constructor(o: BudgetOptions) {
    this.#o = o;
  }

  /** max_worker_inbound_size and ws_msg_timeout changed (a reload): used from the next check on. */
  configure(l: Pick<BudgetOptions, 'limit' | 'msgTimeoutS'>): void {
    this.#o.limit = l.limit;
    this.#o.msgTimeoutS = l.msgTimeoutS;
  }

  /** Bytes held: partial messages plus records waiting for a full ring. */
  get held(): number {
    return this.#partial + this.#o.pendingBytes();
  }

  /** Clients holding a partial message right now. */
  get holders(): number {
    return this.#holders.size;
  }

  /** Bytes of the partial messages of clients still read from (the pause rule's measure). */
  get readingBytes(): number {
    return this.#reading;
  }

  /** The first piece of a message that does not end in this read: `c` starts holding one. */
  begin(c: Conn, kind: number, now: number): MessageAssembler {
    this.release(c);
    const m = c.msg ??= new MessageAssembler(this.#o.alloc);
    m.kind = kind;
    c.msgStartedAt = now;
    this.#holders.add(c);
    return m;
  }

  /** A piece of `c`'s partial message (kept until the last one arrives). */
  append(c: Conn, piece: Uint8Array): void {
    const grew = c.msg!.append(piece);
    if (grew === 0) return;
    this.#partial += grew;
    if (c.budgetPaused) return;
    this.#reading += grew;
    if (this.#partial + this.#o.pendingBytes() <= this.#o.limit || this.#reading <= this.#o.limit / 8) return;
    if (!this.#sorted) this.#pauseLargest();
    else this.#pause(c);
  }

  /** `c`'s message is complete (copied out) or must be forgotten: its memory is released. */
  release(c: Conn): void {
    if (c.msg === null || !this.#holders.delete(c)) return;
    const freed = c.msg.reset();
    this.#partial -= freed;
    if (!c.budgetPaused) this.#reading -= freed;
  }

  /** The socket is gone. */
  forget(c: Conn): void {
    this.release(c);
    if (this.#paused.delete(c)) c.budgetPaused = false;
  }

  /**
   * `c` is no longer held back by the budget (it is being closed, or the worker stops, and must
   * be read from to see its peer's close). The one place that clears budgetPaused for a client
   * still holding a message, so that its bytes count as read from again. The caller resumes the
   * socket.
   */
  unpause(c: Conn): void {
    if (!this.#paused.delete(c)) return;
    c.budgetPaused = false;
    if (c.msg !== null && this.#holders.has(c)) this.#reading += c.msg.capacity;
  }

  /** Housekeeping: deadlines, then the budget (see the file comment). */
  tick(now: number): void {
    const o = this.#o;
    const dt = this.#lastTick < 0 ? 0 : now - this.#lastTick;
    this.#lastTick = now;
    this.#sorted = false;
    const timeoutMs = o.msgTimeoutS * 1000;
    if (timeoutMs > 0) {
      for (const c of this.#holders) {
        // Time the worker did not read from this client does not count against it.
        if (c.budgetPaused || o.appPaused(c.appIndex)) { c.msgStartedAt += dt; continue; }
        if (now - c.msgStartedAt < timeoutMs) continue;
        o.log.info(`client ${c.id}: message not finished within ws_msg_timeout (${o.msgTimeoutS}s): closing with 1008`, undefined, { client: c.id });
        this.#drop(c, CloseCode.POLICY_VIOLATION);
      }
    }
    const pending = o.pendingBytes();
    if (this.#partial + pending > o.limit) {
      const room = o.limit - Math.min(pending, o.limit / 2);
      const largest = [...this.#holders].sort((a, b) => b.msg!.capacity - a.msg!.capacity);
      let closed = 0;
      for (const c of largest) {
        if (this.#partial <= room) break;
        this.#drop(c, CloseCode.TRY_AGAIN_LATER);
        closed++;
      }
      if (closed) o.log.notice(`inbound bytes held passed max_worker_inbound_size (${o.limit}): closed the ${closed} client(s) with the largest partial messages (1013)`);
    }
    for (const c of [...this.#paused]) {
      this.unpause(c);
      if (c.phase !== Phase.DEAD && !o.appPaused(c.appIndex)) c.socket.resume();
    }
  }

  #drop(c: Conn, code: number): void {
    this.release(c);
    this.#o.close(c, code);
  }

  /** Over the budget: stop reading from the largest holders until the rest hold ≤ limit / 8. */
  #pauseLargest(): void {
    this.#sorted = true;
    const reading = [...this.#holders].filter((c) => !c.budgetPaused);
    reading.sort((a, b) => b.msg!.capacity - a.msg!.capacity);
    const allowance = this.#o.limit / 8;
    for (const c of reading) {
      if (this.#reading <= allowance) break;
      this.#pause(c);
    }
  }

  #pause(c: Conn): void {
    this.#reading -= c.msg!.capacity;
    c.budgetPaused = true;
    c.socket.pause();
    this.#paused.add(c);
  }
}
