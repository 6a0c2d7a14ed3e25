// Finding the end of an HTTP request head in bytes that arrive in chunks.
// No sockets here: the worker feeds what it reads and gets back the head and the bytes behind it.

import { HttpRefusal } from './refusals.ts';
import type { Refusal } from './refusals.ts';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Index just past the empty line that ends the request head in `buf[0..end)`, or -1.
 *
 * RFC 9112 §2.1: the head ends with an empty line (CRLF CRLF). This also stops at an empty line
 * whose line breaks are bare LFs (LF LF, LF CR LF, CRLF LF) so that such a head is answered with
 * 400 by `parseRequestHead` at once instead of waiting for a CRLF CRLF that never comes.
 *
 * Resuming: pass as `from` the length already scanned by a previous call that returned -1.
 * Only the bytes from `from` on are searched for a line feed; the up to two bytes before it are
 * looked at to recognise a terminator split across chunks. `from = 0` scans everything.
 */
export function findHeadEnd(buf: Uint8Array, from = 0, end = buf.length): number {
  // A plain loop: measured faster than Uint8Array#indexOf for heads of a few hundred bytes.
  const stop = end < buf.length ? end : buf.length;
  for (let i = from < 1 ? 1 : from; i < stop; i++) {
    if (buf[i] !== LF) continue;
    // LF LF, or LF CR LF (which covers CR LF CR LF).
    const p = buf[i - 1];
    if (p === LF || (p === CR && i >= 2 && buf[i - 2] === LF)) return i + 1;
  }
  return -1;
}

export interface HeadPending {
  readonly done: false;
  /** null: send more bytes; a refusal (431, `HttpRefusal.HEAD_TOO_LARGE`): answer it and close. */
  readonly refusal: Refusal | null;
}

/** `HeadAccumulator.push` result while the head is not complete yet (a shared constant). */
export const HEAD_INCOMPLETE: HeadPending = Object.freeze({ done: false, refusal: null });
/** `HeadAccumulator.push` result for a head past the size limit (a shared constant). */
export const HEAD_TOO_LARGE: HeadPending = Object.freeze({ done: false, refusal: HttpRefusal.HEAD_TOO_LARGE });

export interface HeadComplete {
  readonly done: true;
  /** The request head, from its first byte through the empty line that ends it. */
  readonly head: Uint8Array;
  /** The bytes received behind the head (a first WebSocket frame, maybe): never dropped. */
  readonly rest: Uint8Array;
}

export type HeadPush = HeadPending | HeadComplete;

/**
 * The head and what follows it when `chunk` holds a whole head of at most `maxHeadSize` bytes (views
 * of `chunk`, nothing copied), else null: what `HeadAccumulator.push` does with a first chunk, for a
 * caller that creates an accumulator only for a head that spans chunks.
 */
export function headInOneChunk(chunk: Uint8Array, maxHeadSize: number): HeadComplete | null {
  const e = findHeadEnd(chunk, 0, Math.min(chunk.length, maxHeadSize));
  return e >= 0 ? { done: true, head: chunk.subarray(0, e), rest: chunk.subarray(e) } : null;
}

/**
 * Collects the request head from chunks, bounded by `maxHeadSize` bytes (the head including its
 * final empty line; `max_http_head_size`). One accumulator per connection, used until `push`
 * returns `done: true` (the head) or a `refusal` (431 `HttpRefusal.HEAD_TOO_LARGE`).
 *
 * The usual case, a whole head in the first chunk, copies nothing: `head` and `rest` are views of
 * that chunk. Otherwise the chunks are copied into a buffer of at most `maxHeadSize` bytes, and
 * `rest` is a view of the last chunk. The caller must not reuse a chunk's memory while `head` or
 * `rest` is in use.
 */
export class HeadAccumulator {
  readonly maxHeadSize: number;
  #buf: Uint8Array | null = null;
  #len = 0;
  #finished = false;

  constructor(maxHeadSize: number) {
    if (!Number.isSafeInteger(maxHeadSize) || maxHeadSize < 16) {
      throw new RangeError(`maxHeadSize must be an integer >= 16, got ${maxHeadSize}`);
    }
    this.maxHeadSize = maxHeadSize;
  }

  /** Bytes of an unfinished head held so far. */
  get buffered(): number {
    return this.#len;
  }

  push(chunk: Uint8Array): HeadPush {
    if (this.#finished) throw new Error('HeadAccumulator: push after the head was complete or refused');
    const max = this.maxHeadSize;
    if (this.#len === 0) {
      const whole = headInOneChunk(chunk, max);
      if (whole !== null) {
        this.#finished = true;
        return whole;
      }
      if (chunk.length >= max) return this.#refuse();
      if (chunk.length === 0) return HEAD_INCOMPLETE;
      const cap = Math.min(max, Math.max(1024, chunk.length * 2));
      this.#buf = new Uint8Array(cap);
      this.#buf.set(chunk, 0);
      this.#len = chunk.length;
      return HEAD_INCOMPLETE;
    }
    const prev = this.#len;
    const take = Math.min(chunk.length, max - prev);
    let buf = this.#buf!;
    if (prev + take > buf.length) {
      const grown = new Uint8Array(Math.min(max, Math.max(prev + take, buf.length * 2)));
      grown.set(buf.subarray(0, prev), 0);
      buf = this.#buf = grown;
    }
    buf.set(take === chunk.length ? chunk : chunk.subarray(0, take), prev);
    const len = (this.#len = prev + take);
    const e = findHeadEnd(buf, prev, len);
    if (e >= 0) return this.#complete(buf.subarray(0, e), chunk.subarray(e - prev));
    if (len >= max) return this.#refuse();
    return HEAD_INCOMPLETE;
  }

  #complete(head: Uint8Array, rest: Uint8Array): HeadComplete {
    this.#finished = true;
    this.#buf = null;
    return { done: true, head, rest };
  }

  #refuse(): HeadPending {
    this.#finished = true;
    this.#buf = null;
    return HEAD_TOO_LARGE;
  }
}
