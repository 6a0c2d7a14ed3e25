// permessage-deflate (RFC 7692) in a worker: which endpoints offer it, the negotiation of each
// connection against the worker's context budget (max_contexts), inflating compressed messages
// (bounded by max_ws_msg_size) and compressing outbound data frames.
//
// Memory: a connection with context takeover in a direction keeps a zlib stream of its own for it
// (inflate: about 7 KiB of state plus a 2^clientBits window; deflate: about 2^(serverBits+2) +
// 2^(memLevel+9) bytes, 256 KiB at 15 bits). At most max_contexts connections per worker hold
// any; beyond that an accepted offer gets no context takeover both ways and the connection uses
// the worker's shared streams, which are reset for every message. Streams are created at a
// connection's first compressed message and closed with the connection (Conn.deflate).
import zlib from 'node:zlib';
import type { Config } from '../../config/types.ts';
import type { DeflateConfig } from '../../config/deflate.ts';
import { negotiateDeflate, type DeflateAgreement } from '../../http/deflate-offer.ts';
import { FrameBits, FrameSize, Opcode } from '../../core/codes.ts';
import { ByteSink, Pump, SyncZlib, assertSyncZlib, type PumpResult } from './zlib-sync.ts';

/**
 * RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the
 * message" before inflating; §7.2.1: the sender removes the same 4 octets that a sync flush
 * ends with ("Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end").
 */
export const DEFLATE_TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const { Z_SYNC_FLUSH, Z_FULL_FLUSH } = zlib.constants;
/** zlib's default memLevel: the deflate hash table size (2^(memLevel+9) bytes). */
const MEM_LEVEL = 8;
/**
 * An inflater needs a window at least as large as the client's. zlib's raw inflate takes 8..15; a
 * client at 8 gets 9 anyway (512 bytes: not worth a case of its own).
 */
const INFLATE_WINDOW_MIN = 9;
/**
 * zlib's deflate has no 8-bit window: deflateInit2 refuses a raw stream with 8 and Node's DeflateRaw
 * turns 8 into 9. A 9-bit deflater is still right for a peer that agreed to 8: zlib never matches
 * further back than MAX_DIST = window - MIN_LOOKAHEAD = 512 - 262 = 250 bytes, inside 256.
 */
const DEFLATE_WINDOW_MIN = 9;
const INFLATE_WINDOW_MAX = 15;

// Server frame header (RFC 6455 §5.2), written here for frames built from zlib's output Buffers.
const { FIN, RSV1, OPCODE: OPCODE_BITS, LENGTH: LENGTH_BITS } = FrameBits;
const { LENGTH_7_MAX, LENGTH_16_MARKER, LENGTH_64_MARKER } = FrameSize;
const LENGTH_16_MAX = 0xffff;
/** The empty line that ends an HTTP head. */
const CRLF_LENGTH = 2;

/** One connection's agreement and its own streams (Conn.deflate). */
export class ConnDeflate {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
  /** Outbound data payloads below this many bytes go uncompressed. */
  readonly threshold: number;
  /** Counted in the worker's max_contexts. */
  readonly holdsContext: boolean;
  inflater: SyncZlib | null = null;
  deflater: SyncZlib | null = null;
  /** The Sec-WebSocket-Extensions value for the 101, until it is sent (see upgrade101). */
  header: string | null;
  readonly #owner: WorkerDeflate;

  constructor(owner: WorkerDeflate, a: DeflateAgreement, threshold: number, holdsContext: boolean) {
    this.#owner = owner;
    this.header = a.header;
    this.serverNoContextTakeover = a.serverNoContextTakeover;
    this.clientNoContextTakeover = a.clientNoContextTakeover;
    this.serverMaxWindowBits = a.serverMaxWindowBits;
    this.clientMaxWindowBits = a.clientMaxWindowBits;
    this.threshold = threshold;
    this.holdsContext = holdsContext;
  }

  /** `response` (a 101 ending in an empty line) with our Sec-WebSocket-Extensions header. */
  upgrade101(response: Buffer): Buffer {
    const line = `Sec-WebSocket-Extensions: ${this.header}\r\n\r\n`;
    this.header = null;
    return Buffer.concat([response.subarray(0, response.length - CRLF_LENGTH), Buffer.from(line, 'latin1')]);
  }

  /** The connection is gone: its streams are closed and its context slot freed. */
  close(): void {
    const inflaters = this.inflater === null ? 0 : 1;
    const deflaters = this.deflater === null ? 0 : 1;
    this.inflater?.close();
    this.deflater?.close();
    this.inflater = this.deflater = null;
    this.#owner.released(this, inflaters, deflaters);
  }
}

