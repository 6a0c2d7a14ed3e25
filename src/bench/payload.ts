// Verifiable payloads: a small header (who sent it, its sequence number, for broadcast a send
// timestamp) followed by a fixed byte pattern. Binary payloads carry the header fields as
// little-endian u32; text payloads carry each field as 8 lowercase hex digits and an ASCII pattern,
// so every text payload is valid UTF-8.
//
//   echo:      [stream][seq][pattern...]          (8 bytes binary, 16 text)
//   broadcast: [sender][seq][time µs][pattern...] (12 bytes binary, 24 text)

export type PayloadMode = 'echo' | 'broadcast';

export const Verdict = {
  OK: 0,
  WRONG_SIZE: 1,
  BAD_HEADER: 2,
  BAD_PATTERN: 3,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export const VERDICT_TEXT: readonly string[] = ['ok', 'wrong size', 'unreadable header', 'byte pattern differs'];

const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]); // 0-9a-f

/** The pattern byte at offset `i` of a payload. */
export function patternByte(i: number, binary: boolean): number {
  return binary ? (i * 131 + 17) & 0xff : 0x61 + ((i * 7) % 26); // text: a-z
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

const JSON_NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const JSON_TAGS = ['admin', 'beta', 'editor', 'guest', 'owner', 'viewer'];

/**
 * `size` bytes of JSON-like ASCII text, the same on every run: records with ids, names, flags,
 * numbers and tags, as an app's messages look (it compresses to about a third, not to nothing,
 * as the a-z pattern would).
 */
export function jsonLikeText(size: number): Uint8Array {
  let s = '[';
  let x = 0x2545f491;
  const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  for (let id = 1; s.length < size; id++) {
    const r = next();
    s += `{"id":${id * 7919 % 100000},"user":"${JSON_NAMES[r % JSON_NAMES.length]}${(r >>> 8) % 1000}","active":${(r & 1) === 1},` +
      `"score":${((r >>> 4) % 10000) / 100},"tags":["${JSON_TAGS[(r >>> 12) % JSON_TAGS.length]}","${JSON_TAGS[(r >>> 16) % JSON_TAGS.length]}"],` +
      `"updated":"2026-${String(1 + ((r >>> 20) % 12)).padStart(2, '0')}-${String(1 + ((r >>> 24) % 28)).padStart(2, '0')}T12:${String((r >>> 2) % 60).padStart(2, '0')}:00Z"},`;
  }
  return new TextEncoder().encode(s.slice(0, size));
}

export class PayloadFormat {
  readonly mode: PayloadMode;
  readonly size: number;
  readonly binary: boolean;
  readonly headerSize: number;
  /** A whole payload with the pattern everywhere (the header is written over it per message). */
  readonly template: Uint8Array;
  // Fields of the last payload `read` accepted.
  id = 0;
  seq = 0;
  time = 0;

  /** `jsonLike`: a text payload's bytes after the header are JSON-like text (jsonLikeText), not a-z. */
  constructor(mode: PayloadMode, size: number, binary: boolean, jsonLike = false) {
    this.mode = mode;
    this.size = size;
    this.binary = binary;
    const fields = mode === 'echo' ? 2 : 3;
    this.headerSize = fields * (binary ? 4 : 8);
    if (size < this.headerSize) throw new RangeError(`a ${mode} ${binary ? 'binary' : 'text'} payload needs at least ${this.headerSize} bytes, got ${size}`);
    this.template = new Uint8Array(size);
    if (jsonLike && !binary) this.template.set(jsonLikeText(size));
    else for (let i = 0; i < size; i++) this.template[i] = patternByte(i, binary);
  }

  /** Writes a whole payload into `out` (at least `size` bytes long) at `offset`. */
  write(out: Uint8Array, offset: number, id: number, seq: number, time = 0): void {
    out.set(this.template, offset);
    this.#field(out, offset, 0, id);
    this.#field(out, offset, 1, seq);
    if (this.mode === 'broadcast') this.#field(out, offset, 2, time);
  }

  /** A new payload. */
  make(id: number, seq: number, time = 0): Uint8Array {
    const out = new Uint8Array(this.size);
    this.write(out, 0, id, seq, time);
    return out;
  }

  #field(out: Uint8Array, offset: number, index: number, value: number): void {
    const v = value >>> 0;
    if (this.binary) {
      const p = offset + index * 4;
      out[p] = v & 0xff;
      out[p + 1] = (v >>> 8) & 0xff;
      out[p + 2] = (v >>> 16) & 0xff;
      out[p + 3] = v >>> 24;
    } else {
      const p = offset + index * 8;
      for (let k = 0; k < 8; k++) out[p + k] = HEX[(v >>> (28 - 4 * k)) & 0xf];
    }
  }

  #readField(b: Uint8Array, index: number): number {
    if (this.binary) {
      const p = index * 4;
      return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
    }
    const p = index * 8;
    let v = 0;
    for (let k = 0; k < 8; k++) {
      const d = hexValue(b[p + k]);
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }

  /**
   * Checks a received payload: size, header readable, pattern intact. On OK the header fields are
   * in `id`, `seq` and `time`; the caller checks that they are the ones it expects.
   */
  read(b: Uint8Array): Verdict {
    if (b.length !== this.size) return Verdict.WRONG_SIZE;
    const id = this.#readField(b, 0);
    const seq = this.#readField(b, 1);
    const time = this.mode === 'broadcast' ? this.#readField(b, 2) : 0;
    if (id < 0 || seq < 0 || time < 0) return Verdict.BAD_HEADER;
    const h = this.headerSize;
    const t = this.template;
    // Short payloads: a plain loop beats creating views for Buffer.compare.
    if (this.size - h <= 64) {
      for (let i = h; i < b.length; i++) if (b[i] !== t[i]) return Verdict.BAD_PATTERN;
    } else if (Buffer.compare(b.subarray(h), t.subarray(h)) !== 0) {
      return Verdict.BAD_PATTERN;
    }
    this.id = id;
    this.seq = seq;
    this.time = time;
    return Verdict.OK;
  }
}
