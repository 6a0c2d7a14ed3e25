// The streaming UTF-8 validator (assembly/codec/utf8.ts) on both builds: every boundary code point,
// every surrogate, every overlong form, truncations, the SIMD ASCII path at every offset, and random
// inputs compared with Node's buffer.isUtf8.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isUtf8 } from 'node:buffer';
import { BUILDS, coreFor, regions, rng, randInt } from './helpers/chunking.ts';
import type { TestCore } from './helpers/chunking.ts';
import { utf8ValidateAt } from '../src/core/codec.ts';
import { Utf8State } from '../src/core/codes.ts';

const { ACCEPT, REJECT } = Utf8State;

/** Validates `bytes` in one call from state 0. */
function validate(core: TestCore, bytes: Uint8Array, state = 0): number {
  const { input } = regions(core);
  core.u8.set(bytes, input);
  return utf8ValidateAt(core, input, bytes.length, state);
}

/** Validates `bytes` fed in pieces cut at `cuts`, carrying the state. */
function validatePieces(core: TestCore, bytes: Uint8Array, cuts: number[]): number {
  let s = 0, from = 0;
  for (const to of [...cuts, bytes.length]) {
    s = validate(core, bytes.subarray(from, to), s);
    from = to;
  }
  return s;
}

/** A JS reference encoder (independent of TextEncoder, so it can encode surrogates). */
function encode(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}
/** The overlong encoding of `cp` in `n` bytes. */
function overlong(cp: number, n: 2 | 3 | 4): number[] {
  if (n === 2) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (n === 3) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}

const BOUNDARY_VALID = [
  0x0, 0x7f, 0x80, 0x7ff, 0x800, 0xfff, 0x1000, 0xcfff, 0xd000, 0xd7ff, 0xe000, 0xfffd, 0xfffe, 0xffff,
  0x10000, 0x3ffff, 0x40000, 0xfffff, 0x100000, 0x10fffd, 0x10ffff,
];

