// Handshakes that wait for the app's upgrade hook (docs/design.md, "The upgrade hook"). The worker
// has validated the request; for an app whose wake line says it has a hook (layout.ts
// APP_HOOK_OFFSET) it assigns the client id, sends an UPGRADE record (records.ts) and waits for the
// app's UPGRADE_REPLY, at most upgrade_timeout: then it opens the client (handshake.ts open) or
// sends the refusal. Meanwhile the socket is still read (so a client that leaves is noticed), and
// what it sends is kept for the decoder: at most KEEP_MAX bytes per client and KEEP_TOTAL_MAX per
// worker; a client that would pass either is refused with 400 (RFC 6455 §4.1: a client "MUST wait
// for a response from the server before sending any further data").
//
// Every way out tells the app what it needs: an accepted client's OPEN follows the reply; a client
// that leaves, or is given up on (upgrade_timeout), gets a CLOSE record for its never-opened id, so
// the app drops what the hook set; a refused one needs nothing (the app dropped it when it refused).
// When the app goes down its pending handshakes are refused with 503 and nothing is sent.
import type { Conn } from './conn.ts';
import { Phase } from './conn.ts';
import { CloseCode } from '../../core/codes.ts';
import { buildErrorResponse, buildRefusalResponse, HttpRefusal, type EndpointSpec } from '../../http/upgrade.ts';
import {
  Inbound, IN_HEADER_SIZE, CLOSE_BODY_SIZE, OPEN_SUBPROTOCOL, UPGRADE_ACCEPT, UPGRADE_HEAD, writePeerAddress,
} from '../records.ts';
import type { Clients } from './clients.ts';
import type { InboundProducer } from './inbound.ts';
import type { Logger } from '../../log.ts';

/** Bytes a pending client may send before its 101 that are kept; past them it is refused (400). */
export const KEEP_MAX = 64 * 1024;
/** Bytes kept for all the pending clients of a worker; the client that would pass it is refused. */
export const KEEP_TOTAL_MAX = 16 * 1024 * 1024;
/** The statuses an app may refuse with (others are answered 500). */
const REFUSE_MIN = 400;
const REFUSE_MAX = 599;
const HTTP_INTERNAL_ERROR = 500;
const HTTP_SERVICE_UNAVAILABLE = 503;
/** Retry-After (seconds) of the 503 for a handshake whose app went down: about a restart's delay. */
const APP_DOWN_RETRY_S = '30';

const TIMEOUT_RESPONSE = buildErrorResponse(HTTP_SERVICE_UNAVAILABLE, undefined, { detail: 'The app did not answer the handshake in time.' });
/** The answer to a handshake for an app that is down (here and in handshake.ts). */
export const APP_DOWN_RESPONSE = buildErrorResponse(HTTP_SERVICE_UNAVAILABLE, { 'Retry-After': APP_DOWN_RETRY_S });
const HTTP_BAD_REQUEST = 400;
const TOO_EARLY_RESPONSE = buildErrorResponse(HTTP_BAD_REQUEST, undefined, { detail: 'Too much data was sent before the 101.' });

export interface UpgradeOptions {
  clients: Clients;
  inbound: InboundProducer;
  /** hookFlags[a]: app a's "has an upgrade hook" word (layout.ts APP_HOOK_OFFSET). */
  hookFlags: readonly Int32Array[];
  /** appDown[a]: app a's thread is gone (its rings are not touched). */
  appDown: readonly boolean[];
  /** upgrade_timeout, seconds. */
  timeoutS: number;
  log: Logger;
  /** The peer's address and port (handshake.ts peerAddress). */
  peer(c: Conn): { address?: string; port?: number };
  /** Opens the client with this id: the 101, the OPEN record, then `rest` (handshake.ts open). */
  open(
    c: Conn, ep: EndpointSpec, response: Buffer, rest: Uint8Array, subprotocolIndex: number,
    extensions: readonly string[] | undefined, id: number,
  ): void;
  /** Sends a complete HTTP error response and closes (handshake.ts refuse). */
  refuse(c: Conn, response: Buffer): void;
}

