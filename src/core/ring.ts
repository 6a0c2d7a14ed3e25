// Single-producer / single-consumer ring of variable-size records in the core's memory, and the
// per-thread wake word (docs/design.md "Ring", docs/core.md "The ring").
//
// The ring's layout and algorithm are defined in assembly/ring.ts (read its header comment first).
// This class is a hybrid, chosen by measurement (docs/core.md "Performance"): every step that
// needs an atomic (publishing, releasing, loading the other side's position when the cached one
// runs out) is one call to the AssemblyScript function, because in V8 a JS Atomics.load/store
// costs about 7 ns (a builtin call) while a JS -> Wasm call costs about 2 ns and Wasm atomics are
// plain instructions. The plain bookkeeping (reserve while the cached free space suffices,
// stage, peek while the cached producer position is ahead, peekSize, consume) runs in
// TypeScript on the core's Int32Array, mirroring assembly/ring.ts's layout and logic line for
// line. Ring.init goes through the AssemblyScript ringInit; test/ring.test.ts drives this class
// and the raw AssemblyScript exports side by side and requires identical results and bytes.
//
// One Ring object per thread and side: the producer thread uses reserve/commit (or
// reserve/stage/.../publish), the consumer thread peek/release (or peek/consume/.../
// releaseConsumed). Both sides may build their own Ring over the same header.

import type { Core, RingExports } from './wasm.ts';

/** Byte offsets inside a ring header (same as assembly/ring.ts; test/ring-constants.test.ts checks every twin). */
export const RingLayout = {
  PROD_POS: 0,
  PROD_WAITING: 4,
  CONS_POS: 64,
  DATA: 128,
  CAPACITY: 132,
  CONS_WAKE: 136,
  PROD_WAKE: 140,
  MAGIC: 144,
  WRITE_POS: 192,
  CACHED_CONS: 196,
  RESERVED: 200,
  RESERVED_POS: 204,
  MAX_BATCH: 208,
  SKIPPED: 212,
  READ_POS: 256,
  CACHED_PROD: 260,
} as const;

/** Bytes of a ring header; the host reserves them 64-byte aligned. */
export const RING_HEADER_SIZE = 320;
/** "RSRG" as a little-endian u32, written by ringInit. */
export const RING_MAGIC = 0x47525352;
/** A ring's capacity is a power of two from RING_MIN_CAPACITY to RING_MAX_CAPACITY bytes. */
export const RING_MIN_CAPACITY = 64;
export const RING_MAX_CAPACITY = 2 ** 30;
/** Bytes before each record's payload (its u32 size). */
export const RING_RECORD_HEADER = 4;
/** Size word of a wrap marker (0xFFFFFFFF, read as an i32). */
export const RING_WRAP = -1;
/** From this offset on, the producer rewinds an empty ring to offset 0 (assembly/ring.ts "Rewind"). */
export const RING_REWIND_OFFSET = 262144;

/** Values of a wake word. */
export const Wake = { AWAKE: 0, SLEEPING: 1 } as const;

/** ringInit's error codes (assembly/ring.ts). */
export const RingInitError = { OK: 0, BAD_HEADER: 1, BAD_CAPACITY: 2, BAD_DATA: 3, BAD_WAKE: 4 } as const;

/** Is `capacity` a valid ring capacity (a power of two from 64 to 2^30)? */
export function isRingCapacity(capacity: number): boolean {
  return (
    Number.isInteger(capacity) &&
    capacity >= RING_MIN_CAPACITY &&
    capacity <= RING_MAX_CAPACITY &&
    (capacity & (capacity - 1)) === 0
  );
}

/**
 * Largest record payload a ring of `capacity` bytes always eventually accepts (capacity / 2 - 4):
 * once the consumer has drained the ring, a record of this size fits wherever the positions are.
 * 0 for an invalid capacity. Same as the AssemblyScript ringMaxRecord.
 */
export function ringMaxRecord(capacity: number): number {
  return isRingCapacity(capacity) ? capacity / 2 - RING_RECORD_HEADER : 0;
}

