// Counters and the messages between the bench's main thread and its workers.
import type { HistogramJSON } from './histogram.ts';

/** Cumulative per-thread counters (never reset: the main thread subtracts snapshots). */
export interface Counters {
  opened: number;
  closed: number;
  connectFailed: number;
  /** Messages sent (echo, broadcast). */
  sent: number;
  /** Verified messages received: echoes (echo), deliveries (broadcast). */
  received: number;
  /** Payload bytes. */
  bytesIn: number;
  bytesOut: number;
  /** Completed handshakes (connect). */
  handshakes: number;
  /** Payloads that failed verification (size, pattern, sequence, sender, data kind). */
  mismatches: number;
  protocolErrors: number;
  /** Connections the server ended (Close or TCP) before we asked. */
  unexpectedCloses: number;
  /** Our Close was not answered by a Close before the stream ended (or in time). */
  uncleanCloses: number;
  /** Messages still missing when the drain deadline passed. */
  lost: number;
  /** Connect mode: idle connections opened in the idle phase. */
  idleOpened: number;
  /** Fixed rate: sends skipped because the rate could not be kept up. Not an error. */
  skipped: number;
}

export function emptyCounters(): Counters {
  return {
    opened: 0, closed: 0, connectFailed: 0, sent: 0, received: 0, bytesIn: 0, bytesOut: 0,
    handshakes: 0, mismatches: 0, protocolErrors: 0, unexpectedCloses: 0, uncleanCloses: 0, lost: 0, skipped: 0, idleOpened: 0,
  };
}

/**
 * The part of the counters kept per URL as well (BenchOptions.targets): the connections to that
 * URL and their traffic. Errors are counted for the run only (their samples name the connection).
 */
export interface TargetCounters {
  opened: number;
  connectFailed: number;
  sent: number;
  received: number;
  bytesIn: number;
  handshakes: number;
}

export function emptyTargetCounters(): TargetCounters {
  return { opened: 0, connectFailed: 0, sent: 0, received: 0, bytesIn: 0, handshakes: 0 };
}

/** a + b, field by field (Counters or TargetCounters). */
export function addCounters<C extends Counters | TargetCounters>(a: C, b: C): C {
  const r = { ...a };
  for (const k of Object.keys(r) as (keyof C & string)[]) (r[k] as number) += b[k] as number;
  return r;
}

/** a - b, field by field (Counters or TargetCounters). */
export function subCounters<C extends Counters | TargetCounters>(a: C, b: C): C {
  const r = { ...a };
  for (const k of Object.keys(r) as (keyof C & string)[]) (r[k] as number) -= b[k] as number;
  return r;
}

/** The counters that make the exit status non-zero. */
export const ERROR_KEYS = ['mismatches', 'protocolErrors', 'unexpectedCloses', 'uncleanCloses', 'connectFailed', 'lost'] as const;

export function errorTotal(c: Counters): number {
  let n = 0;
  for (const k of ERROR_KEYS) n += c[k];
  return n;
}

export const MAX_ERROR_SAMPLES = 20;

export type ToWorker =
  | { type: 'go' }
  | { type: 'mark' }
  | { type: 'stop' }
  | { type: 'drain'; deadlineMs: number }
  | { type: 'idle' }
  | { type: 'idleClose' };

export type ToMain =
  | {
    type: 'ready' | 'tick' | 'marked' | 'stopped' | 'idleOpen' | 'idleClosed';
    thread: number;
    counters: Counters;
    /** The same snapshot per URL (BenchOptions.targets). */
    targets: TargetCounters[];
    /** Broadcast, marked/stopped: messages every client had, over all senders, read with the snapshot. */
    completed?: number;
  }
  | {
    type: 'done'; thread: number; counters: Counters; targets: TargetCounters[];
    /** Latencies of the measured window, one histogram per URL (by the receiving connection's URL). */
    histograms: HistogramJSON[];
    errors: string[];
  };
