// A permessage-deflate client over a raw `net` socket, for the cases `ws` cannot play: several
// offers in one header (13.7) and a compressed payload cut into frames of a given byte count (x.11
// to x.18, Autobahn's autoFragmentSize, which cuts the compressed bytes, not the message). It
// writes its own offer, checks the 101 (RFC 6455 §4.1 and the offer check of
// deflate-negotiation.ts), compresses with node:zlib as negotiated (RFC 7692 §7.2.1: raw DEFLATE,
// Z_SYNC_FLUSH, the final 00 00 ff ff removed; RSV1 on the first frame only), inflates what the
// server sends (§7.2.2: the 4 bytes appended back), and judges every server frame:
// unmasked, RSV2/RSV3 clear, RSV1 only on the first frame of a data message, control frames short
// and whole, text valid UTF-8 once inflated, nothing after the server's close frame.
import net from 'node:net';
import zlib from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { FrameReader, Op, buildFrame, closePayload, isValidUtf8, isWireCloseCode, type ServerFrame } from './frames.ts';
import type { Negotiated } from './deflate-negotiation.ts';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 16 * 1024;
/** RFC 7692 §7.2.1: the tail of a Z_SYNC_FLUSH that a sender removes and a receiver appends. */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const RSV1 = 4; // FrameReader's rsv is the three bits RSV1 RSV2 RSV3 as 4, 2, 1
const MAX_CONTROL_PAYLOAD = 125;

export interface RawHandshake {
  socket: net.Socket;
  /** Bytes the server sent right behind its response. */
  rest: Buffer;
  /** The response's Sec-WebSocket-Extensions (undefined when absent). */
  extensions: string | undefined;
  head: string;
}

