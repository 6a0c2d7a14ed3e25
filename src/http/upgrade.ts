// The HTTP/1.1 upgrade handshake (RFC 6455 §4.2) as pure functions over bytes: the entry point the
// daemon's workers import. User-facing notes: docs/http.md.
//
// Typical worker use, per new connection:
//   const acc = new HeadAccumulator(config.max_http_head_size);
//   on data: const r = acc.push(chunk);
//     if (!r.done) { if (r.refusal) sendAndClose(buildRefusalResponse(r.refusal)); return; } // 431
//     const h = processHandshake(r.head, table);
//     write(h.response); if (!h.ok) close after the write; else continue with r.rest as WebSocket bytes.
//   on shutdown_wait_http timeout: sendAndClose(buildRefusalResponse(HttpRefusal.HEAD_TIMEOUT)).

import type { Buffer } from 'node:buffer';
import { parseRequestHead } from './parse.ts';
import { validateUpgrade } from './validate.ts';
import { offeredExtensions } from './deflate-offer.ts';
import { buildRefusalResponse, buildSwitchingProtocols } from './response.ts';
import type { EndpointSpec, EndpointTable } from './endpoints.ts';
import type { Refusal } from './refusals.ts';
import type { ExtraHeaders } from './response.ts';

export { findHeadEnd, headInOneChunk, HeadAccumulator, HEAD_INCOMPLETE, HEAD_TOO_LARGE } from './head.ts';
export type { HeadComplete, HeadPending, HeadPush } from './head.ts';
export { parseRequestHead, isToken } from './parse.ts';
export type { HeaderField, RequestHead, ParseResult } from './parse.ts';
export { EndpointTable, hostHeaderForms } from './endpoints.ts';
export type { EndpointSpec } from './endpoints.ts';
export { validateUpgrade, hasToken, isValidKey } from './validate.ts';
export { pushProtocols, selectSubprotocol } from './subprotocol.ts';
export type { UpgradeAccepted, UpgradeResult } from './validate.ts';
export { acceptKey, WEBSOCKET_GUID } from './accept.ts';
export { buildSwitchingProtocols, buildErrorResponse, buildRefusalResponse } from './response.ts';
export type { ErrorResponseOptions, ExtraHeaders } from './response.ts';
export { HttpRefusal, STATUS_TEXT } from './refusals.ts';
export type { Refusal, HeaderPair, HttpRefusalName } from './refusals.ts';

export interface HandshakeAccepted<E extends EndpointSpec = EndpointSpec> {
  readonly ok: true;
  readonly endpoint: E;
  readonly key: string;
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols?: readonly string[];
  /** The selected subprotocol (named in the 101's Sec-WebSocket-Protocol), absent when none is. */
  readonly subprotocol?: string;
  /** Its index in the endpoint's `subprotocols`. */
  readonly subprotocolIndex?: number;
  /** Bytes of the request head; the caller keeps `bytes.subarray(headLength)` as WebSocket input. */
  readonly headLength: number;
  /** The Sec-WebSocket-Extensions values the client sent (deflate-offer.ts negotiates them). */
  readonly extensions?: readonly string[];
  /** The 101 Switching Protocols response to send. */
  readonly response: Buffer;
}

export interface HandshakeRefused {
  readonly ok: false;
  readonly refusal: Refusal;
  /** The complete error response to send before closing (shared: do not modify). */
  readonly response: Buffer;
}

export type Handshake<E extends EndpointSpec = EndpointSpec> = HandshakeAccepted<E> | HandshakeRefused;

/**
 * Parses, validates and answers one request head. `bytes` starts with the head; `end` bounds it
 * (default: all of `bytes`, e.g. `HeadAccumulator`'s `head`, or `findHeadEnd`'s result).
 */
export function processHandshake<E extends EndpointSpec>(
  bytes: Uint8Array,
  table: EndpointTable<E>,
  end: number = bytes.length,
  extraHeaders?: ExtraHeaders,
): Handshake<E> {
  const req = parseRequestHead(bytes, end);
  if (!req.ok) return { ok: false, refusal: req, response: buildRefusalResponse(req) };
  const result = validateUpgrade(req, table);
  if (!result.ok) {
    return { ok: false, refusal: result, response: buildRefusalResponse(result, req.method === 'HEAD') };
  }
  const response = buildSwitchingProtocols(result.key, extraHeaders, result.subprotocol);
  const extensions = offeredExtensions(req.headers);
  const ext = extensions === undefined ? undefined : { extensions };
  if (!result.protocols) return { ok: true, endpoint: result.endpoint, key: result.key, headLength: req.headLength, response, ...ext };
  return result.subprotocol === undefined
    ? { ok: true, endpoint: result.endpoint, key: result.key, protocols: result.protocols, headLength: req.headLength, response, ...ext }
    : {
      ok: true, endpoint: result.endpoint, key: result.key, protocols: result.protocols, subprotocol: result.subprotocol,
      subprotocolIndex: result.subprotocolIndex, headLength: req.headLength, response, ...ext,
    };
}
