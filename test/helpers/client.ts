// Small conveniences over `ws` (the reference client) and raw sockets for daemon tests.
import WebSocket from 'ws';
import net from 'node:net';
import { withDeadline } from './deadline.ts';

export function connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return withDeadline(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, ...opts });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  }), 5000, `connect ${url}`);
}

/**
 * Connects and starts collecting messages before the handshake completes, so that a message sent
 * by an open callback (it can arrive in the same packet as the 101) is not missed.
 */
export function connectInbox(url: string, opts: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; inbox: Inbox }> {
  return withDeadline(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, ...opts });
    const inbox = new Inbox(ws);
    ws.once('open', () => resolve({ ws, inbox }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  }), 5000, `connect ${url}`);
}

export type Msg = { data: Buffer; isBinary: boolean };

/** Collects messages in order; next() waits for the next one. */
export class Inbox {
  private queue: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  constructor(ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m = { data: Buffer.from(data), isBinary };
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
  }
  next(ms = 5000): Promise<Msg> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return withDeadline(new Promise((r) => this.waiters.push(r)), ms, 'next message');
  }
  get pending(): number {
    return this.queue.length;
  }
}

export function closed(ws: WebSocket, ms = 5000): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return withDeadline(new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))), ms, 'close');
}

/**
 * Sends raw bytes on a fresh TCP connection and collects everything until the server closes.
 * A number in `chunks` waits that many milliseconds before the next write.
 */
export function rawExchange(port: number, chunks: (Buffer | string | number)[], ms = 5000, host = '127.0.0.1'): Promise<Buffer> {
  return withDeadline(new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    const got: Buffer[] = [];
    s.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'number') await new Promise((r) => setTimeout(r, c));
        else if (!s.destroyed) s.write(c);
      }
    });
    s.on('data', (b) => got.push(b));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got)));
  }), ms, 'raw exchange');
}

export function upgradeRequest(port: number, path = '/echo', extra: Record<string, string> = {}, host = `127.0.0.1:${port}`): string {
  const headers: Record<string, string> = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  let s = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== '') s += `${k}: ${v}\r\n`;
  return s + '\r\n';
}

/** A masked client frame. */
export function clientFrame(opcode: number, payload: Buffer | string, fin = true, mask = [0x12, 0x34, 0x56, 0x78]): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = p.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const b = Buffer.alloc(head + 4 + len);
  b[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) b[1] = 0x80 | len;
  else if (len < 65536) { b[1] = 0x80 | 126; b.writeUInt16BE(len, 2); }
  else { b[1] = 0x80 | 127; b.writeBigUInt64BE(BigInt(len), 2); }
  for (let i = 0; i < 4; i++) b[head + i] = mask[i];
  for (let i = 0; i < len; i++) b[head + 4 + i] = p[i] ^ mask[i & 3];
  return b;
}
