// The client side of the RFC 6455 §4.1 opening handshake, over bytes: build the upgrade request,
// find the end of the response head, and check the response.
import { randomBytes } from 'node:crypto';
import { acceptKey } from '../http/accept.ts';
import type { BenchTarget } from './args.ts';
import { DEFLATE_OFFER, parseDeflateResponse, type DeflateParams } from './deflate.ts';

/** Response heads longer than this are refused. */
export const MAX_RESPONSE_HEAD = 16 * 1024;

export function newKey(): string {
  // §4.1: "a randomly selected 16-byte value that has been base64-encoded".
  return randomBytes(16).toString('base64');
}

/** With `deflate`, the request offers permessage-deflate (DEFLATE_OFFER). */
export function buildRequest(target: BenchTarget, key: string, deflate = false): Buffer {
  return Buffer.from(
    `GET ${target.path} HTTP/1.1\r\n` +
      `Host: ${target.hostHeader}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n' +
      (deflate ? `Sec-WebSocket-Extensions: ${DEFLATE_OFFER}\r\n` : '') +
      '\r\n',
    'latin1',
  );
}

/** Index just past "\r\n\r\n" in `buf`, or -1. */
export function headEnd(buf: Uint8Array): number {
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** `deflate`: what the server agreed to, when permessage-deflate was offered. */
export type ResponseCheck = { ok: true; deflate?: DeflateParams } | { ok: false; reason: string };

/**
 * Checks a complete response head (without the final empty line or with it) against §4.1: status
 * 101, "Upgrade: websocket", a "Connection" header holding the "upgrade" token, and
 * Sec-WebSocket-Accept equal to acceptKey(key) (src/http/accept.ts); no subprotocol was asked for,
 * so none may be returned, and an extension only when `deflate` offered permessage-deflate, which
 * the server must then accept (parseDeflateResponse).
 */
export function checkResponse(head: string, key: string, deflate = false): ResponseCheck {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!status) return { ok: false, reason: `malformed status line: ${JSON.stringify(lines[0].slice(0, 80))}` };
  if (status[1] !== '101') return { ok: false, reason: `status ${lines[0].slice(9, 80)}` };
  const headers = new Map<string, string[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, reason: `malformed header line: ${JSON.stringify(line.slice(0, 80))}` };
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  // §4.1 (2): "If the response lacks an |Upgrade| header field or the |Upgrade| header field
  // contains a value that is not an ASCII case-insensitive match for the value "websocket", the
  // client MUST _Fail the WebSocket Connection_."
  const upgrade = headers.get('upgrade');
  if (!upgrade || upgrade.length !== 1 || upgrade[0].toLowerCase() !== 'websocket') return { ok: false, reason: 'missing or wrong Upgrade header' };
  // §4.1 (3): the |Connection| header field must contain the token "Upgrade".
  const connection = (headers.get('connection') ?? []).join(',').toLowerCase().split(',').map((s) => s.trim());
  if (!connection.includes('upgrade')) return { ok: false, reason: 'missing Connection: Upgrade' };
  // §4.1 (4): Sec-WebSocket-Accept must be the base64 SHA-1 of the key and the GUID.
  const accept = headers.get('sec-websocket-accept');
  if (!accept || accept.length !== 1) return { ok: false, reason: 'missing Sec-WebSocket-Accept' };
  if (accept[0] !== acceptKey(key)) return { ok: false, reason: 'wrong Sec-WebSocket-Accept' };
  // §4.1 (5), (6): extensions and subprotocols not requested must not be in use.
  if (headers.has('sec-websocket-protocol')) return { ok: false, reason: 'unrequested Sec-WebSocket-Protocol' };
  if (!deflate) {
    if (headers.has('sec-websocket-extensions')) return { ok: false, reason: 'unrequested Sec-WebSocket-Extensions' };
    return { ok: true };
  }
  const p = parseDeflateResponse(headers.get('sec-websocket-extensions')?.join(', '));
  return typeof p === 'string' ? { ok: false, reason: p } : { ok: true, deflate: p };
}
