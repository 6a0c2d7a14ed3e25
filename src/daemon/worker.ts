// A worker thread: owns sockets. It listens on every configured address with SO_REUSEPORT, runs
// the HTTP upgrade handshake and the WebSocket protocol (through the WebAssembly codec), feeds
// complete messages to the apps' inbound rings, and writes the apps' outbound frames to sockets.
import { parentPort, workerData } from 'node:worker_threads';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { instantiateCore, type Core } from '../core/wasm.ts';
import { Ring, WakeWord } from '../core/ring.ts';
import { CloseCode, Opcode, DataKind } from '../core/codes.ts';
import {
  decoderInit, decode, eventNext, eventDataPtr, eventDataLen, eventFlags, eventCloseCode, eventError,
  DecoderEvent, DataFlag, Role,
} from '../core/codec.ts';
import { DECODER_STATE_SIZE } from '../core/layout.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Config } from '../config/types.ts';
import type { DaemonLayout } from './layout.ts';
import {
  Inbound, Outbound, IN_HEADER_SIZE, IN_CLIENT_ID, OPEN_ADDR_SIZE, CLOSE_BODY_SIZE, OUT_HEADER_SIZE, OUT_STAMP, OUT_COUNT,
  writePeerAddress, makeClientId,
} from './records.ts';
import { encodeControlFrame, encodeCloseFrame } from './frames.ts';
import {
  HeadAccumulator, EndpointTable, processHandshake, buildErrorResponse, buildRefusalResponse, HttpRefusal,
  type EndpointSpec,
} from '../http/upgrade.ts';

export interface WorkerInit {
  index: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  config: Config;
  layout: DaemonLayout;
}

