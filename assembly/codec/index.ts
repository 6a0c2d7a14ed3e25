// The codec's exports (re-exported by assembly/index.ts): only functions, all i32/u32 at the
// boundary. See docs/codec.md for the contract and src/core/codec.ts for the typed TS side.
import { maskInPlace } from './mask';
import { utf8Step } from './utf8';

export { decoderInit, decode, decoderStateSize } from './decoder';
export { frameHeaderSize, encodeFrameHeader, encodeFrame, encodeClose } from './encoder';

/**
 * XORs `len` bytes at `ptr` in place with the masking key `key` (4 key octets as a little-endian
 * u32, rotated to the phase of the byte at `ptr`); returns the key rotated for the byte after.
 */
export function mask(ptr: usize, len: u32, key: u32): u32 {
  return maskInPlace(ptr, len, key);
}

/** Streaming UTF-8 check of `len` bytes at `ptr` from `state` (0 = start); returns the new state. */
export function utf8Validate(ptr: usize, len: u32, state: u32): u32 {
  return utf8Step(ptr, len, state);
}
