// The top-level scalar keys: log_level, the numeric keys with fixed ranges, the keys whose default
// or minimum derives from max_ws_msg_size, and the rule between the two timers.
import { MAX_SLACK } from '../core/assembler.ts';
import { LOG_LEVELS, isLogLevel, type LogLevel } from '../log.ts';
import { describe, type Collector } from './collector.ts';
import { optNumber, type Props } from './readers.ts';
import {
  FRAME_CHAIN, GLOBAL_NUMBERS, MAX_CLIENT_OUTBOUND, MAX_WORKER_INBOUND, MAX_FRAME_HEADER_SIZE, NO_EFFECT, RING, RING_RECORD_OVERHEAD,
  type NumberSpec,
} from './schema.ts';
import { closest } from './suggest.ts';

export type GlobalNumberKey = keyof typeof GLOBAL_NUMBERS;
/** Each key's value (its default when absent), or null when it was invalid. */
export type GlobalNumbers = Record<GlobalNumberKey, number | null>;

/** The log level ("notice" when absent), or null when it was invalid. */
export function readLogLevel(c: Collector, g: Props): LogLevel | null {
  let logLevel: LogLevel | null = 'notice';
  const ll = g.get('log_level');
  if (ll) {
    if (isLogLevel(ll.value) && ll.type === 'string') logLevel = ll.value;
    else {
      const guess = ll.type === 'string' ? closest(ll.value, LOG_LEVELS) : undefined;
      c.error('$.log_level', `must be one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}` +
        (guess ? ` (did you mean "${guess}"?)` : '') + `, found ${describe(ll)}`, ll);
      logLevel = null;
    }
  }
  return logLevel;
}

/** The numeric keys of GLOBAL_NUMBERS; a key that has no effect here is warned about. */
export function readGlobalNumbers(c: Collector, g: Props): GlobalNumbers {
  const num = {} as GlobalNumbers;
  for (const key of Object.keys(GLOBAL_NUMBERS) as GlobalNumberKey[]) {
    const spec = GLOBAL_NUMBERS[key];
    const v = optNumber(c, g, key, '$', spec);
    num[key] = v === undefined ? spec.default : v;
    if (v !== undefined && v !== null && key in NO_EFFECT) {
      c.warn(`$.${key}`, `has no effect: ${NO_EFFECT[key]}`, g.get(key));
    }
  }
  return num;
}

/** The keys whose default or minimum derives from max_ws_msg_size; null when unknown or invalid. */
export interface MessageSizes {
  frameChain: number | null;
  outboundLimit: number | null;
  inboundBudget: number | null;
  inboundRing: number | null;
  outboundRing: number | null;
}

export function readMessageSizes(c: Collector, g: Props, maxMsg: number | null): MessageSizes {
  if (maxMsg === null) {
    // Still check types and absolute bounds so that their errors show up in the same run.
    for (const key of ['max_ws_frame_chain_size', 'max_client_outbound_size', 'max_worker_inbound_size', 'inbound_ring_buf_size', 'outbound_ring_buf_size']) {
      const max = key === 'max_ws_frame_chain_size' ? FRAME_CHAIN.max : key === 'max_client_outbound_size' ? MAX_CLIENT_OUTBOUND.max
        : key === 'max_worker_inbound_size' ? MAX_WORKER_INBOUND.max : RING.max;
      optNumber(c, g, key, '$', { integer: true, min: 0, max, unit: 'bytes' });
    }
    return { frameChain: null, outboundLimit: null, inboundBudget: null, inboundRing: null, outboundRing: null };
  }
  const fcSpec: NumberSpec = { integer: true, min: maxMsg, max: FRAME_CHAIN.max, unit: 'bytes' };
  const fc = optNumber(c, g, 'max_ws_frame_chain_size', '$', fcSpec, ' (max_ws_msg_size)');
  const frameChain = fc === undefined ? Math.min(Math.floor(FRAME_CHAIN.factor * maxMsg), FRAME_CHAIN.max) : fc;

  const olMin = maxMsg + MAX_FRAME_HEADER_SIZE;
  const ol = optNumber(c, g, 'max_client_outbound_size', '$',
    { integer: true, min: olMin, max: MAX_CLIENT_OUTBOUND.max, unit: 'bytes' }, ` (max_ws_msg_size + ${MAX_FRAME_HEADER_SIZE})`);
  const outboundLimit = ol === undefined ? Math.max(MAX_CLIENT_OUTBOUND.default, olMin) : ol;

  // A largest message gathered in pieces takes its payload plus less than MAX_SLACK.
  const ib = optNumber(c, g, 'max_worker_inbound_size', '$',
    { integer: true, min: maxMsg + MAX_SLACK, max: MAX_WORKER_INBOUND.max, unit: 'bytes' }, ' (max_ws_msg_size + 4096)');
  const inboundBudget = ib === undefined ? Math.min(Math.max(MAX_WORKER_INBOUND.default, 2 * maxMsg), MAX_WORKER_INBOUND.max) : ib;

  const ringMin = 2 * (maxMsg + RING_RECORD_OVERHEAD);
  const ringDefault = Math.min(2 * maxMsg + RING.extra, RING.max);
  const ringSpec: NumberSpec = { integer: true, min: ringMin, max: RING.max, unit: 'bytes' };
  const ringNote = ` (2 × (max_ws_msg_size + ${RING_RECORD_OVERHEAD}))`;
  const ir = optNumber(c, g, 'inbound_ring_buf_size', '$', ringSpec, ringNote);
  const or = optNumber(c, g, 'outbound_ring_buf_size', '$', ringSpec, ringNote);
  return {
    frameChain,
    outboundLimit,
    inboundBudget,
    inboundRing: ir === undefined ? ringDefault : ir,
    outboundRing: or === undefined ? ringDefault : or,
  };
}

/**
 * Timers: "seconds without any inbound byte" must be longer than the ping interval, otherwise the
 * connection is closed before the ping could be answered.
 */
export function checkTimers(c: Collector, g: Props, num: GlobalNumbers): void {
  const idle = num.idle_timeout, ping = num.ping_interval;
  if (idle !== null && ping !== null && idle > 0 && ping > 0 && ping >= idle) {
    c.error('$.ping_interval', `must be less than idle_timeout (${idle}) when both are on, so that a ping can be answered ` +
      `before the idle timeout closes the connection (or set one of them to 0), found ${ping}`, g.get('ping_interval') ?? g.get('idle_timeout'));
  }
}