/** Bytes a record of `size` payload bytes occupies in the data region (size word + padding to 8). */
export function ringSlotSize(size: number): number {
  return (size + 11) & ~7;
}

/**
 * The capacity a ring of `bytes` bytes really gets: the smallest valid capacity (a power of two,
 * at least RING_MIN_CAPACITY) that is at least `bytes`. The daemon rounds its configured ring sizes
 * up with this. A RangeError above RING_MAX_CAPACITY.
 */
export function roundUpRingCapacity(bytes: number): number {
  if (!(bytes <= RING_MAX_CAPACITY)) throw new RangeError(`no ring capacity holds ${bytes} bytes (max ${RING_MAX_CAPACITY})`);
  let capacity = RING_MIN_CAPACITY;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}

const H_PROD_POS = RingLayout.PROD_POS >> 2;
const H_PROD_WAITING = RingLayout.PROD_WAITING >> 2;
const H_CONS_POS = RingLayout.CONS_POS >> 2;
const H_WRITE_POS = RingLayout.WRITE_POS >> 2;
const H_CACHED_CONS = RingLayout.CACHED_CONS >> 2;
const H_RESERVED = RingLayout.RESERVED >> 2;
const H_RESERVED_POS = RingLayout.RESERVED_POS >> 2;
const H_MAX_BATCH = RingLayout.MAX_BATCH >> 2;
const H_SKIPPED = RingLayout.SKIPPED >> 2;
const H_READ_POS = RingLayout.READ_POS >> 2;
const H_CACHED_PROD = RingLayout.CACHED_PROD >> 2;

/**
 * Bytes in use in the ring at `header` (published and not yet released), for a thread that is
 * neither its producer nor its consumer (the metrics scrape). prodPos - consPos counts the tail a
 * wrap marker skipped until the consumer has passed it; right after a rewind that is nearly the
 * whole ring, so a marker at consPos has its tail taken off. A racy read: the consumer may have
 * moved on meanwhile, and then the figure is the one before it did.
 */
export function ringBytesInUse(i32: Int32Array, header: number, data: number, capacity: number): number {
  const h = header >>> 2;
  const cons = Atomics.load(i32, h + H_CONS_POS);
  const used = (Atomics.load(i32, h + H_PROD_POS) - cons) >>> 0;
  if (used === 0) return 0;
  const offset = cons & (capacity - 1);
  if (Atomics.load(i32, (data + offset) >>> 2) !== RING_WRAP) return used;
  return Math.max(0, used - (capacity - offset));
}

function checkRange(core: Core, what: string, ptr: number, bytes: number): void {
  if (!Number.isInteger(ptr) || ptr < core.heapBase || ptr + bytes > core.memory.buffer.byteLength) {
    throw new RangeError(
      `ring ${what} [${ptr}, ${ptr + bytes}) must lie between the core's heapBase ${core.heapBase} and the end of memory ${core.memory.buffer.byteLength}`,
    );
  }
}

export class Ring {
  /** Address of the header. */
  readonly header: number;
  /** Address of the data region. */
  readonly data: number;
  /** Bytes in the data region. */
  readonly capacity: number;
  /** ringMaxRecord(capacity). */
  readonly maxRecord: number;
  readonly #i32: Int32Array;
  // The AssemblyScript functions the fast path falls back to (see the class comment).
  readonly #asReserve: RingExports['ringReserve'];
  readonly #asPublish: RingExports['ringPublish'];
  readonly #asPeek: RingExports['ringPeek'];
  readonly #asReleaseConsumed: RingExports['ringReleaseConsumed'];
  readonly #asCommit: RingExports['ringCommit'];
  readonly #asRelease: RingExports['ringRelease'];
  /** Header index in #i32. */
  readonly #h: number;
  readonly #mask: number;

