// The worker's clients: the registry (by id, by app, every socket), connection slots and ids, and
// the close sequence (close frame, half-close, deadline, the CLOSE record for the app).
import type net from 'node:net';
import { CloseCode } from '../../core/codes.ts';
import { Inbound, IN_HEADER_SIZE, CLOSE_BODY_SIZE, makeClientId } from '../records.ts';
import { nextSerial, serialBase } from '../../cluster/ids.ts';
import { encodeCloseFrame } from '../frames.ts';
import { Conn, Phase } from './conn.ts';
import type { Output } from './output.ts';
import type { InboundProducer } from './inbound.ts';
import type { InboundBudget } from './budget.ts';
import { MetricsBlock } from '../../metrics/block.ts';

export interface ClientsOptions {
  worker: number;
  apps: number;
  /** Connection slots (decoder state blocks) of this worker. */
  slots: number;
  /** shutdown_wait_ws, seconds: how long a closing connection may take before it is destroyed. */
  closeWaitS: number;
  /** This worker's metrics block (src/metrics/block.ts); absent: counts go nowhere. */
  metrics?: MetricsBlock;
  /** The daemon's cluster node number (src/cluster/ids.ts); absent or 0: a daemon alone. */
  node?: number;
  /** Now, in ms since the epoch (where a cluster node's serials start); absent: Date.now(). */
  nowMs?: number;
}