const Phase = { HTTP: 0, WS: 1, CLOSING: 2, DEAD: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

class Conn {
  id = 0;
  slot: number;
  socket: net.Socket;
  phase: Phase = Phase.HTTP;
  appIndex = -1;
  endpointId = 0;
  /** Sequence number of this client's OPEN record in its app's inbound ring. */
  openSeq = 0;
  head: HeadAccumulator | null;
  /** Parts of a fragmented message whose pieces arrived in different reads. */
  parts: Buffer[] | null = null;
  partsBytes = 0;
  partsKind = 0;
  closeSent = false;
  closeReceived = false;
  closeCode: number = CloseCode.ABNORMAL;
  /** The app closed this client itself (CLOSE_CLIENT): no CLOSE record goes back. */
  appClosed = false;
  lastRx = 0;
  pingSent = false;
  /** Frames queued for this client (flushOutput), their bytes, and its joined output. */
  qCount = 0;
  qBytes = 0;
  qOff = 0;
  qOut: Buffer | null = null;
  /** socket.end() once the queued frames are written. */
  endQueued = false;
  deadline: NodeJS.Timeout | null = null;
  /** The listening port's endpoints, until the handshake is done. */
  table: EndpointTable<EndpointSpec> | null = null;
  constructor(slot: number, socket: net.Socket, maxHead: number) {
    this.slot = slot;
    this.socket = socket;
    this.head = new HeadAccumulator(maxHead);
  }
}

/** Records that did not fit into a full inbound ring, in order, per app. */
type Pending = Buffer[];

const init = workerData as WorkerInit;
const config = init.config;
const W = init.index;
const log: Logger = createLogger(`worker#${W}`, config.log_level);
const core: Core = instantiateCore(init.module, init.memory);
const region = init.layout.workers[W];
const wake = new WakeWord(core, region.wake);
const A = config.apps.length;
const inRings: Ring[] = [];
const outRings: Ring[] = [];
for (let a = 0; a < A; a++) {
  inRings.push(new Ring(core, init.layout.inbound[W][a].header));
  outRings.push(new Ring(core, init.layout.outbound[W][a].header));
}
const pending: Pending[] = Array.from({ length: A }, () => []);
/** Inbound records produced so far per app (ring + pending); the next record's sequence number. */
const producedSeq: number[] = new Array(A).fill(0);
const u8 = core.u8;
const dv = core.dv;

/**
 * A private copy of [start, end) of the shared memory. Buffer.allocUnsafe + set is about 2.5x
 * faster than Buffer.from(view) for a SharedArrayBuffer view.
 */
function copyOut(start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  b.set(u8.subarray(start, end));
  return b;
}
const f64 = new Float64Array(core.memory.buffer);
const limits = {
  maxMessageSize: config.max_ws_msg_size,
  maxFrameChainSize: config.max_ws_frame_chain_size,
  maxFragments: config.max_ws_fragment_c,
};

const conns = new Map<number, Conn>();
const appConns: Set<Conn>[] = Array.from({ length: A }, () => new Set());
const freeSlots: number[] = [];
for (let i = region.slots - 1; i >= 0; i--) freeSlots.push(i);
let serial = 0;
/** Apps whose inbound ring is full: their clients' sockets are paused (TCP back-pressure). */
const appPaused: boolean[] = new Array(A).fill(false);
let pausedApps = 0;
let stopping = false;
const servers: net.Server[] = [];
const tables = new Map<number, EndpointTable<EndpointSpec>>();
const allConns = new Set<Conn>();

for (const port of config.ports) {
  const eps = [];
  for (let a = 0; a < A; a++) {
    for (const ep of config.apps[a].endpoints) {
      if (ep.port === port.port_number) eps.push({ appIndex: a, endpoint: ep });
    }
  }
  tables.set(port.port_number, new EndpointTable(eps.map(({ appIndex, endpoint }) => ({
    appIndex,
    endpointId: endpoint.endpoint_id,
    secure: endpoint.secure,
    hostHeaders: endpoint.hostHeaders,
    path: endpoint.path,
    allowedOrigins: endpoint.allowed_origins,
  }))));
}

// ---------------------------------------------------------------------------------------------
// Listening

/** One TLS context per configured cert, and the SNI lookup over their hostnames. */
function tlsOptions(): tls.TlsOptions {
  const contexts = config.certs.map((c) => {
    const key = readFileSync(c.privkey_path);
    const cert = readFileSync(c.pubchain_path);
    return { hostnames: c.hostnames, key, cert, context: tls.createSecureContext({ key, cert }) };
  });
  const exact = new Map<string, tls.SecureContext>();
  const wildcard = new Map<string, tls.SecureContext>();
  for (const c of contexts) {
    for (const h of c.hostnames) {
      if (h.startsWith('*.')) wildcard.set(h.slice(2), c.context);
      else exact.set(h, c.context);
    }
  }
  return {
    // A client that sends no SNI (e.g. it connected to an IP address) gets the first cert.
    key: contexts[0]?.key,
    cert: contexts[0]?.cert,
    minVersion: 'TLSv1.2',
    handshakeTimeout: Math.max(1, config.shutdown_wait_http) * 1000,
    SNICallback(servername, cb) {
      const name = servername.toLowerCase();
      const dot = name.indexOf('.');
      // A "*.example.com" cert covers exactly one more label (the original prefix-matched).
      const ctx = exact.get(name) ?? (dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined);
      if (ctx) cb(null, ctx);
      else cb(new Error(`no certificate for SNI name ${servername}`));
    },
  };
}

async function listenAll(): Promise<string[]> {
  const where: string[] = [];
  const secure = config.ports.some((p) => !p.is_unencrypted) ? tlsOptions() : null;
  for (const port of config.ports) {
    const table = tables.get(port.port_number)!;
    for (const addr of port.listen) {
      const onSocket = (s: net.Socket) => onConnection(s, table);
      let server: net.Server;
      if (port.is_unencrypted) {
        server = net.createServer({ noDelay: true, allowHalfOpen: true }, onSocket);
      } else {
        server = tls.createServer({ ...secure!, noDelay: true, allowHalfOpen: true }, onSocket);
        server.on('tlsClientError', (err) => log.debug(`TLS handshake failed: ${err.message}`));
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: addr.host, port: port.port_number, reusePort: true, ipv6Only: addr.ipv6Only, backlog: 1024 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => log.error(`listener ${addr.host}:${port.port_number}: ${err.message}`));
      servers.push(server);
      const scheme = port.is_unencrypted ? 'ws' : 'wss';
      where.push(`${scheme}://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port.port_number}`);
    }
  }
  return where;
}

function onConnection(socket: net.Socket, table: EndpointTable): void {
  if (stopping) {
    socket.destroy();
    return;
  }
  const slot = freeSlots.pop();
  if (slot === undefined) {
    log.warning(`connection limit reached (fd_alloc_c ${config.fd_alloc_c}): refusing ${socket.remoteAddress}`);
    socket.end(buildErrorResponse(503, { 'Retry-After': '5' }));
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('error', (err) => log.debug(`refused socket ${socket.remoteAddress}: ${err.message}`));
    return;
  }
  const c = new Conn(slot, socket, config.max_http_head_size);
  allConns.add(c);
  c.lastRx = Date.now();
  if (config.shutdown_wait_http > 0) {
    c.deadline = setTimeout(() => {
      log.info(`handshake not finished within ${config.shutdown_wait_http}s: closing ${socket.remoteAddress}`);
      refuse(c, buildRefusalResponse(HttpRefusal.HEAD_TIMEOUT));
    }, config.shutdown_wait_http * 1000);
  }
  c.table = table;
  // Shared listeners (no closures per connection: idle memory); the socket carries its Conn.
  (socket as ConnSocket)[CONN] = c;
  socket.on('data', onSocketData);
  socket.on('end', onSocketEnd);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClosed);
}

