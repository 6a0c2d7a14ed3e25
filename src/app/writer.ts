// The app's write buffer: rs.wBytes() / rs.wStr() / rs.wU16() ... append here, and a sender
// (rs.toCur() ...) hands the bytes to the host as one message and empties it.
// It starts at the app's wbuf_size and doubles as needed up to max_ws_msg_size; a message that
// would be larger is a RingSocketAppError (RS_APP_MESSAGE_TOO_BIG), never a crash.
import { AppErrorCode, RingSocketAppError } from './errors.ts';

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const encoder = new TextEncoder();

function badValue(method: string, what: string, value: unknown): RingSocketAppError {
  const shown = typeof value === 'bigint' ? `${value}n`
    : typeof value === 'string' ? JSON.stringify(value)
    : Array.isArray(value) ? 'an array'
    : typeof value === 'object' && value !== null ? `a ${value.constructor?.name ?? 'object'}`
    : String(value);
  return new RingSocketAppError(AppErrorCode.BAD_VALUE, `rs.${method}(): expected ${what}, got ${shown}`);
}

function checkInt(method: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badValue(method, `an integer in ${min}...${max}`, value);
  }
}

function toBig64(method: string, value: bigint | number, signed: boolean): bigint {
  const min = signed ? I64_MIN : 0n;
  const max = signed ? I64_MAX : U64_MAX;
  const what = signed ? 'a bigint in -2^63...2^63-1 or a safe integer' : 'a bigint in 0...2^64-1 or a safe integer >= 0';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || (!signed && value < 0)) throw badValue(method, what, value);
    return BigInt(value);
  }
  if (typeof value !== 'bigint' || value < min || value > max) throw badValue(method, what, value);
  return value;
}

/**
 * A region of a shared memory that the write buffer lives in (the daemon gives each app one, in
 * the WebAssembly memory that also holds the rings). Bytes written there reach an outbound ring
 * with one WebAssembly `memory.copy`, and bytes taken from an inbound ring (rs.wBytes of a read
 * payload) get there the same way: JavaScript's copies into or out of shared memory are several
 * times slower. A message larger than the region is assembled in a private array instead.
 */
export interface WriteArea {
  /** The whole shared memory; the other addresses are offsets into it. */
  readonly memory: Uint8Array;
  readonly offset: number;
  readonly size: number;
  /** Copies len bytes from src to dst inside `memory`. */
  copy(dst: number, src: number, len: number): void;
}

export class WriteBuffer {
  /** The bytes written so far are bytes[0 ... length). */
  bytes: Uint8Array;
  length = 0;
  /**
   * true while everything written came from wStr() or ASCII bytes, so the content is known to be
   * valid UTF-8 and a text send needs no validation pass.
   */
  knownText = true;
  /** max_ws_msg_size: the largest message the buffer may hold. */
  readonly limit: number;
  private dv: DataView;
  private readonly area: WriteArea | null;
  /**
   * The area's buffer, read once: `.buffer` of a view of a shared memory is a call into the
   * engine's C++ (measured: 11% of the app thread of an echo with three of them per wBytes).
   */
  private readonly areaBuffer: ArrayBufferLike | null;
  /** The area's bytes, which the buffer returns to after a message that outgrew them. */
  private readonly home: Uint8Array | null;
  private readonly homeDv: DataView | null;
  /** The private array of the last message that outgrew the area, reused by the next one. */
  private spare: Uint8Array | null = null;

  /** `area`: the shared region to write in (see WriteArea); its size replaces `initialSize`. */
  constructor(initialSize: number, limit: number, area: WriteArea | null = null) {
    this.limit = limit;
    if (area !== null && area.size >= 64) {
      this.area = area;
      this.bytes = area.memory.subarray(area.offset, area.offset + Math.min(area.size, limit));
    } else {
      this.area = null;
      this.bytes = new Uint8Array(Math.max(64, Math.min(initialSize, limit)));
    }
    this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.areaBuffer = this.area !== null ? this.bytes.buffer : null;
    this.home = this.area !== null ? this.bytes : null;
    this.homeDv = this.area !== null ? this.dv : null;
  }

  /**
   * Empties the buffer. A message that was handed on stays valid until the next write (the host
   * copies it during send, before any).
   */
  reset(): void {
    this.length = 0;
    this.knownText = true;
    if (this.home !== null && this.bytes !== this.home) {
      // Kept for the next message that outgrows the area (the host copied this one already).
      this.spare = this.bytes;
      this.bytes = this.home;
      this.dv = this.homeDv!;
    }
  }

