// The bench's verifiable payloads (src/bench/payload.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PayloadFormat, Verdict, patternByte } from '../src/bench/payload.ts';

const P = suite('PayloadFormat');

P('lays out an echo binary payload as little-endian stream and seq, then the pattern', () => {
  const f = new PayloadFormat('echo', 12, true);
  const b = f.make(0x01020304, 0xa0b0c0d0);
  assert.equal(Array.from(b.subarray(0, 8)), [4, 3, 2, 1, 0xd0, 0xc0, 0xb0, 0xa0]);
  for (let i = 8; i < 12; i++) assert.is(b[i], patternByte(i, true));
  assert.is(f.read(b), Verdict.OK);
  assert.is(f.id, 0x01020304);
  assert.is(f.seq, 0xa0b0c0d0);
});

P('writes text payloads as hex digits and lowercase letters only (valid UTF-8)', () => {
  const f = new PayloadFormat('broadcast', 40, false);
  const b = f.make(7, 255, 0xdeadbeef);
  const s = Buffer.from(b).toString('latin1');
  assert.is(s.slice(0, 24), '00000007000000ffdeadbeef');
  assert.match(s.slice(24), /^[a-z]{16}$/);
  assert.is(f.read(b), Verdict.OK);
  assert.is(f.id, 7);
  assert.is(f.seq, 255);
  assert.is(f.time, 0xdeadbeef);
});

P('accepts exactly what it wrote, for sizes from the header size to 64 KiB', () => {
  for (const [mode, binary] of [['echo', true], ['echo', false], ['broadcast', true], ['broadcast', false]] as const) {
    const min = new PayloadFormat(mode, 64, binary).headerSize;
    for (const size of [min, min + 1, 63, 64, 65, 1000, 65536]) {
      const f = new PayloadFormat(mode, size, binary);
      const b = new Uint8Array(size + 3);
      f.write(b, 3, 12345, 678, 999);
      assert.is(f.read(b.subarray(3)), Verdict.OK, `${mode} ${binary} ${size}`);
      assert.is(f.seq, 678);
    }
  }
});

P('detects a flipped byte anywhere in the pattern, short and long payloads', () => {
  for (const size of [32, 65536]) {
    const f = new PayloadFormat('echo', size, true);
    for (const at of [8, 9, size >> 1, size - 1]) {
      const b = f.make(1, 2);
      b[at] ^= 0x40;
      assert.is(f.read(b), Verdict.BAD_PATTERN, `size ${size}, byte ${at}`);
    }
  }
});

P('detects a wrong size and an unreadable text header', () => {
  const f = new PayloadFormat('echo', 32, false);
  assert.is(f.read(f.make(1, 1).subarray(0, 31)), Verdict.WRONG_SIZE);
  assert.is(f.read(new Uint8Array(33)), Verdict.WRONG_SIZE);
  const b = f.make(1, 1);
  b[3] = 0x47; // 'G' is no hex digit
  assert.is(f.read(b), Verdict.BAD_HEADER);
});

P('keeps the last accepted fields when a payload is rejected', () => {
  const f = new PayloadFormat('echo', 16, true);
  assert.is(f.read(f.make(5, 6)), Verdict.OK);
  const bad = f.make(9, 9);
  bad[15] ^= 1;
  assert.is(f.read(bad), Verdict.BAD_PATTERN);
  assert.is(f.id, 5);
  assert.is(f.seq, 6);
});

P('refuses a size smaller than its header', () => {
  assert.throws(() => new PayloadFormat('broadcast', 11, true), /a broadcast binary payload needs at least 12 bytes, got 11/);
});

P.run();