const CONN = Symbol('conn');
type ConnSocket = net.Socket & { [CONN]: Conn };

function onSocketData(this: ConnSocket, chunk: Buffer): void {
  const c = this[CONN];
  onData(c, chunk, c.table);
}
function onSocketEnd(this: ConnSocket): void {
  onEnd(this[CONN]);
}
function onSocketError(this: ConnSocket, err: Error): void {
  log.debug(`socket ${this[CONN].id || this.remoteAddress}: ${err.message}`);
}
function onSocketClosed(this: ConnSocket): void {
  const c = this[CONN];
  c.table = null;
  onSocketClose(c);
}

// ---------------------------------------------------------------------------------------------
// HTTP upgrade

function onData(c: Conn, chunk: Buffer, table: EndpointTable<EndpointSpec> | null): void {
  c.lastRx = Date.now();
  c.pingSent = false;
  if (c.phase === Phase.WS || c.phase === Phase.CLOSING) {
    feedWebSocket(c, chunk);
    return;
  }
  if (c.phase !== Phase.HTTP || !c.head || !table) return;
  const r = c.head.push(chunk);
  if (!r.done) {
    if (r.refusal) refuse(c, buildRefusalResponse(r.refusal));
    return;
  }
  c.head = null;
  c.table = null;
  const h = processHandshake(r.head, table);
  if (!h.ok) {
    refuse(c, h.response);
    return;
  }
  const ep = h.endpoint;
  if (appDown[ep.appIndex]) {
    refuse(c, buildErrorResponse(503, { 'Retry-After': '30' }));
    return;
  }
  if (c.deadline) { clearTimeout(c.deadline); c.deadline = null; }
  c.socket.write(h.response);
  c.phase = Phase.WS;
  c.appIndex = ep.appIndex;
  c.endpointId = ep.endpointId;
  c.id = makeClientId(++serial, W);
  conns.set(c.id, c);
  decoderInit(core, stateOf(c), Role.SERVER, limits);
  // OPEN goes into the ring before any READ of this client.
  c.openSeq = producedSeq[c.appIndex];
  const rec = reserveInbound(c.appIndex, IN_HEADER_SIZE + OPEN_ADDR_SIZE);
  writeInHeader(rec, Inbound.OPEN, 0, c);
  writePeerAddress(rec.u8, rec.dv, rec.ptr + IN_HEADER_SIZE, c.socket.remoteAddress, c.socket.remotePort);
  commitInbound(c.appIndex, rec);
  appConns[c.appIndex].add(c);
  if (appPaused[c.appIndex]) c.socket.pause();
  if (r.rest.length > 0) feedWebSocket(c, r.rest);
}

/** Sends a complete HTTP error response, then closes. */
function refuse(c: Conn, response: Buffer): void {
  c.phase = Phase.DEAD;
  c.head = null;
  c.socket.end(response);
  if (c.deadline) clearTimeout(c.deadline);
  c.deadline = setTimeout(() => c.socket.destroy(), Math.max(1, config.shutdown_wait_http) * 1000);
}

function stateOf(c: Conn): number {
  return region.states + c.slot * DECODER_STATE_SIZE;
}

// ---------------------------------------------------------------------------------------------
// WebSocket input

function feedWebSocket(c: Conn, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length && c.phase !== Phase.DEAD) {
    const n = Math.min(chunk.length - off, region.scratchSize);
    u8.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), region.scratch);
    off += n;
    decodeScratch(c, region.scratch, region.scratch + n);
  }
}

