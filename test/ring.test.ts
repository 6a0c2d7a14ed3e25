// Single-thread tests of the SPSC ring (assembly/ring.ts and its TypeScript fast path
// src/core/ring.ts), run on both builds. Two-thread tests: ring-stress.test.ts, ring-wake.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Ring, RingLayout, RING_HEADER_SIZE, RING_MAGIC, Wake, ringMaxRecord, ringSlotSize, roundUpRingCapacity, isRingCapacity,
} from '../src/core/ring.ts';
import type { CoreBuild } from '../src/core/wasm.ts';
import { ringCore, initRing, prng, fillRecord, checkRecord, type RingCore } from './fixtures/ring-setup.ts';

const builds: CoreBuild[] = ['shared', 'private'];
const u32At = (rc: RingCore, ptr: number) => rc.core.u32[ptr >>> 2];
const word = (rc: RingCore, header: number, field: keyof typeof RingLayout) => rc.core.u32[(header + RingLayout[field]) >>> 2];

/** Writes the record `n` of `size` bytes; returns its payload pointer (asserts it fitted). */
function put(rc: RingCore, ring: Ring, size: number, n: number): number {
  const ptr = ring.reserve(size);
  assert.ok(ptr !== 0, `record ${n} of ${size} bytes should fit`);
  fillRecord(rc.core.u8, ptr, size, n);
  ring.commit(size);
  return ptr;
}

/** Reads the next record and checks it is record `n` of `size` bytes. */
function take(rc: RingCore, ring: Ring, size: number, n: number): number {
  const ptr = ring.peek();
  assert.ok(ptr !== 0, `record ${n} should be there`);
  assert.is(ring.peekSize(), size, `size of record ${n}`);
  assert.is(checkRecord(rc.core.u8, ptr, size, n), -1, `bytes of record ${n}`);
  ring.release();
  return ptr;
}

/** Moves both positions forward by `bytes` (a multiple of 8) with one record, leaving the ring empty. */
function advance(rc: RingCore, ring: Ring, bytes: number): void {
  assert.ok(bytes % 8 === 0);
  while (bytes > 0) {
    const step = Math.min(bytes, ring.capacity / 2);
    put(rc, ring, step - 4, 0); // a (step - 4)-byte payload takes exactly `step` bytes
    take(rc, ring, step - 4, 0);
    bytes -= step;
  }
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
    const ptr = put(rc, ring, 13, 7);
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
    put(rc, ring, 0, 1);
    put(rc, ring, 0, 2);
    assert.is(ring.usedBytes(), 16);
    take(rc, ring, 0, 1);
    take(rc, ring, 0, 2);
  });

  Edges('reports full with 0 and never overwrites unread records', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    // 20-byte records take 24-byte slots: 10 fit in 256 bytes (240), the 11th does not.
    for (let n = 0; n < 10; n++) put(rc, ring, 20, n);
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
    for (let n = 0; n < 4; n++) put(rc, ring, 28, n); // 4 x 32 = 128: completely full
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
    put(rc, ring, 40, 1); // 48-byte slot at 200..248: tail left is 8
    const ptr = put(rc, ring, 20, 2); // 24 > 8: wraps
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
    const a = put(rc, ring, 52, 1); // slot 56 = tail
    assert.is(a, ring.data + 204);
    const b = put(rc, ring, 3, 2);
    assert.is(b, ring.data + 4);
    assert.is(ring.usedBytes(), 56 + 8);
    take(rc, ring, 52, 1);
    take(rc, ring, 3, 2);
  });

  Edges('does not wrap when the head is still occupied (tail + slot must be free)', async () => {
    const rc = await ringCore(build, [256]);
    const ring = initRing(rc);
    for (let n = 0; n < 5; n++) put(rc, ring, 44, n); // 5 x 48 = 240, tail 16
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
      put(rc2, r2, 124, offset);
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
    for (let n = 0; n < 11; n++) put(rc, ring, 12, n); // 48 + 11 x 16 = 224 used, a 32-byte tail
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
    assert.is(put(rc, ring, 1, 1) !== 0 && rc.core.i32[cw], Wake.AWAKE);
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
    for (let n = 0; n < 4; n++) put(rc, ring, 12, n);
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
    put(rc, producer, 5, 1);
    take(rc, consumer, 5, 1);
  });

  const Diff = suite(`ring: TypeScript fast path vs AssemblyScript (${build} build)`);

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
        } else if (op === 3) {
          assert.is(ts.publish(), e.ringPublish(as.header) === 1, where);
        } else if (op === 4) {
          const a = ts.peek();
          const b = e.ringPeek(as.header) >>> 0;
          assert.is(a === 0 ? 0 : a - ts.data, b === 0 ? 0 : b - as.data, `${where}: peek`);
          if (a !== 0) assert.is(ts.peekSize(), e.ringPeekSize(as.header), `${where}: peekSize`);
        } else if (op === 5) {
          assert.is(ts.consume(), e.ringConsume(as.header) === 1, where);
        } else if (op === 6) {
          assert.is(ts.releaseConsumed(), e.ringReleaseConsumed(as.header) === 1, where);
        } else if (op === 7) {
          assert.is(ts.release(), e.ringRelease(as.header) === 1, where);
        } else {
          ts.wantSpace();
          e.ringWantSpace(as.header);
        }
        for (const f of ['PROD_POS', 'PROD_WAITING', 'CONS_POS', 'WRITE_POS', 'CACHED_CONS', 'RESERVED', 'RESERVED_POS', 'READ_POS', 'CACHED_PROD'] as const) {
          assert.is(word(rc, ts.header, f), word(rc, as.header, f), `${where}: header field ${f}`);
        }
      }
      assert.equal(u8.slice(ts.data, ts.data + capacity), u8.slice(as.data, as.data + capacity), `seed ${seed}: data bytes`);
      assert.ok(n > 500, `seed ${seed}: ${n} records written`);
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
  Diff.run();
}
