// The bytes the server answers a handshake with: the 101 that switches to WebSocket, or a complete
// HTTP/1.1 error response after which the caller closes the connection.

import { Buffer } from 'node:buffer';
import { acceptKey } from './accept.ts';
import { STATUS_TEXT } from './refusals.ts';
import type { HeaderPair, Refusal } from './refusals.ts';

function checkHeaders(headers: readonly HeaderPair[]): void {
  for (const [name, value] of headers) {
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c <= 0x20 || c >= 0x7f || c === 0x3a) throw new Error(`invalid response header name ${JSON.stringify(name)}`);
    }
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
        throw new Error(`invalid response header value ${JSON.stringify(value)} for ${name}`);
      }
    }
  }
}

const SWITCHING_HEAD =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ';

/**
 * RFC 6455 §4.2.2 item 5: the 101 response to an accepted handshake, with Upgrade: websocket,
 * Connection: Upgrade and Sec-WebSocket-Accept computed from `key`, then Sec-WebSocket-Protocol
 * when a `subprotocol` was selected (item 5.4), plus `extraHeaders`.
 */
export function buildSwitchingProtocols(key: string, extraHeaders?: ExtraHeaders, subprotocol?: string): Buffer {
  let text = SWITCHING_HEAD + acceptKey(key) + '\r\n';
  if (subprotocol !== undefined) {
    checkHeaders([['Sec-WebSocket-Protocol', subprotocol]]);
    text += `Sec-WebSocket-Protocol: ${subprotocol}\r\n`;
  }
  if (extraHeaders) {
    const extra = pairs(extraHeaders);
    checkHeaders(extra);
    for (const [name, value] of extra) text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(text + '\r\n', 'latin1');
}

/** Headers to add to a response: [name, value] pairs, or an object of name: value. */
export type ExtraHeaders = readonly HeaderPair[] | Readonly<Record<string, string>>;

export interface ErrorResponseOptions {
  /** One line of explanation appended to the body (constant text; never echo client input). */
  readonly detail?: string;
  /** Send Content-Length but no body (the answer to a HEAD request, RFC 9110 §9.3.2). */
  readonly omitBody?: boolean;
}

function pairs(headers: ExtraHeaders | undefined): readonly HeaderPair[] {
  if (!headers) return [];
  return Array.isArray(headers) ? (headers as readonly HeaderPair[]) : Object.entries(headers);
}

/**
 * A complete HTTP/1.1 error response: status line with reason phrase, Content-Type: text/plain;
 * charset=utf-8, Content-Length, Connection: close, the extra headers (a Connection header among
 * them is merged into `Connection: <value>, close`), and a short body ("<status> <reason
 * phrase>\n", then `detail` and "\n" when given). The caller sends it and closes the connection.
 */
export function buildErrorResponse(status: number, extraHeaders?: ExtraHeaders, options: ErrorResponseOptions = {}): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid HTTP status ${status}`);
  const phrase = STATUS_TEXT[status] ?? '';
  const extra = pairs(extraHeaders);
  checkHeaders(extra);
  const body = `${status} ${phrase}\n` + (options.detail ? `${options.detail}\n` : '');
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  let connection = 'close';
  let text = `HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${bodyBytes}\r\n`;
  let others = '';
  for (const [name, value] of extra) {
    if (name.toLowerCase() === 'connection') connection = `${value}, close`;
    else others += `${name}: ${value}\r\n`;
  }
  text += `Connection: ${connection}\r\n${others}\r\n`;
  const head = Buffer.from(text, 'latin1');
  return options.omitBody ? head : Buffer.concat([head, Buffer.from(body, 'utf8')]);
}

const refusalCache = new Map<string, Buffer>();

/**
 * The error response for a handshake refusal: its status, its required headers, and its reason as
 * the body's second line. Built once per refusal (and per `omitBody`) and then shared: callers
 * must not modify the returned Buffer.
 */
export function buildRefusalResponse(refusal: Refusal, omitBody = false): Buffer {
  const cacheKey = omitBody ? refusal.code + ' HEAD' : refusal.code;
  let bytes = refusalCache.get(cacheKey);
  if (!bytes) {
    bytes = buildErrorResponse(refusal.status, refusal.headers, { detail: refusal.reason, omitBody });
    refusalCache.set(cacheKey, bytes);
  }
  return bytes;
}