function decodeScratch(c: Conn, start: number, end: number): void {
  const state = stateOf(c);
  let p = start;
  for (;;) {
    const ev = decode(core, state, p, end);
    if (ev === DecoderEvent.NEED_MORE) return;
    p = eventNext(core, state);
    switch (ev) {
      case DecoderEvent.DATA: {
        if (c.closeSent || c.appClosed) break; // data after our close frame is ignored
        const ptr = eventDataPtr(core, state);
        const len = eventDataLen(core, state);
        const flags = eventFlags(core, state);
        const first = (flags & DataFlag.FIRST) !== 0;
        const last = (flags & DataFlag.LAST) !== 0;
        const kind = (flags & DataFlag.TEXT) !== 0 ? DataKind.UTF8 : DataKind.BIN;
        if (first && last) {
          const rec = reserveInbound(c.appIndex, IN_HEADER_SIZE + len);
          writeInHeader(rec, Inbound.READ, kind, c);
          if (rec.u8 === u8) core.exports.copy(rec.ptr + IN_HEADER_SIZE, ptr, len);
          else rec.u8.set(u8.subarray(ptr, ptr + len), rec.ptr + IN_HEADER_SIZE);
          commitInbound(c.appIndex, rec);
        } else {
          if (first) { c.parts = []; c.partsBytes = 0; c.partsKind = kind; }
          if (!last) {
            if (len > 0) { c.parts!.push(copyOut(ptr, ptr + len)); c.partsBytes += len; }
          } else {
            // The earlier pieces from their copies, the last one straight from the read buffer.
            const rec = reserveInbound(c.appIndex, IN_HEADER_SIZE + c.partsBytes + len);
            writeInHeader(rec, Inbound.READ, c.partsKind, c);
            let at = rec.ptr + IN_HEADER_SIZE;
            for (const part of c.parts!) { rec.u8.set(part, at); at += part.length; }
            if (rec.u8 === u8) core.exports.copy(at, ptr, len);
            else rec.u8.set(u8.subarray(ptr, ptr + len), at);
            commitInbound(c.appIndex, rec);
            c.parts = null;
            c.partsBytes = 0;
          }
        }
        break;
      }
      case DecoderEvent.PING: {
        if (c.closeSent) break;
        const ptr = eventDataPtr(core, state);
        const len = eventDataLen(core, state);
        writeFrame(c, encodeControlFrame(Opcode.PONG, u8.subarray(ptr, ptr + len)));
        break;
      }
      case DecoderEvent.PONG:
        break;
      case DecoderEvent.CLOSE: {
        const code = eventCloseCode(core, state);
        c.closeReceived = true;
        c.closeCode = code;
        if (!c.closeSent) {
          // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a
          // Close frame, the endpoint MUST send a Close frame in response. ... the endpoint
          // typically echos the status code it received."
          const ptr = eventDataPtr(core, state);
          const len = eventDataLen(core, state);
          const reply = code === CloseCode.NO_STATUS ? encodeCloseFrame(0) : encodeCloseFrame(code, u8.subarray(ptr, ptr + len));
          sendClose(c, reply);
        }
        // RFC 6455 §7.1.1: "the server SHOULD close the underlying TCP connection first".
        finishTcp(c);
        return;
      }
      case DecoderEvent.ERROR: {
        const err = eventError(core, state);
        log.info(`client ${c.id}: ${err.code}: ${err.message} (closing with ${err.closeCode})`);
        c.closeCode = err.closeCode;
        if (!c.closeSent) sendClose(c, encodeCloseFrame(err.closeCode));
        // RFC 6455 §7.1.7: "Fail the WebSocket Connection": close the TCP connection.
        finishTcp(c);
        return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Inbound ring (worker -> app), with back-pressure

type Reserved = { ptr: number; size: number; u8: Uint8Array; dv: DataView; pending: Buffer | null };
/** Reused for the common case (the record goes straight into the ring): no allocation. */
const direct: Reserved = { ptr: 0, size: 0, u8, dv, pending: null };

function reserveInbound(app: number, size: number): Reserved {
  if (pending[app].length === 0) {
    const ptr = inRings[app].reserve(size);
    if (ptr !== 0) {
      direct.ptr = ptr;
      direct.size = size;
      return direct;
    }
  }
  // The ring is full (or earlier records are already waiting): keep the record in order and stop
  // reading from sockets until the app catches up. At most what was already read stays here.
  const b = Buffer.alloc(size);
  if (staged[app]) { staged[app] = false; stagedAny--; inRings[app].publish(); }
  pauseApp(app);
  return { ptr: 0, size, u8: b, dv: new DataView(b.buffer, b.byteOffset, b.byteLength), pending: b };
}

function commitInbound(app: number, rec: Reserved): void {
  producedSeq[app]++;
  if (rec.pending) {
    pending[app].push(rec.pending);
    return;
  }
  // Staged, not published: every record of this event-loop turn becomes visible with one atomic
  // store (and at most one wake-up of the app) in publishInbound, after all socket reads of the
  // turn (setImmediate runs after the poll phase).
  inRings[app].stage(rec.size);
  if (!staged[app]) {
    staged[app] = true;
    stagedAny++;
    if (!publishScheduled) {
      publishScheduled = true;
      setImmediate(publishInbound);
    }
  }
}

/** Apps whose inbound ring has staged, unpublished records. */
const staged: boolean[] = new Array(A).fill(false);
let stagedAny = 0;
let publishScheduled = false;

function publishInbound(): void {
  publishScheduled = false;
  if (stagedAny === 0) return;
  for (let a = 0; a < A; a++) {
    if (!staged[a]) continue;
    staged[a] = false;
    inRings[a].publish();
  }
  stagedAny = 0;
}

function writeInHeader(rec: Reserved, kind: number, dataKind: number, c: Conn): void {
  const at = rec.ptr;
  const b = rec.u8;
  b[at] = kind;
  b[at + 1] = dataKind;
  b[at + 2] = c.endpointId & 0xff;
  b[at + 3] = c.endpointId >>> 8;
  if (rec.pending === null) {
    // In the ring the client id is 8-byte aligned (records.ts).
    f64[(at + IN_CLIENT_ID) >>> 3] = c.id;
    core.u32[(at + 12) >>> 2] = 0;
  } else {
    rec.dv.setFloat64(at + IN_CLIENT_ID, c.id, true);
    rec.dv.setUint32(at + 12, 0, true);
  }
}

/** Moves waiting records into their rings while there is room; returns how many it moved. */
function flushPending(): number {
  let moved = 0;
  for (let a = 0; a < A; a++) {
    const q = pending[a];
    while (q.length) {
      const b = q[0];
      const ptr = inRings[a].reserve(b.length);
      if (ptr === 0) break;
      u8.set(b, ptr);
      inRings[a].commit(b.length);
      q.shift();
      moved++;
    }
  }
  return moved;
}

/** Apps whose thread has died: nothing more goes to their rings. */
const appDown: boolean[] = new Array(A).fill(false);

/**
 * An app's thread died: close its clients with 1011 and refuse new ones (see main.ts). From now
 * on this worker does not touch that app's rings, so the main thread may initialise them again.
 */
function appGone(app: number): void {
  appDown[app] = true;
  pending[app].length = 0;
  if (appPaused[app]) { appPaused[app] = false; pausedApps--; }
  for (const c of appConns[app]) {
    c.appClosed = true; // no CLOSE record: nobody would read it
    c.socket.resume();
    if (c.phase === Phase.WS) {
      c.closeCode = CloseCode.INTERNAL_ERROR;
      sendClose(c, encodeCloseFrame(CloseCode.INTERNAL_ERROR));
    }
  }
}

function pauseApp(app: number): void {
  if (appPaused[app]) return;
  appPaused[app] = true;
  pausedApps++;
  log.debug(`inbound ring of app ${config.apps[app].name} full: pausing reads from its clients`);
  for (const c of appConns[app]) c.socket.pause();
}

/** Resumes the clients of every app whose waiting records all went into its ring. */
function resumeApps(): void {
  for (let a = 0; a < A; a++) {
    if (!appPaused[a] || pending[a].length) continue;
    appPaused[a] = false;
    pausedApps--;
    log.debug(`inbound ring of app ${config.apps[a].name} has room: resuming reads`);
    for (const c of appConns[a]) if (c.phase !== Phase.DEAD) c.socket.resume();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

// Frames are not written one by one: every frame for a client during an event-loop turn (or
// one drain of the outbound rings) is queued, and flushOutput then makes one socket.write per
// client: one syscall and one pass through Node's stream machinery for all its frames. A queued
// frame is either a Buffer (control frames, and a frame shared by several recipients) or a
// slice of a consumed outbound-ring record: slices are copied out in flushOutput, which the drain
// calls before it releases the records.
const qConn: Conn[] = [];
const qBuf: (Buffer | null)[] = [];
const qAt: number[] = [];
const qLen: number[] = [];
/** Clients with queued frames, in the order they got their first one. */
const touched: Conn[] = [];
let flushScheduled = false;
/** Above this many queued bytes a client's frames are written separately instead of joined. */
const JOIN_LIMIT = 64 * 1024;
/** Queued bytes for one client at which the queue is flushed at once (see queueFrame). */
const EARLY_FLUSH = 1024 * 1024;
let flushing = false;

function queueFrame(c: Conn, buf: Buffer | null, at: number, len: number): void {
  if (c.qCount === 0) touched.push(c);
  c.qCount++;
  c.qBytes += len;
  qConn.push(c);
  qBuf.push(buf);
  qAt.push(at);
  qLen.push(len);
  // A big batch for one client goes to the kernel before its backlog is judged: the limit is
  // about bytes the client did not take, not about how many arrived in one drain.
  if (c.qBytes >= EARLY_FLUSH && !flushing) flushOutput();
  if (c.socket.writableLength + c.qBytes > config.max_client_outbound_size && !c.closeSent) {
    log.notice(`client ${c.id}: ${c.socket.writableLength + c.qBytes} bytes queued (max_client_outbound_size ${config.max_client_outbound_size}): closing with 1008`);
    c.closeCode = CloseCode.POLICY_VIOLATION;
    sendClose(c, encodeCloseFrame(CloseCode.POLICY_VIOLATION));
    finishTcp(c);
  }
}

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  process.nextTick(flushOutput);
}

function writeFrame(c: Conn, frame: Buffer): void {
  if (c.phase === Phase.DEAD || c.socket.destroyed) return;
  queueFrame(c, frame, 0, frame.length);
  scheduleFlush();
}

/** Writes every queued frame: one socket.write per client (see above). */
function flushOutput(): void {
  flushScheduled = false;
  const n = qConn.length;
  if (n === 0) return;
  flushing = true;
  // Give each client its output buffer; a client with one queued Buffer writes it as it is.
  for (let i = 0; i < touched.length; i++) {
    const c = touched[i];
    if (c.qCount > 1 && c.qBytes <= JOIN_LIMIT) c.qOut = Buffer.allocUnsafe(c.qBytes);
    c.qOff = 0;
  }
  for (let i = 0; i < n; i++) {
    const c = qConn[i];
    const buf = qBuf[i];
    const out = c.qOut;
    if (out !== null) {
      if (buf !== null) out.set(buf, c.qOff);
      else out.set(u8.subarray(qAt[i], qAt[i] + qLen[i]), c.qOff);
      c.qOff += qLen[i];
    } else if (!c.socket.destroyed) {
      const b = buf !== null ? buf : copyOut(qAt[i], qAt[i] + qLen[i]);
      if (c.qCount > 1 && c.qOff++ === 0) c.socket.cork();
      c.socket.write(b);
    }
  }
  for (let i = 0; i < touched.length; i++) {
    const c = touched[i];
    if (!c.socket.destroyed) {
      if (c.qOut !== null) c.socket.write(c.qOut);
      else if (c.qCount > 1) c.socket.uncork();
      if (c.endQueued) c.socket.end();
    }
    c.qOut = null;
    c.qCount = 0;
    c.qBytes = 0;
    c.endQueued = false;
  }
  touched.length = 0;
  qConn.length = 0;
  qBuf.length = 0;
  qAt.length = 0;
  qLen.length = 0;
  flushing = false;
}

/** socket.end() after the client's queued frames. */
function endSocket(c: Conn): void {
  if (c.qCount > 0) c.endQueued = true;
  else c.socket.end();
}

function sendClose(c: Conn, frame: Buffer): void {
  if (c.closeSent) return;
  // Marked first: writeFrame's outbound-limit check may itself decide to close this client.
  c.closeSent = true;
  writeFrame(c, frame);
  if (c.phase === Phase.WS) c.phase = Phase.CLOSING;
  armCloseDeadline(c);
}

function armCloseDeadline(c: Conn): void {
  if (c.deadline) clearTimeout(c.deadline);
  c.deadline = setTimeout(() => c.socket.destroy(), Math.max(0.1, config.shutdown_wait_ws) * 1000);
}

/** Half-close our side; the socket is destroyed when the peer ends or at the deadline. */
function finishTcp(c: Conn): void {
  if (c.phase === Phase.DEAD) return;
  c.phase = Phase.DEAD;
  endSocket(c);
  armCloseDeadline(c);
}

function onEnd(c: Conn): void {
  // The peer half-closed: finish our side too.
  c.phase = Phase.DEAD;
  endSocket(c);
}

function onSocketClose(c: Conn): void {
  c.phase = Phase.DEAD;
  if (c.deadline) { clearTimeout(c.deadline); c.deadline = null; }
  allConns.delete(c);
  freeSlots.push(c.slot);
  if (c.id !== 0) {
    conns.delete(c.id);
    appConns[c.appIndex].delete(c);
    if (!c.appClosed) {
      const rec = reserveInbound(c.appIndex, IN_HEADER_SIZE + CLOSE_BODY_SIZE);
      writeInHeader(rec, Inbound.CLOSE, 0, c);
      rec.dv.setUint16(rec.ptr + IN_HEADER_SIZE, c.closeReceived ? c.closeCode : CloseCode.ABNORMAL, true);
      commitInbound(c.appIndex, rec);
    }
  }
  if (stopping && allConns.size === 0) onAllClosed();
}

// ---------------------------------------------------------------------------------------------
// Outbound rings (app -> worker)

/** Records consumed from one outbound ring before their frames are flushed and the records released. */
const DRAIN_BATCH = 1024;

/** Most records taken from one app's ring per drain, so that socket I/O is never starved. */
const DRAIN_MAX = 16 * DRAIN_BATCH;

function drainOutbound(): number {
  let n = 0;
  for (let a = 0; a < A; a++) {
    if (appDown[a]) continue;
    const ring = outRings[a];
    let batch = 0;
    for (let taken = 0; taken < DRAIN_MAX; taken++) {
      const ptr = ring.peek();
      if (ptr === 0) break;
      deliver(a, ptr, ring.peekSize());
      ring.consume();
      n++;
      if (++batch === DRAIN_BATCH) {
        // The queued slices point into the consumed records: write them, then free the records.
        flushOutput();
        ring.releaseConsumed();
        batch = 0;
      }
    }
    if (batch > 0) {
      flushOutput();
      ring.releaseConsumed();
    }
  }
  return n;
}

const except = new Set<number>();

/** Queues a record's frame for one client: a slice of the ring record, copied out at the flush. */
function canSend(c: Conn): boolean {
  return c.phase === Phase.WS && !c.closeSent && !c.socket.destroyed;
}

function deliver(app: number, ptr: number, size: number): void {
  const kind = u8[ptr];
  const count = core.u32[(ptr + OUT_COUNT) >>> 2];
  const stamp = f64At(ptr + OUT_STAMP);
  const idsAt = ptr + OUT_HEADER_SIZE;
  const frameAt = idsAt + count * 8;
  const frameLen = ptr + size - frameAt;
  // One recipient: its frame is copied straight from the ring at the flush. Several: one copy
  // out of the ring, shared by all of them (made on the second recipient).
  let shared: Buffer | null = null;
  let first: Conn | null = null;
  switch (kind) {
    case Outbound.SINGLE:
    case Outbound.MULTI:
      for (let i = 0; i < count; i++) {
        const c = conns.get(f64At(idsAt + i * 8));
        if (c === undefined || c.appIndex !== app || !canSend(c)) continue;
        if (count === 1) queueFrame(c, null, frameAt, frameLen);
        else {
          if (shared === null) shared = copyOut(frameAt, frameAt + frameLen);
          queueFrame(c, shared, 0, frameLen);
        }
      }
      break;
    case Outbound.EVERY:
    case Outbound.EVERY_EXCEPT: {
      const ex = kind === Outbound.EVERY_EXCEPT;
      if (ex) {
        except.clear();
        for (let i = 0; i < count; i++) except.add(f64At(idsAt + i * 8));
      }
      for (const c of appConns[app]) {
        if (c.openSeq >= stamp || !canSend(c) || (ex && except.has(c.id))) continue;
        if (first === null) {
          first = c;
          continue;
        }
        if (shared === null) {
          shared = copyOut(frameAt, frameAt + frameLen);
          queueFrame(first, shared, 0, frameLen);
        }
        queueFrame(c, shared, 0, frameLen);
      }
      if (first !== null && shared === null) queueFrame(first, null, frameAt, frameLen);
      break;
    }
    case Outbound.CLOSE_CLIENT: {
      const c = conns.get(f64At(idsAt));
      if (c && c.appIndex === app) {
        c.appClosed = true;
        if (c.phase === Phase.WS && !c.closeSent) {
          const frame = copyOut(frameAt, frameAt + frameLen);
          c.closeCode = frame.length >= 4 ? frame.readUInt16BE(2) : CloseCode.NORMAL;
          sendClose(c, frame);
        }
      }
      break;
    }
    default:
      log.error(`app ${config.apps[app].name}: unknown outbound record kind ${kind}`);
  }
}

/** An f64 at an 8-byte aligned address (ring records keep ids and stamps aligned). */
function f64At(at: number): number {
  return f64[at >>> 3];
}

// ---------------------------------------------------------------------------------------------
// The wake loop: outbound records, and room in full inbound rings

let running = true;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function wakeLoop(): Promise<void> {
  while (running) {
    drainOutbound();
    if (pausedApps > 0) {
      flushPending();
      resumeApps();
      // Records wait for room in a full inbound ring: ask that app to wake us when it frees some.
      for (let a = 0; a < A; a++) if (pending[a].length) inRings[a].wantSpace();
    }
    wake.prepareSleep();
    // Re-checked after announcing sleep: room that appeared in between is used at once.
    if (anyOutbound() || (pausedApps > 0 && flushPending() > 0)) {
      wake.cancelSleep();
      // More is waiting: let socket events run first (a busy app must not starve the sockets).
      await yieldToLoop();
      continue;
    }
    await wake.waitAsync(1000);
  }
}

function anyOutbound(): boolean {
  for (let a = 0; a < A; a++) if (!appDown[a] && outRings[a].peek() !== 0) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Idle timeout and server pings

let ticker: NodeJS.Timeout | null = null;
function tick(): void {
  const now = Date.now();
  const idleMs = config.idle_timeout * 1000;
  const pingMs = config.ping_interval * 1000;
  for (const c of conns.values()) {
    if (c.phase !== Phase.WS) continue;
    const quiet = now - c.lastRx;
    // A client is pinged before it can be found idle, however late this tick runs.
    if (idleMs > 0 && quiet >= idleMs && (pingMs === 0 || c.pingSent)) {
      log.info(`client ${c.id}: idle for ${config.idle_timeout}s: closing with 1001`);
      c.closeCode = CloseCode.GOING_AWAY;
      sendClose(c, encodeCloseFrame(CloseCode.GOING_AWAY));
    } else if (pingMs > 0 && quiet >= pingMs && !c.pingSent) {
      c.pingSent = true;
      writeFrame(c, encodeControlFrame(Opcode.PING, new Uint8Array(0)));
    }
  }
  if (config.max_worker_outbound_size > 0) enforceWorkerOutboundBudget();
}

/**
 * max_worker_outbound_size: when the unsent bytes of all this worker's clients together pass the
 * budget, the clients with the largest backlogs are dropped (their sockets destroyed at once, which
 * frees the memory; a close frame would only queue behind what they do not read) until the rest
 * fits. Many slow readers together can then never hold more than the budget (plus what arrives
 * between two ticks).
 */
function enforceWorkerOutboundBudget(): void {
  let total = 0;
  for (const c of allConns) total += c.socket.writableLength;
  const budget = config.max_worker_outbound_size;
  if (total <= budget) return;
  const backlog = [...allConns].filter((c) => c.socket.writableLength > 0 && !c.socket.destroyed);
  backlog.sort((a, b) => b.socket.writableLength - a.socket.writableLength);
  let dropped = 0;
  for (const c of backlog) {
    if (total <= budget) break;
    total -= c.socket.writableLength;
    c.closeCode = CloseCode.POLICY_VIOLATION;
    c.socket.destroy();
    dropped++;
  }
  log.notice(`unsent bytes of all clients passed max_worker_outbound_size (${budget}): dropped the ${dropped} client(s) with the largest backlogs`);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

let stoppedResolve: (() => void) | null = null;
function onAllClosed(): void {
  if (stoppedResolve) stoppedResolve();
}

async function stop(): Promise<void> {
  stopping = true;
  for (const s of servers) s.close();
  for (const c of allConns) {
    if (c.phase === Phase.HTTP) c.socket.destroy();
    else if (c.phase === Phase.WS) {
      c.closeCode = CloseCode.GOING_AWAY;
      sendClose(c, encodeCloseFrame(CloseCode.GOING_AWAY));
    }
  }
  if (allConns.size > 0) {
    await new Promise<void>((resolve) => {
      stoppedResolve = resolve;
      setTimeout(resolve, Math.max(0.1, config.shutdown_wait_ws) * 1000 + 200);
    });
  }
  for (const c of allConns) c.socket.destroy();
  // Let the CLOSE records reach the rings.
  for (let i = 0; i < 100 && pending.some((q) => q.length); i++) {
    flushPending();
    await new Promise((r) => setTimeout(r, 10));
  }
  if (ticker) clearInterval(ticker);
}

parentPort!.on('message', async (msg: { type: string; app?: number }) => {
  if (msg.type === 'app-down' && msg.app !== undefined) {
    appGone(msg.app);
    parentPort!.postMessage({ type: 'app-quiet', app: msg.app });
    return;
  }
  if (msg.type === 'app-up' && msg.app !== undefined) {
    // A new thread of the app runs over freshly initialised rings: its record count starts at 0.
    producedSeq[msg.app] = 0;
    appDown[msg.app] = false;
    return;
  }
  if (msg.type === 'stop') {
    await stop();
    running = false;
    wake.cancelSleep();
    parentPort!.postMessage({ type: 'stopped' });
  }
});

try {
  const where = await listenAll();
  ticker = setInterval(tick, 500);
  ticker.unref();
  void wakeLoop();
  parentPort!.postMessage({ type: 'listening', where });
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: (err as Error).message });
}
