// The TypeScript side of the WebAssembly codec (assembly/codec/*): typed exports, the decoder's
// out-field readers and the encoder. Everything here works on a `CodecCore` (exports plus views of
// the memory), which src/core/wasm.ts's `Core` satisfies; it never allocates wasm memory itself:
// the caller passes every address (a state block of DECODER_STATE_SIZE bytes, input and output
// regions). See docs/codec.md.
import {
  DECODER_ERRORS, DataFlag, DecoderEvent, ErrorCode, FrameSize, Opcode, Role, CloseCode,
} from './codes.ts';
import type { DecoderError } from './codes.ts';
import { DecoderLayout as L, DECODER_STATE_ALIGN, DECODER_STATE_SIZE } from './layout.ts';
import { CLOSE_CODE_SIZE, checkCloseCode, fitCloseReason } from './close.ts';

/** The codec's WebAssembly exports (every value an i32/u32; addresses are byte offsets). */
export interface CodecExports {
  decoderInit(state: number, role: number, maxMessageSize: number, maxFrameChainSize: number, maxFragments: number, extensions: number): void;
  decode(state: number, ptr: number, end: number): number;
  decoderStateSize(): number;
  mask(ptr: number, len: number, key: number): number;
  utf8Validate(ptr: number, len: number, state: number): number;
  frameHeaderSize(len: number, masked: number): number;
  encodeFrameHeader(dst: number, opcode: number, fin: number, len: number, masked: number, key: number): number;
  encodeFrame(dst: number, opcode: number, src: number, len: number, masked: number, key: number): number;
  encodeClose(dst: number, code: number, reason: number, reasonLen: number, masked: number, key: number): number;
}

/** What the codec needs of an instantiated core: its exports and views of its memory. */
export interface CodecCore {
  readonly exports: CodecExports;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
}

/** Default limits (see docs/codec.md for the reasoning). */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** 1.25 × the message size: room for 64-byte fragments (6-byte headers) and interleaved pings. */
export const FRAME_CHAIN_FACTOR = 1.25;
/** Enough for a 4 MiB message in 64-byte fragments (65,536), and a cap on empty-fragment floods. */
export const DEFAULT_MAX_FRAGMENTS = 131072;
/** The largest limit value: no limit beyond the u32 range. */
export const NO_LIMIT = 0xffffffff;

export interface DecoderLimits {
  /** Data payload bytes of one message (default 16 MiB). */
  maxMessageSize?: number;
  /** Header + payload bytes of all frames of one message, control frames included (default 1.25 × maxMessageSize). */
  maxFrameChainSize?: number;
  /** Data frames of one message (default 131072). */
  maxFragments?: number;
  /**
   * permessage-deflate was negotiated (default false): RSV1 on a data message's first frame marks
   * it compressed (DataFlag.COMPRESSED), and the limits above count its compressed bytes.
   */
  permessageDeflate?: boolean;
}

export interface ResolvedLimits {
  maxMessageSize: number;
  maxFrameChainSize: number;
  maxFragments: number;
}

function u32Limit(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > NO_LIMIT) {
    throw new RangeError(`${name} must be an integer in [0, ${NO_LIMIT}], got ${v}`);
  }
  return v;
}

/** The decoder's extension bits (DecoderLayout.EXT_*) for `limits`. */
export function extensionBits(limits: DecoderLimits = {}): number {
  return limits.permessageDeflate === true ? L.EXT_DEFLATE : 0;
}

/** Applies the defaults and checks the range of every limit. */
export function resolveLimits(limits: DecoderLimits = {}): ResolvedLimits {
  const maxMessageSize = u32Limit('maxMessageSize', limits.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);
  const maxFrameChainSize = u32Limit(
    'maxFrameChainSize',
    limits.maxFrameChainSize ?? Math.min(NO_LIMIT, Math.floor(maxMessageSize * FRAME_CHAIN_FACTOR)),
  );
  const maxFragments = u32Limit('maxFragments', limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS);
  return { maxMessageSize, maxFrameChainSize, maxFragments };
}

function checkState(core: CodecCore, state: number): void {
  if (!Number.isInteger(state) || state % DECODER_STATE_ALIGN !== 0 || state <= 0 ||
      state + DECODER_STATE_SIZE > core.u8.length) {
    throw new RangeError(`decoder state block at ${state} must be ${DECODER_STATE_ALIGN}-byte aligned and inside memory`);
  }
}

/** Prepares the state block at `state` (DECODER_STATE_SIZE bytes) for a new connection. */
export function decoderInit(core: CodecCore, state: number, role: Role, limits: DecoderLimits = {}): ResolvedLimits {
  checkState(core, state);
  const r = resolveLimits(limits);
  core.exports.decoderInit(state, role, r.maxMessageSize, r.maxFrameChainSize, r.maxFragments, extensionBits(limits));
  return r;
}

/** Runs the decoder over [ptr, end) and returns the next event; read its fields with the readers below. */
export function decode(core: CodecCore, state: number, ptr: number, end: number): DecoderEvent {
  return core.exports.decode(state, ptr, end) as DecoderEvent;
}