/** What a handshake that waits for the hook will need. */
export interface UpgradeStart {
  readonly endpoint: EndpointSpec;
  /** The 101 to send if the hook accepts. */
  readonly response: Buffer;
  readonly subprotocolIndex?: number;
  /** The Sec-WebSocket-Extensions offers, negotiated when the client opens. */
  readonly extensions?: readonly string[];
  readonly headLength: number;
}

interface Pending {
  readonly c: Conn;
  readonly id: number;
  readonly app: number;
  readonly endpoint: EndpointSpec;
  readonly response: Buffer;
  readonly subprotocolIndex: number;
  readonly extensions: readonly string[] | undefined;
  /** Bytes that followed the head, and their total. */
  readonly kept: Buffer[];
  keptBytes: number;
  readonly timer: NodeJS.Timeout;
  readonly onClose: () => void;
}

export class PendingUpgrades {
  readonly #o: UpgradeOptions;
  readonly #byId = new Map<number, Pending>();
  readonly #byConn = new Map<Conn, Pending>();
  /** Bytes kept for every pending client (KEEP_TOTAL_MAX). */
  #keptTotal = 0;

  constructor(o: UpgradeOptions) {
    this.#o = o;
  }

  /** Handshakes waiting for a hook now. */
  get size(): number {
    return this.#byId.size;
  }

  /** Bytes kept for the pending clients (at most KEEP_TOTAL_MAX). */
  get keptBytes(): number {
    return this.#keptTotal;
  }