  /** Makes room for n more bytes and returns the offset to write them at. */
  private room(method: string, n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.bytes.length) {
      if (need > this.limit) {
        this.reset();
        throw new RingSocketAppError(
          AppErrorCode.MESSAGE_TOO_BIG,
          `rs.${method}(): the message would be ${need} bytes, more than max_ws_msg_size (${this.limit}); the unsent message was discarded`,
        );
      }
      let size = this.bytes.length * 2;
      while (size < need) size *= 2;
      const spare = this.spare;
      const grown = spare !== null && spare.length >= need ? spare : new Uint8Array(Math.min(size, this.limit));
      this.spare = null;
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.dv = new DataView(grown.buffer);
      // Until reset(): this message is assembled in private memory.
    }
    this.length = need;
    return at;
  }

  wBytes(src: ArrayBufferView | ArrayBufferLike): void {
    let view: Uint8Array;
    if (src instanceof Uint8Array) view = src;
    else if (ArrayBuffer.isView(src)) view = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    else if ((src as unknown) instanceof ArrayBuffer || (src as unknown) instanceof SharedArrayBuffer) view = new Uint8Array(src as ArrayBufferLike);
    else throw badValue('wBytes', 'a Uint8Array, another ArrayBufferView or an ArrayBuffer', src);
    const n = view.length;
    if (n === 0) return;
    const at = this.room('wBytes', n);
    const a = this.area;
    // In the area (not outgrown into a private array) and from the same shared memory: a wasm copy.
    if (a !== null && this.bytes === this.home && view.buffer === this.areaBuffer) a.copy(this.bytes.byteOffset + at, view.byteOffset, n);
    else this.bytes.set(view, at);
    this.knownText = false;
  }

  wStr(s: string): void {
    if (typeof s !== 'string') throw badValue('wStr', 'a string', s);
    const n = s.length;
    if (n === 0) return;
    // A UTF-16 code unit becomes at most 3 UTF-8 bytes; try the cheap bound first.
    const at = this.length;
    if (at + n * 3 <= this.bytes.length) {
      this.length = at + encoder.encodeInto(s, this.bytes.subarray(at)).written;
      return;
    }
    const encoded = encoder.encode(s);
    const to = this.room('wStr', encoded.length);
    this.bytes.set(encoded, to);
  }

  u8(method: string, value: number, signed: boolean): void {
    if (signed) checkInt(method, value, -128, 127);
    else checkInt(method, value, 0, 255);
    const at = this.room(method, 1);
    this.bytes[at] = value & 0xff;
    if (value < 0 || value > 0x7f) this.knownText = false;
  }

  u16(method: string, value: number, signed: boolean, le: boolean): void {
    if (signed) checkInt(method, value, -0x8000, 0x7fff);
    else checkInt(method, value, 0, 0xffff);
    const at = this.room(method, 2);
    this.dv.setUint16(at, value & 0xffff, le);
    this.knownText = false;
  }

  u32(method: string, value: number, signed: boolean, le: boolean): void {
    if (signed) checkInt(method, value, -0x80000000, 0x7fffffff);
    else checkInt(method, value, 0, 0xffffffff);
    const at = this.room(method, 4);
    this.dv.setUint32(at, value >>> 0, le);
    this.knownText = false;
  }

  u64(method: string, value: bigint | number, signed: boolean, le: boolean): void {
    if (typeof value === 'number' && Number.isSafeInteger(value) && (signed || value >= 0)) {
      // A safe integer without a BigInt: the high word is floor(v / 2^32) (signed), the low word
      // the non-negative rest, which is the two's complement split for negative values too.
      const hi = Math.floor(value / 4294967296);
      const lo = value - hi * 4294967296;
      const at = this.room(method, 8);
      this.dv.setInt32(le ? at + 4 : at, hi, le);
      this.dv.setUint32(le ? at : at + 4, lo, le);
      this.knownText = false;
      return;
    }
    const v = toBig64(method, value, signed);
    const at = this.room(method, 8);
    this.dv.setBigUint64(at, BigInt.asUintN(64, v), le);
    this.knownText = false;
  }

  f32(method: string, value: number, le: boolean): void {
    if (typeof value !== 'number') throw badValue(method, 'a number', value);
    const at = this.room(method, 4);
    this.dv.setFloat32(at, value, le);
    this.knownText = false;
  }

  f64(method: string, value: number, le: boolean): void {
    if (typeof value !== 'number') throw badValue(method, 'a number', value);
    const at = this.room(method, 8);
    this.dv.setFloat64(at, value, le);
    this.knownText = false;
  }

  /** The message written so far; valid until the next write or reset. */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