/** Where the next decode() call continues. */
export function eventNext(core: CodecCore, state: number): number {
  return core.u32[(state + L.ST_OUT_NEXT) >>> 2];
}
/** DATA: the piece's address; PING/PONG: the payload's; CLOSE: the reason's. */
export function eventDataPtr(core: CodecCore, state: number): number {
  return core.u32[(state + L.ST_OUT_DATA_PTR) >>> 2];
}
export function eventDataLen(core: CodecCore, state: number): number {
  return core.u32[(state + L.ST_OUT_DATA_LEN) >>> 2];
}
/** DATA: DataFlag bits (FIRST, LAST, TEXT). */
export function eventFlags(core: CodecCore, state: number): number {
  return core.u32[(state + L.ST_OUT_FLAGS) >>> 2];
}
/** CLOSE: the peer's close code (1005 when the frame had none). ERROR: the close code to send. */
export function eventCloseCode(core: CodecCore, state: number): number {
  return core.u32[(state + L.ST_OUT_CLOSE_CODE) >>> 2];
}
export function eventErrorCode(core: CodecCore, state: number): ErrorCode {
  return core.u32[(state + L.ST_OUT_ERROR_CODE) >>> 2] as ErrorCode;
}
/** ERROR: the whole error (stable code, close code, message). */
export function eventError(core: CodecCore, state: number): DecoderError {
  return DECODER_ERRORS[eventErrorCode(core, state)] ?? DECODER_ERRORS[ErrorCode.NONE];
}
/** A view (not a copy) of the event's bytes; valid until the input region or state block is reused. */
export function eventData(core: CodecCore, state: number): Uint8Array {
  const ptr = eventDataPtr(core, state);
  return core.u8.subarray(ptr, ptr + eventDataLen(core, state));
}

/**
 * One connection's decoder bound to its core and state block, with the out-field indices computed
 * once: the shape the daemon's read loop uses.
 */
export class FrameDecoder {
  readonly core: CodecCore;
  readonly state: number;
  readonly limits: ResolvedLimits;
  /** DecoderLayout.EXT_* bits given to decoderInit. */
  readonly extensions: number;
  readonly #decode: CodecExports['decode'];
  readonly #u32: Uint32Array;
  readonly #iNext: number;
  readonly #iPtr: number;
  readonly #iLen: number;
  readonly #iFlags: number;

  constructor(core: CodecCore, state: number, role: Role, limits: DecoderLimits = {}) {
    this.core = core;
    this.state = state;
    this.limits = decoderInit(core, state, role, limits);
    this.extensions = extensionBits(limits);
    this.#decode = core.exports.decode;
    this.#u32 = core.u32;
    this.#iNext = (state + L.ST_OUT_NEXT) >>> 2;
    this.#iPtr = (state + L.ST_OUT_DATA_PTR) >>> 2;
    this.#iLen = (state + L.ST_OUT_DATA_LEN) >>> 2;
    this.#iFlags = (state + L.ST_OUT_FLAGS) >>> 2;
  }

  /** Resets the state block for a new connection with the same role and limits. */
  reset(role: Role): void {
    const l = this.limits;
    this.core.exports.decoderInit(this.state, role, l.maxMessageSize, l.maxFrameChainSize, l.maxFragments, this.extensions);
  }