  /** Whether app `app` has an upgrade hook (read per handshake: a restarted app may differ). */
  wanted(app: number): boolean {
    return Atomics.load(this.#o.hookFlags[app], 0) !== 0;
  }

  /** Sends the handshake to the app's hook; `head` holds the request head, `rest` what followed it. */
  start(c: Conn, h: UpgradeStart, head: Uint8Array, rest: Uint8Array): void {
    const { clients, inbound, log } = this.#o;
    const ep = h.endpoint;
    const app = ep.appIndex;
    const size = UPGRADE_HEAD + h.headLength;
    if (size > inbound.maxRecord(app)) {
      log.warning(`a ${h.headLength}-byte request head does not fit an inbound ring record (${inbound.maxRecord(app)} bytes) for the upgrade hook: refusing it with 431 (raise inbound_ring_buf_size or lower max_http_head_size)`);
      this.#o.refuse(c, buildRefusalResponse(HttpRefusal.HEAD_TOO_LARGE));
      return;
    }
    const id = clients.reserveId();
    const subprotocolIndex = h.subprotocolIndex ?? -1;
    const rec = inbound.reserve(app, size);
    inbound.writeHeader(rec, Inbound.UPGRADE, 0, ep.endpointId, id);
    const peer = this.#o.peer(c);
    writePeerAddress(rec.u8, rec.dv, rec.ptr + IN_HEADER_SIZE, peer.address, peer.port);
    rec.u8[rec.ptr + OPEN_SUBPROTOCOL] = subprotocolIndex + 1;
    rec.u8.set(head.subarray(0, h.headLength), rec.ptr + UPGRADE_HEAD);
    inbound.commit(app, rec);

    const timeoutMs = this.#o.timeoutS * 1000;
    const p: Pending = {
      c, id, app, endpoint: ep, response: h.response, subprotocolIndex, extensions: h.extensions, kept: [], keptBytes: 0,
      // unref: a handshake's deadline alone does not keep a thread (or a test) running.
      timer: setTimeout(() => this.#timedOut(p), timeoutMs).unref(),
      onClose: () => this.#left(p),
    };
    this.#byId.set(id, p);
    this.#byConn.set(c, p);
    c.socket.once('close', p.onClose);
    if (rest.length > 0) this.#keep(p, rest);
  }

  /** Bytes from a client whose handshake waits: kept for the decoder. false: `c` is not waiting. */
  keep(c: Conn, chunk: Uint8Array): boolean {
    const p = this.#byConn.get(c);
    if (p === undefined) return false;
    this.#keep(p, chunk);
    return true;
  }

  /** The app's UPGRADE_REPLY for `id`: UPGRADE_ACCEPT opens the client, a status refuses it. */
  reply(app: number, id: number, status: number): void {
    const p = this.#byId.get(id);
    if (p === undefined || p.app !== app) {
      // Given up on already (it left, upgrade_timeout): the app has dropped it or will (the CLOSE).
      this.#o.log.debug(`upgrade reply ${status} for client ${id}, which no longer waits: ignored`);
      return;
    }
    this.#forget(p);
    const c = p.c;
    if (c.phase !== Phase.HTTP || c.socket.destroyed) {
      // It left (its end arrived) and is closing: an accepted one was never opened.
      if (status === UPGRADE_ACCEPT) this.#dropRecord(p);
      return;
    }
    if (status === UPGRADE_ACCEPT) {
      const rest = p.kept.length === 0 ? EMPTY : p.kept.length === 1 ? p.kept[0] : Buffer.concat(p.kept, p.keptBytes);
      this.#o.open(c, p.endpoint, p.response, rest, p.subprotocolIndex, p.extensions, id);
      return;
    }
    let code = status;
    if (code < REFUSE_MIN || code > REFUSE_MAX) {
      this.#o.log.error(`upgrade reply for client ${id} has status ${status}: refusing it with ${HTTP_INTERNAL_ERROR}`);
      code = HTTP_INTERNAL_ERROR;
    }
    this.#o.refuse(c, buildErrorResponse(code));
  }

  /** App `app` is gone: its waiting handshakes get 503 (nothing goes to its rings any more). */
  appGone(app: number): void {
    for (const p of [...this.#byId.values()]) {
      if (p.app !== app) continue;
      this.#forget(p);
      if (p.c.phase === Phase.HTTP && !p.c.socket.destroyed) this.#o.refuse(p.c, APP_DOWN_RESPONSE);
    }
  }

  #keep(p: Pending, bytes: Uint8Array): void {
    const n = bytes.length;
    if (p.keptBytes + n > KEEP_MAX || this.#keptTotal + n > KEEP_TOTAL_MAX) {
      // Judged before the copy: a read may be as large as the read scratch (worker_rbuf_size).
      this.#forget(p);
      this.#o.log.info(`client ${p.id}: sent ${p.keptBytes + n} bytes before its 101 (at most ${KEEP_MAX} are kept, ${KEEP_TOTAL_MAX} for all waiting clients): refusing it with ${HTTP_BAD_REQUEST}`);
      this.#dropRecord(p);
      if (p.c.phase === Phase.HTTP && !p.c.socket.destroyed) this.#o.refuse(p.c, TOO_EARLY_RESPONSE);
      return;
    }
    // A copy: `bytes` may be the read scratch or a reused buffer.
    p.kept.push(Buffer.from(bytes));
    p.keptBytes += n;
    this.#keptTotal += n;
  }

  /** upgrade_timeout passed: 503, and the app drops the handshake. */
  #timedOut(p: Pending): void {
    this.#forget(p);
    this.#o.log.info(`client ${p.id}: the upgrade hook did not answer within ${this.#o.timeoutS}s: refusing it with ${HTTP_SERVICE_UNAVAILABLE}`);
    this.#dropRecord(p);
    if (p.c.phase === Phase.HTTP && !p.c.socket.destroyed) this.#o.refuse(p.c, TIMEOUT_RESPONSE);
  }

  /** The socket closed while the hook ran: the app drops the handshake. */
  #left(p: Pending): void {
    if (this.#byId.get(p.id) !== p) return;
    this.#forget(p);
    this.#o.log.debug(`client ${p.id}: left while its upgrade hook ran`);
    this.#dropRecord(p);
  }

  #forget(p: Pending): void {
    if (this.#byId.get(p.id) === p) this.#keptTotal -= p.keptBytes;
    clearTimeout(p.timer);
    p.c.socket.removeListener('close', p.onClose);
    this.#byId.delete(p.id);
    this.#byConn.delete(p.c);
  }

  /** A CLOSE record for the never-opened id: the app drops what its hook set, without a close callback. */
  #dropRecord(p: Pending): void {
    if (this.#o.appDown[p.app]) return;
    const inbound = this.#o.inbound;
    const rec = inbound.reserve(p.app, IN_HEADER_SIZE + CLOSE_BODY_SIZE);
    inbound.writeHeader(rec, Inbound.CLOSE, 0, p.endpoint.endpointId, p.id);
    rec.dv.setUint16(rec.ptr + IN_HEADER_SIZE, CloseCode.ABNORMAL, true);
    inbound.commit(p.app, rec);
  }
}

const EMPTY = new Uint8Array(0);
