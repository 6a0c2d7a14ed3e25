// A worker, wired from its parts: listeners (listen.ts) hand sockets to the handshake
// (handshake.ts), open WebSockets feed the decoder (ws-input.ts) and the inbound rings
// (inbound.ts); the wake loop drains the outbound rings (outbound.ts) into the output queues
// (output.ts); housekeeping (housekeeping.ts) runs on a timer. Everything a part needs is passed
// in: nothing here reads thread globals, so a test can build a worker in its own thread.
import type net from 'node:net';
import type { Core } from '../../core/wasm.ts';
import { Ring, WakeWord } from '../../core/ring.ts';
import { CloseCode } from '../../core/codes.ts';
import type { Config } from '../../config/types.ts';
import type { Logger } from '../../log.ts';
import { APP_HOOK_OFFSET, OUTPUT_SLAB_SIZE, type DaemonLayout } from '../layout.ts';
import type { EndpointTable, EndpointSpec } from '../../http/upgrade.ts';
import { Conn, Phase } from './conn.ts';
import { Clients, CONN, type ConnSocket } from './clients.ts';
import { Output, copyOut } from './output.ts';
import { InboundProducer } from './inbound.ts';
import { WsInput } from './ws-input.ts';
import { CloseOrder } from './close-order.ts';
import { OutboundDrain } from './outbound.ts';
import { Handshakes } from './handshake.ts';
import { InboundBudget } from './budget.ts';
import { WorkerDeflate } from './deflate.ts';
import { Housekeeping, HOUSEKEEPING_MS } from './housekeeping.ts';
import { listenAll, endpointTables } from './listen.ts';
import type { TlsContexts, CertFile } from './tls-contexts.ts';
import { userReadHook, type InstallUserRead } from './user-read.ts';
import type { FaultHook } from './faults.ts';
import { MetricsBlock } from '../../metrics/block.ts';
import { monitorLoop } from '../../metrics/monitor.ts';

export interface WorkerDeps {
  index: number;
  core: Core;
  config: Config;
  layout: DaemonLayout;
  log: Logger;
  /** Tests only (faults.ts). */
  fault?: FaultHook | null;
}

export class WorkerService {
  /** The running config: the start's, then each reload's (reconfigure). */
  #config: Config;
  readonly #log: Logger;
  readonly #wake: WakeWord;
  readonly #appDown: boolean[];
  readonly clients: Clients;
  readonly budget: InboundBudget;
  readonly #output: Output;
  readonly #inbound: InboundProducer;
  readonly #input: WsInput;
  readonly #outbound: OutboundDrain;
  readonly #closeOrder: CloseOrder;
  readonly #handshakes: Handshakes;
  readonly #housekeeping: Housekeeping;
  /** Plain sockets read straight into the read scratch (user-read.ts); null: 'data' events. */
  readonly #userRead: InstallUserRead | null;
  readonly #scratchView: Uint8Array;
  #servers: net.Server[] = [];
  /** Each port's endpoint table (listen.ts: looked up at every accept), and the TLS contexts. */
  #tables = new Map<number, EndpointTable<EndpointSpec>>();
  #tls: TlsContexts | null = null;
  /** Connections accepted before `serve()` (main.ts start order), with their port's table; null once serving. */
  #held: [net.Socket, EndpointTable<EndpointSpec>][] | null = [];
  #ticker: NodeJS.Timeout | null = null;
  #stopping = false;
  #running = true;
  /** This worker's metrics block (src/metrics/layout.ts): only this thread writes it. */
  readonly metrics: MetricsBlock;
  #stopLoopMonitor: (() => void) | null = null;

