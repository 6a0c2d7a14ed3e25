// The metrics region of the shared memory (issue 12, part 4): one block per thread (main, every
// worker, every app thread), laid out by src/daemon/layout.ts. A block is an array of f64 slots,
// and every slot of a block has exactly one writer: the thread that owns the block. It writes with
// plain stores (`f[i] += n`: the cache line stays with its owner; no lock, no atomic read-modify-
// write, since nobody else writes it). The main thread reads every block when /metrics is scraped
// (collect.ts) and sums them.
//
// f64 rather than u32: a byte counter passes 2^32 in seconds, and an f64 counts exactly up to 2^53
// (about 9 PB). An aligned 8-byte store is one instruction on x86-64 and arm64, so a scrape reads a
// slot either before or after a store; the ECMAScript memory model does not promise that for
// non-atomic accesses, so at worst one scrape could read one torn value (the next one is right).

/** The largest close code with its own series; every other code is counted as code="other". */
export const CLOSE_CODE_MIN = 1000;
export const CLOSE_CODE_MAX = 1015;
/** Slot of code="other" in the closes array. */
export const CLOSE_OTHER = CLOSE_CODE_MAX - CLOSE_CODE_MIN + 1;
/** HTTP statuses of refused upgrades with their own series (400-599); anything else is status="other". */
export const STATUS_MIN = 400;
export const STATUS_MAX = 599;
export const STATUS_OTHER = STATUS_MAX - STATUS_MIN + 1;

/** Fixed slots, the same in every block (indexes into the block's Float64Array). */
export const Slot = {
  /** Event-loop delay of the owner thread over the last period (monitor.ts), seconds. */
  ELD_P99: 0,
  ELD_MAX: 1,
  /** Whether the thread has written its event-loop delay at least once (1) or not (0). */
  ELD_SET: 2,
  /** Bytes read from / written to sockets (workers). */
  BYTES_IN: 3,
  BYTES_OUT: 4,
  /** Clients closed over max_client_outbound_size / dropped over max_worker_outbound_size (workers). */
  SLOW_CLIENT: 5,
  SLOW_WORKER: 6,
  /**
   * The cluster link of an app thread (src/cluster/link.ts), in that thread's block: whether it is
   * up (a gauge, 0 or 1), publications (batches) sent to and received from Redis and their bytes,
   * publications dropped (Redis unreachable, or max_pending_size reached) and their bytes, and
   * batches from Redis refused (malformed).
   */
  CLUSTER_UP: 8,
  CLUSTER_PUBLISHED: 9,
  CLUSTER_PUBLISHED_BYTES: 10,
  CLUSTER_RECEIVED: 11,
  CLUSTER_RECEIVED_BYTES: 12,
  CLUSTER_DROPPED: 13,
  CLUSTER_DROPPED_BYTES: 14,
  CLUSTER_REFUSED: 15,
  /** Where the per-app arrays start (BlockLayout). */
  FIXED: 16,
} as const;

/**
 * Slot indexes of the arrays whose length depends on the number of apps A. Every block has all of
 * them (a block is small: about 2 KiB plus 40 bytes per app), though each thread kind writes only
 * its own: workers the connection and message counts, closes and refusals; main the app restarts.
 */
export interface BlockLayout {
  apps: number;
  /** opened[a]: WebSocket connections of app a opened (101 sent). */
  opened: number;
  /** closed[a]: those whose socket has closed since (connections = opened - closed). */
  closed: number;
  /** READ records (messages) from clients of app a. */
  msgIn: number;
  /** Deliveries of app a's data frames to clients (a broadcast to n clients counts n). */
  msgOut: number;
  /** Restarts of app a's thread (main). */
  restarts: number;
  /** closes[CLOSE_OTHER + 1]: closed WebSocket connections by close code. */
  closes: number;
  /** refused[STATUS_OTHER + 1]: refused upgrade requests by HTTP status. */
  refused: number;
  /** f64 slots of a block. */
  slots: number;
  /** Bytes of a block, a multiple of 64 (blocks never share a cache line). */
  bytes: number;
}

export function blockLayout(apps: number): BlockLayout {
  let at: number = Slot.FIXED;
  const take = (n: number) => { const s = at; at += n; return s; };
  const A = Math.max(1, apps);
  const l = {
    apps,
    opened: take(A),
    closed: take(A),
    msgIn: take(A),
    msgOut: take(A),
    restarts: take(A),
    closes: take(CLOSE_OTHER + 1),
    refused: take(STATUS_OTHER + 1),
  };
  const slots = at;
  return { ...l, slots, bytes: Math.ceil((slots * 8) / 64) * 64 };
}

/** The slot offset (from `closes`) of a close code. */
export function closeCodeSlot(code: number): number {
  return code >= CLOSE_CODE_MIN && code <= CLOSE_CODE_MAX ? code - CLOSE_CODE_MIN : CLOSE_OTHER;
}

/** The slot offset (from `refused`) of an HTTP status. */
export function statusSlot(status: number): number {
  return status >= STATUS_MIN && status <= STATUS_MAX ? status - STATUS_MIN : STATUS_OTHER;
}

/** Where each thread's block is: main's, workers[w]'s, apps[a]'s (addresses in the shared memory). */
export interface MetricsRegion {
  layout: BlockLayout;
  main: number;
  workers: number[];
  apps: number[];
}