/** What inflate() found. */
export const Inflated = {
  OK: 0,
  /** RFC 7692 §8 leaves it to the receiver; ws fails such a message with 1007. */
  INVALID_DATA: 1,
  /** More than max_ws_msg_size bytes: 1009. */
  TOO_BIG: 2,
} as const;
export type Inflated = (typeof Inflated)[keyof typeof Inflated];

export interface DeflateStats {
  /** Connections holding a context slot. */
  contexts: number;
  /** zlib streams open now (per-client ones and the worker's shared ones). */
  inflaters: number;
  deflaters: number;
  /** Outbound frames sent uncompressed because zlib failed on them (the stream was reset). */
  deflateErrors: number;
}

export class WorkerDeflate {
  /** The inflated message of the last inflate() call, until the next one. */
  readonly sink = new ByteSink();
  readonly #maxMessage: number;
  /** (appIndex << 16 | endpointId) -> the endpoint's settings. */
  readonly #settings = new Map<number, DeflateConfig>();
  #contexts = 0;
  #inflaters = 0;
  #deflaters = 0;
  #deflateErrors = 0;
  /** The shared no-context inflater (reset per message); made on first use. */
  #sharedInflater: SyncZlib | null = null;
  /** Shared no-context deflaters by window bits (Z_FULL_FLUSH per message). */
  readonly #sharedDeflaters: (SyncZlib | null)[] = [];
  /** The frame compressed for the current outbound record, by window bits (see beginRecord). */
  readonly #recordFrames: (Buffer | null | undefined)[] = [];

