// The ring's constants: every `@inline const` of assembly/ring.ts (header offsets, sizes, the magic
// and wrap words, capacity bounds, wake values, ringInit's errors) has the same value in
// src/core/ring.ts, and the header keeps each writer's fields on its own 64-byte line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readAsConstants } from './helpers/chunking.ts';
import {
  RingInitError, RingLayout, RING_HEADER_SIZE, RING_MAGIC, RING_MAX_CAPACITY, RING_MIN_CAPACITY, RING_RECORD_HEADER,
  RING_REWIND_OFFSET, RING_WRAP, Wake,
} from '../src/core/ring.ts';

const Twins = suite('ring constants');
const asRing = readAsConstants(new URL('../assembly/ring.ts', import.meta.url), '@inline const');

/** The TypeScript twin of each AssemblyScript constant, by the AssemblyScript name. */
const TS: Record<string, number> = {
  ...RingLayout,
  RING_HEADER_SIZE,
  RING_MAGIC,
  WRAP: RING_WRAP >>> 0, // the u32 0xFFFFFFFF, read as an i32 in TypeScript
  MIN_CAPACITY: RING_MIN_CAPACITY,
  MAX_CAPACITY: RING_MAX_CAPACITY,
  RECORD_HEADER: RING_RECORD_HEADER,
  REWIND_OFFSET: RING_REWIND_OFFSET,
  ...Object.fromEntries(Object.entries(Wake)),
  ...Object.fromEntries(Object.entries(RingInitError).map(([k, v]) => [`INIT_${k}`, v])),
};

Twins('has the same value in TypeScript for every AssemblyScript constant, and no extra one', () => {
  assert.ok(asRing.size > 20, `read ${asRing.size} constants`);
  assert.equal(Object.fromEntries(asRing), TS);
});

Twins('keeps the header fields aligned, inside the header, and each writer on its own cache line', () => {
  // assembly/ring.ts's header comment: which side writes each field.
  const lines: Record<string, (keyof typeof RingLayout)[]> = {
    'producer, shared': ['PROD_POS', 'PROD_WAITING'],
    'consumer, shared': ['CONS_POS'],
    'ringInit, read-only': ['DATA', 'CAPACITY', 'CONS_WAKE', 'PROD_WAKE', 'MAGIC'],
    'producer, private': ['WRITE_POS', 'CACHED_CONS', 'RESERVED', 'RESERVED_POS', 'MAX_BATCH', 'SKIPPED'],
    'consumer, private': ['READ_POS', 'CACHED_PROD'],
  };
  assert.equal(Object.values(lines).flat().sort(), Object.keys(RingLayout).sort(), 'every field is listed once');
  const lineOf = (field: keyof typeof RingLayout) => Math.floor(RingLayout[field] / 64);
  const used = new Set<number>();
  for (const [writer, fields] of Object.entries(lines)) {
    const line = lineOf(fields[0]);
    assert.not.ok(used.has(line), `${writer} has a line of its own`);
    used.add(line);
    for (const f of fields) {
      assert.is(RingLayout[f] % 4, 0, `${f} is 4-byte aligned`);
      assert.is(lineOf(f), line, `${f} is on the ${writer} line`);
      assert.ok(RingLayout[f] + 4 <= RING_HEADER_SIZE, `${f} is inside the header`);
    }
  }
  assert.is(RING_HEADER_SIZE % 64, 0);
});

Twins.run();