  /**
   * Lays out an empty ring (through the AssemblyScript ringInit) and returns a Ring over it.
   * `headerPtr`: RING_HEADER_SIZE bytes, 64-byte aligned; `dataPtr`: `capacity` bytes, 8-byte
   * aligned (64 recommended), capacity a power of two from 64 to 2^30; wake words: 4-byte aligned
   * addresses (a 64-byte line each is recommended), or 0 for none. Do this before any other
   * thread uses the ring (e.g. before sending the addresses to the threads).
   */
  static init(core: Core, headerPtr: number, dataPtr: number, capacity: number, consumerWakePtr: number, producerWakePtr: number): Ring {
    if (!isRingCapacity(capacity)) {
      throw new RangeError(`ring capacity must be a power of two from ${RING_MIN_CAPACITY} to ${RING_MAX_CAPACITY}, got ${capacity}`);
    }
    if (headerPtr % 64 !== 0) throw new RangeError(`ring header address ${headerPtr} is not 64-byte aligned`);
    if (dataPtr % 8 !== 0) throw new RangeError(`ring data address ${dataPtr} is not 8-byte aligned`);
    checkRange(core, 'header', headerPtr, RING_HEADER_SIZE);
    checkRange(core, 'data', dataPtr, capacity);
    if (dataPtr < headerPtr + RING_HEADER_SIZE && headerPtr < dataPtr + capacity) {
      throw new RangeError(`ring data [${dataPtr}, ${dataPtr + capacity}) overlaps its header at ${headerPtr}`);
    }
    for (const [what, ptr] of [['consumer', consumerWakePtr], ['producer', producerWakePtr]] as const) {
      if (ptr === 0) continue;
      if (ptr % 4 !== 0) throw new RangeError(`ring ${what} wake word address ${ptr} is not 4-byte aligned`);
      checkRange(core, `${what} wake word`, ptr, 4);
    }
    const rc = core.exports.ringInit(headerPtr, dataPtr, capacity, consumerWakePtr, producerWakePtr);
    if (rc !== RingInitError.OK) throw new Error(`ringInit refused the ring (error ${rc})`);
    return new Ring(core, headerPtr);
  }

  /** A Ring over a header that Ring.init (in any thread) has set up. */
  constructor(core: Core, headerPtr: number) {
    if (!Number.isInteger(headerPtr) || headerPtr % 64 !== 0) throw new RangeError(`ring header address ${headerPtr} is not 64-byte aligned`);
    checkRange(core, 'header', headerPtr, RING_HEADER_SIZE);
    const i32 = core.i32;
    const h = headerPtr >>> 2;
    if (Atomics.load(i32, h + (RingLayout.MAGIC >> 2)) >>> 0 !== RING_MAGIC) {
      throw new Error(`no ring header at ${headerPtr} (Ring.init has not run there)`);
    }
    this.header = headerPtr;
    this.data = i32[h + (RingLayout.DATA >> 2)] >>> 0;
    this.capacity = i32[h + (RingLayout.CAPACITY >> 2)] >>> 0;
    this.maxRecord = ringMaxRecord(this.capacity);
    this.#i32 = i32;
    this.#asReserve = core.exports.ringReserve;
    this.#asPublish = core.exports.ringPublish;
    this.#asPeek = core.exports.ringPeek;
    this.#asReleaseConsumed = core.exports.ringReleaseConsumed;
    this.#asCommit = core.exports.ringCommit;
    this.#asRelease = core.exports.ringRelease;
    this.#h = h;
    this.#mask = this.capacity - 1;
  }

  // ---- producer ----

