// Single-producer / single-consumer ring of variable-size records in linear memory
// (docs/design.md "Ring", docs/core.md "The ring"). The host places the header, the data region
// and the wake words; this file only reads and writes at the addresses it is given. No globals,
// no allocation. src/core/ring.ts mirrors this layout and logic for its TypeScript fast path;
// test/ring.test.ts runs both against each other.
//
// Positions are u32 byte counters that only grow (and wrap at 2^32). The offset of a position in
// the data region is `pos & (capacity - 1)`, so the capacity is a power of two (64 .. 2^30): then
// 2^32 is a multiple of it and `prod - cons` (mod 2^32) is always the number of bytes in use.
//
// Header (RING_HEADER_SIZE = 320 bytes, 64-byte aligned): one 64-byte line per writer, so the
// producer's and the consumer's stores never share a cache line.
//   line 0, written by the producer, read by the consumer
//     +0   prodPos      u32  published end of the committed records (atomic store / atomic load)
//     +4   prodWaiting  i32  1 while the producer waits for space (set by the producer before it
//                            sleeps, cleared by the producer once a reserve succeeds)
//   line 1, written by the consumer, read by the producer
//     +64  consPos      u32  published end of the released records
//   line 2, written once by ringInit, read-only afterwards
//     +128 data         u32  address of the data region (8-byte aligned)
//     +132 capacity     u32  power of two, 64 .. 2^30
//     +136 consWake     u32  address of the consumer thread's wake word (0 = none)
//     +140 prodWake     u32  address of the producer thread's wake word (0 = none)
//     +144 magic        u32  RING_MAGIC, so a thread can check it was given a ring header
//   line 3, producer-private
//     +192 writePos     u32  end of the staged records (>= prodPos; equal when all are published)
//     +196 cachedCons   u32  last consPos the producer loaded
//     +200 reserved     u32  slot size of the current reservation, 0 = none
//     +204 reservedPos  u32  position of the current reservation (after a wrap marker)
//     +208 maxBatch     u32  decaying maximum of the record bytes one ringPublish made visible
//                            (see "Rewind" below)
//     +212 skipped      u32  bytes skipped by wrap markers (tails of normal wraps and rewinds)
//                            among the staged, unpublished records; 0 after each ringPublish
//   line 4, consumer-private
//     +256 readPos      u32  position of the next record to read (>= consPos)
//     +260 cachedProd   u32  last prodPos the consumer loaded
//
// Record: a u32 payload size, then the payload, padded so the next record starts 8-byte aligned
// (slot = (size + 4 + 7) & ~7). The payload pointer is therefore 4 mod 8: a payload that starts
// with a 4-byte field has its next field 8-byte aligned. A record never wraps: when its slot does
// not fit in the bytes left before the end of the data region (the tail), the producer writes the
// wrap marker 0xFFFFFFFF where the size would go and the record starts at offset 0. Since slots
// are multiples of 8 and the capacity is a multiple of 8, a non-empty tail always has room for the
// marker. ringMaxRecord(capacity) = capacity / 2 - 4 bytes: a slot of at most capacity / 2 fits in
// an empty ring at any offset (either the tail or the part before it is at least half).
//
// Rewind: a big ring with little traffic would otherwise walk its whole data region before it
// wraps, so nearly every record would land on a cache line that is not in the cache. So the
// producer also wraps early, as above (marker at the current offset, record at offset 0), when
// nothing is staged (writePos == prodPos), the ring is empty (consPos == writePos: cachedCons if it
// already says so, else one atomic load of consPos, kept in cachedCons), the offset is at least
// REWIND_OFFSET, the slot fits before it (slot <= offset) and the offset is at least twice
// maxBatch (offset >>> 1 >= maxBatch, which cannot overflow). Only the first record of a batch can
// rewind, so staging a burst costs no extra atomic load. Rings of 256 KiB or less never rewind.
// The consumer is unchanged: it follows a wrap marker at any offset, and the marker is published
// together with the record after it. As with any wrap, the skipped tail counts as used
// (prodPos - consPos) until the consumer releases the record after the marker; until then the
// producer has offset - slot bytes of room, at least REWIND_OFFSET - slot. So the batch that
// starts with a rewind has only about `offset` bytes of room, and a producer that stages a large
// batch before its one publish would find the ring "full" halfway through it. Hence the guard:
// each ringPublish that makes the records of B bytes visible sets
// maxBatch = max(B, maxBatch - (maxBatch >>> 4)), and requiring offset >= 2 * maxBatch gives the
// batch after a rewind about twice the recent largest batch of room, which keeps ordinary batches
// out of the "full" path. B counts record slots only: B = writePos - prodPos - skipped, where
// skipped (added up by ringStage, reset by ringPublish) is what the batch's wrap markers skipped,
// normal wraps and rewinds alike. A skipped tail is not room the next batch needs, and it can be
// nearly the whole ring: counted, the publish that carries a rewind would raise maxBatch to about
// the capacity and block the next rewind for dozens of publishes while the ring walks its cold
// data region again, the very thing the rewind is for. So a ring that carries small batches
// rewinds every time its offset passes max(REWIND_OFFSET, 2 * maxBatch). The decay (1/16 per
// publish) lets a one-off burst stop blocking rewinds after a few dozen publishes (maxBatch halves
// in 11, falls below 1/8 in 33). maxBatch <= capacity, since a batch's records fit in the ring.
//
// Wake words (one i32 per thread, shared by every ring that thread consumes): AWAKE 0, SLEEPING 1.
// A thread that runs out of work stores SLEEPING, checks all its rings again, and only then waits
// on the word. A producer publishes first and then looks at the consumer's word; only if it reads
// SLEEPING does it swap it to AWAKE and notify. Wasm atomics are sequentially consistent, so
// either the consumer's re-check sees the new record or the producer sees SLEEPING: no lost
// wake-up, and no notify while the consumer is awake. Releasing works the same way towards a
// producer that set prodWaiting.

