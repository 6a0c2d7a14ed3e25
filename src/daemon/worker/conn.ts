// One client connection's state in a worker thread. Plain data: the modules beside this file
// (docs/design.md, "Worker thread") change it; nothing here does I/O.
import type net from 'node:net';
import { CloseCode } from '../../core/codes.ts';
import type { EndpointTable, EndpointSpec, HeadAccumulator } from '../../http/upgrade.ts';
import type { MessageAssembler } from '../../core/assembler.ts';

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
  head: HeadAccumulator | null;
  /** The listening port's endpoints, until the handshake is done. */
  table: EndpointTable<EndpointSpec> | null;
  /** The message whose pieces arrived in different reads, kept until its last piece (budget.ts). */
  msg: MessageAssembler | null = null;
  /** When that message's first piece arrived (ms since the epoch). */
  msgStartedAt = 0;
  /** Not read from because the worker's inbound budget is exhausted (budget.ts). */
  budgetPaused = false;
  closeSent = false;
  closeReceived = false;
  closeCode: number = CloseCode.ABNORMAL;
  /** The app closed this client itself (CLOSE_CLIENT): no CLOSE record goes back. */
  appClosed = false;
  /** When a byte last arrived (ms since the epoch). */
  lastRx = 0;
  pingSent = false;
  /** Frames queued for this client (output.ts), their bytes, and its joined output. */
  qCount = 0;
  qBytes = 0;
  qOff = 0;
  qOut: Buffer | null = null;
  /** socket.end() once the queued frames are written. */
  endQueued = false;
  deadline: NodeJS.Timeout | null = null;

  constructor(slot: number, socket: net.Socket, table: EndpointTable<EndpointSpec>, head: HeadAccumulator) {
    this.slot = slot;
    this.socket = socket;
    this.head = head;
    this.table = table;
  }
}
