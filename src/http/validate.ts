// Validating a parsed request as a WebSocket opening handshake (RFC 6455 §4.2.1) against the
// endpoints of the port it arrived on. Exact matching only: the C original prefix-matched Host, path
// and Origin (ringsocket-behaviour.md §3.6); see test/http-regress.test.ts.

import { HttpRefusal } from './refusals.ts';
import type { Refusal } from './refusals.ts';
import { someToken, type RequestHead } from './parse.ts';
import type { EndpointSpec, EndpointTable, TableEntry } from './endpoints.ts';
import { pushProtocols, selectSubprotocol } from './subprotocol.ts';

export interface UpgradeAccepted<E extends EndpointSpec = EndpointSpec> {
  readonly ok: true;
  readonly endpoint: E;
  /** The Sec-WebSocket-Key value (24 base64 characters). */
  readonly key: string;
  /** The subprotocols the client offered (Sec-WebSocket-Protocol), in order. */
  readonly protocols?: readonly string[];
  /**
   * The selected subprotocol: the first of `protocols` that the endpoint's `subprotocols` lists
   * (subprotocol.ts selectSubprotocol); absent when there is none.
   */
  readonly subprotocol?: string;
  /** Its index in the endpoint's `subprotocols`; absent with `subprotocol`. */
  readonly subprotocolIndex?: number;
}

export type UpgradeResult<E extends EndpointSpec = EndpointSpec> = UpgradeAccepted<E> | Refusal;


// base64 alphabet (RFC 4648 §4), 256 entries: 1 = allowed.
const B64 = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256);
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < a.length; i++) t[a.charCodeAt(i)] = 1;
  return t;
})();

/**
 * RFC 6455 §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that,
 * when decoded, is 16 bytes in length." Strict base64: 22 characters, '==', and the unused low 4
 * bits of the 22nd character zero (so it is one of A, Q, g, w), as any encoder produces.
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) if (!B64[key.charCodeAt(i)]) return false;
  const last = key.charCodeAt(21);
  return last === 0x41 || last === 0x51 || last === 0x67 || last === 0x77; // A Q g w
}

/**
 * Whether a comma-separated token list (RFC 9110 §5.6.1: `#token`, elements separated by OWS ","
 * OWS, empty elements allowed) contains `token`, compared case-insensitively. `token` must be
 * lower-case letters.
 */
export function hasToken(list: string, token: string): boolean {
  const t = token.length;
  return someToken(list, (start, end) => {
    if (end - start !== t) return false;
    let k = 0;
    while (k < t && (list.charCodeAt(start + k) | 0x20) === token.charCodeAt(k)) k++;
    return k === t;
  });
}


/**
 * Checks, in this order (the first failure is the answer):
 * 1. version: major other than 1 → 505; HTTP/1.0 (any 1.x but 1.1) → 400.
 * 2. Host: missing or repeated → 400 (RFC 9112 §3.2), also with an absolute-form target.
 * 3. target: a fragment → 404; neither origin-form nor an http/https/ws/wss absolute URL → 400;
 *    userinfo or empty authority → 400; the path (query ignored) served by no endpoint → 404; the
 *    host (Host header, or the target's authority in absolute form) not one of that path's
 *    endpoints → 404; an absolute URL whose scheme's TLS-ness differs from the endpoint's → 404.
 * 4. method other than GET → 405 with Allow: GET.
 * 5. a body (Content-Length other than 0, or Transfer-Encoding) → 400.
 * 6. Upgrade without the token websocket (or no Upgrade: a plain HTTP request) → 426 with
 *    Upgrade: websocket.
 * 7. Connection without the token upgrade → 400.
 * 8. Sec-WebSocket-Version repeated → 400; missing or not exactly 13 → 426 with
 *    Sec-WebSocket-Version: 13.
 * 9. Sec-WebSocket-Key missing, repeated, or not 16 bytes in strict base64 → 400.
 * 10. Origin repeated → 400; present while the endpoint allows none → 403; present and not one of
 *     the endpoint's allowed origins (case-insensitive) → 403.
 * 11. Sec-WebSocket-Protocol present with an element that is not a token, or with no element at all
 *     (its lines together) → 400.
 * Then the subprotocol is selected (subprotocol.ts).
 */