export class Clients {
  /** Open WebSocket clients by id. */
  readonly byId = new Map<number, Conn>();
  /** Open WebSocket clients per app. */
  readonly ofApp: Set<Conn>[];
  /** Connections with a socket and no id: in the handshake, or refused. */
  readonly #noId = new Set<Conn>();
  /** Every connection with a socket, in any phase (byId and #noId: no table of its own). */
  readonly all = new AllConns(this.byId, this.#noId);
  readonly #free: number[] = [];
  readonly #worker: number;
  #closeWaitMs: number;
  readonly #metrics: MetricsBlock;
  #serial: number;
  readonly #node: number;
  #output!: Output;
  #inbound!: InboundProducer;
  #budget!: InboundBudget;
  /** Called when the last connection is gone (while stopping). */
  onEmpty: (() => void) | null = null;

  constructor(o: ClientsOptions) {
    this.#worker = o.worker;
    this.#node = o.node ?? 0;
    this.#serial = serialBase(this.#node, o.nowMs ?? Date.now());
    this.#closeWaitMs = Math.max(0.1, o.closeWaitS) * 1000;
    this.#metrics = o.metrics ?? MetricsBlock.detached(o.apps);
    this.ofApp = Array.from({ length: o.apps }, () => new Set());
    for (let i = o.slots - 1; i >= 0; i--) this.#free.push(i);
  }

  /** shutdown_wait_ws changed (a reload): for closes that start from now on. */
  set closeWaitS(s: number) {
    this.#closeWaitMs = Math.max(0.1, s) * 1000;
  }

  /** The parts the close sequence uses (they are built after this). */
  connect(output: Output, inbound: InboundProducer, budget: InboundBudget): void {
    this.#output = output;
    this.#inbound = inbound;
    this.#budget = budget;
  }

  /** A free connection slot, or undefined when all fd_alloc_c of them are taken. */
  takeSlot(): number | undefined {
    return this.#free.pop();
  }

  /** Registers a connection that has a slot. */
  add(c: Conn): void {
    this.#noId.add(c);
  }

  /** A new client id (the upgrade hook learns it before the client is open: upgrades.ts). */
  reserveId(): number {
    for (;;) {
      this.#serial = nextSerial(this.#serial, this.#node);
      const id = makeClientId(this.#serial, this.#worker, this.#node);
      // Past a wrap (cluster nodes only, after 2^32 clients of one worker) an id may still be open.
      if (!this.byId.has(id)) return id;
    }
  }

  /** The handshake is done: the client gets its id (a new one, or `id` from reserveId) and joins its app. */
  open(c: Conn, appIndex: number, endpointId: number, id = this.reserveId()): void {
    c.phase = Phase.WS;
    c.appIndex = appIndex;
    c.endpointId = endpointId;
    c.id = id;
    this.#noId.delete(c);
    this.byId.set(c.id, c);
    this.ofApp[appIndex].add(c);
    this.#metrics.opened(appIndex);
  }

  /** Whether frames may still be sent to `c`. */
  canSend(c: Conn): boolean {
    return c.phase === Phase.WS && !c.closeSent && !c.socket.destroyed;
  }

  /** Queues our close frame (once) and starts the close deadline. */
  sendClose(c: Conn, frame: Buffer): void {
    if (c.closeSent) return;
    // Marked first: the output's backlog check may itself decide to close this client.
    c.closeSent = true;
    // The close that ends the connection: ours, unless the client's came first (ws-input.ts).
    if (!c.closeReceived && c.id !== 0) this.#metrics.closeCode(c.closeCode);
    // Data after our close frame is ignored: a partial message can never be finished.
    this.#budget.release(c);
    this.#output.write(c, frame);
    if (c.phase === Phase.WS) c.phase = Phase.CLOSING;
    this.armDeadline(c, this.#closeWaitMs);
  }

  /** Queues our close frame with `code` (the server's own decision; see sendClose). */
  sendCloseCode(c: Conn, code: number): void {
    c.closeCode = code;
    this.sendClose(c, encodeCloseFrame(code));
  }

  /** Closes `c` with `code` (our close frame, then the TCP connection): the server's own decision. */
  closeWith(c: Conn, code: number): void {
    this.sendCloseCode(c, code);
    this.finishTcp(c);
  }

  /**
   * Closes `c` with `code` without reading from it again: for a client the worker will not spend
   * more on (the inbound budget, a message deadline). Its socket stays paused, so what it still
   * sends waits in the kernel instead of being read and thrown away; it has ABORT_WAIT_MS to read
   * our close frame before the socket is destroyed.
   */
  abort(c: Conn, code: number): void {
    this.sendCloseCode(c, code);
    c.socket.pause();
    c.phase = Phase.DEAD;
    this.#output.end(c);
    this.armDeadline(c, ABORT_WAIT_MS);
  }

  /** Destroys the socket after `ms` unless it is gone by then. */
  armDeadline(c: Conn, ms: number): void {
    if (c.deadline) clearTimeout(c.deadline);
    c.deadline = setTimeout(() => c.socket.destroy(), ms);
  }

  /** Half-close our side; the socket is destroyed when the peer ends or at the deadline. */
  finishTcp(c: Conn): void {
    if (c.phase === Phase.DEAD) return;
    c.phase = Phase.DEAD;
    // A paused socket (full ring, inbound budget) would never see the peer's FIN: read on, and
    // drop what comes (nothing is decoded in this phase).
    this.readAgain(c);
    this.#output.end(c);
    this.armDeadline(c, this.#closeWaitMs);
  }

  /** The peer half-closed: finish our side too; a partial message can never be finished now. */
  onEnd(c: Conn): void {
    c.phase = Phase.DEAD;
    this.#budget.release(c);
    this.#output.end(c);
    this.armDeadline(c, this.#closeWaitMs);
  }

  /** The socket is closed: free the slot, tell the app (unless it closed the client itself). */
  onClosed(c: Conn): void {
    c.phase = Phase.DEAD;
    c.table = null;
    if (c.deadline) { clearTimeout(c.deadline); c.deadline = null; }
    this.#budget.forget(c);
    if (c.deflate !== null) { c.deflate.close(); c.deflate = null; }
    this.#free.push(c.slot);
    if (c.id === 0) this.#noId.delete(c);
    else {
      this.byId.delete(c.id);
      this.ofApp[c.appIndex].delete(c);
      const m = this.#metrics;
      m.closed(c.appIndex);
      // No close frame either way: 1006, or the code a dropped slow client was given (housekeeping.ts).
      if (!c.closeSent && !c.closeReceived) m.closeCode(c.closeCode);
      if (!c.appClosed) {
        const inbound = this.#inbound;
        const rec = inbound.reserve(c.appIndex, IN_HEADER_SIZE + CLOSE_BODY_SIZE);
        inbound.writeHeader(rec, Inbound.CLOSE, 0, c.endpointId, c.id);
        rec.dv.setUint16(rec.ptr + IN_HEADER_SIZE, c.closeReceived ? c.closeCode : CloseCode.ABNORMAL, true);
        inbound.commit(c.appIndex, rec);
      }
    }
    if (this.all.size === 0) this.onEmpty?.();
  }

  /** Reads from `c` again whatever held it back (a full ring, the budget): its close must be seen. */
  readAgain(c: Conn): void {
    this.#budget.unpause(c);
    c.socket.resume();
  }

  /** Stops or resumes reading from every client of an app. */
  pauseApp(app: number, paused: boolean): void {
    for (const c of this.ofApp[app]) {
      // A dead (closing) socket keeps reading, so that the peer's FIN is seen.
      if (c.phase === Phase.DEAD) continue;
      if (paused) c.socket.pause();
      else if (!c.budgetPaused) c.socket.resume();
    }
  }
}

/**
 * Every connection of a worker, as the union of the open ones (by id) and the others. A Set of all
 * of them besides byId cost its table, ≈ 31 bytes per connection at 10,000 (docs/performance.md,
 * "Idle memory per connection").
 */
export class AllConns implements Iterable<Conn> {
  readonly #byId: ReadonlyMap<number, Conn>;
  readonly #noId: ReadonlySet<Conn>;

  constructor(byId: ReadonlyMap<number, Conn>, noId: ReadonlySet<Conn>) {
    this.#byId = byId;
    this.#noId = noId;
  }

  get size(): number {
    return this.#byId.size + this.#noId.size;
  }

  *[Symbol.iterator](): Iterator<Conn> {
    yield* this.#noId;
    yield* this.#byId.values();
  }
}

/** How long an aborted client has to read our close frame (abort). */
export const ABORT_WAIT_MS = 1000;

/** The Conn a socket carries (shared socket listeners need no closure per connection). */
export const CONN = Symbol('conn');
export type ConnSocket = net.Socket & { [CONN]: Conn };