// Header offsets (mirrored in src/core/ring.ts RingLayout; test/ring-constants.test.ts reads every
// `@inline const` of this file and checks its TypeScript twin, so keep each one a plain integer
// literal, one per line).
@inline const PROD_POS: usize = 0;
@inline const PROD_WAITING: usize = 4;
@inline const CONS_POS: usize = 64;
@inline const DATA: usize = 128;
@inline const CAPACITY: usize = 132;
@inline const CONS_WAKE: usize = 136;
@inline const PROD_WAKE: usize = 140;
@inline const MAGIC: usize = 144;
@inline const WRITE_POS: usize = 192;
@inline const CACHED_CONS: usize = 196;
@inline const RESERVED: usize = 200;
@inline const RESERVED_POS: usize = 204;
@inline const MAX_BATCH: usize = 208;
@inline const SKIPPED: usize = 212;
@inline const READ_POS: usize = 256;
@inline const CACHED_PROD: usize = 260;
@inline const RING_HEADER_SIZE: u32 = 320;

/** "RSRG" read as a little-endian u32. */
@inline const RING_MAGIC: u32 = 0x47525352;
@inline const WRAP: u32 = 0xffffffff;
@inline const MIN_CAPACITY: u32 = 64;
@inline const MAX_CAPACITY: u32 = 0x40000000;
/** Bytes before each record's payload: its u32 size. */
@inline const RECORD_HEADER: u32 = 4;
/** The producer rewinds an empty ring to offset 0 from this offset on (see "Rewind" above). */
@inline const REWIND_OFFSET: u32 = 262144;

@inline const AWAKE: i32 = 0;
@inline const SLEEPING: i32 = 1;

// ringInit error codes (mirrored in src/core/ring.ts RingInitError).
@inline const INIT_OK: i32 = 0;
@inline const INIT_BAD_HEADER: i32 = 1;
@inline const INIT_BAD_CAPACITY: i32 = 2;
@inline const INIT_BAD_DATA: i32 = 3;
@inline const INIT_BAD_WAKE: i32 = 4;

/** Bytes a record of `size` payload bytes occupies in the data region (header + payload, padded to 8). */
// @ts-ignore: decorator
@inline function slotSize(size: u32): u32 {
  return (size + RECORD_HEADER + 7) & ~7;
}

/** Wakes the thread owning `wake` if it announced SLEEPING; returns 1 if it notified. */
// @ts-ignore: decorator
@inline function wakeIfSleeping(wake: usize): i32 {
  if (wake != 0 && atomic.load<i32>(wake) == SLEEPING &&
      atomic.cmpxchg<i32>(wake, SLEEPING, AWAKE) == SLEEPING) {
    atomic.notify(wake, -1);
    return 1;
  }
  return 0;
}

/** Size of a ring header in bytes (the host reserves this much, 64-byte aligned). */
export function ringHeaderSize(): u32 {
  return RING_HEADER_SIZE;
}

