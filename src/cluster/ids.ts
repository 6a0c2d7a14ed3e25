// Client ids across a cluster (issue 13). An id is a safe integer (stored as an f64 in ring records):
//
//   id = (node * SERIAL_SPACE + serial) * WORKER_SPACE + worker + 1
//
// `worker` is the worker thread's index (0-254), `serial` the worker's count of clients (from 1)
// and `node` the daemon's node number: 0 alone, 1-4095 in a cluster. The node sits above everything
// else, so a daemon without "cluster" hands out the ids it always did (serial * 256 + worker + 1;
// its serials never wrap and may run past SERIAL_SPACE, so node bits mean nothing there), and the
// low byte names the worker as before.
//
// In a cluster a serial stays below SERIAL_SPACE and wraps (the worker skips ids still in use).
// A node's number is a hash of its configured node_id: every daemon works out every other's from
// the name alone, with no coordination at start. Two daemons on one number (a repeated node_id, or
// two that hash alike) are found when they meet in Redis (src/cluster/link.ts claims the number)
// and the later one refuses to link. The serials start from a point in time (serialBase), so a
// node that restarts does not hand out the ids of its previous run again unless that run averaged
// more than SERIALS_PER_SECOND new clients a second per worker.

/** Ids per serial: the low byte is the worker. */
export const WORKER_SPACE = 256;
/** Serials per worker and cluster node (2^33, about 8.6 billion); they wrap below it. */
export const SERIAL_SPACE = 2 ** 33;
/** Node numbers: 0 is a daemon alone, 1..NODE_SPACE-1 a cluster member. */
export const NODE_SPACE = 4096;
/** The largest serial. */
export const MAX_SERIAL = SERIAL_SPACE - 1;
/** How fast the cluster serial base moves: serials a worker may use per second of uptime. */
export const SERIALS_PER_SECOND = 64;
/** Serials a run has above its base before they wrap (the base itself wraps below the rest). */
const RUN_SERIALS = 2 ** 32;
/** 2026-01-01T00:00:00Z: where the cluster serial base starts. */
const SERIAL_EPOCH_MS = Date.UTC(2026, 0, 1);

/** The node number of a node_id: FNV-1a (32 bits) folded into 1..4095. */
export function nodeNumberOf(nodeId: string): number {
  let h = 0x811c9dc5;
  const bytes = new TextEncoder().encode(nodeId);
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % (NODE_SPACE - 1)) + 1;
}

/**
 * The serial a worker's first client gets, less one: 0 for a daemon alone; in a cluster a point
 * that moves SERIALS_PER_SECOND a second and wraps after about 2.1 years, leaving RUN_SERIALS
 * serials above it.
 */
export function serialBase(node: number, nowMs: number): number {
  if (node === 0) return 0;
  const seconds = Math.max(0, Math.floor((nowMs - SERIAL_EPOCH_MS) / 1000));
  return (seconds * SERIALS_PER_SECOND) % (SERIAL_SPACE - RUN_SERIALS);
}

/** The serial after `serial`: a daemon alone counts on; a cluster node wraps past MAX_SERIAL to 1. */
export function nextSerial(serial: number, node: number): number {
  return node !== 0 && serial >= MAX_SERIAL ? 1 : serial + 1;
}

export function makeClientId(serial: number, workerIndex: number, node = 0): number {
  return (node * SERIAL_SPACE + serial) * WORKER_SPACE + workerIndex + 1;
}

/** Which worker owns a client id. */
export function workerOfClient(id: number): number {
  return (id % WORKER_SPACE) - 1;
}

/** Which node owns a client id (0: a daemon alone); meaningful in a cluster only. */
export function nodeOfClient(id: number): number {
  return Math.floor(id / (SERIAL_SPACE * WORKER_SPACE));
}
