// MessageAssembler: the pieces of one fragmented (or multi-read) WebSocket message, gathered until
// its last piece arrives. The one reassembler of the project: the daemon's workers, the stream
// decoder (browsers, tools) and the bench client all use it.
//
// Memory: the payload bytes plus less than MIN_CHUNK, however the message is cut up. Pieces are
// copied into chunks of at least MIN_CHUNK bytes; a chunk is allocated only when the last one is
// full, and then exactly as large as the piece that did not fit (or MIN_CHUNK). A message sent as
// 100,000 one-byte fragments costs about 25 chunks, not 100,000 objects; one sent in 64 KiB reads
// costs one exact chunk per read. No Node API: this file also runs in browsers.

/** The smallest chunk: the most a message can hold beyond its payload. */
export const MIN_CHUNK = 4096;

export class MessageAssembler {
  readonly #chunks: Uint8Array[] = [];
  /** Bytes used in the last chunk. */
  #tailUsed = 0;
  /** Payload bytes gathered. */
  #bytes = 0;
  /** Bytes allocated for them (what this message holds in memory). */
  #capacity = 0;
  /** The message's data kind as the caller defines it (text or binary), set by start(). */
  kind = 0;

  /** Payload bytes gathered so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes of memory the gathered pieces take (payload + less than MIN_CHUNK). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Starts a new message (dropping anything gathered). */
  start(kind: number): void {
    this.reset();
    this.kind = kind;
  }

  /** Copies a piece in; returns how many bytes of memory that allocated (0 when it fitted). */
  append(piece: Uint8Array): number {
    let n = piece.length;
    if (n === 0) return 0;
    this.#bytes += n;
    let from = 0;
    const chunks = this.#chunks;
    if (chunks.length > 0) {
      const tail = chunks[chunks.length - 1];
      const room = tail.length - this.#tailUsed;
      if (room > 0) {
        const k = n < room ? n : room;
        tail.set(k === n ? piece : piece.subarray(0, k), this.#tailUsed);
        this.#tailUsed += k;
        from = k;
        n -= k;
        if (n === 0) return 0;
      }
    }
    const size = n > MIN_CHUNK ? n : MIN_CHUNK;
    const chunk = new Uint8Array(size);
    chunk.set(from === 0 ? piece : piece.subarray(from), 0);
    chunks.push(chunk);
    this.#tailUsed = n;
    this.#capacity += size;
    return size;
  }

  /** Writes the gathered payload into `dst` at `at`; returns the offset just past it. */
  copyTo(dst: Uint8Array, at: number): number {
    const chunks = this.#chunks;
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) {
      dst.set(chunks[i], at);
      at += chunks[i].length;
    }
    if (last >= 0) {
      dst.set(chunks[last].subarray(0, this.#tailUsed), at);
      at += this.#tailUsed;
    }
    return at;
  }

  /**
   * The whole message, with `lastPiece` (if given) appended, as one Uint8Array the caller may
   * keep; the assembler is empty afterwards.
   */
  take(lastPiece?: Uint8Array): Uint8Array {
    const extra = lastPiece ? lastPiece.length : 0;
    const chunks = this.#chunks;
    let out: Uint8Array;
    if (extra === 0 && chunks.length === 1) {
      // One chunk: hand it out without a copy (a view of the used part).
      out = chunks[0].subarray(0, this.#tailUsed);
    } else {
      out = new Uint8Array(this.#bytes + extra);
      const at = this.copyTo(out, 0);
      if (lastPiece) out.set(lastPiece, at);
    }
    this.reset();
    return out;
  }

  /** Drops everything gathered; returns the bytes of memory that frees. */
  reset(): number {
    const freed = this.#capacity;
    this.#chunks.length = 0;
    this.#tailUsed = 0;
    this.#bytes = 0;
    this.#capacity = 0;
    return freed;
  }
}
