// permessage-deflate negotiation from the client's side (RFC 7692 §5, §7.1): the offers the cases
// make, written as Autobahn writes them, and the check of the server's response. The check is
// stricter than Autobahn's own client (which accepts any well-formed response): the response must
// be one RFC 7692 lets a server give to one of the offers.

export const EXTENSION = 'permessage-deflate';
/** RFC 7692 §7.1.2: window bits are 8 to 15. */
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;
/** zlib's (and the RFC's) default LZ77 window when no window bits are negotiated. */
export const DEFAULT_WINDOW_BITS = 15;

/** One permessage-deflate offer, in Autobahn's terms (PerMessageDeflateOffer). */
export interface Offer {
  /** Offer client_no_context_takeover (Autobahn: acceptNoContextTakeover, default true). */
  acceptNoContextTakeover: boolean;
  /** Offer client_max_window_bits without a value (Autobahn: acceptMaxWindowBits, default true). */
  acceptMaxWindowBits: boolean;
  /** Offer server_no_context_takeover (Autobahn: requestNoContextTakeover). */
  requestNoContextTakeover: boolean;
  /** Offer server_max_window_bits=N; 0 for none (Autobahn: requestMaxWindowBits). */
  requestMaxWindowBits: number;
}

/** Autobahn's default offer, PerMessageDeflateOffer(). */
export const DEFAULT_OFFER: Offer = { acceptNoContextTakeover: true, acceptMaxWindowBits: true, requestNoContextTakeover: false, requestMaxWindowBits: 0 };

export function offer(request: { noContextTakeover?: boolean; maxWindowBits?: number } = {}): Offer {
  return { ...DEFAULT_OFFER, requestNoContextTakeover: request.noContextTakeover ?? false, requestMaxWindowBits: request.maxWindowBits ?? 0 };
}

/** One offer as an extension element, parameters in Autobahn's order. */
export function offerString(o: Offer): string {
  let s = EXTENSION;
  if (o.acceptNoContextTakeover) s += '; client_no_context_takeover';
  if (o.acceptMaxWindowBits) s += '; client_max_window_bits';
  if (o.requestNoContextTakeover) s += '; server_no_context_takeover';
  if (o.requestMaxWindowBits !== 0) s += `; server_max_window_bits=${o.requestMaxWindowBits}`;
  return s;
}

/** The Sec-WebSocket-Extensions value of a list of offers, most preferred first (RFC 7692 §5.1). */
export function offersHeader(offers: readonly Offer[]): string {
  return offers.map(offerString).join(', ');
}

/** What both ends use once a response is accepted. */
export interface Negotiated {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  /** Which offer the response answers (index into the offers). */
  offerIndex: number;
}

