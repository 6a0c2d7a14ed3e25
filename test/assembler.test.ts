// MessageAssembler (src/core/assembler.ts): the one reassembler. Whatever the pieces, the message
// comes out byte for byte, and it never holds more than its payload plus MAX_SLACK.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageAssembler, MAX_SLACK, FIRST_CHUNK } from '../src/core/assembler.ts';
import { rng, randInt } from './helpers/chunking.ts';

const Assembler = suite('MessageAssembler');

const message = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Appends `msg` cut at `cuts` (sorted offsets); checks the bound after every piece. */
function gather(m: MessageAssembler, msg: Uint8Array, cuts: number[]): void {
  let from = 0;
  for (const to of [...cuts, msg.length]) {
    m.append(msg.subarray(from, to));
    from = to;
    assert.ok(m.capacity < m.bytes + MAX_SLACK || m.bytes === 0, `capacity ${m.capacity} for ${m.bytes} bytes`);
    assert.is(m.bytes, to);
  }
}

Assembler('gives back a message split at every byte boundary, through take and copyTo', () => {
  const msg = message(300);
  for (let cut = 0; cut <= msg.length; cut++) {
    const m = new MessageAssembler();
    m.start(1);
    gather(m, msg, [cut]);
    const dst = new Uint8Array(msg.length + 10);
    assert.is(m.copyTo(dst, 5), 5 + msg.length);
    assert.equal(dst.subarray(5, 5 + msg.length), msg, `cut at ${cut}`);
    assert.equal(m.take(), msg, `cut at ${cut}`);
    assert.is(m.bytes, 0);
    assert.is(m.capacity, 0);
  }
});

Assembler('gives back a message sent as one-byte pieces, in few chunks', () => {
  const msg = message(100_000);
  const m = new MessageAssembler();
  let allocations = 0;
  for (let i = 0; i < msg.length; i++) if (m.append(msg.subarray(i, i + 1)) > 0) allocations++;
  // 256, 256, 512, 1024, 2048 (doubling to MAX_SLACK), then MAX_SLACK each.
  assert.is(allocations, 5 + Math.ceil((msg.length - MAX_SLACK) / MAX_SLACK));
  assert.ok(m.capacity < msg.length + MAX_SLACK);
  assert.equal(m.take(), msg);
});

Assembler('allocates a piece larger than MAX_SLACK exactly', () => {
  const m = new MessageAssembler();
  const big = message(65536);
  assert.is(m.append(big), 65536);
  assert.is(m.capacity, 65536);
  assert.is(m.append(message(10)), MAX_SLACK);
  assert.is(m.append(message(MAX_SLACK - 10)), 0, 'the rest of the tail chunk is used first');
  assert.is(m.bytes, 65536 + MAX_SLACK);
});

Assembler('appends a last piece in take; hands out a full single chunk without copying, copies a partly used one', () => {
  const m = new MessageAssembler();
  m.append(message(10));
  assert.is(m.capacity, FIRST_CHUNK, 'a small first piece takes a small chunk');
  const out = m.take(message(5, 7));
  assert.equal(out, Uint8Array.from([...message(10), ...message(5, 7)]));
  m.append(message(10));
  const small = m.take();
  assert.is(small.length, 10);
  assert.is(small.buffer.byteLength, 10, 'no 256-byte chunk kept alive by a 10-byte message');
  const big = message(70_000);
  m.append(big);
  const whole = m.take();
  assert.equal(whole, big);
});

Assembler('uses the allocator it is given', () => {
  const sizes: number[] = [];
  const m = new MessageAssembler((n) => { sizes.push(n); return new Uint8Array(n); });
  m.append(message(1));
  m.append(message(300));
  m.append(message(5000));
  // 1 byte: a first chunk; 300: its rest, then one as large as what was gathered; 5000: exact.
  assert.equal(sizes, [FIRST_CHUNK, FIRST_CHUNK, 5000 - (2 * FIRST_CHUNK - 301)]);
});

Assembler('gathers random pieces of random messages (seeded), reused across messages', () => {
  const r = rng(42);
  const m = new MessageAssembler();
  for (let round = 0; round < 200; round++) {
    const msg = message(randInt(r, 0, 20_000), round);
    const cuts = Array.from({ length: randInt(r, 0, 40) }, () => randInt(r, 0, msg.length)).sort((a, b) => a - b);
    m.start(round & 1);
    gather(m, msg, cuts);
    assert.is(m.kind, round & 1);
    assert.equal(m.take(), msg, `round ${round}`);
  }
});

Assembler('start and reset drop what was gathered and report the memory freed', () => {
  const m = new MessageAssembler();
  m.append(message(5000));
  assert.is(m.reset(), 5000);
  m.append(message(5));
  m.start(0);
  assert.is(m.bytes, 0);
  assert.is(m.capacity, 0);
  assert.is(m.reset(), 0);
});

Assembler.run();