/** Largest payload a ring of `capacity` bytes always eventually accepts; 0 for a bad capacity. */
export function ringMaxRecord(capacity: u32): u32 {
  if (capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) != 0) return 0;
  return (capacity >>> 1) - RECORD_HEADER;
}

/**
 * Sets up an empty ring. `header` is 64-byte aligned (RING_HEADER_SIZE bytes), `data` 8-byte
 * aligned (`capacity` bytes, a power of two from 64 to 2^30), the wake words 4-byte aligned or 0.
 * Returns 0, or an error code (1 header, 2 capacity, 3 data, 4 wake word) and writes nothing.
 * Must happen before any thread uses the ring.
 */
export function ringInit(header: usize, data: usize, capacity: u32, consWake: usize, prodWake: usize): i32 {
  if ((header & 63) != 0) return INIT_BAD_HEADER;
  if (ringMaxRecord(capacity) == 0) return INIT_BAD_CAPACITY;
  if ((data & 7) != 0) return INIT_BAD_DATA;
  if ((consWake & 3) != 0 || (prodWake & 3) != 0) return INIT_BAD_WAKE;
  memory.fill(header, 0, RING_HEADER_SIZE);
  store<u32>(header, <u32>data, DATA);
  store<u32>(header, capacity, CAPACITY);
  store<u32>(header, <u32>consWake, CONS_WAKE);
  store<u32>(header, <u32>prodWake, PROD_WAKE);
  atomic.store<u32>(header, RING_MAGIC, MAGIC);
  return INIT_OK;
}

/** RING_MAGIC if `header` holds an initialised ring. */
export function ringMagic(header: usize): u32 {
  return atomic.load<u32>(header, MAGIC);
}

// ---- producer ----

/**
 * Reserves room for a record of `size` payload bytes and returns where to write the payload, or 0
 * when the ring is full (or `size` exceeds ringMaxRecord: such a record never fits). Nothing is
 * visible to the consumer until ringCommit / ringPublish. A later reserve replaces this one.
 */
export function ringReserve(header: usize, size: u32): usize {
  const capacity = load<u32>(header, CAPACITY);
  if (size > (capacity >>> 1) - RECORD_HEADER) return 0;
  const slot = slotSize(size);
  let pos = load<u32>(header, WRITE_POS);
  const offset = pos & (capacity - 1);
  const tail = capacity - offset;
  let wrap = slot > tail;
  if (!wrap && offset >= REWIND_OFFSET && slot <= offset && load<u32>(header, MAX_BATCH) <= offset >>> 1 &&
      pos == load<u32>(header, PROD_POS)) {
    // Nothing staged, and room for twice the recent largest batch: rewind if the consumer has
    // released everything.
    let cons = load<u32>(header, CACHED_CONS);
    if (cons != pos) {
      cons = atomic.load<u32>(header, CONS_POS);
      store<u32>(header, cons, CACHED_CONS);
    }
    wrap = cons == pos;
  }
  const need = wrap ? tail + slot : slot;
  if (need > capacity - (pos - load<u32>(header, CACHED_CONS))) {
    const cons = atomic.load<u32>(header, CONS_POS);
    store<u32>(header, cons, CACHED_CONS);
    if (need > capacity - (pos - cons)) return 0;
  }
  if (load<i32>(header, PROD_WAITING) != 0) atomic.store<i32>(header, 0, PROD_WAITING);
  const data = <usize>load<u32>(header, DATA);
  let at = data + offset;
  if (wrap) {
    store<u32>(at, WRAP);
    pos += tail;
    at = data;
  }
  store<u32>(header, slot, RESERVED);
  store<u32>(header, pos, RESERVED_POS);
  return at + RECORD_HEADER;
}

/**
 * Appends the reserved record with its final `size` (at most the reserved size) to the records
 * the next ringPublish makes visible. Returns 0, or -1 (nothing staged) when there is no
 * reservation or `size` exceeds it.
 */
export function ringStage(header: usize, size: u32): i32 {
  const reserved = load<u32>(header, RESERVED);
  if (reserved == 0 || size > reserved - RECORD_HEADER) return -1;
  const pos = load<u32>(header, RESERVED_POS);
  const data = <usize>load<u32>(header, DATA);
  store<u32>(data + (pos & (load<u32>(header, CAPACITY) - 1)), size);
  // The tail this reservation's wrap marker skipped (0 if it did not wrap): counted here, not in
  // ringReserve, so a reservation that a later reserve replaces never counts.
  store<u32>(header, load<u32>(header, SKIPPED) + (pos - load<u32>(header, WRITE_POS)), SKIPPED);
  store<u32>(header, pos + slotSize(size), WRITE_POS);
  store<u32>(header, 0, RESERVED);
  return 0;
}

