// The cross-node batch: what one app instance publishes to Redis for the clients of other nodes
// after one batch of its work (docs/design.md, "Scale-out"). Pure: entries in, bytes out, and back.
//
// Layout (little-endian):
//   header (16 bytes):
//     0 u8  BATCH_VERSION
//     1 u8  reserved (0)
//     2 u16 source node number (src/cluster/ids.ts)
//     4 u32 entry count
//     8 u64 reserved (0)
//   each entry:
//     0 u8  kind (Remote.*)
//     1 u8  opcode of the frame to send (TEXT / BINARY; CLOSE for Remote.CLOSE)
//     2 u16 reserved (0)
//     4 u32 id count n
//     8 u32 payload length m
//    12 f64[n] client ids
//       u8[m] payload (Remote.CLOSE: the close code, 4000-4899, 2 bytes big-endian as in a close frame)
import { isUtf8 } from 'node:buffer';
import { CloseCode, Opcode } from '../core/codes.ts';
import { NODE_SPACE } from './ids.ts';

export const BATCH_VERSION = 1;
export const BATCH_HEADER_SIZE = 16;
export const ENTRY_HEADER_SIZE = 12;

/** What a remote node does with an entry. */
export const Remote = {
  /** Every client of the app on the node. */
  EVERY: 0,
  /** Every client of the app on the node except the listed ids. */
  EVERY_EXCEPT: 1,
  /** The listed ids that are the node's own. */
  TO: 2,
  /** Close the listed id (one) with the code in the payload. */
  CLOSE: 3,
} as const;
export type RemoteKind = (typeof Remote)[keyof typeof Remote];

export interface RemoteEntry {
  kind: RemoteKind;
  opcode: number;
  ids: readonly number[];
  payload: Uint8Array;
}

export interface Batch {
  node: number;
  entries: RemoteEntry[];
}

/** The encoded size of an entry. */
export function entrySize(ids: number, payload: number): number {
  return ENTRY_HEADER_SIZE + ids * 8 + payload;
}

/** Encodes a batch. */
export function encodeBatch(node: number, entries: readonly RemoteEntry[]): Uint8Array {
  let size = BATCH_HEADER_SIZE;
  for (const e of entries) size += entrySize(e.ids.length, e.payload.length);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = BATCH_VERSION;
  dv.setUint16(2, node, true);
  dv.setUint32(4, entries.length, true);
  let at = BATCH_HEADER_SIZE;
  for (const e of entries) {
    out[at] = e.kind;
    out[at + 1] = e.opcode;
    dv.setUint32(at + 4, e.ids.length, true);
    dv.setUint32(at + 8, e.payload.length, true);
    at += ENTRY_HEADER_SIZE;
    for (const id of e.ids) {
      dv.setFloat64(at, id, true);
      at += 8;
    }
    out.set(e.payload, at);
    at += e.payload.length;
  }
  return out;
}

/** The source node of an encoded batch (or -1 if it is too short to have one), read without decoding it. */
export function batchNode(bytes: Uint8Array): number {
  return bytes.length < BATCH_HEADER_SIZE ? -1 : bytes[2] | (bytes[3] << 8);
}

/** Why a batch was refused (it came from Redis: anyone with access can publish there). */
export class BatchError extends Error {}

/**
 * Decodes a batch. The payloads are views into `bytes`. Throws BatchError for anything that is
 * not a well-formed batch of this version: a wrong version, a length that runs past the end, bytes
 * left over, an unknown kind or opcode, an id that is not a positive safe integer, a CLOSE entry
 * without exactly one id and a 2-byte code.
 */
export function decodeBatch(bytes: Uint8Array): Batch {
  if (bytes.length < BATCH_HEADER_SIZE) throw new BatchError(`${bytes.length} bytes is shorter than a batch header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== BATCH_VERSION) throw new BatchError(`batch version ${bytes[0]}, expected ${BATCH_VERSION}`);
  const node = dv.getUint16(2, true);
  const count = dv.getUint32(4, true);
  if (bytes[1] !== 0 || dv.getUint32(8, true) !== 0 || dv.getUint32(12, true) !== 0) throw new BatchError('reserved header bytes are not 0');
  if (node === 0 || node >= NODE_SPACE) throw new BatchError(`source node ${node} is not a cluster node number`);
  const entries: RemoteEntry[] = [];
  let at = BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_HEADER_SIZE > bytes.length) throw new BatchError(`entry ${i} runs past the end`);
    const kind = bytes[at];
    const opcode = bytes[at + 1];
    if (dv.getUint16(at + 2, true) !== 0) throw new BatchError(`entry ${i} has reserved bytes that are not 0`);
    const n = dv.getUint32(at + 4, true);
    const m = dv.getUint32(at + 8, true);
    at += ENTRY_HEADER_SIZE;
    if (at + n * 8 + m > bytes.length) throw new BatchError(`entry ${i} runs past the end`);
    if (kind > Remote.CLOSE) throw new BatchError(`entry ${i} has unknown kind ${kind}`);
    const wantOpcode = kind === Remote.CLOSE ? opcode === Opcode.CLOSE : opcode === Opcode.TEXT || opcode === Opcode.BINARY;
    if (!wantOpcode) throw new BatchError(`entry ${i} has opcode ${opcode}`);
    if (kind === Remote.CLOSE) {
      if (n !== 1 || m !== 2) throw new BatchError(`close entry ${i} has ${n} ids and ${m} payload bytes`);
      // Only an app's rs.close() makes a close entry, and it takes 4000-4899: anything else would
      // put a code on the wire that RFC 6455 section 7.4 does not allow an endpoint to send.
      const code = (bytes[at + n * 8] << 8) | bytes[at + n * 8 + 1];
      if (code < CloseCode.APP_MIN || code > CloseCode.APP_MAX) throw new BatchError(`close entry ${i} has close code ${code}, not an app's (${CloseCode.APP_MIN}-${CloseCode.APP_MAX})`);
    }
    if (kind === Remote.EVERY && n !== 0) throw new BatchError(`every entry ${i} lists ${n} ids`);
    const ids: number[] = new Array(n);
    for (let j = 0; j < n; j++, at += 8) {
      const id = dv.getFloat64(at, true);
      if (!Number.isSafeInteger(id) || id <= 0) throw new BatchError(`entry ${i} has a bad client id`);
      ids[j] = id;
    }
    const payload = bytes.subarray(at, at + m);
    // RFC 6455 section 5.6: "The "Payload data" is text data encoded as UTF-8." The sending node's
    // runtime checked it; a batch from anyone else is checked here, before any client gets it.
    if (opcode === Opcode.TEXT && !isUtf8(payload)) throw new BatchError(`entry ${i} is a text message that is not valid UTF-8`);
    entries.push({ kind: kind as RemoteKind, opcode, ids, payload });
    at += m;
  }
  if (at !== bytes.length) throw new BatchError(`${bytes.length - at} bytes after the last entry`);
  return { node, entries };
}
