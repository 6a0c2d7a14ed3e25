// permessage-deflate negotiation (RFC 7692 §5 and §7.1) as pure functions: the client's
// Sec-WebSocket-Extensions header values and the endpoint's settings in, the response header value
// and the agreed parameters out (or null: the extension is not used, the connection goes on
// without it). A header that does not parse is ignored as a whole: the handshake never fails over it.
import type { DeflateConfig } from '../config/deflate.ts';

export const DEFLATE_TOKEN = 'permessage-deflate';

/** One extension of the list: its token and its parameters in order (value null: none given). */
export interface ExtensionOffer {
  readonly name: string;
  readonly params: readonly (readonly [name: string, value: string | null])[];
}

/** What both sides agreed to for one connection. */
export interface DeflateAgreement {
  /** We compress every message with an empty window. */
  readonly serverNoContextTakeover: boolean;
  /** The client compresses every message with an empty window (we inflate without a context). */
  readonly clientNoContextTakeover: boolean;
  /** Our LZ77 window: 2^N bytes. */
  readonly serverMaxWindowBits: number;
  /** The largest window the client may use: 2^N bytes. */
  readonly clientMaxWindowBits: number;
  /** The Sec-WebSocket-Extensions value of the 101. */
  readonly header: string;
}

/** What the worker can offer this connection. */
export interface NegotiateOptions {
  /**
   * The worker may give this connection compression contexts of its own (max_contexts not
   * reached). false: both directions get no context takeover.
   */
  readonly contextAvailable: boolean;
}

/**
 * The Sec-WebSocket-Extensions values of a request, in order (RFC 6455 §4.2.1 item 9 "Optionally,
 * a |Sec-WebSocket-Extensions| header field"; §9.1: it "MAY appear multiple times"), or undefined.
 */
export function offeredExtensions(headers: readonly { readonly name: string; readonly value: string }[]): string[] | undefined {
  let out: string[] | undefined;
  for (let i = 0; i < headers.length; i++) if (headers[i].name === 'sec-websocket-extensions') (out ??= []).push(headers[i].value);
  return out;
}

const WINDOW_BITS_MIN = 8;
const WINDOW_BITS_MAX = 15;

const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
// / "`" / "|" / "~" / DIGIT / ALPHA.
const TCHAR = /* @__PURE__ */ (() => {
  const t = new Uint8Array(128);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

const isTchar = (c: number): boolean => c < 128 && TCHAR[c] === 1;
const isToken = (s: string): boolean => {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
};

/**
 * Parses Sec-WebSocket-Extensions values (several header lines are one comma-separated list,
 * RFC 9110 §5.3) into offers, in order. RFC 6455 §9.1:
 *   extension-list = 1#extension
 *   extension = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" (token | quoted-string) ]
 *   "When using the quoted-string syntax variant, the value after quoted-string unescaping MUST
 *   conform to the 'token' ABNF."
 * Optional whitespace is allowed around ",", ";" and "=", and empty list elements are skipped
 * (RFC 9110 §5.6.1: a recipient "MUST accept empty list elements"). Returns null when the
 * header does not follow the grammar.
 */
export function parseExtensions(values: readonly string[]): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  for (const s of values) {
    const n = s.length;
    let i = 0;
    const ows = () => { while (i < n && (s.charCodeAt(i) === SP || s.charCodeAt(i) === HTAB)) i++; };
    const token = (): string | null => {
      const start = i;
      while (i < n && isTchar(s.charCodeAt(i))) i++;
      return i > start ? s.slice(start, i) : null;
    };
    for (;;) {
      ows();
      if (i >= n) break;
      if (s.charCodeAt(i) === COMMA) { i++; continue; } // an empty element
      const name = token();
      if (name === null) return null;
      const params: [string, string | null][] = [];
      ows();
      while (i < n && s.charCodeAt(i) === SEMICOLON) {
        i++;
        ows();
        const p = token();
        if (p === null) return null;
        ows();
        let value: string | null = null;
        if (i < n && s.charCodeAt(i) === EQUALS) {
          i++;
          ows();
          if (i < n && s.charCodeAt(i) === DQUOTE) {
            // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4)
            i++;
            let v = '';
            for (;;) {
              if (i >= n) return null;
              let c = s.charCodeAt(i++);
              if (c === DQUOTE) break;
              if (c === BACKSLASH) {
                if (i >= n) return null;
                c = s.charCodeAt(i++);
              }
              v += String.fromCharCode(c);
            }
            if (!isToken(v)) return null;
            value = v;
          } else {
            value = token();
            if (value === null) return null;
          }
          ows();
        }
        params.push([p.toLowerCase(), value]);
      }
      out.push({ name: name.toLowerCase(), params });
      if (i >= n) break;
      if (s.charCodeAt(i) !== COMMA) return null;
      i++;
    }
  }
  return out;
}

/** "a decimal integer value without leading zeroes between 8 to 15, inclusive" (RFC 7692 §7.1.2). */
function windowBits(v: string): number | null {
  if (!/^(?:[89]|1[0-5])$/.test(v)) return null;
  return Number(v);
}

/** An offer's parameters once checked; null: the offer must be declined. */
interface OfferParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** null: not offered. */
  serverMaxWindowBits: number | null;
  /** null: not offered; true: offered without a value; a number: offered with it. */
  clientMaxWindowBits: number | true | null;
}

