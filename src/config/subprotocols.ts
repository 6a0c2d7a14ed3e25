// An endpoint's "subprotocols": the WebSocket subprotocols it speaks (RFC 6455 §1.9, §11.3.4). The
// handshake answers with the first one the client offers that is listed here (src/http/subprotocol.ts).
import type { Node } from 'jsonc-parser';
import { isToken } from '../http/parse.ts';
import { type Collector, childPath, describe } from './collector.ts';
import { readArray } from './readers.ts';

/**
 * Most subprotocols per endpoint: the OPEN record carries the selected one as its index + 1 in one
 * byte, 0 meaning none (src/daemon/records.ts).
 */
export const MAX_SUBPROTOCOLS = 255;

/**
 * The endpoint's `subprotocols` value (`node`, at `path`): 1 to MAX_SUBPROTOCOLS distinct tokens
 * (RFC 9110 §5.6.2, as RFC 6455 §11.3.4 requires of Sec-WebSocket-Protocol values), compared
 * exactly. null when invalid (the errors are recorded).
 */
export function readSubprotocols(c: Collector, node: Node, path: string): string[] | null {
  const what = 'a list of subprotocol names (tokens such as "chat.v2")';
  const items = readArray(c, node, path, what, 1, MAX_SUBPROTOCOLS);
  if (!items) return null;
  const names: string[] = [];
  let bad = false;
  items.forEach((item, i) => {
    const p = childPath(path, i);
    if (item.type !== 'string') {
      c.error(p, `must be a subprotocol name string, found ${describe(item)}`, item);
      bad = true;
    } else if (!isToken(item.value)) {
      c.error(p, 'must be a token (RFC 9110 §5.6.2: letters, digits and !#$%&\'*+-.^_`|~, no spaces, commas or slashes), ' +
        `found ${describe(item)}`, item);
      bad = true;
    } else if (names.includes(item.value)) {
      c.error(p, `the subprotocol ${JSON.stringify(item.value)} is listed twice`, item);
      bad = true;
    } else names.push(item.value);
  });
  return bad ? null : names;
}
