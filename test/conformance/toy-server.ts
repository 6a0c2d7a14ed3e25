// A small in-process WebSocket echo server with switchable faults, used only to show that the
// conformance harness notices each kind of misbehaviour (harness.test.ts). With no faults it is a
// plain RFC 6455 echo server that validates UTF-8 at the end of each message.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { FrameReader, Op, buildFrame, closePayload, isValidUtf8, isWireCloseCode } from './frames.ts';

export interface Faults {
  /** Echo text messages as binary ones. */
  textAsBinary?: boolean;
  /** Accept frames with RSV bits set. */
  ignoreRsv?: boolean;
  /** Accept invalid UTF-8 in text messages. */
  noUtf8Check?: boolean;
  /** Answer a client's close with this code instead of echoing it. */
  closeReplyCode?: number;
  /** After the closing handshake, leave the TCP connection open. */
  keepTcpOpen?: boolean;
  /** Fail errors by dropping TCP without a close frame. */
  dropOnError?: boolean;
  /** Stop accepting connections after the first one (a crash, as far as clients can tell). */
  dieAfterFirst?: boolean;
  /** Mask the frames it sends. */
  maskFrames?: boolean;
}

export interface ToyServer {
  url: string;
  close(): Promise<void>;
}

export function startToyServer(faults: Faults = {}): Promise<ToyServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (faults.dieAfterFirst) server.close();
    serve(socket, faults);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        url: `ws://127.0.0.1:${port}/`,
        close: () => new Promise((r) => {
          for (const s of sockets) s.destroy();
          if (server.listening) server.close(() => r()); else r();
        }),
      });
    });
  });
}

function serve(socket: net.Socket, faults: Faults): void {
  let head = Buffer.alloc(0);
  let upgraded = false;
  const reader = new FrameReader();
  let message: { binary: boolean; parts: Buffer[] } | null = null;
  let closing = false;
  const send = (opcode: number, payload: Buffer) => {
    if (!socket.destroyed) socket.write(buildFrame({ opcode, payload, mask: faults.maskFrames ?? false }));
  };
  const fail = (code: number) => {
    closing = true;
    if (faults.dropOnError) { socket.destroy(); return; }
    send(Op.CLOSE, closePayload(code));
    socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    if (!upgraded) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      upgraded = true;
      chunk = head.subarray(end + 4);
    }
    for (const f of reader.push(chunk)) {
      if (closing) return;
      const control = (f.opcode & 8) !== 0;
      if ((f.rsv && !faults.ignoreRsv) || !f.masked || (control && (f.payload.length > 125 || !f.fin))) return fail(1002);
      if (f.opcode === Op.TEXT || f.opcode === Op.BINARY) {
        if (message) return fail(1002);
        message = { binary: f.opcode === Op.BINARY, parts: [f.payload] };
      } else if (f.opcode === Op.CONTINUATION) {
        if (!message) return fail(1002);
        message.parts.push(f.payload);
      } else if (f.opcode === Op.PING) {
        send(Op.PONG, f.payload);
        continue;
      } else if (f.opcode === Op.PONG) {
        continue;
      } else if (f.opcode === Op.CLOSE) {
        const p = f.payload;
        const code = p.length >= 2 ? p.readUInt16BE(0) : null;
        if (p.length === 1 || (code !== null && !isWireCloseCode(code))) return fail(1002);
        if (p.length > 2 && !isValidUtf8(p.subarray(2))) return fail(1007);
        closing = true;
        send(Op.CLOSE, faults.closeReplyCode !== undefined ? closePayload(faults.closeReplyCode) : code === null ? Buffer.alloc(0) : closePayload(code));
        if (!faults.keepTcpOpen) socket.end();
        return;
      } else {
        return fail(1002);
      }
      if (f.fin) {
        const data = Buffer.concat(message.parts);
        const binary = message.binary;
        message = null;
        if (!binary && !faults.noUtf8Check && !isValidUtf8(data)) return fail(1007);
        send(binary || faults.textAsBinary ? Op.BINARY : Op.TEXT, data);
      }
    }
  });
}
