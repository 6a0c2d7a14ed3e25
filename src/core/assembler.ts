// MessageAssembler: the pieces of one fragmented (or multi-read) WebSocket message, gathered until
// its last piece arrives. The one reassembler of the project: the daemon's workers, the stream
// decoder (browsers, tools) and the bench client all use it.
//
// Memory: the payload bytes plus less than MAX_SLACK, however the message is cut up. Pieces are
// copied into chunks; a chunk is allocated only when the last one is full, and then as large as
// the piece that did not fit or, if larger, the bytes gathered so far (at least FIRST_CHUNK, at
// most MAX_SLACK): small messages take small chunks, and a message sent as 100,000 one-byte
// fragments costs about 30 chunks, not 100,000 objects; one sent in 64 KiB reads costs one exact
// chunk per read. No Node API: this file also runs in browsers (the daemon passes Node's faster
// Buffer.allocUnsafe as the allocator).

/** The first chunk of a message whose first piece is smaller. */
export const FIRST_CHUNK = 256;
/** The largest chunk not sized by its piece: the most a message holds beyond its payload. */
export const MAX_SLACK = 4096;

/** Allocates a chunk of exactly `size` bytes (contents need not be zeroed). */
export type ChunkAlloc = (size: number) => Uint8Array;
const zeroed: ChunkAlloc = (size) => new Uint8Array(size);

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
  readonly #alloc: ChunkAlloc;

  constructor(alloc: ChunkAlloc = zeroed) {
    this.#alloc = alloc;
  }

  /** Payload bytes gathered so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes of memory the gathered pieces take (payload + less than MAX_SLACK). */
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
    const grown = this.#capacity < FIRST_CHUNK ? FIRST_CHUNK : this.#capacity < MAX_SLACK ? this.#capacity : MAX_SLACK;
    const size = n > grown ? n : grown;
    const chunk = this.#alloc(size);
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
    if (extra === 0 && chunks.length === 1 && this.#tailUsed === chunks[0].length) {
      // One full chunk: hand it out without a copy.
      out = chunks[0];
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