/** RFC 6455 §4.1 handshake with `extensions` as the offer. Rejects on anything but a valid 101. */
export function rawHandshake(url: string, extensions: string, timeoutMs = 5000): Promise<RawHandshake> {
  const u = new URL(url);
  if (u.protocol !== 'ws:') throw new Error(`only ws: URLs are supported, got ${url}`);
  const key = randomBytes(16).toString('base64');
  const request =
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(u.port || 80), host: u.hostname.replace(/^\[|\]$/g, ''), noDelay: true });
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`handshake with ${url} did not finish within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err); };
    const onClose = () => fail(new Error(`server closed the connection during the handshake (${head.length} bytes received)`));
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) { if (head.length > MAX_HEAD) fail(new Error('handshake response head is too long')); return; }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('close', onClose);
      const text = head.subarray(0, end).toString('latin1');
      const lines = text.split('\r\n');
      const headers = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) {
          const name = line.slice(0, i).trim().toLowerCase();
          headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()]);
        }
      }
      const one = (n: string) => headers.get(n)?.join(', ');
      let problem: string | null = null;
      if (!/^HTTP\/1\.1 101\b/.test(lines[0])) problem = `status line ${JSON.stringify(lines[0])}, not 101`;
      else if ((one('upgrade') ?? '').toLowerCase() !== 'websocket') problem = 'Upgrade header is not "websocket"';
      else if (!(one('connection') ?? '').toLowerCase().split(',').map((s) => s.trim()).includes('upgrade')) problem = 'Connection header does not contain "upgrade"';
      else if (one('sec-websocket-accept') !== createHash('sha1').update(key + WS_GUID).digest('base64')) problem = 'wrong Sec-WebSocket-Accept';
      else if (headers.has('sec-websocket-protocol')) problem = 'server selected a subprotocol the client did not offer';
      if (problem) { socket.destroy(); reject(new Error(`${problem}; response head:\n${text}`)); return; }
      // Several Sec-WebSocket-Extensions lines are one list (RFC 6455 §9.1, RFC 7230 §3.2.2).
      resolve({ socket, rest: head.subarray(end + 4), extensions: one('sec-websocket-extensions'), head: text });
    };
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('close', onClose);
    socket.on('connect', () => socket.write(request));
  });
}

/** One zlib stream used message after message: each job is serialized after the one before. */
class ZPipe {
  readonly #z: zlib.DeflateRaw | zlib.InflateRaw;
  #chain: Promise<unknown> = Promise.resolve();
  #out: Buffer[] = [];
  #error: Error | null = null;
  #onError: ((e: Error) => void) | null = null;

  constructor(z: zlib.DeflateRaw | zlib.InflateRaw) {
    this.#z = z;
    z.on('data', (b: Buffer) => this.#out.push(b));
    z.on('error', (e: Error) => { this.#error = e; this.#onError?.(e); });
  }

  /** Writes `input`, flushes with Z_SYNC_FLUSH, resolves with everything the stream produced. */
  run(input: Buffer[], resetAfter: boolean): Promise<Buffer> {
    const job = this.#chain.then(() => new Promise<Buffer>((resolve, reject) => {
      if (this.#error) { reject(this.#error); return; }
      this.#onError = reject;
      for (const b of input) this.#z.write(b);
      this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.#onError = null;
        if (this.#error) { reject(this.#error); return; }
        const out = Buffer.concat(this.#out);
        this.#out = [];
        if (resetAfter) this.#z.reset();
        resolve(out);
      });
    }));
    this.#chain = job.catch(() => {});
    return job;
  }

  close(): void { this.#z.close(); }
}

export type Received = { type: 'message'; binary: boolean; data: Buffer; compressed: boolean; frames: number };

/** An open connection with permessage-deflate negotiated as `p`. */
export class DeflateConnection {
  readonly socket: net.Socket;
  readonly received: Received[] = [];
  readonly violations: string[] = [];
  serverClose: { code: number | null; at: number } | null = null;
  clientCloseAt: number | null = null;
  tcpClosedAt: number | null = null;
  /** Compressed payload bytes sent and received, and the payload bytes they stand for. */
  readonly stats = { wireOut: 0, plainOut: 0, wireIn: 0, plainIn: 0 };

  readonly #p: Negotiated;
  readonly #reader = new FrameReader();
  readonly #deflate: ZPipe;
  readonly #inflate: ZPipe;
  #msg: { binary: boolean; compressed: boolean; parts: Buffer[]; frames: number } | null = null;
  /** Messages handed to the inflater, delivered in order. */
  #delivery: Promise<unknown> = Promise.resolve();
  #waiters: (() => void)[] = [];

  constructor(h: RawHandshake, p: Negotiated) {
    this.socket = h.socket;
    this.#p = p;
    this.#deflate = new ZPipe(zlib.createDeflateRaw({ windowBits: p.clientMaxWindowBits }));
    this.#inflate = new ZPipe(zlib.createInflateRaw({ windowBits: p.serverMaxWindowBits }));
    const ended = () => {
      if (this.tcpClosedAt === null) this.tcpClosedAt = Date.now();
      this.#notify();
    };
    this.socket.on('data', (b: Buffer) => this.#onData(b));
    this.socket.on('end', ended);
    this.socket.on('close', () => { ended(); this.#deflate.close(); this.#inflate.close(); });
    this.socket.on('error', ended);
    if (h.rest.length) queueMicrotask(() => this.#onData(h.rest));
  }

  /** Compresses `payload` and sends it, cut into frames of `fragmentSize` compressed bytes (0: one frame). */
  async sendMessage(binary: boolean, payload: Buffer, fragmentSize = 0): Promise<void> {
    let c = await this.#deflate.run([payload], this.#p.clientNoContextTakeover);
    if (c.length >= 4 && c.subarray(c.length - 4).equals(DEFLATE_TAIL)) c = c.subarray(0, c.length - 4);
    this.stats.wireOut += c.length;
    this.stats.plainOut += payload.length;
    const opcode = binary ? Op.BINARY : Op.TEXT;
    if (fragmentSize <= 0 || c.length <= fragmentSize) {
      this.#write(buildFrame({ opcode, payload: c, rsv: RSV1 }));
      return;
    }
    const frames: Buffer[] = [];
    for (let at = 0; at < c.length; at += fragmentSize) {
      const last = at + fragmentSize >= c.length;
      frames.push(buildFrame({ opcode: at === 0 ? opcode : Op.CONTINUATION, payload: c.subarray(at, at + fragmentSize), fin: last, rsv: at === 0 ? RSV1 : 0 }));
    }
    this.#write(Buffer.concat(frames));
  }

  sendClose(code: number): void {
    if (this.clientCloseAt === null) this.clientCloseAt = Date.now();
    this.#write(buildFrame({ opcode: Op.CLOSE, payload: closePayload(code) }));
  }

  /** Resolves with true once `pred` holds, with false after `ms`. */
  until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => { if (pred()) { clearTimeout(t); this.#waiters = this.#waiters.filter((w) => w !== check); resolve(true); } };
      const t = setTimeout(() => { this.#waiters = this.#waiters.filter((w) => w !== check); resolve(pred()); }, ms);
      this.#waiters.push(check);
    });
  }

  destroy(): void { this.socket.destroy(); }

  #notify(): void { for (const w of [...this.#waiters]) w(); }

  #write(b: Buffer): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(b);
  }

  #violate(what: string): void {
    this.violations.push(what);
    this.#notify();
  }

  #onData(chunk: Buffer): void {
    let frames: ServerFrame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      this.#violate((err as Error).message);
      this.socket.destroy();
      return;
    }
    for (const f of frames) this.#onFrame(f);
    this.#notify();
  }

  #onFrame(f: ServerFrame): void {
    const name = `opcode ${f.opcode}`;
    if (this.serverClose) { this.#violate(`server sent a frame (${name}) after its close frame`); return; }
    if (f.masked) this.#violate(`server sent a masked frame (${name})`);
    // RFC 7692 §6: permessage-deflate uses RSV1 only; RSV2 and RSV3 stay clear.
    if ((f.rsv & ~RSV1) !== 0) this.#violate(`server sent a frame with RSV bits ${f.rsv} (${name})`);
    const rsv1 = (f.rsv & RSV1) !== 0;
    const control = (f.opcode & 0x8) !== 0;
    if (control) {
      // RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control frames".
      if (rsv1) this.#violate(`server set RSV1 on a control frame (${name})`);
      if (f.payload.length > MAX_CONTROL_PAYLOAD) this.#violate(`server sent a control frame of ${f.payload.length} bytes`);
      if (!f.fin) this.#violate('server sent a fragmented control frame');
    }
    switch (f.opcode) {
      case Op.TEXT:
      case Op.BINARY:
        if (this.#msg) { this.#violate('server started a new message inside a fragmented one'); return; }
        this.#msg = { binary: f.opcode === Op.BINARY, compressed: rsv1, parts: [f.payload], frames: 1 };
        if (f.fin) this.#finishMessage();
        return;
      case Op.CONTINUATION:
        if (!this.#msg) { this.#violate('server sent a continuation frame with no message to continue'); return; }
        // RFC 7692 §6.1: the bit is set on the first frame of a message only.
        if (rsv1) this.#violate('server set RSV1 on a continuation frame');
        this.#msg.parts.push(f.payload);
        this.#msg.frames++;
        if (f.fin) this.#finishMessage();
        return;
      case Op.PING:
        if (this.clientCloseAt === null) this.#write(buildFrame({ opcode: Op.PONG, payload: f.payload }));
        return;
      case Op.PONG:
        return;
      case Op.CLOSE: {
        const p = f.payload;
        let code: number | null = null;
        if (p.length === 1) this.#violate('server sent a close frame with a 1-byte payload');
        if (p.length >= 2) {
          code = p.readUInt16BE(0);
          if (!isWireCloseCode(code)) this.#violate(`server sent close code ${code}, which may not appear on the wire`);
          if (!isValidUtf8(p.subarray(2))) this.#violate('server sent a close reason that is not valid UTF-8');
        }
        this.serverClose = { code, at: Date.now() };
        if (this.clientCloseAt === null) {
          this.clientCloseAt = Date.now();
          this.#write(buildFrame({ opcode: Op.CLOSE, payload: code === null ? Buffer.alloc(0) : closePayload(code) }));
        }
        return;
      }
      default:
        this.#violate(`server sent a frame with reserved ${name}`);
    }
  }

  #finishMessage(): void {
    const m = this.#msg!;
    this.#msg = null;
    const wire = m.parts.length === 1 ? m.parts[0] : Buffer.concat(m.parts);
    const deliver = (data: Buffer) => {
      if (!m.binary && !isValidUtf8(data)) this.#violate(`server sent a text message of ${data.length} bytes that is not valid UTF-8`);
      this.stats.wireIn += wire.length;
      this.stats.plainIn += data.length;
      this.received.push({ type: 'message', binary: m.binary, data, compressed: m.compressed, frames: m.frames });
      this.#notify();
    };
    // Order: a message that needs no inflating still waits for the ones before it.
    this.#delivery = this.#delivery.then(async () => {
      if (!m.compressed) { deliver(wire); return; }
      try {
        deliver(await this.#inflate.run([wire, DEFLATE_TAIL], this.#p.serverNoContextTakeover));
      } catch (err) {
        this.#violate(`a compressed message of ${wire.length} bytes does not inflate: ${(err as Error).message}`);
        this.socket.destroy();
      }
    });
  }
}