export function validateUpgrade<E extends EndpointSpec>(req: RequestHead, table: EndpointTable<E>): UpgradeResult<E> {
  // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request". RFC 9110 §15.6.6: 505 for a major
  // version the server does not support.
  if (req.versionMajor !== 1) return HttpRefusal.HTTP_VERSION_NOT_SUPPORTED;
  if (req.versionMinor !== 1) return HttpRefusal.HTTP_1_1_REQUIRED;

  let host: string | undefined;
  let hostCount = 0;
  let upgradeOk = false;
  let connectionOk = false;
  let version: string | undefined;
  let versionCount = 0;
  let key: string | undefined;
  let keyCount = 0;
  let origin: string | undefined;
  let originCount = 0;
  let hasBody = false;
  let protocols: string[] | undefined;
  let protocolsValid = true;
  const headers = req.headers;
  for (let h = 0; h < headers.length; h++) {
    const { name, value } = headers[h];
    switch (name) {
      case 'host': host = value; hostCount++; break;
      case 'upgrade': if (!upgradeOk) upgradeOk = hasToken(value, 'websocket'); break;
      case 'connection': if (!connectionOk) connectionOk = hasToken(value, 'upgrade'); break;
      case 'sec-websocket-key': key = value; keyCount++; break;
      case 'sec-websocket-version': version = value; versionCount++; break;
      case 'origin': origin = value; originCount++; break;
      case 'sec-websocket-protocol': if (!pushProtocols(value, (protocols ??= []))) protocolsValid = false; break;
      case 'content-length': if (value !== '0') hasBody = true; break;
      case 'transfer-encoding': hasBody = true; break;
    }
  }

  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
  // request message that lacks a Host header field and to any request message that contains more
  // than one Host header field line".
  if (hostCount === 0) return HttpRefusal.HOST_MISSING;
  if (hostCount > 1) return HttpRefusal.HOST_DUPLICATE;

  // ---- request target → endpoint (RFC 6455 §4.2.1 items 1-2, RFC 9112 §3.2) ----
  const target = req.target;
  if (target.indexOf('#') >= 0) return HttpRefusal.TARGET_FRAGMENT;
  let path: string;
  let authority: string = host!;
  let schemeSecure: boolean | undefined;
  if (target.charCodeAt(0) === 0x2f) {
    const q = target.indexOf('?');
    path = q < 0 ? target : target.slice(0, q);
  } else {
    // absolute-form: RFC 9112 §3.2.2: "When an origin server receives a request with an
    // absolute-form of request-target, the origin server MUST ignore the received Host header
    // field (if any) and instead use the host information of the request-target."
    const colon = target.indexOf(':');
    if (colon < 2 || colon > 5) return HttpRefusal.TARGET_FORM;
    const scheme = target.slice(0, colon).toLowerCase();
    if (scheme === 'ws' || scheme === 'http') schemeSecure = false;
    else if (scheme === 'wss' || scheme === 'https') schemeSecure = true;
    else return HttpRefusal.TARGET_FORM;
    if (target.charCodeAt(colon + 1) !== 0x2f || target.charCodeAt(colon + 2) !== 0x2f) return HttpRefusal.TARGET_INVALID;
    const authStart = colon + 3;
    let authEnd = authStart;
    for (; authEnd < target.length; authEnd++) {
      const c = target.charCodeAt(authEnd);
      if (c === 0x2f || c === 0x3f) break;
      // RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s) URI as an error.
      if (c === 0x40) return HttpRefusal.TARGET_INVALID;
    }
    if (authEnd === authStart) return HttpRefusal.TARGET_INVALID;
    authority = target.slice(authStart, authEnd);
    const q = target.indexOf('?', authEnd);
    path = authEnd === target.length || authEnd === q ? '/' : target.slice(authEnd, q < 0 ? target.length : q);
  }
  const hosts = table.hostsAt(path);
  if (!hosts) return HttpRefusal.PATH_NOT_FOUND;
  const entry: TableEntry<E> | undefined = hosts.get(authority.toLowerCase());
  if (!entry) return HttpRefusal.HOST_NOT_FOUND;
  if (schemeSecure !== undefined && schemeSecure !== entry.endpoint.secure) return HttpRefusal.SCHEME_MISMATCH;

  // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  if (req.method !== 'GET') return HttpRefusal.METHOD_NOT_ALLOWED;
  // Bytes behind the head are WebSocket frames, so a body would be misread as frames.
  if (hasBody) return HttpRefusal.BODY_NOT_ALLOWED;
  // Item 3: "An |Upgrade| header field containing the value "websocket", treated as an ASCII
  // case-insensitive value." RFC 9110 §15.5.22: a 426 MUST carry Upgrade.
  if (!upgradeOk) return HttpRefusal.UPGRADE_REQUIRED;
  // Item 4: "A |Connection| header field that includes the token "Upgrade", treated as an ASCII
  // case-insensitive value."
  if (!connectionOk) return HttpRefusal.CONNECTION_NOT_UPGRADE;
  // Item 6 and §4.4: "If this version does not match a version understood by the server, the
  // server MUST abort the WebSocket handshake described in this section and instead send an
  // appropriate HTTP error code (such as 426 Upgrade Required) and a |Sec-WebSocket-Version|
  // header field indicating the version(s) the server is capable of understanding."
  if (versionCount > 1) return HttpRefusal.WS_VERSION_DUPLICATE;
  if (version !== '13') return HttpRefusal.WS_VERSION_UNSUPPORTED;
  // Item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is
  // 16 bytes in length."
  if (keyCount === 0) return HttpRefusal.KEY_MISSING;
  if (keyCount > 1) return HttpRefusal.KEY_DUPLICATE;
  if (!isValidKey(key!)) return HttpRefusal.KEY_INVALID;
  // §4.2.2 item 4: "If the server does not wish to accept this connection, it MUST return an
  // appropriate HTTP error code (e.g., 403 Forbidden) and abort the WebSocket handshake".
  // Origins compare case-insensitively: scheme and host are case-insensitive (RFC 6454 §4-§6) and
  // the port is digits.
  if (originCount > 1) return HttpRefusal.ORIGIN_DUPLICATE;
  if (originCount === 1) {
    if (entry.origins === null) return HttpRefusal.ORIGIN_NOT_ACCEPTED;
    if (!entry.origins.has(origin!.toLowerCase())) return HttpRefusal.ORIGIN_NOT_ALLOWED;
  }
  // Item 8 (optional): "a |Sec-WebSocket-Protocol| header field, with a list of values indicating
  // which protocols the client would like to speak, ordered by preference"; §11.3.4 gives its ABNF,
  // `Sec-WebSocket-Protocol-Client = 1#token`, and §4.2.1 says a request that violates "the ABNF
  // grammar specified for the components of the handshake" gets an error such as 400. The field's
  // lines form one list (RFC 9110 §5.3), so `1#` needs one element among all of them.
  if (protocols === undefined) return { ok: true, endpoint: entry.endpoint, key: key! };
  if (!protocolsValid || protocols.length === 0) return HttpRefusal.PROTOCOL_INVALID;
  const at = selectSubprotocol(protocols, entry.endpoint.subprotocols);
  return at < 0
    ? { ok: true, endpoint: entry.endpoint, key: key!, protocols }
    : { ok: true, endpoint: entry.endpoint, key: key!, protocols, subprotocol: entry.endpoint.subprotocols![at], subprotocolIndex: at };
}