  /**
   * Reserves room for a record of `size` payload bytes (0 .. maxRecord) and returns the address
   * to write the payload at, or 0 when the ring is full right now. Nothing is visible to the
   * consumer until commit (or stage + publish). A later reserve replaces this one.
   * Throws a RangeError for a size above maxRecord (such a record would never fit).
   */
  reserve(size: number): number {
    if (!(size >= 0 && size <= this.maxRecord)) {
      throw new RangeError(`ring record of ${size} bytes exceeds this ring's maximum of ${this.maxRecord}`);
    }
    const i32 = this.#i32;
    const h = this.#h;
    const capacity = this.capacity;
    const slot = (size + 11) & ~7;
    let pos = i32[h + H_WRITE_POS];
    const offset = pos & this.#mask;
    const tail = capacity - offset;
    let wrap = slot > tail;
    if (!wrap && offset >= RING_REWIND_OFFSET && slot <= offset && i32[h + H_MAX_BATCH] <= offset >>> 1 &&
        pos === i32[h + H_PROD_POS]) {
      // Nothing staged, and room for twice the recent largest batch: rewind if the consumer has
      // released everything. When the cached consPos does not say so, the AssemblyScript reserve
      // loads consPos and decides.
      if (i32[h + H_CACHED_CONS] !== pos) return this.#asReserve(this.header, size) >>> 0;
      wrap = true;
    }
    const need = wrap ? tail + slot : slot;
    // Out of space as far as the producer knows: the AssemblyScript reserve loads consPos.
    if (need > capacity - ((pos - i32[h + H_CACHED_CONS]) | 0)) return this.#asReserve(this.header, size) >>> 0;
    if (i32[h + H_PROD_WAITING] !== 0) Atomics.store(i32, h + H_PROD_WAITING, 0);
    let at = this.data + offset;
    if (wrap) {
      i32[at >>> 2] = RING_WRAP;
      pos = (pos + tail) | 0;
      at = this.data;
    }
    i32[h + H_RESERVED] = slot;
    i32[h + H_RESERVED_POS] = pos;
    return at + RING_RECORD_HEADER;
  }

