// Ring record formats between workers and apps (docs/design.md, "Ring records").
// All multi-byte fields are little-endian; client ids are safe integers stored as f64.
import { FrameSize } from '../core/codes.ts';

/** Inbound records: worker -> app. */
export const Inbound = {
  OPEN: 0,
  READ: 1,
  CLOSE: 2,
  /**
   * A handshake waits for the app's upgrade hook (sent only to an app that has one): the client's
   * id is assigned, but it is not open; an UPGRADE_REPLY answers it. A CLOSE for such an id (the
   * client left, the worker gave up after upgrade_timeout) means: drop it, there was no open.
   */
  UPGRADE: 3,
} as const;

/**
 * Inbound header (16 bytes):
 *   0 u8  kind (Inbound.*)
 *   1 u8  data kind (DataKind.BIN / DataKind.UTF8; READ only)
 *   2 u16 endpoint id
 *   4 f64 client id
 *  12 u32 reserved
 * A ring record's payload address is 4 mod 8 (docs/core.md), so the f64 at 4 is 8-byte aligned
 * and both sides read and write it through a Float64Array.
 * OPEN then carries the peer address (OPEN_ADDR_SIZE bytes):
 *  16 u8  family (4 or 6)
 *  17 u8  subprotocol: index + 1 of the selected one in the endpoint's `subprotocols`, 0 = none
 *  18 u16 port
 *  20 u8[16] address (IPv4 in the first 4 bytes)
 * READ carries the complete, unmasked message payload from byte 16.
 * CLOSE carries u16 close code at 16 (1005 when the peer sent none, 1006 when there was no close
 * frame at all).
 * UPGRADE carries the peer address as OPEN does (its subprotocol byte included), then from
 * UPGRADE_HEAD to the end of the record the request head's bytes as received (request line,
 * headers, the empty line), which the app parses (src/http/parse.ts).
 */
export const IN_CLIENT_ID = 4;
export const IN_HEADER_SIZE = 16;
export const OPEN_ADDR_SIZE = 20;
/** Where an OPEN record carries its subprotocol byte (index + 1; 0 = none). */
export const OPEN_SUBPROTOCOL = IN_HEADER_SIZE + 1;
/** Where an UPGRADE record's request head starts. */
export const UPGRADE_HEAD = IN_HEADER_SIZE + OPEN_ADDR_SIZE;
export const CLOSE_BODY_SIZE = 2;

/** Outbound records: app -> worker. */
export const Outbound = {
  /** The listed ids (1 or more) on this worker. */
  SINGLE: 0,
  MULTI: 1,
  /** Every client of this app on this worker that the app has seen open. */
  EVERY: 2,
  /** Every such client except the listed ids. */
  EVERY_EXCEPT: 3,
  /** Send the frame (a close frame) to the listed id and close it; no CLOSE record comes back. */
  CLOSE_CLIENT: 4,
  /**
   * The upgrade hook's answer for the listed id (an UPGRADE record's): the status at
   * OUT_UPGRADE_STATUS, UPGRADE_ACCEPT to open the client, else the HTTP status (400-599) to refuse
   * it with. No frame follows the id.
   */
  UPGRADE_REPLY: 5,
} as const;

/** UPGRADE_REPLY: where the status sits (the header's reserved u16), and its accept value. */
export const OUT_UPGRADE_STATUS = 2;
export const UPGRADE_ACCEPT = 0;

/**
 * Outbound header (20 bytes + 8 per id):
 *   0 u8  kind (Outbound.*)
 *   1 u8  reserved
 *   2 u16 reserved (UPGRADE_REPLY: the status)
 *   4 f64 stamp: how many inbound records of this worker's ring the app had consumed when it
 *         produced this record, counting the record whose callback is running (so a send from
 *         an open callback covers that client). A client whose OPEN record's sequence number
 *         (0-based) is not below the stamp is not known to the app yet and gets no EVERY /
 *         EVERY_EXCEPT delivery from this record.
 *  12 u32 id count n
 *  16 u32 reserved
 *  20 f64[n] client ids
 * then a complete server frame, to the end of the record. The payload address being 4 mod 8,
 * the stamp and the ids are 8-byte aligned (read and written through a Float64Array).
 */
export const OUT_STAMP = 4;
export const OUT_COUNT = 12;
export const OUT_HEADER_SIZE = 20;
/** Bytes of each client id after the outbound header (an f64). */
export const OUT_ID_SIZE = 8;
/** An UPGRADE_REPLY record: the header and one id. */
export const UPGRADE_REPLY_SIZE = OUT_HEADER_SIZE + OUT_ID_SIZE;

/**
 * The most bytes a record adds to the message it carries, when the message goes to one client: an
 * outbound record's header, one client id and the longest frame header; an inbound READ record
 * adds only IN_HEADER_SIZE (OPEN and CLOSE records are smaller than any message's). An outbound
 * record with more ids is split into several (MULTI), or, for an exclusion list, needs a larger
 * ring. The ring minimum in the config (RING_RECORD_OVERHEAD) is built on this.
 */
export const MAX_RECORD_OVERHEAD = Math.max(IN_HEADER_SIZE, OUT_HEADER_SIZE + OUT_ID_SIZE + FrameSize.FRAME_HEADER_MAX);

/** Peer address as carried in an OPEN record. */
export interface PeerAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

export function writePeerAddress(u8: Uint8Array, dv: DataView, at: number, ip: string | undefined, port: number | undefined): void {
  u8.fill(0, at, at + OPEN_ADDR_SIZE);
  dv.setUint16(at + 2, port ?? 0, true);
  if (!ip) {
    u8[at] = 4;
    return;
  }
  if (ip.includes(':')) {
    u8[at] = 6;
    const bytes = parseIPv6(ip);
    u8.set(bytes, at + 4);
  } else {
    u8[at] = 4;
    const parts = ip.split('.');
    for (let i = 0; i < 4; i++) u8[at + 4 + i] = Number(parts[i]) & 255;
  }
}

export function readPeerAddress(u8: Uint8Array, dv: DataView, at: number): PeerAddress {
  const family = u8[at] === 6 ? 6 : 4;
  const port = dv.getUint16(at + 2, true);
  if (family === 4) {
    return { family, port, address: `${u8[at + 4]}.${u8[at + 5]}.${u8[at + 6]}.${u8[at + 7]}` };
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(((u8[at + 4 + 2 * i] << 8) | u8[at + 5 + 2 * i]).toString(16));
  return { family, port, address: compressIPv6(groups) };
}

function parseIPv6(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // An embedded IPv4 tail ("::ffff:1.2.3.4").
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    const v4 = s.slice(lastColon + 1).split('.').map(Number);
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':').filter((x) => x !== '') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...new Array(8 - h.length - r.length).fill('0'), ...r];
  const nums = groups.map((g) => parseInt(g, 16) || 0);
  if (tail.length) { nums[6] = tail[0]; nums[7] = tail[1]; }
  for (let i = 0; i < 8; i++) { out[2 * i] = (nums[i] >> 8) & 255; out[2 * i + 1] = nums[i] & 255; }
  return out;
}

function compressIPv6(groups: string[]): string {
  // Longest run of zero groups (length >= 2) becomes "::" (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

// Client ids: src/cluster/ids.ts (the worker in the low byte, the node above it).
export { makeClientId, workerOfClient } from '../cluster/ids.ts';
