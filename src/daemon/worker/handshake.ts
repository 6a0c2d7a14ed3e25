// A new connection until its WebSocket is open: the connection limit, the HTTP head deadline,
// the upgrade request (src/http/), and the OPEN record that must reach the app before any READ.
import type net from 'node:net';
import {
  HeadAccumulator, headInOneChunk, processHandshake, buildErrorResponse, buildRefusalResponse, HttpRefusal,
  type EndpointTable, type EndpointSpec, type HeadPush,
} from '../../http/upgrade.ts';
import { decoderInit, Role, type DecoderLimits } from '../../core/codec.ts';
import type { Core } from '../../core/wasm.ts';
import { Inbound, IN_HEADER_SIZE, OPEN_ADDR_SIZE, OPEN_SUBPROTOCOL, writePeerAddress } from '../records.ts';
import type { Logger } from '../../log.ts';
import { Conn, Phase } from './conn.ts';
import type { Clients } from './clients.ts';
import type { InboundProducer } from './inbound.ts';
import type { WorkerDeflate } from './deflate.ts';
import { PendingUpgrades, APP_DOWN_RESPONSE } from './upgrades.ts';
import { MetricsBlock } from '../../metrics/block.ts';

export interface HandshakeOptions {
  core: Core;
  clients: Clients;
  inbound: InboundProducer;
  /** appDown[a]: app a's thread is gone; its endpoints answer 503. */
  appDown: readonly boolean[];
  /** Decoder limits for every WebSocket (max_ws_msg_size and friends). */
  limits: DecoderLimits;
  /** permessage-deflate (deflate.ts); null or absent when no endpoint offers it. */
  deflate?: WorkerDeflate | null;
  stateOf(c: Conn): number;
  /** Bytes that followed the request head in the same read (the first WebSocket frames). */
  feedWebSocket(c: Conn, rest: Uint8Array): void;
  maxHeadSize: number;
  /** shutdown_wait_http (seconds): the deadline for the request head. */
  headWaitS: number;
  fdAllocC: number;
  /** hookFlags[a]: app a's "has an upgrade hook" word (layout.ts APP_HOOK_OFFSET). */
  hookFlags: readonly Int32Array[];
  /** upgrade_timeout (seconds): how long a handshake waits for the app's upgrade hook. */
  upgradeTimeoutS: number;
  log: Logger;
  /** This worker's metrics block; absent: counts go nowhere. */
  metrics?: MetricsBlock;
}

export class Handshakes {
  readonly #o: HandshakeOptions;
  /** Handshakes waiting for an app's upgrade hook (upgrades.ts). */
  readonly upgrades: PendingUpgrades;
  readonly #metrics: MetricsBlock;

  constructor(o: HandshakeOptions) {
    this.#o = o;
    this.#metrics = o.metrics ?? MetricsBlock.detached(o.appDown.length);
    this.upgrades = new PendingUpgrades({
      clients: o.clients, inbound: o.inbound, hookFlags: o.hookFlags, appDown: o.appDown, log: o.log,
      // Read when a handshake starts waiting: a reload may change it (configure).
      get timeoutS() { return o.upgradeTimeoutS; },
      peer: (c) => peerAddress(c.socket),
      open: (c, ep, response, rest, sub, extensions, id) => this.open(c, ep, response, rest, sub, extensions, id),
      refuse: (c, response) => this.refuse(c, response),
    });
  }

  /**
   * Limits changed (a reload): new connections get them (the decoder's limits are set when a
   * WebSocket opens, the head deadline at accept, an upgrade's timeout when it starts waiting).
   */
  configure(l: Pick<HandshakeOptions, 'limits' | 'maxHeadSize' | 'headWaitS' | 'upgradeTimeoutS'>): void {
    this.#o.limits = l.limits;
    this.#o.maxHeadSize = l.maxHeadSize;
    this.#o.headWaitS = l.headWaitS;
    this.#o.upgradeTimeoutS = l.upgradeTimeoutS;
  }

  /** A new socket: a Conn in the HTTP phase, or a 503 when every slot is taken (null). */
  accept(socket: net.Socket, table: EndpointTable<EndpointSpec>): Conn | null {
    const { clients, log } = this.#o;
    const slot = clients.takeSlot();
    if (slot === undefined) {
      log.warning(`connection limit reached (fd_alloc_c ${this.#o.fdAllocC}): refusing ${socket.remoteAddress}`);
      const response = buildErrorResponse(503, { 'Retry-After': '5' });
      this.#metrics.refused(response);
      socket.end(response);
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('error', (err) => log.debug(`refused socket ${socket.remoteAddress}: ${err.message}`));
      return null;
    }
    const c = new Conn(slot, socket, table);
    clients.add(c);
    c.lastRx = Date.now();
    const waitS = this.#o.headWaitS;
    if (waitS > 0) {
      c.deadline = setTimeout(() => {
        log.info(`handshake not finished within ${waitS}s: closing ${socket.remoteAddress}`);
        this.refuse(c, buildRefusalResponse(HttpRefusal.HEAD_TIMEOUT));
      }, waitS * 1000);
    }
    return c;
  }