  /**
   * Adds the reserved record, with its final payload `size` (at most the reserved size), to the
   * records the next publish makes visible. Use stage + one publish to send a batch.
   */
  stage(size: number): void {
    const i32 = this.#i32;
    const h = this.#h;
    const reserved = i32[h + H_RESERVED];
    if (reserved === 0 || !(size >= 0 && size <= reserved - RING_RECORD_HEADER)) this.#badStage(size);
    const pos = i32[h + H_RESERVED_POS];
    i32[(this.data + (pos & this.#mask)) >>> 2] = size;
    // The tail this reservation's wrap marker skipped (0 if it did not wrap); ringPublish leaves it
    // out of maxBatch.
    i32[h + H_SKIPPED] = (i32[h + H_SKIPPED] + pos - i32[h + H_WRITE_POS]) | 0;
    i32[h + H_WRITE_POS] = (pos + ((size + 11) & ~7)) | 0;
    i32[h + H_RESERVED] = 0;
  }

  #badStage(size: number): never {
    const reserved = this.#i32[this.#h + H_RESERVED];
    throw new RangeError(
      reserved === 0 ? 'ring commit/stage without a reservation' : `ring commit/stage of ${size} bytes exceeds the ${reserved - RING_RECORD_HEADER}-byte reservation`,
    );
  }

  /**
   * Makes every staged record visible with one atomic store, then notifies the consumer thread
   * if, and only if, it announced SLEEPING. Returns true if it called Atomics.notify.
   */
  publish(): boolean {
    const i32 = this.#i32;
    const h = this.#h;
    if (i32[h + H_WRITE_POS] === i32[h + H_PROD_POS]) return false;
    return this.#asPublish(this.header) !== 0;
  }

  /** stage(size) + publish() in one AssemblyScript call: returns true if it notified the consumer. */
  commit(size: number): boolean {
    const notified = this.#asCommit(this.header, size);
    if (notified < 0) this.#badStage(size);
    return notified !== 0;
  }

  /**
   * Announces that this producer is about to sleep until the consumer frees space (then
   * releaseConsumed/release notify the producer's wake word). Call it after reserve returned 0,
   * before WakeWord.prepareSleep; the next successful reserve withdraws it.
   */
  wantSpace(): void {
    Atomics.store(this.#i32, this.#h + H_PROD_WAITING, 1);
  }

  /** Withdraws wantSpace() (e.g. the producer gave up waiting). */
  cancelWantSpace(): void {
    Atomics.store(this.#i32, this.#h + H_PROD_WAITING, 0);
  }

  /**
   * reserve(size), sleeping on `wake` (the producer thread's wake word, the one this ring was
   * given as producerWakePtr) while the ring is full, for at most `timeoutMs` in total. Blocks
   * the thread (Atomics.wait): for app threads that must wait for outbound space. Publishes any
   * staged records before it sleeps (the consumer cannot free space it cannot see). Returns the
   * payload address, or 0 when the time ran out.
   */
  reserveBlocking(size: number, wake: WakeWord, timeoutMs: number): number {
    let ptr = this.reserve(size);
    if (ptr !== 0) return ptr;
    this.publish();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.wantSpace();
      wake.prepareSleep();
      ptr = this.reserve(size);
      if (ptr !== 0) {
        wake.cancelSleep();
        return ptr;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        wake.cancelSleep();
        this.cancelWantSpace();
        return 0;
      }
      wake.waitSync(left);
      ptr = this.reserve(size);
      if (ptr !== 0) return ptr;
    }
  }

  // ---- consumer ----

  /** Address of the next record's payload, or 0 when the ring is empty. */
  peek(): number {
    const i32 = this.#i32;
    const h = this.#h;
    let pos = i32[h + H_READ_POS];
    // Caught up with what the consumer knows: the AssemblyScript peek loads prodPos.
    if (pos === i32[h + H_CACHED_PROD]) return this.#asPeek(this.header) >>> 0;
    const offset = pos & this.#mask;
    const at = this.data + offset;
    if (i32[at >>> 2] !== RING_WRAP) return at + RING_RECORD_HEADER;
    // A wrap marker is always published together with the record after it.
    pos = (pos + this.capacity - offset) | 0;
    i32[h + H_READ_POS] = pos;
    return this.data + RING_RECORD_HEADER;
  }

  /** Payload size of the record peek() returned (only after a non-zero peek). */
  peekSize(): number {
    return this.#i32[(this.data + (this.#i32[this.#h + H_READ_POS] & this.#mask)) >>> 2];
  }

  /**
   * Steps past the next record without freeing its space: its bytes stay valid until
   * releaseConsumed. Returns false when the ring is empty. Drain a batch with peek/consume, then
   * free it with one releaseConsumed.
   */
  consume(): boolean {
    const ptr = this.peek();
    if (ptr === 0) return false;
    const i32 = this.#i32;
    const h = this.#h;
    i32[h + H_READ_POS] = (i32[h + H_READ_POS] + ((i32[(ptr - RING_RECORD_HEADER) >>> 2] + 11) & ~7)) | 0;
    return true;
  }

  /**
   * Frees every consumed record with one atomic store, then notifies the producer thread if it
   * announced wantSpace and SLEEPING. Returns true if it called Atomics.notify.
   */
  releaseConsumed(): boolean {
    const i32 = this.#i32;
    const h = this.#h;
    if (i32[h + H_READ_POS] === i32[h + H_CONS_POS]) return false;
    return this.#asReleaseConsumed(this.header) !== 0;
  }

  /** consume() + releaseConsumed() in one AssemblyScript call: frees the next record. Returns true if it notified the producer. */
  release(): boolean {
    return this.#asRelease(this.header) !== 0;
  }

  /** Bytes between the consumer's published position and the producer's (a snapshot). */
  usedBytes(): number {
    return (Atomics.load(this.#i32, this.#h + H_PROD_POS) - Atomics.load(this.#i32, this.#h + H_CONS_POS)) >>> 0;
  }
}

type WaitResult = 'ok' | 'not-equal' | 'timed-out';
// Atomics.waitAsync is ES2024; tsconfig's lib is ES2023.
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeout?: number): { async: boolean; value: WaitResult | Promise<WaitResult> };
}).waitAsync;

/**
 * One thread's wake word (an i32 in the shared memory, one 64-byte line per thread recommended),
 * shared by every ring the thread consumes (and the rings it produces into, for wantSpace).
 * Protocol: prepareSleep(), check every ring again, then cancelSleep() if there is work, else
 * waitAsync()/waitSync(). Producers that see SLEEPING swap it to AWAKE and notify. Needs the
 * shared build (waiting on a private memory throws a TypeError).
 */
export class WakeWord {
  readonly ptr: number;
  /** Statistics: prepareSleep calls, and waits (waitAsync + waitSync calls). */
  announced = 0;
  waits = 0;
  readonly #i32: Int32Array;
  readonly #index: number;

  constructor(core: Core, ptr: number) {
    if (!Number.isInteger(ptr) || ptr % 4 !== 0 || ptr === 0) throw new RangeError(`wake word address ${ptr} is not a non-zero multiple of 4`);
    checkRange(core, 'wake word', ptr, 4);
    this.ptr = ptr;
    this.#i32 = core.i32;
    this.#index = ptr >>> 2;
  }

  /** Stores SLEEPING: from now on producers will notify. Check the rings again before waiting. */
  prepareSleep(): void {
    this.announced++;
    Atomics.store(this.#i32, this.#index, Wake.SLEEPING);
  }

  /** Stores AWAKE: the re-check found work. */
  cancelSleep(): void {
    Atomics.store(this.#i32, this.#index, Wake.AWAKE);
  }

  /** Whether the word says SLEEPING (a snapshot). */
  get sleeping(): boolean {
    return Atomics.load(this.#i32, this.#index) === Wake.SLEEPING;
  }

  /**
   * Waits without blocking the thread until a producer notifies or `timeoutMs` passes ('ok',
   * 'timed-out'; 'not-equal' if a producer already woke it); without `timeoutMs`, until notified.
   * Leaves the word AWAKE. Note: a pending waitAsync does not keep Node's event loop alive.
   * A thread that waits thousands of times a second should wait without a timeout and end the wait
   * from a timer of its own (poke()): with a timeout, a wait that a notify ends cost 2.5 times the
   * CPU in Node 24 (docs/performance.md, "Waiting without a timeout"). Without a timeout only a
   * notify ends the wait: producers notify only a word that says SLEEPING, so whatever stores
   * AWAKE meanwhile (a nested waitSync, cancelSleep) must be followed by a poke().
   */
  async waitAsync(timeoutMs?: number): Promise<WaitResult> {
    this.waits++;
    const r = waitAsync(this.#i32, this.#index, Wake.SLEEPING, timeoutMs);
    const result = r.async ? await r.value : (r.value as WaitResult);
    Atomics.store(this.#i32, this.#index, Wake.AWAKE);
    return result;
  }

  /** Blocks the thread (Atomics.wait) like waitAsync; not allowed on a browser's main thread. */
  waitSync(timeoutMs: number): WaitResult {
    this.waits++;
    const result = Atomics.wait(this.#i32, this.#index, Wake.SLEEPING, timeoutMs);
    Atomics.store(this.#i32, this.#index, Wake.AWAKE);
    return result;
  }

  /**
   * Ends this thread's own pending waitAsync whatever the word says (stores AWAKE, notifies): for
   * the thread's timers. A synchronous wait on the same word in between (reserveBlocking, from a
   * callback that ran while the loop was waiting) leaves the word AWAKE with the waitAsync still
   * pending, which wake() would then never end.
   */
  poke(): void {
    Atomics.store(this.#i32, this.#index, Wake.AWAKE);
    Atomics.notify(this.#i32, this.#index);
  }

  /** Wakes the thread if it announced SLEEPING (e.g. to deliver a shutdown); true if it notified. */
  wake(): boolean {
    const i32 = this.#i32;
    if (Atomics.compareExchange(i32, this.#index, Wake.SLEEPING, Wake.AWAKE) !== Wake.SLEEPING) return false;
    Atomics.notify(i32, this.#index);
    return true;
  }
}
