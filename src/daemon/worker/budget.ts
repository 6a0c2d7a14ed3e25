// The worker's inbound budget (max_worker_inbound_size) and message deadline (ws_msg_timeout):
// what a worker holds of its clients' input (the pieces of partially received messages, and
// records waiting for room in a full inbound ring) stays bounded however many clients send large
// or slow messages (docs/design.md, "Inbound memory").
//
//   - A partial message costs its payload plus less than MIN_CHUNK (core/assembler.ts).
//   - When what the worker holds passes the budget, it stops reading from the clients with the
//     largest partial messages, until those it still reads from hold at most a quarter of the
//     budget: they can finish their messages; the paused ones cannot grow.
//   - Each housekeeping tick, while the worker is still over the budget, the largest partial
//     messages are dropped and their clients closed with 1013 (Try Again Later); then every
//     paused client is resumed. So the worker holds at most 1.25 × the budget between two ticks.
//   - A message not finished within ws_msg_timeout of its first frame is dropped and its client
//     closed with 1008 (Policy Violation): a client cannot hold memory by trickling.
import { CloseCode } from '../../core/codes.ts';
import { MessageAssembler } from '../../core/assembler.ts';
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
}

export class InboundBudget {
  readonly #o: BudgetOptions;
  /** Clients with a partial message. */
  readonly #holders = new Set<Conn>();
  /** Clients not read from because of the budget. */
  readonly #paused = new Set<Conn>();
  /** Memory taken by all partial messages. */
  #partial = 0;

  constructor(o: BudgetOptions) {
    this.#o = o;
  }

  /** Bytes held: partial messages plus records waiting for a full ring. */
  get held(): number {
    return this.#partial + this.#o.pendingBytes();
  }

  /** Clients holding a partial message right now. */
  get holders(): number {
    return this.#holders.size;
  }

  /** The first piece of a message that does not end in this read: `c` starts holding one. */
  begin(c: Conn, kind: number, now: number): MessageAssembler {
    const m = c.msg ??= new MessageAssembler();
    this.#partial -= m.reset();
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
    if (this.#partial + this.#o.pendingBytes() > this.#o.limit) this.#pauseLargest();
  }

  /** `c`'s message is complete (copied out) or must be forgotten: its memory is released. */
  release(c: Conn): void {
    if (c.msg === null || !this.#holders.delete(c)) return;
    this.#partial -= c.msg.reset();
  }

  /** The socket is gone. */
  forget(c: Conn): void {
    this.release(c);
    this.#paused.delete(c);
  }

  /** Housekeeping: deadlines, then the budget (see the file comment). */
  tick(now: number): void {
    const timeoutMs = this.#o.msgTimeoutS * 1000;
    if (timeoutMs > 0) {
      for (const c of this.#holders) {
        if (now - c.msgStartedAt < timeoutMs) continue;
        this.#o.log.info(`client ${c.id}: message not finished within ws_msg_timeout (${this.#o.msgTimeoutS}s): closing with 1008`);
        this.#drop(c, CloseCode.POLICY_VIOLATION);
      }
    }
    if (this.held > this.#o.limit) {
      const largest = [...this.#holders].sort((a, b) => b.msg!.capacity - a.msg!.capacity);
      let closed = 0;
      for (const c of largest) {
        if (this.held <= this.#o.limit) break;
        this.#drop(c, CloseCode.TRY_AGAIN_LATER);
        closed++;
      }
      if (closed) this.#o.log.notice(`inbound bytes held passed max_worker_inbound_size (${this.#o.limit}): closed the ${closed} client(s) with the largest partial messages (1013)`);
    }
    if (this.#paused.size > 0) {
      for (const c of this.#paused) {
        c.budgetPaused = false;
        if (c.phase !== Phase.DEAD && !this.#o.appPaused(c.appIndex)) c.socket.resume();
      }
      this.#paused.clear();
    }
  }

  #drop(c: Conn, code: number): void {
    this.release(c);
    this.#o.close(c, code);
  }

  /** Over the budget: stop reading from the largest holders until the rest hold ≤ limit / 4. */
  #pauseLargest(): void {
    const reading = [...this.#holders].filter((c) => !c.budgetPaused);
    let readingBytes = 0;
    for (const c of reading) readingBytes += c.msg!.capacity;
    const allowance = this.#o.limit / 4;
    if (readingBytes <= allowance) return;
    reading.sort((a, b) => b.msg!.capacity - a.msg!.capacity);
    for (const c of reading) {
      if (readingBytes <= allowance) break;
      readingBytes -= c.msg!.capacity;
      c.budgetPaused = true;
      c.socket.pause();
      this.#paused.add(c);
    }
  }
}
