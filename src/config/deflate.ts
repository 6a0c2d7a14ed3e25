// The "permessage_deflate" key (RFC 7692), at the top level and on an endpoint: false (the
// default), true (every default below), or an object of the RFC's four parameters plus the
// daemon's own `threshold` and `max_contexts`. An endpoint's value replaces the top-level one.
import type { Node } from 'jsonc-parser';
import { type Collector, childPath, describe } from './collector.ts';
import { optBool, optNumber, readObject } from './readers.ts';
import type { NumberSpec } from './schema.ts';

/** The resolved settings of an endpoint that offers permessage-deflate. */
export interface DeflateConfig {
  /** Compress every message afresh (no LZ77 window kept between messages); default true. */
  server_no_context_takeover: boolean;
  /** Ask clients to compress every message afresh; default false. */
  client_no_context_takeover: boolean;
  /** Our LZ77 window, 2^N bytes (8-15); default 15. */
  server_max_window_bits: number;
  /** The largest window we let clients use, 2^N bytes (8-15); default 15. */
  client_max_window_bits: number;
  /** Bytes: smaller messages are sent uncompressed; default 1024. */
  threshold: number;
  /** Connections per worker that may keep a compression context of their own; default 1024. */
  max_contexts: number;
}

export const DEFLATE_KEYS = [
  'server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits',
  'client_max_window_bits', 'threshold', 'max_contexts',
] as const;

/** RFC 7692 §7.1.2: window bits are "a decimal integer value ... between 8 to 15, inclusive". */
export const WINDOW_BITS_MIN = 8;
export const WINDOW_BITS_MAX = 15;
export const DEFLATE_NUMBERS = {
  server_max_window_bits: { integer: true, min: WINDOW_BITS_MIN, max: WINDOW_BITS_MAX, default: WINDOW_BITS_MAX },
  client_max_window_bits: { integer: true, min: WINDOW_BITS_MIN, max: WINDOW_BITS_MAX, default: WINDOW_BITS_MAX },
  threshold: { integer: true, min: 0, max: 2 ** 31 - 1, unit: 'bytes', default: 1024 },
  max_contexts: { integer: true, min: 0, max: 1_048_576, default: 1024 },
} as const satisfies Record<string, NumberSpec>;

export const DEFLATE_DEFAULTS: Readonly<DeflateConfig> = Object.freeze({
  server_no_context_takeover: true,
  client_no_context_takeover: false,
  server_max_window_bits: DEFLATE_NUMBERS.server_max_window_bits.default,
  client_max_window_bits: DEFLATE_NUMBERS.client_max_window_bits.default,
  threshold: DEFLATE_NUMBERS.threshold.default,
  max_contexts: DEFLATE_NUMBERS.max_contexts.default,
});

/**
 * Reads a permessage_deflate value at `path`: false, true (the defaults) or an object. Returns
 * the settings, false when off, or null when invalid (the errors are recorded).
 */
export function readDeflate(c: Collector, node: Node, path: string): DeflateConfig | false | null {
  if (node.type === 'boolean') return node.value === true ? { ...DEFLATE_DEFAULTS } : false;
  if (node.type !== 'object') {
    c.error(path, `must be true, false or an object of permessage-deflate settings (${DEFLATE_KEYS.join(', ')}), found ${describe(node)}`, node);
    return null;
  }
  const m = readObject(c, node, path, DEFLATE_KEYS, 'an object of permessage-deflate settings');
  if (!m) return null;
  const out: DeflateConfig = { ...DEFLATE_DEFAULTS };
  let bad = false;
  for (const key of ['server_no_context_takeover', 'client_no_context_takeover'] as const) {
    const v = optBool(c, m, key, path);
    if (v === null) bad = true;
    else if (v !== undefined) out[key] = v;
  }
  for (const key of Object.keys(DEFLATE_NUMBERS) as (keyof typeof DEFLATE_NUMBERS)[]) {
    const v = optNumber(c, m, key, path, DEFLATE_NUMBERS[key]);
    if (v === null) bad = true;
    else if (v !== undefined) out[key] = v;
  }
  return bad ? null : out;
}

/** The top-level value: false when absent, null when invalid. */
export function readGlobalDeflate(c: Collector, props: ReadonlyMap<string, Node>): DeflateConfig | false | null {
  const node = props.get('permessage_deflate');
  return node ? readDeflate(c, node, childPath('$', 'permessage_deflate')) : false;
}