  decode(ptr: number, end: number): DecoderEvent {
    return this.#decode(this.state, ptr, end) as DecoderEvent;
  }
  get next(): number { return this.#u32[this.#iNext]; }
  get dataPtr(): number { return this.#u32[this.#iPtr]; }
  get dataLen(): number { return this.#u32[this.#iLen]; }
  get flags(): number { return this.#u32[this.#iFlags]; }
  get closeCode(): number { return eventCloseCode(this.core, this.state); }
  get error(): DecoderError { return eventError(this.core, this.state); }
  get data(): Uint8Array { return eventData(this.core, this.state); }
}

/** True if a DATA event's flags mark the first piece of its message. */
export const isFirst = (flags: number): boolean => (flags & DataFlag.FIRST) !== 0;
export const isLast = (flags: number): boolean => (flags & DataFlag.LAST) !== 0;
export const isText = (flags: number): boolean => (flags & DataFlag.TEXT) !== 0;
/** True if a DATA event's piece belongs to a compressed (permessage-deflate) message. */
export const isCompressed = (flags: number): boolean => (flags & DataFlag.COMPRESSED) !== 0;

// ---------------------------------------------------------------------------------------------
// Masking keys and UTF-8

/** A masking key: 4 bytes, or the same bytes as a little-endian u32 (what the core takes). */
export type MaskKey = Uint8Array | number;

/** The 4 key bytes as the core's little-endian u32. */
export function maskKeyToU32(key: MaskKey): number {
  if (typeof key === 'number') {
    if (!Number.isInteger(key) || key < 0 || key > NO_LIMIT) throw new RangeError(`mask key must be a u32, got ${key}`);
    return key;
  }
  if (key.length !== 4) throw new RangeError(`mask key must be 4 bytes, got ${key.length}`);
  return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
}

/** A fresh key from the platform's CSPRNG (RFC 6455 §5.3: "a strong source of entropy"). */
export function randomMaskKey(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Rotates a u32 key so that it applies from payload offset `offset` on. */
export function rotateMaskKey(key: number, offset: number): number {
  const s = (offset & 3) * 8;
  return s === 0 ? key >>> 0 : ((key >>> s) | (key << (32 - s))) >>> 0;
}

/**
 * Masks (or unmasks) `len` bytes at `ptr` in place, as bytes `offset`.. of a payload masked with
 * `key`. Returns nothing: call again with offset + len for the next piece.
 */
export function maskAt(core: CodecCore, ptr: number, len: number, key: MaskKey, offset = 0): void {
  core.exports.mask(ptr, len, rotateMaskKey(maskKeyToU32(key), offset));
}

/** Streaming UTF-8 check of `len` bytes at `ptr`: returns the next state (Utf8State.ACCEPT = 0 is complete). */
export function utf8ValidateAt(core: CodecCore, ptr: number, len: number, state = 0): number {
  return core.exports.utf8Validate(ptr, len, state) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Encoder

/**
 * How to mask an outgoing frame: `false`/undefined for a server frame (unmasked), `true` for a
 * client frame with a random key, or the key itself.
 */
export type MaskOption = boolean | MaskKey | undefined;

function resolveMask(mask: MaskOption): { masked: number; key: number } {
  if (mask === undefined || mask === false) return { masked: 0, key: 0 };
  if (mask === true) return { masked: 1, key: randomMaskKey() };
  return { masked: 1, key: maskKeyToU32(mask) };
}

const LENGTH_16_MAX = 0xffff;
const MASK_KEY_SIZE = 4;

/** Bytes of a frame header for a `len`-byte payload (pure TS twin of the core's export). */
export function frameHeaderSize(len: number, masked: boolean): number {
  const base = len <= FrameSize.LENGTH_7_MAX ? 2 : len <= LENGTH_16_MAX ? 4 : 10;
  return masked ? base + MASK_KEY_SIZE : base;
}

function checkRegion(core: CodecCore, dst: number, size: number): void {
  if (!Number.isInteger(dst) || dst < 0 || dst + size > core.u8.length) {
    throw new RangeError(`frame of ${size} bytes at ${dst} does not fit in memory (${core.u8.length} bytes)`);
  }
}

/**
 * Writes one complete frame (FIN set) carrying `payload` at `dst` in the core's memory and returns
 * its size. The payload is copied straight to its place after the header, then masked there for a
 * client frame.
 */
export function writeFrame(core: CodecCore, dst: number, opcode: Opcode, payload: Uint8Array, mask?: MaskOption): number {
  const { masked, key } = resolveMask(mask);
  const h = frameHeaderSize(payload.length, masked !== 0);
  checkRegion(core, dst, h + payload.length);
  core.u8.set(payload, dst + h);
  const size = core.exports.encodeFrame(dst, opcode, dst + h, payload.length, masked, key) >>> 0;
  if (size === 0) {
    throw new RangeError(`cannot encode opcode ${opcode} with a ${payload.length}-byte payload (control frames: at most ${FrameSize.CONTROL_PAYLOAD_MAX} bytes)`);
  }
  return size;
}

/** Writes a frame whose payload already sits in memory at [src, src + len). Returns its size. */
export function writeFrameFrom(core: CodecCore, dst: number, opcode: Opcode, src: number, len: number, mask?: MaskOption): number {
  const { masked, key } = resolveMask(mask);
  checkRegion(core, dst, frameHeaderSize(len, masked !== 0) + len);
  const size = core.exports.encodeFrame(dst, opcode, src, len, masked, key) >>> 0;
  if (size === 0) throw new RangeError(`cannot encode opcode ${opcode} with a ${len}-byte payload`);
  return size;
}

const textEncoder = new TextEncoder();

/**
 * Writes a Close frame at `dst`: `code` (CloseCode.NO_STATUS for an empty body) and the reason,
 * both checked and the reason cut as src/core/close.ts does for every close frame. Returns its size.
 */
export function writeClose(core: CodecCore, dst: number, code: number, reason: string | Uint8Array = '', mask?: MaskOption): number {
  const bytes = fitCloseReason(typeof reason === 'string' ? textEncoder.encode(reason) : reason);
  checkCloseCode(code, bytes.length);
  const { masked, key } = resolveMask(mask);
  const body = code === CloseCode.NO_STATUS ? 0 : CLOSE_CODE_SIZE + bytes.length;
  const h = frameHeaderSize(body, masked !== 0);
  checkRegion(core, dst, h + body);
  // The reason goes where it will end up; encodeClose then copies it onto itself (a no-op move).
  core.u8.set(bytes, dst + h + CLOSE_CODE_SIZE);
  const size = core.exports.encodeClose(dst, code, dst + h + CLOSE_CODE_SIZE, bytes.length, masked, key) >>> 0;
  if (size === 0) throw new RangeError(`cannot encode close code ${code}`);
  return size;
}

export { DecoderEvent, DataFlag, ErrorCode, Role, DECODER_ERRORS };
