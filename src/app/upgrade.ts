// The upgrade hook's side of the runtime: the request object it gets, built from the parsed request
// head, and what its return value means. src/app/runtime.ts calls the hook and keeps its pending
// clients; README.md, "The upgrade hook", is the user's description.
import type { HeaderField } from '../http/parse.ts';
import type { ClientAddr, UpgradeRequest } from './types.ts';

/** The reply that opens the client (records.ts UPGRADE_ACCEPT). */
export const UPGRADE_ACCEPTED = 0;
/** The status a hook that threw, rejected or returned nonsense gets answered with. */
export const UPGRADE_FAILED_STATUS = 500;
/** The statuses a hook may refuse with. */
export const UPGRADE_STATUS_MIN = 400;
export const UPGRADE_STATUS_MAX = 599;

/** The request head's parts the hook needs (src/http/parse.ts RequestHead has them). */
export interface UpgradeHead {
  readonly target: string;
  readonly headers: readonly HeaderField[];
}

/**
 * The path and the query string of a request target: origin-form ("/p?q") or absolute-form
 * ("ws://host/p?q"; the handshake accepted only those two).
 */
export function splitTarget(target: string): { path: string; search: string } {
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f) {
    const scheme = target.indexOf('://');
    start = scheme < 0 ? target.length : scheme + 3;
    while (start < target.length && target.charCodeAt(start) !== 0x2f && target.charCodeAt(start) !== 0x3f) start++;
  }
  const q = target.indexOf('?', start);
  const path = q < 0 ? target.slice(start) : target.slice(start, q);
  return { path: path === '' ? '/' : path, search: q < 0 ? '' : target.slice(q + 1) };
}

/**
 * The headers by lower-case name, in a prototype-less object (a header named "__proto__" is just a
 * header). RFC 9110 §5.3: a field sent on several lines is one list joined with ", "; Cookie lines
 * are joined with "; " (RFC 6265 §5.4, the one separator a cookie-string knows).
 */
export function headerObject(fields: readonly HeaderField[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const { name, value } of fields) {
    const had = out[name];
    out[name] = had === undefined ? value : had + (name === 'cookie' ? '; ' : ', ') + value;
  }
  return Object.freeze(out);
}

/** The hook's request object; `setClientData` is bound to the pending client by the caller. */
export function upgradeRequest(
  head: UpgradeHead, endpointId: number, addr: ClientAddr, subprotocol: string | null, setClientData: (value: unknown) => void,
): UpgradeRequest {
  const { path, search } = splitTarget(head.target);
  return Object.freeze({
    path,
    query: new URLSearchParams(search),
    headers: headerObject(head.headers),
    address: addr.address,
    port: addr.port,
    family: addr.family,
    endpointId,
    subprotocol,
    setClientData,
  });
}

/**
 * The reply for what a hook returned (or its promise resolved to): UPGRADE_ACCEPTED for nothing
 * or 0, the status for an integer 400-599, and null for anything else (the caller answers 500).
 */
export function upgradeStatus(ret: unknown): number | null {
  if (ret === undefined || ret === UPGRADE_ACCEPTED) return UPGRADE_ACCEPTED;
  if (typeof ret === 'number' && Number.isInteger(ret) && ret >= UPGRADE_STATUS_MIN && ret <= UPGRADE_STATUS_MAX) return ret;
  return null;
}
