// RFC 6455 §5.3 masking: "octet i of the transformed data ("transformed-octet-i") is the XOR of
// octet i of the original data ("original-octet-i") with octet at index i modulo 4 of the masking
// key ("masking-key-octet-j")". Masking and unmasking are the same operation, done in place.
//
// `key` is the 4 masking-key octets loaded as one little-endian u32 (key octet 0 in the low byte),
// already rotated to the phase of the first byte at `ptr`: then a little-endian u32 or v128 load of
// the payload lines up with it byte for byte, and 16 bytes are XORed at a time with i32x4.splat(key).

/** Rotates a masking key (see above) so that it starts at payload offset `phase` (0..3). */
// @ts-ignore: decorator
@inline
export function rotateMask(key: u32, phase: u32): u32 {
  return rotr<u32>(key, (phase & 3) << 3);
}

/**
 * XORs `len` bytes at `ptr` with `key` (rotated to this piece's phase) in place and returns the key
 * rotated to the phase of the byte after the piece, ready for the next piece of the same payload.
 */
export function maskInPlace(ptr: usize, len: u32, key: u32): u32 {
  if (key == 0) return 0;
  let p = ptr;
  const end = ptr + <usize>len;
  const k = i32x4.splat(<i32>key);
  // 64 bytes per iteration, then 16: SIMD body.
  while (p + 64 <= end) {
    v128.store(p, v128.xor(v128.load(p), k));
    v128.store(p, v128.xor(v128.load(p, 16), k), 16);
    v128.store(p, v128.xor(v128.load(p, 32), k), 32);
    v128.store(p, v128.xor(v128.load(p, 48), k), 48);
    p += 64;
  }
  while (p + 16 <= end) {
    v128.store(p, v128.xor(v128.load(p), k));
    p += 16;
  }
  // Scalar tail: whole words keep the phase, single bytes rotate the key.
  if (p + 8 <= end) {
    store<u64>(p, load<u64>(p) ^ ((<u64>key << 32) | <u64>key));
    p += 8;
  }
  if (p + 4 <= end) {
    store<u32>(p, load<u32>(p) ^ key);
    p += 4;
  }
  let kk = key;
  while (p < end) {
    store<u8>(p, load<u8>(p) ^ <u8>kk);
    kk = rotr<u32>(kk, 8);
    p++;
  }
  return kk;
}