for (const build of BUILDS) {
  const Utf8 = suite(`utf8Validate (${build} build)`);
  const core = coreFor(build, 16 * 1024 * 1024);

  Utf8('accepts every boundary code point, alone and between ASCII', () => {
    for (const cp of BOUNDARY_VALID) {
      const b = Uint8Array.from(encode(cp));
      assert.is(validate(core, b), ACCEPT, `U+${cp.toString(16)}`);
      assert.is(validate(core, Uint8Array.from([0x61, ...b, 0x62])), ACCEPT, `a U+${cp.toString(16)} b`);
    }
  });

  Utf8('accepts every code point U+0000..U+10FFFF except surrogates, in one call and in pieces', () => {
    const parts: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) if (cp < 0xd800 || cp > 0xdfff) parts.push(...encode(cp));
    const all = Uint8Array.from(parts);
    assert.is(validate(core, all), ACCEPT);
    const r = rng(11);
    const cuts = Array.from({ length: 2000 }, () => randInt(r, 0, all.length)).sort((a, b) => a - b);
    assert.is(validatePieces(core, all, cuts), ACCEPT);
  });

  Utf8('rejects every surrogate U+D800..U+DFFF', () => {
    for (let cp = 0xd800; cp <= 0xdfff; cp++) {
      assert.is(validate(core, Uint8Array.from(encode(cp))), REJECT, `U+${cp.toString(16)}`);
    }
  });

  Utf8('rejects every overlong form', () => {
    for (let cp = 0; cp < 0x80; cp++) assert.is(validate(core, Uint8Array.from(overlong(cp, 2))), REJECT, `2-byte ${cp}`);
    for (let cp = 0; cp < 0x800; cp++) assert.is(validate(core, Uint8Array.from(overlong(cp, 3))), REJECT, `3-byte ${cp}`);
    for (let cp = 0; cp < 0x10000; cp++) assert.is(validate(core, Uint8Array.from(overlong(cp, 4))), REJECT, `4-byte ${cp}`);
  });

  Utf8('rejects code points above U+10FFFF and bytes that never appear', () => {
    for (const cp of [0x110000, 0x13ffff, 0x140000, 0x1fffff]) assert.is(validate(core, Uint8Array.from(overlong(cp, 4))), REJECT);
    for (let b = 0xf5; b <= 0xff; b++) assert.is(validate(core, Uint8Array.of(b, 0x80, 0x80, 0x80)), REJECT, `lead ${b}`);
    for (let b = 0x80; b <= 0xbf; b++) assert.is(validate(core, Uint8Array.of(0x61, b)), REJECT, `stray continuation ${b}`);
  });

  Utf8('keeps a cut-off sequence pending, and rejects it when ASCII follows', () => {
    for (const cp of BOUNDARY_VALID) {
      const b = encode(cp);
      for (let keep = 1; keep < b.length; keep++) {
        const head = Uint8Array.from(b.slice(0, keep));
        const s = validate(core, head);
        assert.ok(s !== ACCEPT && s !== REJECT, `U+${cp.toString(16)} cut to ${keep}: pending, got ${s}`);
        assert.is(validate(core, Uint8Array.of(0x41), s), REJECT, `U+${cp.toString(16)} cut to ${keep}, then 'A'`);
        assert.is(validate(core, Uint8Array.from(b.slice(keep)), s), ACCEPT, `U+${cp.toString(16)} resumed at ${keep}`);
      }
    }
  });

  Utf8('finds a bad byte at every offset of the SIMD ASCII path', () => {
    for (let len = 1; len <= 80; len++) {
      for (let at = 0; at < len; at++) {
        const b = new Uint8Array(len).fill(0x41);
        b[at] = 0xff;
        assert.is(validate(core, b), REJECT, `len ${len}, 0xFF at ${at}`);
        b[at] = 0xc3; // a lead byte: valid only if a continuation follows
        const want = at + 1 < len ? REJECT : validate(core, Uint8Array.of(0xc3));
        assert.is(validate(core, b), want, `len ${len}, C3 at ${at}`);
        if (at + 1 < len) { b[at + 1] = 0xa9; assert.is(validate(core, b), ACCEPT, `len ${len}, é at ${at}`); }
      }
    }
  });

  Utf8('stays rejected once rejected', () => {
    assert.is(validate(core, Uint8Array.of(0x41), REJECT), REJECT);
  });

  Utf8('matches buffer.isUtf8 on every 1- and 2-byte input', () => {
    const b = new Uint8Array(2);
    for (let x = 0; x < 256; x++) {
      assert.is(validate(core, Uint8Array.of(x)) === ACCEPT, isUtf8(Uint8Array.of(x)), `${x}`);
      for (let y = 0; y < 256; y++) {
        b[0] = x; b[1] = y;
        if ((validate(core, b) === ACCEPT) !== isUtf8(b)) assert.unreachable(`${x.toString(16)} ${y.toString(16)}`);
      }
    }
  });

  Utf8('matches buffer.isUtf8 on 20000 random inputs, whole and in pieces', () => {
    const seed = Number(process.env.UTF8_SEED ?? 1234);
    const r = rng(seed);
    const pieces = [[0x41], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0x9f, 0xbf], [0xef, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf]];
    for (let i = 0; i < 20000; i++) {
      const bytes: number[] = [];
      const n = randInt(r, 0, 64);
      for (let k = 0; k < n; k++) {
        const roll = r();
        if (roll < 0.5) bytes.push(...pieces[randInt(r, 0, pieces.length - 1)]);
        else if (roll < 0.75) for (let a = randInt(r, 1, 20); a > 0; a--) bytes.push(0x20 + randInt(r, 0, 90));
        else bytes.push(randInt(r, 0x80, 0xff));
      }
      // Sometimes corrupt one byte, sometimes cut the end.
      if (r() < 0.3 && bytes.length) bytes[randInt(r, 0, bytes.length - 1)] = randInt(r, 0, 255);
      if (r() < 0.2 && bytes.length) bytes.length = randInt(r, 0, bytes.length - 1);
      const b = Uint8Array.from(bytes);
      const want = isUtf8(b);
      if ((validate(core, b) === ACCEPT) !== want) assert.unreachable(`seed ${seed} input ${i}: ${Buffer.from(b).toString('hex')}`);
      const cuts = Array.from({ length: randInt(r, 0, 4) }, () => randInt(r, 0, b.length)).sort((a, c) => a - c);
      if ((validatePieces(core, b, cuts) === ACCEPT) !== want) {
        assert.unreachable(`seed ${seed} input ${i} cut at ${cuts}: ${Buffer.from(b).toString('hex')}`);
      }
    }
  });

  Utf8.run();
}