export interface ExtensionElement {
  name: string;
  params: { name: string; value: string | true }[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1: a comma separated list of extension
 * tokens, each with `;` parameters, a parameter's value a token or a quoted string). Throws on a
 * malformed value.
 */
export function parseExtensions(value: string): ExtensionElement[] {
  const out: ExtensionElement[] = [];
  let i = 0;
  const ws = () => { while (value[i] === ' ' || value[i] === '\t') i++; };
  const token = (what: string): string => {
    const m = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(value.slice(i));
    if (!m) throw new Error(`expected ${what} at offset ${i} of ${JSON.stringify(value)}`);
    i += m[0].length;
    return m[0];
  };
  for (;;) {
    ws();
    const el: ExtensionElement = { name: token('an extension name'), params: [] };
    ws();
    while (value[i] === ';') {
      i++;
      ws();
      const name = token('a parameter name');
      ws();
      let v: string | true = true;
      if (value[i] === '=') {
        i++;
        ws();
        if (value[i] === '"') {
          i++;
          let s = '';
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\') i++;
            s += value[i++] ?? '';
          }
          if (value[i] !== '"') throw new Error(`unterminated quoted string in ${JSON.stringify(value)}`);
          i++;
          // RFC 6455 §9.1: a quoted value must be a token once unquoted.
          if (!TOKEN.test(s)) throw new Error(`quoted parameter value ${JSON.stringify(s)} is not a token`);
          v = s;
        } else {
          v = token(`a value for ${name}`);
        }
        ws();
      }
      el.params.push({ name, value: v });
    }
    out.push(el);
    if (i >= value.length) return out;
    if (value[i] !== ',') throw new Error(`unexpected ${JSON.stringify(value[i])} at offset ${i} of ${JSON.stringify(value)}`);
    i++;
  }
}

/** RFC 7692 §7.1.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive". */
function windowBits(v: string | true): number | null {
  if (v === true || !/^[1-9][0-9]*$/.test(v)) return null;
  const n = Number(v);
  return n >= MIN_WINDOW_BITS && n <= MAX_WINDOW_BITS ? n : null;
}

export type ResponseCheck =
  | { kind: 'declined' }
  | { kind: 'accepted'; negotiated: Negotiated; raw: string }
  | { kind: 'invalid'; problem: string; raw: string };

/**
 * Judges the server's Sec-WebSocket-Extensions response (undefined: no header) against the offers
 * the client made, by RFC 7692:
 * - §5.1 / RFC 6455 §9.1: only an offered extension, once; its parameters known, each at most once.
 * - §7.1.1.1: an offer with server_no_context_takeover is accepted only with it in the response.
 * - §7.1.1.2: client_no_context_takeover may always be in a response.
 * - §7.1.2.1: server_max_window_bits in a response has a value of 8 to 15, not above the offered one.
 * - §7.1.2.2: client_max_window_bits may be in a response only if offered, with a value of 8 to 15
 *   (not above an offered value).
 * - §7.1.1.1, §7.1.1.2: the no_context_takeover parameters have no value.
 */
export function checkResponse(header: string | undefined, offers: readonly Offer[]): ResponseCheck {
  if (header === undefined || header.trim() === '') return { kind: 'declined' };
  const raw = header;
  const bad = (problem: string): ResponseCheck => ({ kind: 'invalid', problem, raw });
  let els: ExtensionElement[];
  try {
    els = parseExtensions(header);
  } catch (e) {
    return bad(`malformed Sec-WebSocket-Extensions: ${(e as Error).message}`);
  }
  const others = els.filter((e) => e.name.toLowerCase() !== EXTENSION);
  if (others.length) return bad(`the server accepted an extension the client did not offer: ${others.map((e) => e.name).join(', ')}`);
  if (els.length !== 1) return bad(`the server answered with permessage-deflate ${els.length} times (RFC 7692 §5.1: one response element)`);
  const seen = new Map<string, string | true>();
  for (const p of els[0].params) {
    const name = p.name.toLowerCase();
    if (seen.has(name)) return bad(`parameter ${name} appears twice (RFC 7692 §7: at most once)`);
    seen.set(name, p.value);
  }
  let sNoCtx = false, cNoCtx = false;
  let sBits: number | null = null, cBits: number | null = null;
  for (const [name, v] of seen) {
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (v !== true) return bad(`${name} has a value (${v}); it has none (RFC 7692 §7.1.1)`);
        if (name === 'server_no_context_takeover') sNoCtx = true; else cNoCtx = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits': {
        const n = windowBits(v);
        if (n === null) return bad(`${name}=${v === true ? '(no value)' : v} in a response must be an integer 8 to 15 without leading zeros (RFC 7692 §7.1.2)`);
        if (name === 'server_max_window_bits') sBits = n; else cBits = n;
        break;
      }
      default:
        return bad(`unknown parameter ${name} (RFC 7692 §7 defines four: server_/client_no_context_takeover, server_/client_max_window_bits)`);
    }
  }
  const reasons: string[] = [];
  for (let k = 0; k < offers.length; k++) {
    const o = offers[k];
    const why: string[] = [];
    if (o.requestNoContextTakeover && !sNoCtx) why.push('server_no_context_takeover was offered but is not in the response (§7.1.1.1)');
    if (o.requestMaxWindowBits !== 0) {
      if (sBits === null) why.push(`server_max_window_bits=${o.requestMaxWindowBits} was offered but is not in the response (§7.1.2.1)`);
      else if (sBits > o.requestMaxWindowBits) why.push(`server_max_window_bits=${sBits} is above the offered ${o.requestMaxWindowBits} (§7.1.2.1)`);
    }
    if (cBits !== null && !o.acceptMaxWindowBits) why.push('client_max_window_bits is in the response but was not offered (§7.1.2.2)');
    if (why.length === 0) {
      return {
        kind: 'accepted', raw,
        negotiated: {
          serverNoContextTakeover: sNoCtx, clientNoContextTakeover: cNoCtx,
          serverMaxWindowBits: sBits ?? DEFAULT_WINDOW_BITS, clientMaxWindowBits: cBits ?? DEFAULT_WINDOW_BITS, offerIndex: k,
        },
      };
    }
    reasons.push(`offer ${k + 1} (${offerString(o)}): ${why.join('; ')}`);
  }
  return bad(`the response fits none of the offers: ${reasons.join(' | ')}`);
}
