// A WebSocket client over a raw `net` socket, in the role of Autobahn's fuzzing client: it writes
// exactly the bytes a case builds (masking, fragmentation, split and 1-byte writes), records what
// the server sends, judges every server frame against RFC 6455, and follows the closing handshake
// the way the fuzzing client does (it echoes a server's close frame and waits for the server to
// close TCP).
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { FrameReader, Op, buildFrame, closePayload, isValidUtf8, isWireCloseCode, type ServerFrame } from './frames.ts';

/** What the client observed, in order (Autobahn's `received` list). */
export type Observed =
  | { type: 'message'; binary: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'timeout'; label: string };

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 16 * 1024;

export interface ConnectOptions {
  /** Handshake deadline in ms. */
  timeoutMs?: number;
}

/**
 * RFC 6455 §4.1 opening handshake over a fresh TCP connection. Resolves once the server's 101
 * response has been checked; bytes the server sent right behind its response are kept.
 */
export function openConnection(url: string, opts: ConnectOptions = {}): Promise<Connection> {
  const u = new URL(url);
  if (u.protocol !== 'ws:') throw new Error(`only ws: URLs are supported, got ${url}`);
  const port = Number(u.port || 80);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const key = randomBytes(16).toString('base64');
  const request =
    `GET ${u.pathname}${u.search} HTTP/1.1\r\n` +
    `Host: ${u.host}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n\r\n';
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, noDelay: true });
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`handshake with ${url} did not finish within ${timeoutMs} ms`)), timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    }
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) fail(new Error('handshake response head is too long'));
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('close', onEarlyClose);
      const text = head.subarray(0, end).toString('latin1');
      const problem = checkUpgradeResponse(text, key);
      if (problem) return fail(new Error(`${problem}; response head:\n${text}`));
      resolve(new Connection(socket, head.subarray(end + 4)));
    };
    const onEarlyClose = () => fail(new Error(`server closed the connection during the handshake (${head.length} bytes received)`));
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('close', onEarlyClose);
    socket.on('connect', () => socket.write(request));
  });
}

/** RFC 6455 §4.1, the client's checks of the server's handshake; returns a problem or null. */
export function checkUpgradeResponse(head: string, key: string): string | null {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]);
  if (!status) return `malformed status line ${JSON.stringify(lines[0])}`;
  if (status[1] !== '101') return `status ${status[1]} instead of 101`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  if ((headers.get('upgrade') ?? '').toLowerCase() !== 'websocket') return 'Upgrade header is not "websocket"';
  const conn = (headers.get('connection') ?? '').toLowerCase().split(',').map((s) => s.trim());
  if (!conn.includes('upgrade')) return 'Connection header does not contain "upgrade"';
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  if (headers.get('sec-websocket-accept') !== accept) return `Sec-WebSocket-Accept is ${headers.get('sec-websocket-accept')}, expected ${accept}`;
  if (headers.has('sec-websocket-extensions')) return 'server accepted an extension the client did not offer';
  if (headers.has('sec-websocket-protocol')) return 'server selected a subprotocol the client did not offer';
  return null;
}

export interface WriteOptions {
  /** Split the bytes into writes of this many bytes, each in its own event loop turn. */
  chop?: number;
}

/** One open WebSocket connection and everything that happens on it. */
export class Connection {
  readonly received: Observed[] = [];
  /** RFC violations by the server, in the order they were found. */
  readonly violations: string[] = [];
  /** The close frame the server sent: its code (null for an empty payload) and reason. */
  serverClose: { code: number | null; reason: Buffer; at: number } | null = null;
  /** Our close frame: when we sent it, and whether we sent it before the server's. */
  clientClose: { at: number; first: boolean } | null = null;
  /** When the server ended or reset the TCP connection (null while it is open). */
  tcpClosedAt: number | null = null;
  /** How the TCP connection ended: the server's FIN, a reset, or our own destroy. */
  tcpEnd: 'fin' | 'reset' | 'dropped-by-client' | null = null;
  /** The socket error that ended TCP, when it was not a clean FIN. */
  tcpError: string | null = null;

  private readonly reader = new FrameReader();
  private fragments: Buffer[] | null = null;
  private fragmentBinary = false;
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  private readonly closedPromise: Promise<void>;
  /** Called after every received frame (Autobahn's finishWhenDone hook). */
  onObserved: (() => void) | null = null;
  /** Autobahn's fuzzing client answers a server ping with a pong; so do we (and record the ping). */
  autoPong = true;

  readonly socket: net.Socket;

  constructor(socket: net.Socket, rest: Buffer) {
    this.socket = socket;
    socket.setNoDelay(true);
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        if (this.tcpClosedAt === null) {
          this.tcpClosedAt = Date.now();
          this.tcpEnd ??= 'fin';
        }
        this.notify();
        resolve();
      });
    });
    socket.on('end', () => {
      if (this.tcpClosedAt === null) {
        this.tcpClosedAt = Date.now();
        this.tcpEnd = 'fin';
      }
      this.notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the server closed is the server closing TCP: record it, never throw.
      if (this.tcpClosedAt === null) {
        this.tcpClosedAt = Date.now();
        this.tcpEnd = 'reset';
        this.tcpError = err.code ?? err.message;
      }
      this.notify();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (rest.length) queueMicrotask(() => this.onData(rest));
  }

  /** True while neither side has started to close and TCP is up. */
  get open(): boolean {
    return this.serverClose === null && this.clientClose === null && this.tcpClosedAt === null;
  }

  /** Has the server closed (close frame or TCP)? */
  get serverFailed(): boolean {
    return this.serverClose !== null || this.tcpClosedAt !== null;
  }

  /** Writes bytes unless TCP is gone; with `chop`, one write per piece, each in its own turn. */
  async write(data: Buffer, opts: WriteOptions = {}): Promise<void> {
    const chop = opts.chop ?? 0;
    if (chop <= 0 || chop >= data.length) {
      this.rawWrite(data);
      return;
    }
    for (let at = 0; at < data.length; at += chop) {
      if (this.tcpClosedAt !== null || this.socket.destroyed) return;
      this.rawWrite(data.subarray(at, Math.min(at + chop, data.length)));
      await this.drained();
      await nextTurn();
    }
  }

  /** Each buffer in its own write and event loop turn (Autobahn's `sync = True`). */
  async writeEach(frames: Buffer[], opts: WriteOptions = {}): Promise<void> {
    for (const f of frames) {
      if (this.tcpClosedAt !== null) return;
      await this.write(f, opts);
      await this.drained();
      await nextTurn();
    }
  }

  private rawWrite(b: Buffer): void {
    if (this.tcpClosedAt !== null || this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(b);
  }

  private drained(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Sends a close frame of our own (the fuzzing client's sendClose / sendCloseFrame). */
  sendClose(payload: Buffer = Buffer.alloc(0)): void {
    if (this.clientClose === null) this.clientClose = { at: Date.now(), first: this.serverClose === null };
    this.rawWrite(buildFrame({ opcode: Op.CLOSE, payload }));
  }

  /** Resolves when `pred` holds or after `ms` (then with false). */
  until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        pred,
        resolve: () => { clearTimeout(timer); resolve(true); },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(pred());
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Resolves once TCP is closed, or after `ms` when we destroy the socket ourselves. */
  async closeTcp(ms: number): Promise<void> {
    if (this.tcpClosedAt === null) {
      const closed = await this.until(() => this.tcpClosedAt !== null, ms);
      if (!closed) {
        this.tcpEnd = 'dropped-by-client';
        this.tcpClosedAt = Date.now();
        this.socket.destroy();
      }
    }
    if (!this.socket.destroyed) this.socket.destroy();
    await this.closedPromise;
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.pred());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private onData(chunk: Buffer): void {
    let frames: ServerFrame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.violate((err as Error).message);
      this.socket.destroy();
      return;
    }
    for (const f of frames) this.onFrame(f);
    this.notify();
  }

  private violate(what: string): void {
    this.violations.push(what);
  }

  private onFrame(f: ServerFrame): void {
    const name = `opcode ${f.opcode}`;
    if (this.serverClose) {
      // RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data."
      this.violate(`server sent a frame (${name}) after its close frame`);
      return;
    }
    // RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client."
    if (f.masked) this.violate(`server sent a masked frame (${name})`);
    // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines meanings".
    if (f.rsv !== 0) this.violate(`server sent a frame with RSV bits ${f.rsv} (${name})`);
    const control = (f.opcode & 0x8) !== 0;
    if (control) {
      // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and
      // MUST NOT be fragmented."
      if (f.payload.length > 125) this.violate(`server sent a control frame of ${f.payload.length} bytes`);
      if (!f.fin) this.violate('server sent a fragmented control frame');
    }
    switch (f.opcode) {
      case Op.TEXT:
      case Op.BINARY:
        if (this.fragments) { this.violate('server started a new message inside a fragmented one'); return; }
        if (f.fin) this.deliver(f.opcode === Op.BINARY, f.payload);
        else { this.fragments = [f.payload]; this.fragmentBinary = f.opcode === Op.BINARY; }
        return;
      case Op.CONTINUATION:
        if (!this.fragments) { this.violate('server sent a continuation frame with no message to continue'); return; }
        this.fragments.push(f.payload);
        if (f.fin) {
          const data = Buffer.concat(this.fragments);
          this.fragments = null;
          this.deliver(this.fragmentBinary, data);
        }
        return;
      case Op.PING:
        this.received.push({ type: 'ping', data: f.payload });
        if (this.autoPong && this.clientClose === null) this.rawWrite(buildFrame({ opcode: Op.PONG, payload: f.payload }));
        this.onObserved?.();
        return;
      case Op.PONG:
        this.received.push({ type: 'pong', data: f.payload });
        this.onObserved?.();
        return;
      case Op.CLOSE:
        this.onServerClose(f.payload);
        return;
      default:
        this.violate(`server sent a frame with reserved ${name}`);
    }
  }

  private deliver(binary: boolean, data: Buffer): void {
    // RFC 6455 §8.1: text messages carry valid UTF-8 in both directions.
    if (!binary && !isValidUtf8(data)) this.violate(`server sent a text message of ${data.length} bytes that is not valid UTF-8`);
    this.received.push({ type: 'message', binary, data });
    this.onObserved?.();
  }

  private onServerClose(p: Buffer): void {
    let code: number | null = null;
    if (p.length === 1) this.violate('server sent a close frame with a 1-byte payload');
    if (p.length >= 2) {
      code = p.readUInt16BE(0);
      if (!isWireCloseCode(code)) this.violate(`server sent close code ${code}, which may not appear on the wire`);
      if (!isValidUtf8(p.subarray(2))) this.violate('server sent a close reason that is not valid UTF-8');
    }
    this.serverClose = { code, reason: Buffer.from(p.subarray(Math.min(2, p.length))), at: Date.now() };
    // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close
    // frame, the endpoint MUST send a Close frame in response ... typically echoing the status code
    // it received." Autobahn's client does the same.
    if (this.clientClose === null) {
      this.clientClose = { at: Date.now(), first: false };
      this.rawWrite(buildFrame({ opcode: Op.CLOSE, payload: code === null ? Buffer.alloc(0) : closePayload(code) }));
    }
  }
}
