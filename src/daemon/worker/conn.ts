// One client connection's state in a worker thread. Plain data: the modules beside this file
// (docs/design.md, "Worker thread") change it; nothing here does I/O.
//
// Kept small, since every idle connection holds one (docs/performance.md, "Idle memory per
// connection"): the flags and the close code share one small integer behind accessors, and the
// two times are kept as milliseconds since the module was loaded, which stay small integers (a
// Date.now() value in a field is a heap number of its own per object, and once one Conn has stored
// one, every Conn made after it gets one for that field).
import type net from 'node:net';
import { CloseCode } from '../../core/codes.ts';
import type { EndpointTable, EndpointSpec, HeadAccumulator } from '../../http/upgrade.ts';
import type { MessageAssembler } from '../../core/assembler.ts';
import type { ConnDeflate } from './deflate.ts';

export const Phase = {
  /** Reading the HTTP upgrade request. */
  HTTP: 0,
  /** WebSocket open. */
  WS: 1,
  /** Our close frame is queued; waiting for the peer's. */
  CLOSING: 2,
  /** Nothing more is read or sent; the socket is ending. */
  DEAD: 3,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

// Bits of Conn.#bits: the flags, then the close code (16 bits).
const BUDGET_PAUSED = 1;
const CLOSE_SENT = 2;
const CLOSE_RECEIVED = 4;
const APP_CLOSED = 8;
const PING_SENT = 16;
const END_QUEUED = 32;
const Q_PRIVATE = 64;
const CODE_SHIFT = 7;
const FLAG_MASK = (1 << CODE_SHIFT) - 1;

/**
 * The times are stored relative to this (ms since the epoch): small integers for 12 days of
 * uptime. After that they are heap numbers, which costs memory, not correctness.
 */
const T0 = Date.now();

/** ms - T0, as a small integer while it is one (a difference of two doubles is a heap number). */
function sinceT0(ms: number): number {
  const d = ms - T0;
  return d >= 0 && d < 0x40000000 ? d | 0 : d;
}

export class Conn {
  /** Client id (records.ts makeClientId), 0 until the handshake is done. */
  id = 0;
  /** Index of this connection's decoder state block in the worker's region. */
  readonly slot: number;
  readonly socket: net.Socket;
  phase: Phase = Phase.HTTP;
  appIndex = -1;
  endpointId = 0;
  /** Sequence number of this client's OPEN record in its app's inbound ring. */
  openSeq = 0;
  /** The request head so far, when it spans reads (created then); null otherwise. */
  head: HeadAccumulator | null;
  /** The listening port's endpoints, until the handshake is done. */
  table: EndpointTable<EndpointSpec> | null;
  /** The message whose pieces arrived in different reads, kept until its last piece (budget.ts). */
  msg: MessageAssembler | null = null;
  /** permessage-deflate, when negotiated (deflate.ts): the agreement and this client's zlib streams. */
  deflate: ConnDeflate | null = null;
  /** Frames queued for this client (output.ts), their bytes, and its joined output. */
  qCount = 0;
  qBytes = 0;
  qOff = 0;
  qOut: Buffer | null = null;
  /** While qOut is set: where it starts in the shared memory (a piece of the shared output slab), or -1 (reset with qOut). */
  qAt = -1;
  /** Destroys the socket when a close or a refusal takes too long (clients.ts armDeadline). */
  deadline: NodeJS.Timeout | null = null;
  /** The flags and the close code, see the accessors. */
  #bits = CloseCode.ABNORMAL << CODE_SHIFT;
  /** lastRx - T0. */
  #rx = 0;
  /** msgStartedAt - T0. */
  #msgAt = 0;

  constructor(slot: number, socket: net.Socket, table: EndpointTable<EndpointSpec>, head: HeadAccumulator | null = null) {
    this.slot = slot;
    this.socket = socket;
    this.head = head;
    this.table = table;
  }

  /** When a byte last arrived (ms since the epoch). */
  get lastRx(): number { return this.#rx + T0; }
  set lastRx(ms: number) { this.#rx = sinceT0(ms); }

  /** When the first piece of `msg` arrived (ms since the epoch). */
  get msgStartedAt(): number { return this.#msgAt + T0; }
  set msgStartedAt(ms: number) { this.#msgAt = sinceT0(ms); }

  /** Not read from because the worker's inbound budget is exhausted (budget.ts). */
  get budgetPaused(): boolean { return this.#has(BUDGET_PAUSED); }
  set budgetPaused(on: boolean) { this.#put(BUDGET_PAUSED, on); }

  get closeSent(): boolean { return this.#has(CLOSE_SENT); }
  set closeSent(on: boolean) { this.#put(CLOSE_SENT, on); }

  get closeReceived(): boolean { return this.#has(CLOSE_RECEIVED); }
  set closeReceived(on: boolean) { this.#put(CLOSE_RECEIVED, on); }

  /** The app closed this client itself (CLOSE_CLIENT): no CLOSE record goes back. */
  get appClosed(): boolean { return this.#has(APP_CLOSED); }
  set appClosed(on: boolean) { this.#put(APP_CLOSED, on); }

  get pingSent(): boolean { return this.#has(PING_SENT); }
  set pingSent(on: boolean) { this.#put(PING_SENT, on); }

  /** socket.end() once the queued frames are written. */
  get endQueued(): boolean { return this.#has(END_QUEUED); }
  set endQueued(on: boolean) { this.#put(END_QUEUED, on); }

  /** Among the frames queued for this flush is a private Buffer (output.ts: not joined in the shared slab). */
  get qPrivate(): boolean { return this.#has(Q_PRIVATE); }
  set qPrivate(on: boolean) { this.#put(Q_PRIVATE, on); }

  #has(bit: number): boolean { return (this.#bits & bit) !== 0; }
  #put(bit: number, on: boolean): void { this.#bits = on ? this.#bits | bit : this.#bits & ~bit; }

  /** The close code for the app's CLOSE record (a uint16; ABNORMAL until one is known). */
  get closeCode(): number { return this.#bits >>> CODE_SHIFT; }
  set closeCode(code: number) { this.#bits = (this.#bits & FLAG_MASK) | ((code & 0xffff) << CODE_SHIFT); }
}