/**
 * Makes every staged record visible to the consumer with one atomic store, then wakes the
 * consumer thread if (and only if) it announced SLEEPING. Returns 1 if it notified, else 0.
 * Also tracks maxBatch (the rewind's guard) from the bytes of the batch's records (the tails its
 * wrap markers skipped, which ringStage and the TypeScript Ring.stage add up in skipped, do not
 * count), and resets skipped: the only place the producer publishes, since ringCommit and the
 * TypeScript Ring's publish and commit all come here. A publish with nothing staged changes
 * nothing (skipped is 0 then).
 */
export function ringPublish(header: usize): i32 {
  const pos = load<u32>(header, WRITE_POS);
  const prod = load<u32>(header, PROD_POS);
  if (pos == prod) return 0;
  // The bytes of the batch's records: the tails its wrap markers skipped do not count.
  const batch = pos - prod - load<u32>(header, SKIPPED);
  store<u32>(header, 0, SKIPPED);
  const decayed = load<u32>(header, MAX_BATCH);
  store<u32>(header, max(batch, decayed - (decayed >>> 4)), MAX_BATCH);
  atomic.store<u32>(header, pos, PROD_POS);
  return wakeIfSleeping(<usize>load<u32>(header, CONS_WAKE));
}

/** ringStage + ringPublish: returns 1 if it notified the consumer, 0 if not, -1 on a bad size. */
export function ringCommit(header: usize, size: u32): i32 {
  if (ringStage(header, size) != 0) return -1;
  return ringPublish(header);
}

/**
 * Announces that the producer is about to sleep until the consumer frees space: releases then
 * wake the producer's wake word. The next successful reserve withdraws the announcement.
 */
export function ringWantSpace(header: usize): void {
  atomic.store<i32>(header, 1, PROD_WAITING);
}

// ---- consumer ----

/** Address of the next record's payload, or 0 when the ring is empty. */
export function ringPeek(header: usize): usize {
  let pos = load<u32>(header, READ_POS);
  if (pos == load<u32>(header, CACHED_PROD)) {
    const prod = atomic.load<u32>(header, PROD_POS);
    if (pos == prod) return 0;
    store<u32>(header, prod, CACHED_PROD);
  }
  const capacity = load<u32>(header, CAPACITY);
  const data = <usize>load<u32>(header, DATA);
  const offset = pos & (capacity - 1);
  if (load<u32>(data + offset) != WRAP) return data + offset + RECORD_HEADER;
  // A wrap marker is always published together with the record after it.
  pos += capacity - offset;
  store<u32>(header, pos, READ_POS);
  return data + RECORD_HEADER;
}

/** Payload size of the record ringPeek returned (call only after a non-zero ringPeek). */
export function ringPeekSize(header: usize): u32 {
  const data = <usize>load<u32>(header, DATA);
  return load<u32>(data + (load<u32>(header, READ_POS) & (load<u32>(header, CAPACITY) - 1)));
}

/**
 * Steps past the next record without freeing its space: its bytes stay valid until
 * ringReleaseConsumed. Returns 1, or 0 when the ring is empty.
 */
export function ringConsume(header: usize): i32 {
  const payload = ringPeek(header);
  if (payload == 0) return 0;
  store<u32>(header, load<u32>(header, READ_POS) + slotSize(load<u32>(payload - RECORD_HEADER)), READ_POS);
  return 1;
}

/**
 * Frees every consumed record with one atomic store, then wakes the producer thread if it waits
 * for space and announced SLEEPING. Returns 1 if it notified, else 0.
 */
export function ringReleaseConsumed(header: usize): i32 {
  const pos = load<u32>(header, READ_POS);
  if (pos == load<u32>(header, CONS_POS)) return 0;
  atomic.store<u32>(header, pos, CONS_POS);
  if (atomic.load<i32>(header, PROD_WAITING) == 0) return 0;
  return wakeIfSleeping(<usize>load<u32>(header, PROD_WAKE));
}

/** ringConsume + ringReleaseConsumed: frees the next record. Returns 1 if it notified the producer. */
export function ringRelease(header: usize): i32 {
  ringConsume(header);
  return ringReleaseConsumed(header);
}
