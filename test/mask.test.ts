// SIMD masking (assembly/codec/mask.ts) on both builds: lengths 0-300 at all four phases against a
// one-line scalar reference, pieces of one payload chained through the returned key, and no write
// outside the range.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILDS, coreFor, regions, rng, randInt } from './helpers/chunking.ts';
import { maskAt, maskKeyToU32, rotateMaskKey } from '../src/core/codec.ts';

/** The reference: RFC 6455 §5.3, byte i of the payload XOR key byte (i mod 4). */
const reference = (data: Uint8Array, key: Uint8Array, offset: number) => data.map((b, i) => b ^ key[(offset + i) & 3]);

const KEYS = [Uint8Array.of(0x37, 0xfa, 0x21, 0x3d), Uint8Array.of(0xff, 0x00, 0x80, 0x01), Uint8Array.of(1, 2, 3, 4)];
const GUARD = 32;

for (const build of BUILDS) {
  const Mask = suite(`mask (${build} build)`);
  const core = coreFor(build);
  const { input } = regions(core);
  const r = rng(42);

  Mask('masks lengths 0-300 at all four phases like the scalar reference', () => {
    for (const key of KEYS) {
      for (let phase = 0; phase < 4; phase++) {
        for (let len = 0; len <= 300; len++) {
          // Also vary the address alignment: v128 loads are unaligned.
          const at = input + GUARD + (len % 16);
          const data = Uint8Array.from({ length: len }, () => randInt(r, 0, 255));
          core.u8.fill(0xa5, at - GUARD, at + len + GUARD);
          core.u8.set(data, at);
          maskAt(core, at, len, key, phase);
          const got = core.u8.subarray(at, at + len);
          if (!Buffer.from(got).equals(Buffer.from(reference(data, key, phase)))) {
            assert.unreachable(`key ${key}, phase ${phase}, len ${len}`);
          }
          const before = core.u8.subarray(at - GUARD, at), after = core.u8.subarray(at + len, at + len + GUARD);
          if (before.some((b) => b !== 0xa5) || after.some((b) => b !== 0xa5)) assert.unreachable(`wrote outside, len ${len}`);
        }
      }
    }
  });

  Mask('unmasks a payload split into pieces at any points by chaining the returned key', () => {
    const key = KEYS[0];
    for (let trial = 0; trial < 300; trial++) {
      const len = randInt(r, 0, 700);
      const data = Uint8Array.from({ length: len }, () => randInt(r, 0, 255));
      core.u8.set(data, input);
      let k = maskKeyToU32(key);
      let from = 0;
      const cuts = Array.from({ length: randInt(r, 0, 6) }, () => randInt(r, 0, len)).sort((a, b) => a - b);
      for (const to of [...cuts, len]) {
        k = core.exports.mask(input + from, to - from, k) >>> 0;
        assert.is(k, rotateMaskKey(maskKeyToU32(key), to), `key after ${to} bytes`);
        from = to;
      }
      assert.equal(Array.from(core.u8.subarray(input, input + len)), Array.from(reference(data, key, 0)), `cuts ${cuts}`);
    }
  });

  Mask('is its own inverse', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i * 7);
    core.u8.set(data, input);
    maskAt(core, input, 1000, KEYS[1], 3);
    maskAt(core, input, 1000, KEYS[1], 3);
    assert.equal(Array.from(core.u8.subarray(input, input + 1000)), Array.from(data));
  });

  Mask('leaves data alone with an all-zero key', () => {
    core.u8.set([1, 2, 3, 4, 5], input);
    maskAt(core, input, 5, Uint8Array.of(0, 0, 0, 0), 1);
    assert.equal(Array.from(core.u8.subarray(input, input + 5)), [1, 2, 3, 4, 5]);
  });

  Mask('rotates keys the way the core expects', () => {
    assert.is(maskKeyToU32(Uint8Array.of(1, 2, 3, 4)), 0x04030201);
    assert.is(rotateMaskKey(0x04030201, 1), 0x01040302);
    assert.is(rotateMaskKey(0x04030201, 4), 0x04030201);
    assert.throws(() => maskKeyToU32(Uint8Array.of(1, 2, 3)), /4 bytes/);
  });

  Mask.run();
}