  constructor(d: WorkerDeps) {
    const { core, config, layout, log } = d;
    const W = d.index;
    const A = config.apps.length;
    const region = layout.workers[W];
    const appNames = config.apps.map((a) => a.name);
    this.#config = config;
    this.#log = log;
    this.#wake = new WakeWord(core, region.wake);
    this.#appDown = new Array(A).fill(false);
    const inRings: Ring[] = [];
    const outRings: Ring[] = [];
    for (let a = 0; a < A; a++) {
      inRings.push(new Ring(core, layout.inbound[W][a].header));
      outRings.push(new Ring(core, layout.outbound[W][a].header));
    }
    const metrics = new MetricsBlock(core.memory.buffer, layout.metrics.workers[W], layout.metrics.layout);
    this.metrics = metrics;
    const clients = new Clients({ worker: W, apps: A, slots: region.slots, closeWaitS: config.shutdown_wait_ws, metrics, node: config.cluster?.node_number ?? 0 });
    this.clients = clients;
    this.#output = new Output(core.u8, config.max_client_outbound_size, (c, bytes) => {
      log.notice(`client ${c.id}: ${bytes} bytes queued (max_client_outbound_size ${this.#config.max_client_outbound_size}): closing with 1008`, undefined, { client: c.id });
      metrics.slowClient();
      clients.closeWith(c, CloseCode.POLICY_VIOLATION);
    }, metrics, { at: region.slab, size: OUTPUT_SLAB_SIZE, copy: (dst, src, len) => core.exports.copy(dst, src, len) });
    this.#inbound = new InboundProducer({
      core, rings: inRings, appNames, log,
      pauseClients: (app, paused) => clients.pauseApp(app, paused),
    });
    const inbound = this.#inbound;
    const budget = new InboundBudget({
      limit: config.max_worker_inbound_size,
      msgTimeoutS: config.ws_msg_timeout,
      pendingBytes: () => inbound.pendingBytes,
      appPaused: (app) => inbound.isPaused(app),
      close: (c, code) => clients.abort(c, code),
      log,
      // Pooled and not zeroed: every byte of a chunk is written before it is read.
      alloc: (size) => Buffer.allocUnsafe(size),
    });
    this.budget = budget;
    clients.connect(this.#output, inbound, budget);
    this.#closeOrder = new CloseOrder({
      core, acks: region.acks, apps: A, nextSeq: (app) => inbound.nextSeq(app), appDown: this.#appDown,
      drain: () => this.#outbound.drain(), clients,
    });
    // permessage-deflate (deflate.ts): null when no endpoint offers it.
    const wd = new WorkerDeflate(config);
    const deflate = wd.enabled ? wd : null;
    this.#input = new WsInput({
      core, scratch: region.scratch, scratchSize: region.scratchSize, states: region.states,
      inbound, output: this.#output, clients, budget, closeOrder: this.#closeOrder, log, fault: d.fault, deflate, metrics,
    });
    this.#userRead = userReadHook();
    this.#scratchView = core.u8.subarray(region.scratch, region.scratch + region.scratchSize);
    this.#outbound = new OutboundDrain({
      core, rings: outRings, appDown: this.#appDown, appNames, clients, output: this.#output, log, deflate,
      upgradeReply: (app, id, status) => this.#handshakes.upgrades.reply(app, id, status), metrics,
    });
    this.#handshakes = new Handshakes({
      core, clients, inbound: this.#inbound, appDown: this.#appDown, deflate,
      limits: { maxMessageSize: config.max_ws_msg_size, maxFrameChainSize: config.max_ws_frame_chain_size, maxFragments: config.max_ws_fragment_c },
      stateOf: (c) => this.#input.stateOf(c),
      feedWebSocket: (c, rest) => this.#input.feed(c, rest),
      maxHeadSize: config.max_http_head_size, headWaitS: config.shutdown_wait_http, fdAllocC: config.fd_alloc_c, log,
      hookFlags: layout.apps.map((a) => new Int32Array(core.memory.buffer, a.wake + APP_HOOK_OFFSET, 1)),
      upgradeTimeoutS: config.upgrade_timeout, metrics,
    });
    this.#housekeeping = new Housekeeping({
      idleTimeoutS: config.idle_timeout, pingIntervalS: config.ping_interval, maxWorkerOutbound: config.max_worker_outbound_size,
      clients, output: this.#output, budget, log, metrics,
    });
  }

  /**
   * Listens on every configured address and starts the wake loop; returns the URLs. Connections
   * are held (not read from by us) until `serve()`: the apps are not there yet.
   */
  async start(): Promise<string[]> {
    const { servers, where, tables, tls } = await listenAll(this.#config, this.#log, (s, table) => {
      if (this.#held === null) this.#onSocket(s, table);
      else this.#hold(s, table);
    });
    this.#servers = servers;
    this.#tables = tables;
    this.#tls = tls;
    this.#ticker = setInterval(() => this.#housekeeping.tick(), HOUSEKEEPING_MS);
    this.#ticker.unref();
    if (this.#config.metrics) this.#stopLoopMonitor = monitorLoop(this.metrics);
    void this.#wakeLoop();
    return where;
  }

  /** Serves the connections held since start() and every later one. */
  serve(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const [s, table] of held) {
      s.off('error', ignoreHeldError);
      // A held socket may have read some bytes already into its stream: it keeps 'data' events.
      if (!s.destroyed) this.#onSocket(s, table, true);
    }
  }

  #hold(socket: net.Socket, table: EndpointTable<EndpointSpec>): void {
    socket.on('error', ignoreHeldError);
    this.#held!.push([socket, table]);
  }

  #onSocket(socket: net.Socket, table: EndpointTable<EndpointSpec>, wasHeld = false): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    const c = this.#handshakes.accept(socket, table);
    if (c === null) return;
    // Shared listeners (no closures per connection: idle memory); the socket carries its Conn.
    (socket as ConnSocket)[CONN] = c;
    const l = this.#listeners;
    // TLS sockets decrypt into Buffers of their own: they keep the 'data' events.
    if (wasHeld || !this.#readIntoScratch(socket, l.read)) socket.on('data', l.data);
    socket.on('end', l.end);
    socket.on('error', l.error);
    socket.on('close', l.close);
  }

  /**
   * Socket listeners, one set per worker: Node calls them with the socket as `this`. Each runs in
   * a try: a bug met while handling one client costs that client, not the worker.
   */
  readonly #listeners = ((svc: WorkerService) => ({
    data(this: ConnSocket, chunk: Buffer) {
      const c = this[CONN];
      svc.metrics.bytesIn(chunk.length);
      try { svc.#onData(c, chunk); } catch (err) { svc.#clientFault(c, 'its input', err); }
    },
    /** A read into the scratch (user-read.ts): decoded where it lies, before the next read. */
    read(this: net.Socket, n: number) {
      const c = (this as ConnSocket)[CONN];
      svc.metrics.bytesIn(n);
      try { svc.#onRead(c, n); } catch (err) { svc.#clientFault(c, 'its input', err); }
    },
    end(this: ConnSocket) {
      const c = this[CONN];
      try { svc.clients.onEnd(c); } catch (err) { svc.#clientFault(c, 'its end', err); }
    },
    error(this: ConnSocket, err: Error) { svc.#log.debug(`socket ${this[CONN].id || this.remoteAddress}: ${err.message}`); },
    close(this: ConnSocket) {
      const c = this[CONN];
      try { svc.clients.onClosed(c); } catch (err) { svc.#clientFault(c, 'its close', err); }
    },
  }))(this);

  #onData(c: Conn, chunk: Buffer): void {
    this.#heard(c);
    if (c.phase === Phase.WS || c.phase === Phase.CLOSING) this.#input.feed(c, chunk);
    else this.#handshakes.onData(c, chunk);
  }

  /** Makes a plain socket read into the scratch (user-read.ts); false: it keeps 'data' events. */
  #readIntoScratch(socket: net.Socket, read: (this: net.Socket, n: number) => void): boolean {
    if (this.#userRead === null || (socket as { encrypted?: boolean }).encrypted) return false;
    try {
      this.#userRead(socket, this.#scratchView, read);
      return true;
    } catch (err) {
      this.#log.debug(`socket ${socket.remoteAddress}: reads into the scratch not possible (${(err as Error).message}): 'data' events`);
      return false;
    }
  }

  #onRead(c: Conn, n: number): void {
    if (c.phase === Phase.WS || c.phase === Phase.CLOSING) {
      this.#heard(c);
      this.#input.decodeScratch(c, n);
    } else {
      // As a 'data' chunk; the request head is kept across reads (http/head.ts), so a copy.
      this.#onData(c, copyOut(this.#scratchView, 0, n));
    }
  }

  /** Bytes arrived: the client is not idle, and owes no pong. */
  #heard(c: Conn): void {
    c.lastRx = Date.now();
    c.pingSent = false;
  }

  #clientFault(c: Conn, what: string, err: unknown): void {
    this.#log.error(`client ${c.id || c.socket.remoteAddress}: internal error while handling ${what} (closing it with 1011): ${(err as Error).stack ?? err}`, undefined, c.id ? { client: c.id } : undefined);
    if (c.phase === Phase.WS || c.phase === Phase.CLOSING) this.clients.abort(c, CloseCode.INTERNAL_ERROR);
    else c.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // The wake loop: outbound records, and room in full inbound rings

  async #wakeLoop(): Promise<void> {
    const wake = this.#wake;
    // The loop comes round at least once a second even if no notify comes: one timer for the
    // thread, not a timeout per wait (see WakeWord.waitAsync).
    const tick = setInterval(() => wake.poke(), 1000);
    tick.unref();
    try {
      await this.#wakeLoopTurns();
    } finally {
      clearInterval(tick);
    }
  }

  async #wakeLoopTurns(): Promise<void> {
    const inbound = this.#inbound;
    const outbound = this.#outbound;
    const wake = this.#wake;
    const closeOrder = this.#closeOrder;
    while (this.#running) {
      outbound.drain();
      // Closes that waited for these replies (close-order.ts).
      closeOrder.check();
      if (inbound.pausedApps > 0) {
        inbound.flushPending();
        inbound.resumeApps();
        // Records wait for room in a full inbound ring: ask that app to wake us when it frees some.
        inbound.wantSpace();
      }
      wake.prepareSleep();
      // Re-checked after announcing sleep: room that appeared in between is used at once.
      if (outbound.any() || (inbound.pausedApps > 0 && inbound.flushPending() > 0)) {
        wake.cancelSleep();
        // More is waiting: let socket events run first (a busy app must not starve the sockets).
        await yieldToLoop();
        continue;
      }
      await wake.waitAsync();
    }
  }

  // -------------------------------------------------------------------------------------------
  // A reload (src/daemon/reload.ts): what config/diff.ts calls live

  /**
   * Applies a reloaded config whose differences from the running one are all live (diffConfig):
   * the log level and format, the endpoint tables (allowed_origins) and TLS contexts for new
   * connections, and the limits the parts read per connection, per message or per tick.
   * `certs`: the certificates' files as the main thread read them (null: unchanged). Connections
   * already open keep their TLS context and their decoder limits.
   */
  reconfigure(next: Config, certs: CertFile[] | null): void {
    // First what can throw (a context that does not build): then nothing has changed.
    if (certs !== null) this.#tls?.replace(certs);
    this.#tls?.setHandshakeTimeout(Math.max(1, next.shutdown_wait_http) * 1000);
    this.#config = next;
    this.#log.configure({ level: next.log_level, format: next.log_format });
    for (const [port, table] of endpointTables(next)) this.#tables.set(port, table);
    this.clients.closeWaitS = next.shutdown_wait_ws;
    this.#output.maxClientBytes = next.max_client_outbound_size;
    this.budget.configure({ limit: next.max_worker_inbound_size, msgTimeoutS: next.ws_msg_timeout });
    this.#handshakes.configure({
      limits: { maxMessageSize: next.max_ws_msg_size, maxFrameChainSize: next.max_ws_frame_chain_size, maxFragments: next.max_ws_fragment_c },
      maxHeadSize: next.max_http_head_size, headWaitS: next.shutdown_wait_http, upgradeTimeoutS: next.upgrade_timeout,
    });
    this.#housekeeping.configure({ idleTimeoutS: next.idle_timeout, pingIntervalS: next.ping_interval, maxWorkerOutbound: next.max_worker_outbound_size });
  }

  // -------------------------------------------------------------------------------------------
  // Apps going down and coming back (main.ts)

  /**
   * An app's thread died: close its clients with 1011 and refuse new ones (503). From now on this
   * worker does not touch that app's rings, so the main thread may initialise them again.
   */
  appGone(app: number): void {
    this.#appDown[app] = true;
    this.#inbound.dropApp(app);
    this.#handshakes.upgrades.appGone(app);
    for (const c of this.clients.ofApp[app]) {
      c.appClosed = true; // no CLOSE record: nobody would read it
      if (c.phase === Phase.DEAD) continue; // closing already (an aborted one is not read again)
      if (c.phase === Phase.WS) this.clients.sendCloseCode(c, CloseCode.INTERNAL_ERROR);
      this.clients.readAgain(c); // its ring pause is over: read its close reply
    }
  }

  /** A new thread of the app runs over freshly initialised rings. */
  appUp(app: number): void {
    this.#inbound.appUp(app);
    this.#appDown[app] = false;
  }

  // -------------------------------------------------------------------------------------------
  // Stopping

  /** Closes every client with 1001, waits up to shutdown_wait_ws, then ends the wake loop. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const [s] of this.#held ?? []) s.destroy();
    this.#held = null;
    const clients = this.clients;
    for (const s of this.#servers) s.close();
    for (const c of clients.all) {
      if (c.phase === Phase.HTTP) c.socket.destroy();
      else if (c.phase === Phase.WS) clients.sendCloseCode(c, CloseCode.GOING_AWAY);
      // Paused sockets (full ring, inbound budget) must read the peer's close frame or FIN.
      clients.readAgain(c);
    }
    if (clients.all.size > 0) {
      await new Promise<void>((resolve) => {
        clients.onEmpty = resolve;
        setTimeout(resolve, Math.max(0.1, this.#config.shutdown_wait_ws) * 1000 + 200);
      });
    }
    for (const c of clients.all) c.socket.destroy();
    // Let the CLOSE records reach the rings.
    for (let i = 0; i < 100 && this.#inbound.anyPending(); i++) {
      this.#inbound.flushPending();
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#inbound.publish();
    if (this.#ticker) clearInterval(this.#ticker);
    this.#stopLoopMonitor?.();
    this.#running = false;
    // Ends the wake loop's pending wait (it waits without a timeout).
    this.#wake.poke();
  }
}

/** A held socket's error (the peer went away before we served it): its 'close' follows. */
const ignoreHeldError = (): void => {};

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
