// Streaming UTF-8 validation (RFC 3629 §4, the syntax RFC 6455 §8.1 requires of text messages and
// close reasons): a byte-level state machine in the style of Markus Kuhn's checker, with a SIMD fast
// path that skips 16 ASCII bytes at a time. It rejects at the first byte that cannot continue a valid
// sequence: stray continuation bytes, overlongs (C0, C1, E0 80..9F, F0 80..8F), surrogates
// (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF). The state carries across calls, so a
// sequence may be split across fragments and reads; a state other than UTF8_ACCEPT at the end of a
// message means the last sequence was cut off.
//
// States: 0 = UTF8_ACCEPT (between sequences); 1, 2, 3 = that many continuation bytes (80..BF) to go;
// 4 = after E0 (next A0..BF, then 1 more); 5 = after ED (next 80..9F, then 1 more);
// 6 = after F0 (next 90..BF, then 2 more); 7 = after F4 (next 80..8F, then 2 more);
// 8 = UTF8_REJECT (absorbing).
import { UTF8_ACCEPT, UTF8_REJECT } from '../codes';

// Lead byte 0x80..0xFF -> state after it (UTF8_REJECT for continuation bytes, C0, C1, F5..FF).
// 128 bytes, derived from the RFC 3629 §4 "UTF8-2 / UTF8-3 / UTF8-4" productions. Read-only.
// @ts-ignore: decorator
@lazy const LEAD_STATE = memory.data<u8>([
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  8, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 2, 2,
  6, 3, 3, 3, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
]);

// Continuation rule per state 0..7, 4 bytes each: lowest allowed byte, span (highest - lowest),
// next state, unused. 32 bytes, from the same RFC 3629 productions. Read-only. State 0 is unused.
// @ts-ignore: decorator
@lazy const CONT_RULE = memory.data<u8>([
  0x00, 0x00, 0, 0,
  0x80, 0x3f, 0, 0, // 1: 80..BF, done
  0x80, 0x3f, 1, 0, // 2: 80..BF, 1 more
  0x80, 0x3f, 2, 0, // 3: 80..BF, 2 more
  0xa0, 0x1f, 1, 0, // 4: E0 A0..BF (no overlong 3-byte form)
  0x80, 0x1f, 1, 0, // 5: ED 80..9F (no surrogates U+D800..U+DFFF)
  0x90, 0x2f, 2, 0, // 6: F0 90..BF (no overlong 4-byte form)
  0x80, 0x0f, 2, 0, // 7: F4 80..8F (nothing above U+10FFFF)
]);

const ASCII_HIGH_BIT: u32 = 0x80;

/**
 * Validates `len` bytes at `ptr` continuing from `state`; returns the new state: UTF8_ACCEPT at a
 * sequence boundary, UTF8_REJECT at the first invalid byte, else a pending-sequence state.
 */
export function utf8Step(ptr: usize, len: u32, state: u32): u32 {
  let p = ptr;
  const end = ptr + <usize>len;
  let s = state;
  if (s == UTF8_REJECT) return s;
  while (true) {
    if (s == UTF8_ACCEPT) {
      // SIMD fast path: skip whole 16-byte blocks of ASCII, stop at the first high bit.
      while (p + 16 <= end) {
        const high = <u32>i8x16.bitmask(v128.load(p));
        if (high != 0) {
          p += <usize>ctz<u32>(high);
          break;
        }
        p += 16;
      }
      if (p >= end) return s;
      const b = <u32>load<u8>(p);
      p++;
      if (b < ASCII_HIGH_BIT) continue;
      s = <u32>load<u8>(LEAD_STATE + <usize>(b - ASCII_HIGH_BIT));
      if (s == UTF8_REJECT) return s;
    } else {
      if (p >= end) return s;
      const b = <u32>load<u8>(p);
      p++;
      const rule = CONT_RULE + (<usize>s << 2);
      if (b - <u32>load<u8>(rule) > <u32>load<u8>(rule, 1)) return UTF8_REJECT;
      s = <u32>load<u8>(rule, 2);
    }
  }
  return s;
}
