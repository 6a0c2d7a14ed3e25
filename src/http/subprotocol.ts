// Subprotocol negotiation (RFC 6455 §1.9, §4.2.1 item 8, §4.2.2 item 5.4, §11.3.4): the client
// lists the subprotocols it can speak in Sec-WebSocket-Protocol, in order of preference; the
// server answers with at most one of them. Pure functions over strings.
import { isToken, someToken } from './parse.ts';

/**
 * Appends the elements of one Sec-WebSocket-Protocol field value to `out`, in order. The field is
 * `1#token` (RFC 6455 §11.3.4) with RFC 9110 §5.6.1 list syntax: elements separated by OWS "," OWS;
 * empty elements are accepted and skipped (§5.6.1.2: a recipient MUST accept them). Returns false
 * when an element is not a token (it is not appended); the caller refuses the request then.
 */
export function pushProtocols(value: string, out: string[]): boolean {
  let ok = true;
  someToken(value, (start, end) => {
    if (!isToken(value, start, end)) {
      ok = false;
      return true;
    }
    out.push(value.slice(start, end));
    return false;
  });
  return ok;
}

/**
 * The index in `supported` of the subprotocol to answer with: the first of the client's `offered`
 * list (its order of preference) that `supported` contains, compared exactly (the server echoes
 * the client's own string, which the client compares exactly: RFC 6455 §4.1, client step 6).
 * -1 when the client offered none, or none of those the endpoint supports.
 */
export function selectSubprotocol(offered: readonly string[] | undefined, supported: readonly string[] | null | undefined): number {
  if (!offered || !supported || supported.length === 0) return -1;
  for (let i = 0; i < offered.length; i++) {
    const at = supported.indexOf(offered[i]);
    if (at >= 0) return at;
  }
  return -1;
}
