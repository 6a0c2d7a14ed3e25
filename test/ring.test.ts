// Single-thread tests of the SPSC ring (assembly/ring.ts and its TypeScript fast path
// src/core/ring.ts), run on both builds. Two-thread tests: ring-stress.test.ts, ring-wake.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Ring, RingLayout, RING_HEADER_SIZE, RING_MAGIC, RING_REWIND_OFFSET, Wake, ringMaxRecord, ringSlotSize, roundUpRingCapacity,
  isRingCapacity, ringBytesInUse,
} from '../src/core/ring.ts';
import type { CoreBuild } from '../src/core/wasm.ts';
import { ringCore, initRing, prng, fillRecord, checkRecord, type RingCore } from './fixtures/ring-setup.ts';

const builds: CoreBuild[] = ['shared', 'private'];
const u32At = (rc: RingCore, ptr: number) => rc.core.u32[ptr >>> 2];
const word = (rc: RingCore, header: number, field: keyof typeof RingLayout) => rc.core.u32[(header + RingLayout[field]) >>> 2];


/** Reads the next record and checks it is record `n` of `size` bytes. */
function take(rc: RingCore, ring: Ring, size: number, n: number): number {
  const ptr = ring.peek();
  assert.ok(ptr !== 0, `record ${n} should be there`);
  assert.is(ring.peekSize(), size, `size of record ${n}`);
  assert.is(checkRecord(rc.core.u8, ptr, size, n), -1, `bytes of record ${n}`);
  ring.release();
  return ptr;
}

/**
 * Moves both positions forward by `bytes` (a multiple of 8) with one record per half capacity,
 * leaving the ring empty. A positioning step, not traffic: it puts the producer's maxBatch (the
 * rewind's guard, which those large publishes raise) back to what it was.
 */
function advance(rc: RingCore, ring: Ring, bytes: number): void {
  assert.ok(bytes % 8 === 0);
  const maxBatch = (ring.header + RingLayout.MAX_BATCH) >>> 2;
  const before = rc.core.u32[maxBatch];
  while (bytes > 0) {
    const step = Math.min(bytes, ring.capacity / 2);
    putWith(rc, ring, step - 4, 0); // a (step - 4)-byte payload takes exactly `step` bytes
    take(rc, ring, step - 4, 0);
    bytes -= step;
  }
  rc.core.u32[maxBatch] = before;
}

/** The producer calls, either through the Ring class (its TypeScript fast path) or the raw AssemblyScript exports. */
interface Producer {
  reserve(size: number): number;
  commit(size: number): void;
  stage(size: number): void;
  publish(): void;
  wantSpace(): void;
}

function producers(rc: RingCore, ts: Ring, as: Ring): [string, Ring, Producer][] {
  const e = rc.core.exports;
  const h = as.header;
  return [
    ['TypeScript', ts, ts],
    ['AssemblyScript', as, {
      reserve: (size) => e.ringReserve(h, size) >>> 0,
      commit: (size) => assert.ok(e.ringCommit(h, size) >= 0),
      stage: (size) => assert.is(e.ringStage(h, size), 0),
      publish: () => e.ringPublish(h),
      wantSpace: () => e.ringWantSpace(h),
    }],
  ];
}

const HEADER_FIELDS = [
  'PROD_POS', 'PROD_WAITING', 'CONS_POS', 'WRITE_POS', 'CACHED_CONS', 'RESERVED', 'RESERVED_POS', 'MAX_BATCH', 'SKIPPED', 'READ_POS',
  'CACHED_PROD',
] as const;

/**
 * Runs `scenario` on two rings of `capacity` bytes in one core, once with the TypeScript producer
 * and once with the AssemblyScript one (the consumer is the Ring class in both), and requires the
 * same payload offsets, header fields and data bytes from both.
 */
async function bothProducers(
  build: CoreBuild,
  capacity: number,
  scenario: (rc: RingCore, ring: Ring, p: Producer, at: (ptr: number) => number) => void,
): Promise<void> {
  const rc = await ringCore(build, [capacity, capacity]);
  const runs = producers(rc, initRing(rc, 0), initRing(rc, 1)).map(([name, ring, p]) => {
    const offsets: number[] = [];
    // Records the payload's offset in the data region (-1 for 0) and returns the pointer.
    const at = (ptr: number) => (offsets.push(ptr === 0 ? -1 : ptr - ring.data), ptr);
    scenario(rc, ring, p, at);
    return { name, ring, offsets };
  });
  const [ts, as] = runs;
  assert.equal(ts.offsets, as.offsets, 'same payload offsets from both producers');
  for (const f of HEADER_FIELDS) assert.is(word(rc, ts.ring.header, f), word(rc, as.ring.header, f), `header field ${f}`);
  const u8 = rc.core.u8;
  assert.equal(u8.slice(ts.ring.data, ts.ring.data + capacity), u8.slice(as.ring.data, as.ring.data + capacity), 'data bytes');
}

/** Writes record `n` of `size` bytes through `p` and commits it; returns its payload pointer. */
function putWith(rc: RingCore, p: Producer, size: number, n: number): number {
  const ptr = p.reserve(size);
  assert.ok(ptr !== 0, `record ${n} of ${size} bytes should fit`);
  fillRecord(rc.core.u8, ptr, size, n);
  p.commit(size);
  return ptr;
}