  constructor(config: Config) {
    this.#maxMessage = config.max_ws_msg_size;
    config.apps.forEach((app, appIndex) => {
      for (const ep of app.endpoints) {
        if (ep.permessage_deflate !== false) this.#settings.set(appIndex * 0x10000 + ep.endpoint_id, ep.permessage_deflate);
      }
    });
    if (this.#settings.size > 0) assertSyncZlib();
  }

  /** Whether any endpoint of this worker offers permessage-deflate. */
  get enabled(): boolean {
    return this.#settings.size > 0;
  }

  get stats(): DeflateStats {
    return { contexts: this.#contexts, inflaters: this.#inflaters, deflaters: this.#deflaters, deflateErrors: this.#deflateErrors };
  }

  /**
   * The handshake of a client of this endpoint offered `extensions` (the raw header values): the
   * connection's state (its `header` goes into the 101: upgrade101), or null (no extension).
   */
  negotiate(appIndex: number, endpointId: number, extensions: readonly string[] | undefined): ConnDeflate | null {
    if (extensions === undefined || extensions.length === 0) return null;
    const settings = this.#settings.get(appIndex * 0x10000 + endpointId);
    if (settings === undefined) return null;
    const a = negotiateDeflate(extensions, settings, { contextAvailable: this.#contexts < settings.max_contexts });
    if (a === null) return null;
    const holds = !a.clientNoContextTakeover || !a.serverNoContextTakeover;
    if (holds) this.#contexts++;
    return new ConnDeflate(this, a, settings.threshold, holds);
  }

  /** ConnDeflate.close: its streams are closed (`inflaters`, `deflaters`: how many it had). */
  released(d: ConnDeflate, inflaters: number, deflaters: number): void {
    if (d.holdsContext) this.#contexts--;
    this.#inflaters -= inflaters;
    this.#deflaters -= deflaters;
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  /**
   * Inflates one compressed message (its payload pieces, in order) into `sink`. Never inflates
   * more than max_ws_msg_size + 1 bytes (plus what zlib holds internally).
   */
  inflate(d: ConnDeflate, pieces: readonly Uint8Array[]): Inflated {
    const sink = this.sink;
    sink.reset();
    let z: SyncZlib;
    if (d.clientNoContextTakeover) {
      z = this.#sharedInflater ??= this.#newInflater(INFLATE_WINDOW_MAX);
      z.reset();
    } else {
      z = d.inflater ??= this.#newInflater(Math.max(INFLATE_WINDOW_MIN, d.clientMaxWindowBits));
    }
    const limit = this.#maxMessage;
    let r: PumpResult = Pump.OK;
    for (let i = 0; i < pieces.length && r === Pump.OK; i++) r = z.pump(pieces[i], Z_SYNC_FLUSH, sink, limit);
    if (r === Pump.OK) r = z.pump(DEFLATE_TAIL, Z_SYNC_FLUSH, sink, limit);
    // A message that ended its DEFLATE stream (a block with BFINAL set) leaves the tail unread:
    // the next message starts a new stream.
    if (r === Pump.OK && z.leftover > 0) z.reset();
    if (r === Pump.OK) return Inflated.OK;
    // The stream is in an unknown state; the connection is closed anyway.
    if (z !== this.#sharedInflater) this.#dropInflater(d);
    return r === Pump.DATA_ERROR ? Inflated.INVALID_DATA : Inflated.TOO_BIG;
  }

  #newInflater(bits: number): SyncZlib {
    this.#inflaters++;
    return new SyncZlib('inflate', bits);
  }

  #dropInflater(d: ConnDeflate): void {
    if (d.inflater === null) return;
    d.inflater.close();
    d.inflater = null;
    this.#inflaters--;
  }

  // -------------------------------------------------------------------------------------------
  // Outbound

  /** A new outbound record: frames compressed for the previous one are forgotten. */
  beginRecord(): void {
    this.#recordFrames.length = 0;
  }

  /**
   * The compressed frame of the server frame at [at, at + len) of `u8` for the recipient `d`, or
   * null when it goes as it is (a control frame, a fragment, a payload below the threshold, or a
   * shared compression that came out no smaller). With server_no_context_takeover the frame is
   * compressed once per record and window size, whatever the number of recipients.
   */
  frameFor(d: ConnDeflate, u8: Uint8Array, at: number, len: number): Buffer | null {
    const b0 = u8[at];
    const opcode = b0 & OPCODE_BITS;
    // RFC 7692 §6.1: control frames are never compressed; the worker's outbound frames are whole
    // (FIN set) data frames from apps.
    if ((b0 & FIN) === 0 || (opcode !== Opcode.TEXT && opcode !== Opcode.BINARY)) return null;
    const len7 = u8[at + 1] & LENGTH_BITS;
    const hdr = len7 === LENGTH_64_MARKER ? 10 : len7 === LENGTH_16_MARKER ? 4 : 2;
    const payload = len - hdr;
    // An empty payload is never compressed: its compressed form (one byte) is larger, and a second
    // flush with no input in a row gives zlib nothing to do (Z_BUF_ERROR, no 00 00 ff ff).
    if (payload === 0 || payload < d.threshold) return null;
    const src = u8.subarray(at + hdr, at + len);
    if (d.serverNoContextTakeover) {
      // 8 runs as 9 (DEFLATE_WINDOW_MIN): one deflater and one compression for both.
      const bits = Math.max(DEFLATE_WINDOW_MIN, d.serverMaxWindowBits);
      const cached = this.#recordFrames[bits];
      if (cached !== undefined) return cached;
      const z = this.#sharedDeflaters[bits] ??= this.#newDeflater(bits);
      const frame = this.#compress(z, src, opcode, Z_FULL_FLUSH);
      // Per-message compression is optional (RFC 7692 §6): no gain, no compression.
      const out = frame !== null && frame.length < len ? frame : null;
      this.#recordFrames[bits] = out;
      return out;
    }
    const z = d.deflater ??= this.#newDeflater(d.serverMaxWindowBits);
    return this.#compress(z, src, opcode, Z_SYNC_FLUSH);
  }

  #newDeflater(bits: number): SyncZlib {
    this.#deflaters++;
    return new SyncZlib('deflate', Math.max(DEFLATE_WINDOW_MIN, bits), MEM_LEVEL);
  }

  /**
   * A frame with RSV1 around the compressed payload (the flush's 00 00 ff ff removed), or null
   * when zlib failed: the frame then goes uncompressed and the stream is reset, so nothing of this
   * message stays in it (a shared deflater's next message goes to other clients; a client's own
   * deflater must not refer to bytes the client never got). This runs in the outbound drain, where
   * a throw would end the worker.
   */
  #compress(z: SyncZlib, src: Uint8Array, opcode: number, flush: number): Buffer | null {
    const sink = this.sink;
    sink.reset();
    // The output of deflate is bounded by zlib (deflateBound): no limit needed beyond a u32.
    const tail = z.pump(src, flush, sink, 0xffffffff) === Pump.OK ? sink.last(DEFLATE_TAIL.length) : null;
    if (tail === null || tail.length !== DEFLATE_TAIL.length || tail.some((b, i) => b !== DEFLATE_TAIL[i])) {
      this.#deflateErrors++;
      z.reset();
      return null;
    }
    const n = sink.total - DEFLATE_TAIL.length;
    const hdr = n <= LENGTH_7_MAX ? 2 : n <= LENGTH_16_MAX ? 4 : 10;
    const frame = Buffer.allocUnsafe(hdr + n);
    // RFC 7692 §6: "the RSV1 bit is set only on the first frame" (our frames are single frames).
    frame[0] = FIN | RSV1 | opcode;
    if (hdr === 2) frame[1] = n;
    else if (hdr === 4) { frame[1] = LENGTH_16_MARKER; frame.writeUInt16BE(n, 2); }
    else { frame[1] = LENGTH_64_MARKER; frame.writeUInt32BE(0, 2); frame.writeUInt32BE(n, 6); }
    sink.copyTo(frame, hdr, n);
    return frame;
  }
}
