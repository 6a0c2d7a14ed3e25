// RFC 6455 §5.2 frame encoder: server frames (unmasked) and client frames (masked with the key the
// host gives: §5.3 wants it "derived from a strong source of entropy", which the host has and this
// module has not). Lengths use the minimal form (§5.2: "the minimal number of bytes MUST be used to
// encode the length"). Keys are the 4 key octets as one little-endian u32 (see mask.ts).
import {
  OPCODE_CLOSE, OPCODE_CONTINUATION, OPCODE_BINARY, OPCODE_PONG,
  CLOSE_NO_STATUS, CONTROL_PAYLOAD_MAX, LENGTH_7_MAX, LENGTH_16_MARKER, LENGTH_64_MARKER,
} from '../codes';
import { maskInPlace } from './mask';
import { isValidCloseCode } from './decoder';

const FIN_BIT: u32 = 0x80;
const MASK_BIT: u32 = 0x80;
const LENGTH_16_MAX: u32 = 0xffff;
const BASE_HEADER_SIZE: u32 = 2;
const LENGTH_16_SIZE: u32 = 2;
const LENGTH_64_SIZE: u32 = 8;
const MASK_KEY_SIZE: u32 = 4;
const CLOSE_CODE_SIZE: u32 = 2;

/** Bytes of the header of a frame with a `len`-byte payload (masked != 0: a client frame). */
export function frameHeaderSize(len: u32, masked: u32): u32 {
  const base = len <= LENGTH_7_MAX
    ? BASE_HEADER_SIZE
    : len <= LENGTH_16_MAX ? BASE_HEADER_SIZE + LENGTH_16_SIZE : BASE_HEADER_SIZE + LENGTH_64_SIZE;
  return masked != 0 ? base + MASK_KEY_SIZE : base;
}

function validOpcode(opcode: u32): bool {
  return opcode <= OPCODE_BINARY || (opcode >= OPCODE_CLOSE && opcode <= OPCODE_PONG);
}

/**
 * Writes the header of one frame at `dst`; returns its size, or 0 (nothing written) for an unknown
 * opcode or a control frame that breaks §5.5 ("All control frames MUST have a payload length of 125
 * bytes or less and MUST NOT be fragmented."). `fin` != 0 sets FIN; `masked` != 0 writes `key`.
 */
export function encodeFrameHeader(dst: usize, opcode: u32, fin: u32, len: u32, masked: u32, key: u32): u32 {
  if (!validOpcode(opcode)) return 0;
  if (opcode >= OPCODE_CLOSE && (fin == 0 || len > CONTROL_PAYLOAD_MAX)) return 0;
  const maskBit = masked != 0 ? MASK_BIT : 0;
  store<u8>(dst, <u8>((fin != 0 ? FIN_BIT : 0) | opcode));
  let size = BASE_HEADER_SIZE;
  if (len <= LENGTH_7_MAX) {
    store<u8>(dst, <u8>(maskBit | len), 1);
  } else if (len <= LENGTH_16_MAX) {
    store<u8>(dst, <u8>(maskBit | LENGTH_16_MARKER), 1);
    store<u16>(dst, bswap<u16>(<u16>len), 2);
    size += LENGTH_16_SIZE;
  } else {
    store<u8>(dst, <u8>(maskBit | LENGTH_64_MARKER), 1);
    store<u32>(dst, 0, 2); // lengths at the boundary are u32: the high word is 0
    store<u32>(dst, bswap<u32>(len), 6);
    size += LENGTH_64_SIZE;
  }
  if (masked != 0) {
    store<u32>(dst + <usize>size, key);
    size += MASK_KEY_SIZE;
  }
  return size;
}

/**
 * Writes one complete frame (FIN set) at `dst`: header, then the `len` payload bytes from `src`
 * (memmove semantics, so `src` may already sit at dst + frameHeaderSize(len, masked)), masked in
 * place for a client frame. Returns the frame size, or 0 as encodeFrameHeader does.
 */
export function encodeFrame(dst: usize, opcode: u32, src: usize, len: u32, masked: u32, key: u32): u32 {
  if (opcode == OPCODE_CONTINUATION) return 0;
  const h = encodeFrameHeader(dst, opcode, 1, len, masked, key);
  if (h == 0) return 0;
  const payload = dst + <usize>h;
  if (src != payload) memory.copy(payload, src, len);
  if (masked != 0) maskInPlace(payload, len, key);
  return h + len;
}

/**
 * Writes a Close frame at `dst`. `code` CLOSE_NO_STATUS (1005) sends an empty body (§7.1.5: 1005
 * means "no status code was actually present"); any other code must be valid on the wire (§7.4)
 * and is followed by the `reasonLen`-byte reason from `reason` (the caller guarantees UTF-8).
 * Returns the frame size, or 0 for an invalid code or a body over 125 bytes.
 */
export function encodeClose(dst: usize, code: u32, reason: usize, reasonLen: u32, masked: u32, key: u32): u32 {
  if (code == CLOSE_NO_STATUS) {
    if (reasonLen != 0) return 0;
    return encodeFrameHeader(dst, OPCODE_CLOSE, 1, 0, masked, key);
  }
  if (!isValidCloseCode(code) || reasonLen > CONTROL_PAYLOAD_MAX - CLOSE_CODE_SIZE) return 0;
  const len = CLOSE_CODE_SIZE + reasonLen;
  const h = encodeFrameHeader(dst, OPCODE_CLOSE, 1, len, masked, key);
  const payload = dst + <usize>h;
  memory.copy(payload + CLOSE_CODE_SIZE, reason, reasonLen);
  store<u16>(payload, bswap<u16>(<u16>code));
  if (masked != 0) maskInPlace(payload, len, key);
  return h + len;
}