  /** Bytes of the request head. */
  onData(c: Conn, chunk: Buffer): void {
    // Bytes behind the head of a handshake that waits for the upgrade hook: kept.
    if (this.upgrades.keep(c, chunk)) return;
    const table = c.table;
    if (c.phase !== Phase.HTTP || !table) return;
    // A head that comes in one read (the usual case) needs no accumulator. (A first read without
    // the whole head is scanned twice, here and by the accumulator: at most max_http_head_size.)
    let r: HeadPush | null = c.head === null ? headInOneChunk(chunk, this.#o.maxHeadSize) : null;
    if (r === null) r = (c.head ??= new HeadAccumulator(this.#o.maxHeadSize)).push(chunk);
    if (!r.done) {
      if (r.refusal) this.refuse(c, buildRefusalResponse(r.refusal));
      return;
    }
    c.head = null;
    c.table = null;
    const h = processHandshake(r.head, table);
    if (!h.ok) {
      this.refuse(c, h.response);
      return;
    }
    const ep = h.endpoint;
    if (this.#o.appDown[ep.appIndex]) {
      this.refuse(c, APP_DOWN_RESPONSE);
      return;
    }
    if (c.deadline) { clearTimeout(c.deadline); c.deadline = null; }
    // An app with an upgrade hook decides first (upgrades.ts); one without pays nothing for it.
    if (this.upgrades.wanted(ep.appIndex)) {
      this.upgrades.start(c, h, r.head, r.rest);
      return;
    }
    this.open(c, ep, h.response, r.rest, h.subprotocolIndex ?? -1, h.extensions);
  }

  /**
   * Opens the client: the 101, its id (`id`, or a new one) and registry entry, the decoder, the OPEN
   * record (before any READ of it), then `rest`, the bytes that followed the head.
   */
  open(
    c: Conn, ep: EndpointSpec, response: Buffer, rest: Uint8Array, subprotocolIndex: number,
    extensions: readonly string[] | undefined, id?: number,
  ): void {
    // permessage-deflate: negotiated here, when the client opens, so that a handshake waiting for
    // an upgrade hook holds no place in max_contexts; named in the 101.
    if (this.#o.deflate) c.deflate = this.#o.deflate.negotiate(ep.appIndex, ep.endpointId, extensions);
    const deflate = c.deflate;
    const { clients, inbound } = this.#o;
    clients.open(c, ep.appIndex, ep.endpointId, id);
    decoderInit(this.#o.core, this.#o.stateOf(c), Role.SERVER, deflate === null ? this.#o.limits : { ...this.#o.limits, permessageDeflate: true });
    // OPEN goes into the ring before any READ of this client.
    c.openSeq = inbound.nextSeq(c.appIndex);
    const rec = inbound.reserve(c.appIndex, IN_HEADER_SIZE + OPEN_ADDR_SIZE);
    inbound.writeHeader(rec, Inbound.OPEN, 0, c.endpointId, c.id);
    const peer = peerAddress(c.socket);
    writePeerAddress(rec.u8, rec.dv, rec.ptr + IN_HEADER_SIZE, peer.address, peer.port);
    rec.u8[rec.ptr + OPEN_SUBPROTOCOL] = subprotocolIndex + 1;
    inbound.commit(c.appIndex, rec);
    // The 101 last: once the client can know it is open, the worker has it open (registered,
    // counted in the metrics, its OPEN record staged); a scrape right after sees it.
    const head = deflate === null ? response : deflate.upgrade101(response);
    this.#metrics.bytesOut(head.length);
    c.socket.write(head);
    if (inbound.isPaused(c.appIndex)) c.socket.pause();
    if (rest.length > 0) this.#o.feedWebSocket(c, rest);
  }

  /** Sends a complete HTTP error response, then closes. */
  refuse(c: Conn, response: Buffer): void {
    c.phase = Phase.DEAD;
    c.head = null;
    this.#metrics.refused(response);
    c.socket.end(response);
    this.#o.clients.armDeadline(c, Math.max(1, this.#o.headWaitS) * 1000);
  }
}

interface PeerName { address?: string; port?: number }
interface PeerNameHandle { getpeername?(out: PeerName): number }
/** Filled by the socket's handle in peerAddress (one object for every call). */
const peerName: PeerName = {};

/**
 * The peer's address and port, asked of the socket's handle. socket.remoteAddress caches what it
 * finds on the socket (`_peername`: an object, two strings and the property array the new
 * property needs, ≈ 130 bytes that every idle connection would keep); this asks the handle the same way into one shared object. The result is
 * valid until the next call. Falls back to remoteAddress where the handle does not offer it.
 */
export function peerAddress(socket: net.Socket): PeerName {
  const h = (socket as unknown as { _handle?: PeerNameHandle | null })._handle;
  if (h && typeof h.getpeername === 'function') {
    peerName.address = undefined;
    peerName.port = undefined;
    if (h.getpeername(peerName) === 0 && peerName.address !== undefined) return peerName;
  }
  return { address: socket.remoteAddress, port: socket.remotePort };
}