function checkOffer(offer: ExtensionOffer): OfferParams | null {
  const r: OfferParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: null, clientMaxWindowBits: null };
  const seen = new Set<string>();
  for (const [name, value] of offer.params) {
    // RFC 7692 §7.1: "A server MUST decline an extension negotiation offer for this extension if
    // any of the following conditions are met: ... The negotiation offer contains multiple
    // extension parameters with the same name."
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        // RFC 7692 §7.1.1.1: "This extension parameter has no value." §7.1: decline "if ... The
        // negotiation offer contains an extension parameter with an invalid value."
        if (value !== null) return null;
        r.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        // RFC 7692 §7.1.1.2: "This extension parameter has no value."
        if (value !== null) return null;
        r.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // RFC 7692 §7.1.2.1: "This parameter has a decimal integer value without leading zeroes
        // between 8 to 15, inclusive".
        if (value === null) return null;
        const bits = windowBits(value);
        if (bits === null) return null;
        r.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // RFC 7692 §7.1.2.2: "This parameter has no value or a decimal integer value without
        // leading zeroes between 8 to 15 inclusive".
        if (value === null) { r.clientMaxWindowBits = true; break; }
        const bits = windowBits(value);
        if (bits === null) return null;
        r.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 §7.1: decline "if ... The negotiation offer contains an extension parameter
        // not defined for use in an offer."
        return null;
    }
  }
  return r;
}

/**
 * The first permessage-deflate offer of `values` that we can accept, and our answer to it; null
 * when there is none (or the header does not parse). RFC 7692 §5.1: "A server MUST NOT accept a
 * PMCE extension negotiation offer together with another extension if the PMCE will conflict with
 * the extension on their use of the RSV1 bit" - we accept no other extension, so there is no
 * conflict. §5.1: "The order of elements is important as it specifies the client's preference.
 * An element preceding another element has higher preference. It is recommended that a server
 * accepts PMCEs with higher preference if the server supports them." So offers are tried in order
 * and a declined one (§7.1) passes to the next.
 */
export function negotiateDeflate(values: readonly string[], config: DeflateConfig, opts: NegotiateOptions): DeflateAgreement | null {
  if (values.length === 0) return null;
  const offers = parseExtensions(values);
  if (offers === null) return null;
  for (const offer of offers) {
    if (offer.name !== DEFLATE_TOKEN) continue;
    const p = checkOffer(offer);
    if (p === null) continue;
    const answer = answerOffer(p, config, opts);
    if (answer !== null) return answer;
  }
  return null;
}

function answerOffer(p: OfferParams, config: DeflateConfig, opts: NegotiateOptions): DeflateAgreement | null {
  const params: string[] = [DEFLATE_TOKEN];

  // RFC 7692 §7.1.1.1: "A server accepting an extension negotiation offer including the
  // "server_no_context_takeover" extension parameter MUST include the "server_no_context_takeover"
  // extension parameter in the extension negotiation response to send back to the client." and
  // "A server MAY include the "server_no_context_takeover" extension parameter in an extension
  // negotiation response even if the extension negotiation offer received from the client does
  // not include the "server_no_context_takeover" extension parameter."
  const serverNoContext = p.serverNoContextTakeover || config.server_no_context_takeover || !opts.contextAvailable;
  if (serverNoContext) params.push('server_no_context_takeover');

  // RFC 7692 §7.1.1.2: "A server MAY include the "client_no_context_takeover" extension parameter
  // in an extension negotiation response." and, when the offer has it, the server may "use the
  // parameter to avoid taking over the LZ77 sliding window unnecessarily by including the
  // "client_no_context_takeover" extension parameter in the corresponding extension negotiation
  // response to the client". Included when the client offered it too, so that such a connection
  // shares the worker's inflater instead of holding a context it would never use.
  const clientNoContext = p.clientNoContextTakeover || config.client_no_context_takeover || !opts.contextAvailable;
  if (clientNoContext) params.push('client_no_context_takeover');

  // RFC 7692 §7.1.2.1: "A server accepts an extension negotiation offer with this parameter by
  // including the "server_max_window_bits" extension parameter in the extension negotiation
  // response to send back to the client with the same or smaller value as the offer." and "A
  // server declines an extension negotiation offer with this parameter if the server doesn't
  // support it." Every value 8-15 is supported (deflate.ts: 8 runs as zlib's 9, whose matches
  // reach at most 250 bytes back).
  let serverBits = config.server_max_window_bits;
  if (p.serverMaxWindowBits !== null) {
    serverBits = Math.min(serverBits, p.serverMaxWindowBits);
    params.push(`server_max_window_bits=${serverBits}`);
  } else if (serverBits < WINDOW_BITS_MAX) {
    // RFC 7692 §7.1.2.1: "A server MAY include the "server_max_window_bits" extension parameter in
    // an extension negotiation response even if the extension negotiation offer received from the
    // client does not include the parameter."
    params.push(`server_max_window_bits=${serverBits}`);
  }

  // RFC 7692 §7.1.2.2: "If a received extension negotiation offer doesn't have the
  // "client_max_window_bits" extension parameter, the corresponding extension negotiation
  // response to the offer MUST NOT include the "client_max_window_bits" extension parameter."
  // and, when it has one with a value, the server may include it "with a value equal to or
  // smaller than the received value".
  let clientBits = WINDOW_BITS_MAX;
  if (p.clientMaxWindowBits !== null) {
    const offered = p.clientMaxWindowBits === true ? WINDOW_BITS_MAX : p.clientMaxWindowBits;
    clientBits = Math.min(offered, config.client_max_window_bits);
    if (clientBits < WINDOW_BITS_MAX) params.push(`client_max_window_bits=${clientBits}`);
  }
  clientBits = Math.max(clientBits, WINDOW_BITS_MIN);

  return {
    serverNoContextTakeover: serverNoContext,
    clientNoContextTakeover: clientNoContext,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: clientBits,
    header: params.join('; '),
  };
}