for (const build of builds) {
  const Edges = suite(`ring edges (${build} build)`);

  Edges('an empty ring peeks 0 and releases nothing', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    assert.is(ring.peek(), 0);
    assert.is(ring.consume(), false);
    assert.is(ring.releaseConsumed(), false);
    assert.is(ring.release(), false);
    assert.is(ring.usedBytes(), 0);
    assert.is(rc.core.exports.ringPeek(ring.header), 0);
    assert.is(word(rc, ring.header, 'MAGIC'), RING_MAGIC);
  });

  Edges('delivers a record with its size and bytes; the payload is 4 mod 8', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    const ptr = putWith(rc, ring, 13, 7);
    assert.is(ptr, ring.data + 4);
    assert.is(ptr % 8, 4);
    assert.is(ring.usedBytes(), 24);
    assert.is(take(rc, ring, 13, 7), ptr);
    assert.is(ring.peek(), 0);
    assert.is(ring.usedBytes(), 0);
  });

  Edges('accepts a zero-size record (8 bytes of ring)', async () => {
    const rc = await ringCore(build, [64]);
    const ring = initRing(rc);
    putWith(rc, ring, 0, 1);
    putWith(rc, ring, 0, 2);
    assert.is(ring.usedBytes(), 16);
    take(rc, ring, 0, 1);
    take(rc, ring, 0, 2);
  });

  Edges('reports full with 0 and never overwrites unread records', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    // 20-byte records take 24-byte slots: 10 fit in 256 bytes (240), the 11th does not.
    for (let n = 0; n < 10; n++) putWith(rc, ring, 20, n);
    const before = rc.core.u8.slice(ring.data, ring.data + ring.capacity);
    assert.is(ring.reserve(20), 0);
    assert.is(ring.reserve(13), 0, 'a 24-byte slot does not fit: the 16-byte tail is too short and the head is taken');
    assert.is(ring.reserve(12), ring.data + 240 + 4, 'a 16-byte slot fills the tail exactly');
    assert.equal(rc.core.u8.slice(ring.data, ring.data + 240), before.slice(0, 240), 'reserve wrote nothing into unread records');
    assert.is(ring.usedBytes(), 240);
    for (let n = 0; n < 10; n++) take(rc, ring, 20, n);
    assert.is(ring.peek(), 0);
  });

  Edges('a full ring accepts a record again once the consumer releases', async () => {
    const rc = await ringCore(build, [128]);
    const ring = initRing(rc);
    for (let n = 0; n < 4; n++) putWith(rc, ring, 28, n); // 4 x 32 = 128: completely full
    assert.is(ring.reserve(0), 0);
    take(rc, ring, 28, 0);
    assert.is(ring.reserve(28), ring.data + 4, 'the freed head slot is reused');
    ring.commit(0);
    for (let n = 1; n < 4; n++) take(rc, ring, 28, n);
    take(rc, ring, 0, 0);
  });

  Edges('wraps a record that does not fit in the tail, with a marker at the old offset', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    advance(rc, ring, 200); // positions at offset 200: tail of 56 bytes
    putWith(rc, ring, 40, 1); // 48-byte slot at 200..248: tail left is 8
    const ptr = putWith(rc, ring, 20, 2); // 24 > 8: wraps
    assert.is(ptr, ring.data + 4, 'the wrapped record starts at offset 0');
    assert.is(u32At(rc, ring.data + 248), 0xffffffff, 'wrap marker where the tail starts');
    assert.is(ring.usedBytes(), 48 + 8 + 24, 'the skipped tail counts as used until released');
    take(rc, ring, 40, 1);
    assert.is(take(rc, ring, 20, 2), ring.data + 4);
    assert.is(ring.usedBytes(), 0);
    assert.is(word(rc, ring.header, 'CONS_POS'), 256 + 24);
  });

  Edges('a record exactly filling the tail needs no marker and the next starts at offset 0', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    advance(rc, ring, 200); // tail of 56 bytes
    const a = putWith(rc, ring, 52, 1); // slot 56 = tail
    assert.is(a, ring.data + 204);
    const b = putWith(rc, ring, 3, 2);
    assert.is(b, ring.data + 4);
    assert.is(ring.usedBytes(), 56 + 8);
    take(rc, ring, 52, 1);
    take(rc, ring, 3, 2);
  });

  Edges('does not wrap when the head is still occupied (tail + slot must be free)', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    for (let n = 0; n < 5; n++) putWith(rc, ring, 44, n); // 5 x 48 = 240, tail 16
    take(rc, ring, 44, 0); // 48 free at the head, 16 in the tail: 64 free
    assert.is(ring.reserve(52), 0, 'a 56-byte slot needs 16 + 56 = 72 > 64');
    assert.is(ring.reserve(44), ring.data + 4, 'a 48-byte slot needs 16 + 48 = 64');
    ring.commit(44);
    for (let n = 1; n < 5; n++) take(rc, ring, 44, n);
    take(rc, ring, 44, 0);
  });

  Edges('a record of ringMaxRecord bytes fits an empty ring at every offset; one byte more is refused', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    assert.is(ring.maxRecord, 124);
    assert.throws(() => ring.reserve(125), (e: Error) => e instanceof RangeError && e.message === "ring record of 125 bytes exceeds this ring's maximum of 124");
    assert.is(rc.core.exports.ringReserve(ring.header, 125), 0);
    for (let offset = 0; offset < 256; offset += 8) {
      const rc2 = await ringCore(build, [256]);
      const r2 = initRing(rc2);
      advance(rc2, r2, offset);
      assert.is(word(rc2, r2.header, 'WRITE_POS'), offset);
      putWith(rc2, r2, 124, offset);
      take(rc2, r2, 124, offset);
    }
  });

  Edges('throws on commit without a reservation or beyond it, and commits fewer bytes than reserved', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    assert.throws(() => ring.commit(1), (e: Error) => e instanceof RangeError && e.message === 'ring commit/stage without a reservation');
    assert.is(rc.core.exports.ringCommit(ring.header, 1), -1);
    const ptr = ring.reserve(10);
    assert.throws(() => ring.commit(20), (e: Error) => e.message === 'ring commit/stage of 20 bytes exceeds the 12-byte reservation');
    fillRecord(rc.core.u8, ptr, 3, 5);
    ring.commit(3);
    assert.throws(() => ring.commit(3), (e: Error) => e.message === 'ring commit/stage without a reservation');
    take(rc, ring, 3, 5);
  });

  Edges('a later reserve replaces an uncommitted one (even one that wrote a wrap marker)', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    advance(rc, ring, 232); // tail 24
    assert.is(ring.reserve(100), ring.data + 4, 'wraps');
    assert.is(ring.reserve(4), ring.data + 232 + 4, 'a small record still goes into the tail');
    fillRecord(rc.core.u8, ring.data + 236, 4, 9);
    ring.commit(4);
    take(rc, ring, 4, 9);
    assert.is(ring.peek(), 0);
  });

  Edges('stage + publish sends a batch with one store; consume + releaseConsumed frees it with one', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    for (let n = 0; n < 3; n++) {
      const ptr = ring.reserve(10);
      fillRecord(rc.core.u8, ptr, 10, n);
      ring.stage(10);
      assert.is(ring.peek(), 0, 'staged records are not visible');
    }
    assert.is(word(rc, ring.header, 'PROD_POS'), 0);
    assert.is(ring.publish(), false);
    assert.is(word(rc, ring.header, 'PROD_POS'), 48);
    assert.is(ring.publish(), false, 'nothing new to publish');
    for (let n = 0; n < 3; n++) {
      const ptr = ring.peek();
      assert.is(checkRecord(rc.core.u8, ptr, 10, n), -1);
      assert.ok(ring.consume());
    }
    assert.is(ring.peek(), 0);
    assert.is(ring.consume(), false);
    assert.is(word(rc, ring.header, 'CONS_POS'), 0, 'consumed records are not freed yet');
    for (let n = 0; n < 11; n++) putWith(rc, ring, 12, n); // 48 + 11 x 16 = 224 used, a 32-byte tail
    assert.is(ring.reserve(36), 0, 'consumed-but-unreleased space stays taken (a 40-byte slot needs 32 + 40)');
    assert.is(ring.releaseConsumed(), false);
    assert.is(word(rc, ring.header, 'CONS_POS'), 48);
    assert.is(ring.reserve(36), ring.data + 4);
  });

  Edges('keeps working when the u32 positions wrap around 2^32', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    const start = 0xffffff00 + 8 * 3;
    for (const f of ['PROD_POS', 'CONS_POS', 'WRITE_POS', 'CACHED_CONS', 'READ_POS', 'CACHED_PROD'] as const) {
      rc.core.u32[(ring.header + RingLayout[f]) >>> 2] = start;
    }
    const next = prng(11);
    const sizes: number[] = [];
    let n = 0, m = 0;
    for (let step = 0; step < 400; step++) {
      if (next() % 2 === 0) {
        const size = next() % (ring.maxRecord + 1);
        const ptr = ring.reserve(size);
        if (ptr !== 0) { fillRecord(rc.core.u8, ptr, size, n++); ring.commit(size); sizes.push(size); }
      } else if (m < n) {
        take(rc, ring, sizes[m], m); m++;
      }
    }
    assert.ok(n > 100 && word(rc, ring.header, 'PROD_POS') < 0x10000, `positions wrapped (${n} records)`);
    while (m < n) { take(rc, ring, sizes[m], m); m++; }
    assert.is(ring.peek(), 0);
  });

  const Wakes = suite(`ring sleep/wake flags (${build} build)`);

  Wakes('commit notifies only a consumer that announced SLEEPING, and swaps it to AWAKE', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    const cw = rc.wakes[0] >>> 2;
    assert.is(putWith(rc, ring, 1, 1) !== 0 && rc.core.i32[cw], Wake.AWAKE);
    assert.is(ring.reserve(1) !== 0 && ring.commit(1), false, 'consumer awake: no notify');
    rc.core.i32[cw] = Wake.SLEEPING;
    ring.reserve(1);
    assert.is(ring.commit(1), true, 'consumer asleep: notify');
    assert.is(rc.core.i32[cw], Wake.AWAKE);
    ring.reserve(1);
    assert.is(ring.commit(1), false, 'already woken: no second notify');
    rc.core.i32[cw] = Wake.SLEEPING;
    assert.is(ring.publish(), false, 'nothing to publish: no notify');
    assert.is(rc.core.i32[cw], Wake.SLEEPING);
    ring.reserve(1);
    assert.is(rc.core.exports.ringCommit(ring.header, 1), 1, 'the AssemblyScript commit reports its notify');
    assert.is(rc.core.i32[cw], Wake.AWAKE);
  });

  Wakes('release notifies the producer only after wantSpace and SLEEPING; a successful reserve withdraws wantSpace', async () => {
    const rc = await ringCore(build, [64]);
    const ring = initRing(rc);
    const pw = rc.wakes[1] >>> 2;
    for (let n = 0; n < 4; n++) putWith(rc, ring, 12, n);
    assert.is(ring.reserve(12), 0);
    rc.core.i32[pw] = Wake.SLEEPING;
    assert.is(ring.release(), false, 'producer asleep but not waiting for space on this ring: no notify');
    assert.is(rc.core.i32[pw], Wake.SLEEPING);
    ring.wantSpace();
    assert.is(word(rc, ring.header, 'PROD_WAITING'), 1);
    assert.is(ring.release(), true);
    assert.is(rc.core.i32[pw], Wake.AWAKE);
    assert.is(ring.release(), false, 'producer awake: no notify');
    assert.ok(ring.reserve(12) !== 0);
    assert.is(word(rc, ring.header, 'PROD_WAITING'), 0, 'withdrawn by the successful reserve');
    ring.commit(12);
    rc.core.i32[pw] = Wake.SLEEPING;
    assert.is(ring.release(), false);
    ring.wantSpace();
    ring.cancelWantSpace();
    assert.is(ring.release(), false);
  });

  Wakes('a ring without wake words never notifies', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc, 0, false);
    rc.core.i32[rc.wakes[0] >>> 2] = Wake.SLEEPING;
    ring.reserve(4);
    assert.is(ring.commit(4), false);
    ring.wantSpace();
    assert.is(ring.release(), false);
  });

  const Setup = suite(`ring set-up (${build} build)`);

  Setup('the TypeScript constants agree with the AssemblyScript ones', async () => {
    const rc = await ringCore(build, [64]);
    assert.is(rc.core.exports.ringHeaderSize(), RING_HEADER_SIZE);
    for (const c of [0, 32, 63, 64, 65, 96, 128, 256, 4096, 2 ** 20, 2 ** 30, 2 ** 31, 0xffffffff]) {
      assert.is(rc.core.exports.ringMaxRecord(c) >>> 0, ringMaxRecord(c), `capacity ${c}`);
    }
    assert.is(ringSlotSize(0), 8);
    assert.is(ringSlotSize(4), 8);
    assert.is(ringSlotSize(5), 16);
    for (const [bytes, capacity] of [[0, 64], [1, 64], [64, 64], [65, 128], [1000, 1024], [2 ** 30 - 1, 2 ** 30], [2 ** 30, 2 ** 30]]) {
      assert.is(roundUpRingCapacity(bytes), capacity, `${bytes} bytes`);
    }
    assert.throws(() => roundUpRingCapacity(2 ** 30 + 1), (e: Error) => e instanceof RangeError);
    assert.ok(isRingCapacity(1024) && !isRingCapacity(1000) && !isRingCapacity(32));
  });

  Setup('Ring.init rejects bad capacities, alignments and addresses with a clear error', async () => {
    const rc = await ringCore(build, [256, 256]);
    const { header, data } = rc.rings[0];
    const err = (f: () => unknown, message: string) =>
      assert.throws(f, (e: Error) => e instanceof RangeError && e.message === message);
    err(() => Ring.init(rc.core, header, data, 200, 0, 0), 'ring capacity must be a power of two from 64 to 1073741824, got 200');
    err(() => Ring.init(rc.core, header, data, 32, 0, 0), 'ring capacity must be a power of two from 64 to 1073741824, got 32');
    err(() => Ring.init(rc.core, header + 8, data, 256, 0, 0), `ring header address ${header + 8} is not 64-byte aligned`);
    err(() => Ring.init(rc.core, header, data + 4, 256, 0, 0), `ring data address ${data + 4} is not 8-byte aligned`);
    err(() => Ring.init(rc.core, header, data, 256, rc.wakes[0] + 2, 0), `ring consumer wake word address ${rc.wakes[0] + 2} is not 4-byte aligned`);
    err(() => Ring.init(rc.core, header, header + 64, 256, 0, 0), `ring data [${header + 64}, ${header + 320}) overlaps its header at ${header}`);
    err(() => Ring.init(rc.core, 0, data, 256, 0, 0),
      `ring header [0, 320) must lie between the core's heapBase ${rc.core.heapBase} and the end of memory ${rc.memory.buffer.byteLength}`);
    const end = rc.memory.buffer.byteLength;
    err(() => Ring.init(rc.core, header, end - 128, 256, 0, 0),
      `ring data [${end - 128}, ${end + 128}) must lie between the core's heapBase ${rc.core.heapBase} and the end of memory ${end}`);
    assert.is(rc.core.exports.ringInit(header, data, 200, 0, 0), 2, 'the AssemblyScript check agrees');
    assert.is(rc.core.exports.ringInit(header + 8, data, 256, 0, 0), 1);
    assert.is(rc.core.exports.ringInit(header, data + 4, 256, 0, 0), 3);
    assert.is(rc.core.exports.ringInit(header, data, 256, 2, 0), 4);
    assert.throws(() => new Ring(rc.core, rc.rings[1].header), (e: Error) => e.message === `no ring header at ${rc.rings[1].header} (Ring.init has not run there)`);
  });

  Setup('two Ring objects over one header (one per side) share the ring', async () => {
    const rc = await ringCore(build, [256]);
    const producer = initRing(rc);
    const consumer = new Ring(rc.core, producer.header);
    assert.is(consumer.capacity, 256);
    assert.is(consumer.data, rc.rings[0].data);
    putWith(rc, producer, 5, 1);
    take(rc, consumer, 5, 1);
  });

  const Rewind = suite(`ring rewind to offset 0 (${build} build)`);
  const MiB = 2 ** 20;

  Rewind('an empty ring rewinds to offset 0 once the offset reaches REWIND_OFFSET and twice maxBatch, again on every lap', async () => {
    await bothProducers(build, MiB, (rc, ring, p, at) => {
      const next = prng(5);
      let off = 0; // where the next record starts without a rewind
      let maxBatch = 0; // the model of the header field
      let rewinds = 0;
      for (let n = 0; n < 600; n++) {
        const size = next() % 8000;
        const slot = ringSlotSize(size);
        const ptr = at(putWith(rc, p, size, n));
        if (off >= RING_REWIND_OFFSET && off >= 2 * maxBatch) {
          assert.is(ptr, ring.data + 4, `record ${n}: rewound from offset ${off}`);
          assert.is(u32At(rc, ring.data + off), 0xffffffff, `record ${n}: wrap marker at offset ${off}`);
          assert.is(ring.usedBytes(), MiB - off + slot, `record ${n}: the skipped part counts as used until released`);
          assert.is(ringBytesInUse(rc.core.i32, ring.header, ring.data, MiB), slot, `record ${n}: the metrics' figure leaves the skipped part out`);
          // maxBatch stays below 8 KiB, so every lap rewinds at its first record past REWIND_OFFSET.
          assert.ok(off < RING_REWIND_OFFSET + 8008, `record ${n}: rewound at the first chance (offset ${off})`);
          rewinds++;
          off = 0;
        } else {
          assert.is(ptr, ring.data + off + 4, `record ${n}: no rewind below REWIND_OFFSET or 2 * maxBatch ${maxBatch}`);
          assert.is(ringBytesInUse(rc.core.i32, ring.header, ring.data, MiB), slot, `record ${n}: bytes in use`);
        }
        off += slot;
        // B is the record's slot: the tail a rewind skipped is not part of it.
        maxBatch = Math.max(slot, maxBatch - (maxBatch >>> 4));
        assert.is(word(rc, ring.header, 'MAX_BATCH'), maxBatch, `record ${n}: maxBatch`);
        assert.is(word(rc, ring.header, 'SKIPPED'), 0, `record ${n}: the publish reset skipped`);
        assert.is(take(rc, ring, size, n), ptr);
        assert.is(ring.usedBytes(), 0);
        assert.is(ringBytesInUse(rc.core.i32, ring.header, ring.data, MiB), 0);
      }
      assert.ok(rewinds >= 8, `${rewinds} rewinds`);
      assert.is(word(rc, ring.header, 'WRITE_POS') & (MiB - 1), off);
    });
  });

  Rewind('does not rewind while a record is unread, or consumed but not released', async () => {
    await bothProducers(build, MiB, (rc, ring, p, at) => {
      advance(rc, ring, RING_REWIND_OFFSET - 4096); // through the Ring class: empty at REWIND_OFFSET - 4096
      assert.is(word(rc, ring.header, 'CACHED_CONS'), 0, 'the producer has not loaded consPos yet');
      const start = RING_REWIND_OFFSET - 4096;
      assert.is(at(putWith(rc, p, 8188, 1)), ring.data + start + 4, 'below REWIND_OFFSET: no rewind check');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), 0);
      // Record 1 is unread.
      assert.is(at(putWith(rc, p, 12, 2)), ring.data + start + 8192 + 4, 'record 1 unread: no rewind');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), start, 'the rewind check loaded consPos into cachedCons');
      // Record 1 consumed but not released.
      assert.ok(ring.consume());
      assert.is(at(putWith(rc, p, 12, 3)), ring.data + start + 8192 + 16 + 4, 'record 1 not released: no rewind');
      ring.releaseConsumed();
      assert.is(at(putWith(rc, p, 12, 4)), ring.data + start + 8192 + 32 + 4, 'records 2 and 3 unread: no rewind');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), start + 8192);
      for (let n = 2; n <= 4; n++) take(rc, ring, 12, n);
      assert.is(at(putWith(rc, p, 12, 5)), ring.data + 4, 'everything released: rewinds');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), start + 8192 + 48);
      assert.is(take(rc, ring, 12, 5), ring.data + 4);
      assert.is(word(rc, ring.header, 'CONS_POS'), MiB + 16);
    });
  });

  Rewind('only the first record of a batch rewinds, and staging a burst loads no consPos', async () => {
    await bothProducers(build, MiB, (rc, ring, p, at) => {
      advance(rc, ring, RING_REWIND_OFFSET - 8); // empty; cachedCons is still 0
      const start = RING_REWIND_OFFSET - 8;
      for (let n = 0; n < 3; n++) {
        const ptr = at(p.reserve(12));
        assert.is(ptr, ring.data + start + 16 * n + 4, `staged record ${n} stays in place`);
        fillRecord(rc.core.u8, ptr, 12, n);
        p.stage(12);
        assert.is(word(rc, ring.header, 'CACHED_CONS'), 0, `record ${n}: no load of consPos`);
      }
      p.publish();
      for (let n = 0; n < 3; n++) take(rc, ring, 12, n);
      // The next batch starts with the ring empty: its first record rewinds, the second follows it.
      for (let n = 3; n < 5; n++) {
        const ptr = at(p.reserve(100));
        assert.is(ptr, ring.data + 4 + (n - 3) * 104, `record ${n}`);
        fillRecord(rc.core.u8, ptr, 100, n);
        p.stage(100);
      }
      assert.is(u32At(rc, ring.data + start + 48), 0xffffffff, 'wrap marker after the first batch');
      assert.is(ring.peek(), 0, 'nothing visible before the publish');
      p.publish();
      for (let n = 3; n < 5; n++) take(rc, ring, 100, n);
      assert.is(ring.peek(), 0);
    });
  });

  Rewind('a later reserve replaces a rewinding one (and the reverse); a rewinding reserve withdraws wantSpace', async () => {
    await bothProducers(build, MiB, (rc, ring, p, at) => {
      const start = RING_REWIND_OFFSET + 8;
      advance(rc, ring, start);
      p.wantSpace();
      assert.is(at(p.reserve(12)), ring.data + 4, 'rewinds');
      assert.is(word(rc, ring.header, 'PROD_WAITING'), 0, 'withdrawn by the successful reserve');
      assert.is(u32At(rc, ring.data + start), 0xffffffff);
      // A slot larger than the offset does not fit before it: this one stays at the offset.
      const big = start + 8 - 4; // slot start + 8
      assert.is(at(p.reserve(big)), ring.data + start + 4, 'the replacing reservation does not rewind');
      fillRecord(rc.core.u8, ring.data + start + 4, big, 1);
      p.stage(big);
      assert.is(word(rc, ring.header, 'SKIPPED'), 0, 'the replaced rewind skipped nothing');
      p.publish();
      take(rc, ring, big, 1);
      assert.is(word(rc, ring.header, 'MAX_BATCH'), start + 8);
      // Still past REWIND_OFFSET, ring empty, but below 2 * maxBatch (2 * start + 16): no rewind,
      // and the guard comes before the rewind check, so no load of consPos either.
      assert.is(word(rc, ring.header, 'CACHED_CONS'), start);
      assert.is(at(p.reserve(8)), ring.data + 2 * start + 8 + 4, 'below 2 * maxBatch: no rewind');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), start, 'no load of consPos');
      // The largest record does not fit in the tail: a plain wrap, after a load of consPos (the
      // cached free space is too small), which finds the ring empty.
      assert.is(at(p.reserve(ring.maxRecord)), ring.data + 4, 'the largest record wraps');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), 2 * start + 8, 'cachedCons says empty');
      // Replaced by a small one: the guard still keeps it in place (the TypeScript fast path decides this one).
      assert.is(at(putWith(rc, p, 8, 2)), ring.data + 2 * start + 8 + 4, 'cachedCons says empty, but below 2 * maxBatch: no rewind');
      take(rc, ring, 8, 2);
      const m = start + 8 - ((start + 8) >>> 4);
      assert.is(word(rc, ring.header, 'MAX_BATCH'), m, 'decayed by one small publish');
      const end = 2 * start + 24;
      assert.ok(end >= 2 * m);
      assert.is(at(p.reserve(8)), ring.data + 4, 'rewinds (after a load of consPos)');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), end);
      assert.is(at(p.reserve(100)), ring.data + 4, 'a replacing reserve rewinds too (cachedCons already says empty)');
      fillRecord(rc.core.u8, ring.data + 4, 100, 3);
      p.stage(100);
      assert.is(word(rc, ring.header, 'SKIPPED'), MiB - end, 'the staged rewind skipped the tail (once, for two rewinding reserves)');
      p.publish();
      assert.is(u32At(rc, ring.data + end), 0xffffffff);
      assert.is(word(rc, ring.header, 'MAX_BATCH'), m - (m >>> 4), 'the skipped tail is not part of the publish: it only decays');
      assert.is(word(rc, ring.header, 'SKIPPED'), 0, 'the publish reset skipped');
      take(rc, ring, 100, 3);
      assert.is(word(rc, ring.header, 'CONS_POS'), MiB + 104);
    });
  });

  Rewind('a ring of 2 x REWIND_OFFSET rewinds from its second half; a ring of REWIND_OFFSET never rewinds', async () => {
    await bothProducers(build, 2 * RING_REWIND_OFFSET, (rc, ring, p, at) => {
      const largest = RING_REWIND_OFFSET - 4; // slot REWIND_OFFSET
      assert.is(ring.maxRecord, largest);
      const last = 2 * RING_REWIND_OFFSET - 8; // offset of the last slot
      advance(rc, ring, RING_REWIND_OFFSET - 8);
      assert.is(at(putWith(rc, p, largest, 1)), ring.data + RING_REWIND_OFFSET - 8 + 4, 'below REWIND_OFFSET: in place');
      take(rc, ring, largest, 1);
      // That publish made maxBatch REWIND_OFFSET: the last slot is below twice that.
      assert.is(word(rc, ring.header, 'MAX_BATCH'), RING_REWIND_OFFSET);
      assert.is(at(putWith(rc, p, 0, 2)), ring.data + last + 4, 'the last slot is below 2 * maxBatch: in place');
      take(rc, ring, 0, 2);
      // One 8-byte publish decayed maxBatch by 1/16 (to 240 KiB): now the last slot rewinds.
      assert.is(word(rc, ring.header, 'MAX_BATCH'), RING_REWIND_OFFSET - RING_REWIND_OFFSET / 16);
      advance(rc, ring, last);
      assert.is(at(putWith(rc, p, 0, 3)), ring.data + 4, 'an 8-byte record rewinds from the last slot');
      take(rc, ring, 0, 3);
      // Small publishes in place until maxBatch is at most REWIND_OFFSET / 2, then to offset REWIND_OFFSET.
      let n = 4;
      while (word(rc, ring.header, 'MAX_BATCH') > RING_REWIND_OFFSET / 2) {
        const off = word(rc, ring.header, 'WRITE_POS') & (ring.capacity - 1);
        assert.is(at(putWith(rc, p, 0, n)), ring.data + off + 4);
        take(rc, ring, 0, n++);
      }
      assert.ok(n > 4 + 8 && n < 4 + 16, `${n - 4} small publishes`);
      advance(rc, ring, RING_REWIND_OFFSET - (word(rc, ring.header, 'WRITE_POS') & (ring.capacity - 1))); // empty at offset REWIND_OFFSET
      assert.is(at(putWith(rc, p, largest, n)), ring.data + 4, 'slot == offset: rewinds');
      take(rc, ring, largest, n);
    });
    await bothProducers(build, RING_REWIND_OFFSET, (rc, ring, p, at) => {
      advance(rc, ring, RING_REWIND_OFFSET - 8);
      assert.is(at(putWith(rc, p, 0, 1)), ring.data + RING_REWIND_OFFSET - 8 + 4, 'fills the tail');
      take(rc, ring, 0, 1);
    });
  });

  Rewind('one large batch blocks rewinds below twice its size; small publishes decay maxBatch until the ring rewinds again', async () => {
    /** Stages records of `sizes` and publishes them at once, then the consumer takes them; returns the first payload pointer. */
    const batcher = (rc: RingCore, ring: Ring, p: Producer, at: (ptr: number) => number) => {
      let n = 0;
      return (sizes: number[]): number => {
        const first = n;
        let ptr0 = 0;
        for (const size of sizes) {
          const ptr = at(p.reserve(size));
          assert.ok(ptr !== 0, `record ${n} of ${size} bytes should fit`);
          if (ptr0 === 0) ptr0 = ptr;
          fillRecord(rc.core.u8, ptr, size, n++);
          p.stage(size);
        }
        p.publish();
        for (let i = 0; i < sizes.length; i++) take(rc, ring, sizes[i], first + i);
        assert.is(ring.usedBytes(), 0);
        return ptr0;
      };
    };
    // Exactly at 2 * maxBatch the ring rewinds, one slot below it does not.
    for (const below of [0, 8]) {
      await bothProducers(build, MiB, (rc, ring, p, at) => {
        const batch = batcher(rc, ring, p, at);
        const B = 48 * 4096; // 192 KiB
        advance(rc, ring, B - below);
        assert.is(batch(Array(48).fill(4092)), ring.data + B - below + 4, 'below REWIND_OFFSET: in place');
        assert.is(word(rc, ring.header, 'MAX_BATCH'), B);
        const off = 2 * B - below;
        assert.is(batch([0]), ring.data + (below ? off : 0) + 4, below ? 'offset 2 * maxBatch - 8: no rewind' : 'offset 2 * maxBatch: rewinds');
      });
    }
    const capacity = 2 * MiB;
    await bothProducers(build, capacity, (rc, ring, p, at) => {
      const offsetNow = () => word(rc, ring.header, 'WRITE_POS') & (capacity - 1);
      const batch = batcher(rc, ring, p, at);
      const A = 75 * 4096; // 300 KiB
      assert.is(batch(Array(75).fill(4092)), ring.data + 4);
      assert.is(word(rc, ring.header, 'MAX_BATCH'), A, 'maxBatch = the one publish');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), 0, 'the producer has not loaded consPos');
      // Ring empty, offset 300 KiB >= REWIND_OFFSET, but below 2 * maxBatch: the next batch starts in place.
      assert.is(batch([...Array(75).fill(4092), 0]), ring.data + A + 4, 'offset 300 KiB < 2 * 300 KiB: no rewind');
      assert.is(word(rc, ring.header, 'CACHED_CONS'), 0, 'the guard needs no load of consPos');
      assert.is(word(rc, ring.header, 'MAX_BATCH'), A + 8, 'the larger batch');
      assert.is(offsetNow(), 2 * A + 8);
      // Ring empty, one slot below 2 * maxBatch: still in place.
      assert.is(batch([0]), ring.data + 2 * A + 8 + 4, 'offset 2 * maxBatch - 8: no rewind');
      const decayed = A + 8 - ((A + 8) >>> 4);
      assert.is(word(rc, ring.header, 'MAX_BATCH'), decayed, 'an 8-byte publish decays maxBatch by 1/16');
      // Now offset 2 * A + 16 >= 2 * maxBatch: rewinds; the skipped tail is not part of that publish.
      const off = 2 * A + 16;
      assert.ok(off >= 2 * decayed);
      assert.is(batch([100]), ring.data + 4, 'offset >= 2 * maxBatch: rewinds');
      assert.is(u32At(rc, ring.data + off), 0xffffffff, 'wrap marker');
      let maxBatch = decayed - (decayed >>> 4);
      assert.is(word(rc, ring.header, 'MAX_BATCH'), maxBatch, 'maxBatch leaves out the skipped tail: it only decays');
      // Another large batch right after the rewind (in place, below REWIND_OFFSET), then records of
      // 8 KiB, one publish each: past REWIND_OFFSET they stay in place until maxBatch has decayed to
      // half the offset, then one rewinds; the one after that rewinds at the first record past
      // REWIND_OFFSET, since the first rewind's tail did not raise maxBatch.
      assert.is(batch(Array(75).fill(4092)), ring.data + 104 + 4, 'below REWIND_OFFSET: in place');
      maxBatch = A;
      assert.is(word(rc, ring.header, 'MAX_BATCH'), maxBatch);
      let guarded = 0;
      const rewoundAt: number[] = [];
      for (let i = 0; rewoundAt.length < 2; i++) {
        const at0 = offsetNow();
        const rewinds = at0 >= RING_REWIND_OFFSET && at0 >= 2 * maxBatch;
        if (at0 >= RING_REWIND_OFFSET && !rewinds) guarded++;
        assert.is(batch([8188]), ring.data + (rewinds ? 0 : at0) + 4, `record at offset ${at0}, maxBatch ${maxBatch}`);
        maxBatch = Math.max(8192, maxBatch - (maxBatch >>> 4));
        assert.is(word(rc, ring.header, 'MAX_BATCH'), maxBatch);
        if (rewinds) rewoundAt.push(at0);
        assert.ok(i < 200, 'rewinds twice');
      }
      assert.ok(rewoundAt[0] > A, `the first rewind waited for maxBatch to decay (offset ${rewoundAt[0]})`);
      assert.ok(rewoundAt[1] >= RING_REWIND_OFFSET && rewoundAt[1] < RING_REWIND_OFFSET + 8192,
        `the second rewind came at the first record past REWIND_OFFSET (offset ${rewoundAt[1]})`);
      assert.ok(guarded >= 3, `${guarded} records past REWIND_OFFSET waited for maxBatch to decay`);
    });
  });

  Rewind('skipped counts the wrap tails of staged records only, not those of reservations a later reserve replaced', async () => {
    await bothProducers(build, 4096, (rc, ring, p, at) => {
      const skipped = () => word(rc, ring.header, 'SKIPPED');
      advance(rc, ring, 4000); // a 96-byte tail
      assert.is(at(p.reserve(200)), ring.data + 4, 'a 208-byte slot wraps');
      assert.is(u32At(rc, ring.data + 4000), 0xffffffff);
      assert.is(skipped(), 0, 'a reservation does not count');
      const a = at(p.reserve(50));
      assert.is(a, ring.data + 4000 + 4, 'replaced by a 56-byte slot that fits in the tail');
      fillRecord(rc.core.u8, a, 50, 0);
      p.stage(50);
      assert.is(skipped(), 0, 'the replaced wrap does not count');
      p.publish();
      assert.is(word(rc, ring.header, 'MAX_BATCH'), 56, 'B = the record alone');
      take(rc, ring, 50, 0);
      // The reverse at offset 4056 (a 40-byte tail): a reservation that fits, replaced by one that
      // wraps and is staged.
      assert.is(at(p.reserve(20)), ring.data + 4056 + 4, 'a 24-byte slot fits in the tail');
      const b = at(p.reserve(100));
      assert.is(b, ring.data + 4, 'replaced by a 104-byte slot that wraps');
      fillRecord(rc.core.u8, b, 100, 1);
      p.stage(100);
      assert.is(skipped(), 40, 'the staged wrap counts its tail');
      const c = at(p.reserve(8));
      assert.is(c, ring.data + 104 + 4);
      fillRecord(rc.core.u8, c, 8, 2);
      p.stage(8);
      assert.is(skipped(), 40, 'a record that does not wrap adds nothing');
      p.publish();
      assert.is(skipped(), 0, 'the publish reset skipped');
      assert.is(word(rc, ring.header, 'MAX_BATCH'), 120, 'B = 104 + 16, the 40-byte tail excluded');
      take(rc, ring, 100, 1);
      take(rc, ring, 8, 2);
      p.publish();
      assert.is(word(rc, ring.header, 'MAX_BATCH'), 120, 'a publish with nothing staged changes nothing');
      assert.is(skipped(), 0);
    });
  });

  Rewind('a 16 MiB ring carrying small batches rewinds on every lap once the offset passes max(REWIND_OFFSET, 2 * maxBatch): a rewind does not block the next', async () => {
    // Before wrap tails were left out of maxBatch, the publish that carried a rewind made maxBatch
    // about the ring's capacity, and the next rewind waited for dozens of publishes (here until an
    // offset of about 900 KiB) while the ring walked cold memory.
    const capacity = 16 * MiB;
    await bothProducers(build, capacity, (rc, ring, p, at) => {
      const next = prng(9);
      const offsetNow = () => word(rc, ring.header, 'WRITE_POS') & (capacity - 1);
      let n = 0, largest = 0, batches = 0;
      const rewoundAt: number[] = [];
      while (rewoundAt.length < 8) {
        const start = offsetNow();
        const maxBatch = word(rc, ring.header, 'MAX_BATCH');
        assert.ok(start < 512 * 1024, `batch ${batches} starts at offset ${start}: the ring rewinds before 512 KiB (${rewoundAt.length} rewinds so far)`);
        // Every slot (at most 2008 bytes) fits before an offset of REWIND_OFFSET.
        const rewinds = start >= RING_REWIND_OFFSET && start >= 2 * maxBatch;
        const count = 8 + (next() % 17); // 8 .. 24 records, about 16 KiB
        const sizes: number[] = [];
        let bytes = 0;
        for (let i = 0; i < count; i++) {
          const size = next() % 2000;
          const ptr = at(p.reserve(size));
          if (i === 0) {
            assert.is(ptr, ring.data + (rewinds ? 0 : start) + 4, `batch ${batches} at offset ${start}, maxBatch ${maxBatch}: ${rewinds ? 'rewinds' : 'in place'}`);
            if (rewinds) rewoundAt.push(start);
          } else assert.ok(ptr !== 0, `record ${n} fits`);
          fillRecord(rc.core.u8, ptr, size, n + i);
          p.stage(size);
          sizes.push(size);
          bytes += ringSlotSize(size);
        }
        p.publish();
        largest = Math.max(largest, bytes);
        assert.ok(word(rc, ring.header, 'MAX_BATCH') <= largest, `batch ${batches}: maxBatch is at most the largest batch's records (${largest} bytes)`);
        for (const size of sizes) take(rc, ring, size, n++);
        assert.is(ring.usedBytes(), 0);
        assert.ok(++batches < 1000, 'eight rewinds');
      }
      for (const [lap, off] of rewoundAt.entries()) {
        assert.ok(off >= RING_REWIND_OFFSET && off < RING_REWIND_OFFSET + largest, `lap ${lap}: rewound at offset ${off}, within one batch of REWIND_OFFSET`);
      }
    });
  });

  Rewind('maxBatch follows max(B, maxBatch - maxBatch / 16) over a known sequence of publishes', async () => {
    /** The producer steps of a scenario, and the consumer's drain. */
    const steps = (rc: RingCore, ring: Ring, p: Producer, at: (ptr: number) => number) => {
      let n = 0;
      return {
        stage(size: number) {
          const ptr = at(p.reserve(size));
          assert.ok(ptr !== 0, `record ${n} of ${size} bytes should fit`);
          fillRecord(rc.core.u8, ptr, size, n++);
          p.stage(size);
        },
        commit: (size: number) => putWith(rc, p, size, n++),
        maxBatch: () => word(rc, ring.header, 'MAX_BATCH'),
        drain() {
          while (ring.consume());
          ring.releaseConsumed();
          assert.is(ring.usedBytes(), 0);
        },
      };
    };
    // A 4 KiB ring from position 0.
    await bothProducers(build, 4096, (rc, ring, p, at) => {
      const s = steps(rc, ring, p, at);
      const got: number[] = [s.maxBatch()]; // ringInit zeroes it
      s.stage(0); p.publish(); got.push(s.maxBatch()); // B = 8
      s.stage(0); p.publish(); got.push(s.maxBatch()); // B = 8: below 16 nothing decays
      s.stage(100); p.publish(); got.push(s.maxBatch()); // B = 104
      p.publish(); got.push(s.maxBatch()); // nothing staged: no change
      s.stage(1000); s.stage(1000); s.stage(1000); p.publish(); got.push(s.maxBatch()); // B = 3 * 1008
      s.stage(0); p.publish(); got.push(s.maxBatch()); // B = 8: 3024 - 189
      s.commit(0); got.push(s.maxBatch()); // commit publishes too: 2835 - 177
      s.drain();
      s.commit(2000); got.push(s.maxBatch()); // at offset 3160 it wraps: B = 2008 (not the 936-byte tail): 2658 - 166
      s.drain();
      // A batch whose third record wraps (at offset 4024, a 72-byte tail): B = 3 * 1008 + 8, tail excluded.
      s.stage(1000); s.stage(1000);
      assert.is(word(rc, ring.header, 'SKIPPED'), 0, 'no wrap staged yet');
      s.stage(1000);
      assert.is(word(rc, ring.header, 'SKIPPED'), 72, 'the staged wrap tail');
      s.stage(0);
      assert.is(word(rc, ring.header, 'SKIPPED'), 72);
      p.publish(); got.push(s.maxBatch());
      assert.is(word(rc, ring.header, 'SKIPPED'), 0, 'the publish reset skipped');
      s.drain();
      assert.equal(got, [0, 8, 8, 104, 104, 3024, 2835, 2658, 2492, 3032]);
    });
    // From position 2^32 - 16 (offset 4080): B is computed mod 2^32 as the positions cross it.
    await bothProducers(build, 4096, (rc, ring, p, at) => {
      for (const f of ['PROD_POS', 'CONS_POS', 'WRITE_POS', 'CACHED_CONS', 'READ_POS', 'CACHED_PROD'] as const) {
        rc.core.u32[(ring.header + RingLayout[f]) >>> 2] = 2 ** 32 - 16;
      }
      const s = steps(rc, ring, p, at);
      const got: number[] = [];
      s.stage(100); // wraps: the 16-byte tail from 2^32 - 16 to 0
      assert.is(word(rc, ring.header, 'SKIPPED'), 16, 'the tail, mod 2^32');
      p.publish(); got.push(s.maxBatch()); // B = 120 - 16 = 104, from 2^32 - 16 to 104
      assert.is(word(rc, ring.header, 'PROD_POS'), 104);
      assert.is(word(rc, ring.header, 'SKIPPED'), 0);
      s.stage(0); p.publish(); got.push(s.maxBatch()); // 104 - 6
      s.stage(1000); s.stage(1000); p.publish(); got.push(s.maxBatch()); // B = 2 * 1008
      s.drain();
      assert.equal(got, [104, 98, 2016]);
    });
  });

  const Diff = suite(`ring: TypeScript fast path vs AssemblyScript (${build} build)`);

  type Step = 'publish' | 'peek' | 'consume' | 'releaseConsumed' | 'release' | 'catchUp' | 'wantSpace';
  /**
   * One step other than a reserve, on the Ring class (`ts`) and through the raw AssemblyScript
   * exports (`as`, the same layout in another ring): both must give the same result. 'catchUp' is
   * the consumer reading and releasing everything published.
   */
  function stepBoth(rc: RingCore, ts: Ring, as: Ring, step: Step, where: string): void {
    const e = rc.core.exports;
    switch (step) {
      case 'publish': assert.is(ts.publish(), e.ringPublish(as.header) === 1, where); break;
      case 'peek': {
        const a = ts.peek();
        const b = e.ringPeek(as.header) >>> 0;
        assert.is(a === 0 ? 0 : a - ts.data, b === 0 ? 0 : b - as.data, `${where}: peek`);
        if (a !== 0) assert.is(ts.peekSize(), e.ringPeekSize(as.header), `${where}: peekSize`);
        break;
      }
      case 'consume': assert.is(ts.consume(), e.ringConsume(as.header) === 1, where); break;
      case 'releaseConsumed': assert.is(ts.releaseConsumed(), e.ringReleaseConsumed(as.header) === 1, where); break;
      case 'release': assert.is(ts.release(), e.ringRelease(as.header) === 1, where); break;
      case 'catchUp':
        for (;;) {
          const more = ts.consume();
          assert.is(more, e.ringConsume(as.header) === 1, where);
          if (!more) break;
        }
        assert.is(ts.releaseConsumed(), e.ringReleaseConsumed(as.header) === 1, where);
        break;
      case 'wantSpace':
        ts.wantSpace();
        e.ringWantSpace(as.header);
        break;
    }
  }

  /** Every header field of the two rings is the same. */
  function sameHeaders(rc: RingCore, ts: Ring, as: Ring, where: string): void {
    for (const f of HEADER_FIELDS) assert.is(word(rc, ts.header, f), word(rc, as.header, f), `${where}: header field ${f}`);
  }

  Diff('random operation sequences give identical results, headers and bytes', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const capacity = 64 << (seed % 4);
      const rc = await ringCore(build, [capacity, capacity]);
      const ts = initRing(rc, 0);
      const as = initRing(rc, 1);
      const e = rc.core.exports;
      const u8 = rc.core.u8;
      const next = prng(seed);
      let n = 0;
      for (let step = 0; step < 4000; step++) {
        const op = next() % 9;
        const where = `seed ${seed} step ${step} op ${op}`;
        if (op <= 2) {
          const size = next() % (ts.maxRecord + 1);
          const a = ts.reserve(size);
          const b = e.ringReserve(as.header, size) >>> 0;
          assert.is(a === 0 ? 0 : a - ts.data, b === 0 ? 0 : b - as.data, `${where}: reserve(${size})`);
          if (a !== 0 && op !== 2) {
            const len = next() % (size + 1);
            fillRecord(u8, a, len, n);
            fillRecord(u8, b, len, n++);
            if (op === 0) assert.is(ts.commit(len), e.ringCommit(as.header, len) === 1, where);
            else { ts.stage(len); assert.is(e.ringStage(as.header, len), 0, where); }
          }
        } else {
          stepBoth(rc, ts, as, (['publish', 'peek', 'consume', 'releaseConsumed', 'release'] as const)[op - 3] ?? 'wantSpace', where);
        }
        sameHeaders(rc, ts, as, where);
      }
      assert.equal(u8.slice(ts.data, ts.data + capacity), u8.slice(as.data, as.data + capacity), `seed ${seed}: data bytes`);
      assert.ok(n > 500, `seed ${seed}: ${n} records written`);
    }
  });

  Diff('random operation sequences on rings that rewind give identical results, headers and bytes', async () => {
    for (const seed of [21, 22, 23, 24]) {
      const capacity = seed % 2 ? 2 ** 20 : 2 ** 19;
      const rc = await ringCore(build, [capacity, capacity]);
      const ts = initRing(rc, 0);
      const as = initRing(rc, 1);
      if (seed > 22) {
        // Start a few laps below 2^32, so the positions wrap around too.
        const start = 2 ** 32 - 5 * capacity + 8 * seed;
        for (const ring of [ts, as]) {
          for (const f of ['PROD_POS', 'CONS_POS', 'WRITE_POS', 'CACHED_CONS', 'READ_POS', 'CACHED_PROD'] as const) {
            rc.core.u32[(ring.header + RingLayout[f]) >>> 2] = start;
          }
        }
      }
      const e = rc.core.exports;
      const u8 = rc.core.u8;
      const next = prng(seed);
      let n = 0, rewinds = 0, guarded = 0;
      /**
       * Reserves `size` bytes in both rings (same offsets), counting reserves only the guard kept from
       * rewinding; also says whether this reserve rewound (the caller counts it once the record is staged).
       */
      const reserveBoth = (size: number, where: string): [number, number, boolean] => {
        const offset = word(rc, ts.header, 'WRITE_POS') & (capacity - 1);
        const slot = ringSlotSize(size);
        const pos = word(rc, ts.header, 'WRITE_POS');
        // Would rewind but for the guard: nothing staged, ring empty, offset >= REWIND_OFFSET, fits before and after.
        if (pos === word(rc, ts.header, 'PROD_POS') && pos === word(rc, ts.header, 'CONS_POS') && offset >= RING_REWIND_OFFSET &&
            slot <= offset && slot <= capacity - offset && offset < 2 * word(rc, ts.header, 'MAX_BATCH')) guarded++;
        const a = ts.reserve(size);
        const b = e.ringReserve(as.header, size) >>> 0;
        assert.is(a === 0 ? 0 : a - ts.data, b === 0 ? 0 : b - as.data, `${where}: reserve(${size})`);
        return [a, b, a === ts.data + 4 && offset !== 0 && slot <= capacity - offset];
      };
      for (let step = 0; step < 6000; step++) {
        const op = next() % 11;
        const where = `seed ${seed} step ${step} op ${op}`;
        if (op <= 3) {
          const r = next() % 10;
          const size = r < 6 ? next() % 256 : r < 9 ? next() % 16384 : next() % 131072;
          const [a, b, rewound] = reserveBoth(size, where);
          if (a !== 0 && op !== 3) {
            if (rewound) rewinds++;
            const len = op === 0 ? next() % (size + 1) : size;
            fillRecord(u8, a, len, n);
            fillRecord(u8, b, len, n++);
            if (op === 2) { ts.stage(len); assert.is(e.ringStage(as.header, len), 0, where); }
            else assert.is(ts.commit(len), e.ringCommit(as.header, len) === 1, where);
          }
        } else if (op === 10) {
          // A burst: a few large records staged, then one publish (a batch that raises maxBatch, so
          // the guard has something to stop).
          for (let k = 2 + (next() % 5); k > 0; k--) {
            const size = next() % 65536;
            const [a, b, rewound] = reserveBoth(size, where);
            if (a === 0) break;
            if (rewound) rewinds++;
            fillRecord(u8, a, size, n);
            fillRecord(u8, b, size, n++);
            ts.stage(size);
            assert.is(e.ringStage(as.header, size), 0, where);
          }
          assert.is(ts.publish(), e.ringPublish(as.header) === 1, where);
        } else {
          stepBoth(rc, ts, as, (['publish', 'peek', 'consume', 'release', 'catchUp'] as const)[op - 4] ?? 'wantSpace', where);
        }
        sameHeaders(rc, ts, as, where);
      }
      assert.equal(u8.slice(ts.data, ts.data + capacity), u8.slice(as.data, as.data + capacity), `seed ${seed}: data bytes`);
      assert.ok(n > 1000, `seed ${seed}: ${n} records written`);
      assert.ok(rewinds > 10, `seed ${seed}: ${rewinds} rewinds of records that were then staged`);
      assert.ok(guarded > 10, `seed ${seed}: ${guarded} reserves where only maxBatch stopped a rewind`);
    }
  });

  Diff('an AssemblyScript producer and a TypeScript consumer (and the reverse) interoperate', async () => {
    const rc = await ringCore(build, [512, 512]);
    const e = rc.core.exports;
    for (const [i, asProducer] of [[0, true], [1, false]] as const) {
      const ring = initRing(rc, i);
      const next = prng(40 + i);
      const sizes: number[] = [];
      let n = 0, m = 0;
      for (let step = 0; step < 3000; step++) {
        if (next() % 2) {
          const size = next() % (ring.maxRecord + 1);
          const ptr = asProducer ? e.ringReserve(ring.header, size) >>> 0 : ring.reserve(size);
          if (ptr === 0) continue;
          fillRecord(rc.core.u8, ptr, size, n++);
          sizes.push(size);
          if (asProducer) e.ringCommit(ring.header, size); else ring.commit(size);
        } else {
          const ptr = asProducer ? ring.peek() : e.ringPeek(ring.header) >>> 0;
          if (ptr === 0) { assert.is(m, n); continue; }
          const size = asProducer ? ring.peekSize() : e.ringPeekSize(ring.header);
          assert.is(size, sizes[m]);
          assert.is(checkRecord(rc.core.u8, ptr, size, m++), -1);
          if (asProducer) ring.release(); else e.ringRelease(ring.header);
        }
      }
      assert.ok(m > 500, `${m} records read`);
    }
  });

  Edges.run();
  Wakes.run();
  Setup.run();
  Rewind.run();
  Diff.run();
}
