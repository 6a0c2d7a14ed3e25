// The RFC 6455 frame decoder: a resumable state machine over a DECODER_STATE_SIZE-byte state block
// (assembly/codec/layout.ts) at an address the host chooses. decode(state, ptr, end) reads from ptr,
// unmasks payload in place, validates text, and returns at the next event; the host reads the event's
// out-fields from the state block and calls again from ST_OUT_NEXT until EVENT_NEED_MORE. Nothing is
// allocated and nothing outside the state block and [ptr, end) is touched.
import {
  OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG,
  CLOSE_PROTOCOL_ERROR, CLOSE_NO_STATUS, CLOSE_INVALID_PAYLOAD, CLOSE_MESSAGE_TOO_BIG,
  ROLE_SERVER,
  EVENT_NEED_MORE, EVENT_DATA, EVENT_PING, EVENT_PONG, EVENT_CLOSE, EVENT_ERROR,
  DATA_FIRST, DATA_LAST, DATA_TEXT, DATA_COMPRESSED,
  UTF8_ACCEPT, UTF8_REJECT,
  ERR_RSV_SET, ERR_UNKNOWN_OPCODE, ERR_CONTINUATION_WITHOUT_START, ERR_DATA_FRAME_INSIDE_MESSAGE,
  ERR_FRAGMENTED_CONTROL_FRAME, ERR_CONTROL_FRAME_TOO_LONG, ERR_UNMASKED_FRAME, ERR_MASKED_FRAME,
  ERR_LENGTH_TOP_BIT, ERR_CLOSE_PAYLOAD_ONE_BYTE, ERR_INVALID_CLOSE_CODE, ERR_CLOSE_REASON_UTF8,
  ERR_INVALID_UTF8, ERR_TRUNCATED_UTF8, ERR_MESSAGE_TOO_BIG, ERR_FRAME_CHAIN_TOO_BIG,
  ERR_TOO_MANY_FRAGMENTS,
  CONTROL_PAYLOAD_MAX, FRAME_HEADER_MAX, LENGTH_16_MARKER, LENGTH_64_MARKER,
} from '../codes';
import {
  ST_PHASE, ST_ROLE, ST_HDR_HAVE, ST_FRAME_OPCODE, ST_FRAME_FIN, ST_MSG_OPCODE, ST_MSG_STARTED,
  ST_CTRL_HAVE, ST_MASK_KEY, ST_REMAINING, ST_UTF8, ST_MSG_SIZE, ST_CHAIN_SIZE, ST_FRAGMENTS,
  ST_MAX_MESSAGE, ST_MAX_CHAIN, ST_MAX_FRAGMENTS, ST_CTRL_LEN, ST_HDR_BUF,
  ST_OUT_NEXT, ST_OUT_DATA_PTR, ST_OUT_DATA_LEN, ST_OUT_FLAGS, ST_OUT_CLOSE_CODE, ST_OUT_ERROR_CODE,
  ST_CTRL_BUF, DECODER_STATE_SIZE, ST_EXTENSIONS, ST_MSG_COMPRESSED,
  PHASE_HEADER, PHASE_DATA, PHASE_CONTROL, PHASE_CLOSED, PHASE_FAILED,
  EXT_DEFLATE,
} from './layout';
import { maskInPlace } from './mask';
import { utf8Step } from './utf8';

// RFC 6455 §5.2 base framing protocol: bits of the first two header bytes.
const FIN_BIT: u32 = 0x80;
const RSV_BITS: u32 = 0x70;
const RSV1_BIT: u32 = 0x40;
const OPCODE_BITS: u32 = 0x0f;
const MASK_BIT: u32 = 0x80;
const LENGTH_BITS: u32 = 0x7f;
const LENGTH_64_TOP_BIT: u32 = 0x80000000;
const BASE_HEADER_SIZE: u32 = 2;
const LENGTH_16_SIZE: u32 = 2;
const LENGTH_64_SIZE: u32 = 8;
const MASK_KEY_SIZE: u32 = 4;
const CLOSE_CODE_SIZE: u32 = 2;

// RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number Registry": the codes a peer may send.
const CLOSE_DEFINED_MIN: u32 = 1000; // 1000..1003 defined
const CLOSE_DEFINED_MAX: u32 = 1003;
const CLOSE_REGISTERED_MIN: u32 = 1007; // 1007..1014 defined or registered (1004..1006 reserved)
const CLOSE_REGISTERED_MAX: u32 = 1014;
const CLOSE_LIBRARY_MIN: u32 = 3000; // 3000..3999 libraries and frameworks, 4000..4999 private use
const CLOSE_PRIVATE_MAX: u32 = 4999;

/**
 * RFC 6455 §7.4 and the IANA registry: may `code` appear in a close frame received on the wire?
 * Valid: 1000-1003, 1007-1014, 3000-4999.
 */
export function isValidCloseCode(code: u32): bool {
  return (code >= CLOSE_DEFINED_MIN && code <= CLOSE_DEFINED_MAX)
    || (code >= CLOSE_REGISTERED_MIN && code <= CLOSE_REGISTERED_MAX)
    || (code >= CLOSE_LIBRARY_MIN && code <= CLOSE_PRIVATE_MAX);
}

/**
 * Prepares the state block at `state` for a new connection. `role` is ROLE_SERVER (incoming frames
 * must be masked) or ROLE_CLIENT (they must not be). Limits, each checked from a frame's header before
 * its payload arrives (0xFFFFFFFF = no limit): `maxMessageSize` bounds the data payload bytes of one
 * message; `maxFrameChainSize` bounds every header and payload byte of one message from its first
 * frame to its last, control frames interleaved in it included; `maxFragments` bounds its data frames.
 * `extensions`: EXT_* bits of the extensions negotiated for the connection (EXT_DEFLATE: RSV1 on
 * the first frame of a data message marks it compressed; its limits then count compressed bytes).
 */
export function decoderInit(
  state: usize, role: u32, maxMessageSize: u32, maxFrameChainSize: u32, maxFragments: u32, extensions: u32,
): void {
  memory.fill(state, 0, DECODER_STATE_SIZE);
  store<u8>(state + ST_ROLE, <u8>role);
  store<u8>(state + ST_EXTENSIONS, <u8>extensions);
  store<u32>(state + ST_MAX_MESSAGE, maxMessageSize);
  store<u32>(state + ST_MAX_CHAIN, maxFrameChainSize);
  store<u32>(state + ST_MAX_FRAGMENTS, maxFragments);
}

/** The size of one decoder state block (the host lays out arrays of them). */
export function decoderStateSize(): u32 {
  return DECODER_STATE_SIZE;
}

// parseHeader's failure result: the negated (error code | close code << HEADER_ERROR_CLOSE_SHIFT).
const HEADER_ERROR_CLOSE_SHIFT: u32 = 8;
const HEADER_ERROR_CODE_BITS: u32 = 0xff;
// @ts-ignore: decorator
@inline
function headerError(error: u32, closeCode: u32): i32 {
  return -<i32>(error | (closeCode << HEADER_ERROR_CLOSE_SHIFT));
}

function failHeader(st: usize, at: usize, r: i32): u32 {
  const packed = <u32>(-r);
  return fail(st, at, packed & HEADER_ERROR_CODE_BITS, packed >> HEADER_ERROR_CLOSE_SHIFT);
}

/**
 * Checks the frame header at `h` (`n` bytes available) and, once all of it is there, stores the
 * frame in the state block. Returns the header size when complete, 0 when more bytes are needed, or
 * headerError(...). Each check runs as soon as the bytes it needs are present, so a bad header is
 * rejected before the rest of it (or any payload) arrives; the checks are pure until completion, so
 * they may run again on the same bytes when a header arrives in pieces.
 */
function parseHeader(st: usize, h: usize, n: usize): i32 {
  if (n < <usize>BASE_HEADER_SIZE) return 0;
  const b0 = <u32>load<u8>(h);
  const b1 = <u32>load<u8>(h, 1);
  // RFC 6455 §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is negotiated that
  // defines meanings for non-zero values. If a nonzero value is received and none of the negotiated
  // extensions defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
  // WebSocket Connection_." Only permessage-deflate gives a meaning to one of them, RSV1, and
  // RFC 7692 §6: "the RSV1 bit is set only on the first frame" of a compressed message; §6.1: "An
  // endpoint MUST NOT set the "Per-Message Compressed" bit of control frames and non-first
  // fragments of a data message."
  const opcode = b0 & OPCODE_BITS;
  const rsv = b0 & RSV_BITS;
  const rsv1 = rsv == RSV1_BIT;
  if (rsv != 0 && (!rsv1 || (<u32>load<u8>(st + ST_EXTENSIONS) & EXT_DEFLATE) == 0
    || (opcode != OPCODE_TEXT && opcode != OPCODE_BINARY))) {
    return headerError(ERR_RSV_SET, CLOSE_PROTOCOL_ERROR);
  }
  const fin = (b0 & FIN_BIT) != 0;
  const len7 = b1 & LENGTH_BITS;
  const msgOpcode = <u32>load<u8>(st + ST_MSG_OPCODE);
  const control = opcode >= OPCODE_CLOSE;
  if (opcode == OPCODE_CONTINUATION) {
    // RFC 6455 §5.4: "A fragmented message consists of a single frame with the FIN bit clear and
    // an opcode other than 0, followed by zero or more frames with the FIN bit clear and the opcode
    // set to 0, and terminated by a single frame with the FIN bit set and an opcode of 0."
    if (msgOpcode == 0) return headerError(ERR_CONTINUATION_WITHOUT_START, CLOSE_PROTOCOL_ERROR);
  } else if (opcode == OPCODE_TEXT || opcode == OPCODE_BINARY) {
    // RFC 6455 §5.4: "The fragments of one message MUST NOT be interleaved between the fragments
    // of another message unless an extension has been negotiated that can interpret the
    // interleaving."
    if (msgOpcode != 0) return headerError(ERR_DATA_FRAME_INSIDE_MESSAGE, CLOSE_PROTOCOL_ERROR);
  } else if (opcode == OPCODE_CLOSE || opcode == OPCODE_PING || opcode == OPCODE_PONG) {
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
    // NOT be fragmented."
    if (!fin) return headerError(ERR_FRAGMENTED_CONTROL_FRAME, CLOSE_PROTOCOL_ERROR);
    if (len7 > CONTROL_PAYLOAD_MAX) return headerError(ERR_CONTROL_FRAME_TOO_LONG, CLOSE_PROTOCOL_ERROR);
    // RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
    // unsigned integer (in network byte order) representing a status code".
    if (opcode == OPCODE_CLOSE && len7 == 1) {
      return headerError(ERR_CLOSE_PAYLOAD_ONE_BYTE, CLOSE_PROTOCOL_ERROR);
    }
  } else {
    // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
    // WebSocket Connection_."
    return headerError(ERR_UNKNOWN_OPCODE, CLOSE_PROTOCOL_ERROR);
  }
  const masked = (b1 & MASK_BIT) != 0;
  if (<u32>load<u8>(st + ST_ROLE) == ROLE_SERVER) {
    // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not
    // masked. In this case, a server MAY send a Close frame with a status code of 1002 (protocol
    // error) as defined in Section 7.4.1."
    if (!masked) return headerError(ERR_UNMASKED_FRAME, CLOSE_PROTOCOL_ERROR);
  } else {
    // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame. In this case,
    // it MAY use the status code 1002 (protocol error) as defined in Section 7.4.1."
    if (masked) return headerError(ERR_MASKED_FRAME, CLOSE_PROTOCOL_ERROR);
  }
  let lengthSize: u32 = 0;
  let len: u64 = <u64>len7;
  if (len7 == LENGTH_16_MARKER) {
    lengthSize = LENGTH_16_SIZE;
    if (n < <usize>(BASE_HEADER_SIZE + lengthSize)) return 0;
    len = <u64>bswap<u16>(load<u16>(h, 2));
  } else if (len7 == LENGTH_64_MARKER) {
    lengthSize = LENGTH_64_SIZE;
    if (n < <usize>(BASE_HEADER_SIZE + lengthSize)) return 0;
    const hi = bswap<u32>(load<u32>(h, 2));
    // RFC 6455 §5.2: "If 127, the following 8 bytes interpreted as a 64-bit unsigned integer (the
    // most significant bit MUST be 0) are the payload length."
    if ((hi & LENGTH_64_TOP_BIT) != 0) return headerError(ERR_LENGTH_TOP_BIT, CLOSE_PROTOCOL_ERROR);
    len = (<u64>hi << 32) | <u64>bswap<u32>(load<u32>(h, 6));
  }
  const size = BASE_HEADER_SIZE + lengthSize + (masked ? MASK_KEY_SIZE : 0);
  // Limits, from the header, before any payload arrives. RFC 6455 §10.4: "Implementations that
  // have implementation- and/or platform-specific limitations regarding the frame size or total
  // message size after reassembly from multiple frames MUST protect themselves against exceeding
  // those limits." §7.4.1: "1009 indicates that an endpoint is terminating the connection because
  // it has received a message that is too big for it to process."
  let msgSize: u32 = 0;
  let chain: u32 = 0;
  let fragments: u32 = 0;
  if (msgOpcode != 0) {
    msgSize = load<u32>(st + ST_MSG_SIZE);
    chain = load<u32>(st + ST_CHAIN_SIZE);
    fragments = load<u32>(st + ST_FRAGMENTS);
  }
  const newChain = <u64>chain + <u64>size + len;
  if (!control) {
    if (<u64>msgSize + len > <u64>load<u32>(st + ST_MAX_MESSAGE)) {
      return headerError(ERR_MESSAGE_TOO_BIG, CLOSE_MESSAGE_TOO_BIG);
    }
    if (newChain > <u64>load<u32>(st + ST_MAX_CHAIN)) {
      return headerError(ERR_FRAME_CHAIN_TOO_BIG, CLOSE_MESSAGE_TOO_BIG);
    }
    if (<u64>fragments + 1 > <u64>load<u32>(st + ST_MAX_FRAGMENTS)) {
      return headerError(ERR_TOO_MANY_FRAGMENTS, CLOSE_MESSAGE_TOO_BIG);
    }
  } else if (msgOpcode != 0 && newChain > <u64>load<u32>(st + ST_MAX_CHAIN)) {
    // A control frame inside a fragmented message counts toward that message's frame chain.
    return headerError(ERR_FRAME_CHAIN_TOO_BIG, CLOSE_MESSAGE_TOO_BIG);
  }
  if (n < <usize>size) return 0;

  // Complete: commit the frame to the state block.
  store<u32>(st + ST_MASK_KEY, masked ? load<u32>(h + <usize>(size - MASK_KEY_SIZE)) : 0);
  store<u8>(st + ST_FRAME_OPCODE, <u8>opcode);
  if (control) {
    if (msgOpcode != 0) store<u32>(st + ST_CHAIN_SIZE, <u32>newChain);
    store<u32>(st + ST_CTRL_LEN, len7);
    store<u8>(st + ST_CTRL_HAVE, 0);
    store<u8>(st + ST_PHASE, <u8>PHASE_CONTROL);
  } else {
    if (msgOpcode == 0) {
      store<u8>(st + ST_MSG_OPCODE, <u8>opcode);
      store<u8>(st + ST_MSG_STARTED, 0);
      store<u8>(st + ST_MSG_COMPRESSED, rsv1 ? 1 : 0);
      store<u32>(st + ST_UTF8, UTF8_ACCEPT);
    }
    store<u32>(st + ST_MSG_SIZE, msgSize + <u32>len);
    store<u32>(st + ST_CHAIN_SIZE, <u32>newChain);
    store<u32>(st + ST_FRAGMENTS, fragments + 1);
    store<u8>(st + ST_FRAME_FIN, fin ? 1 : 0);
    store<u32>(st + ST_REMAINING, <u32>len);
    store<u8>(st + ST_PHASE, <u8>PHASE_DATA);
  }
  return <i32>size;
}

// Puts the decoder in the failed state and reports the error.
function fail(st: usize, at: usize, error: u32, closeCode: u32): u32 {
  store<u8>(st + ST_PHASE, <u8>PHASE_FAILED);
  store<u32>(st + ST_OUT_NEXT, <u32>at);
  store<u32>(st + ST_OUT_DATA_LEN, 0);
  store<u32>(st + ST_OUT_ERROR_CODE, error);
  store<u32>(st + ST_OUT_CLOSE_CODE, closeCode);
  return EVENT_ERROR;
}

// Reports a complete control frame (its unmasked payload is in ST_CTRL_BUF). `next` follows it.
function controlEvent(st: usize, next: usize): u32 {
  const payload = st + ST_CTRL_BUF;
  const len = load<u32>(st + ST_CTRL_LEN);
  maskInPlace(payload, len, load<u32>(st + ST_MASK_KEY));
  store<u8>(st + ST_PHASE, <u8>PHASE_HEADER);
  store<u32>(st + ST_OUT_NEXT, <u32>next);
  store<u32>(st + ST_OUT_DATA_PTR, <u32>payload);
  store<u32>(st + ST_OUT_DATA_LEN, len);
  store<u32>(st + ST_OUT_FLAGS, 0);
  const opcode = <u32>load<u8>(st + ST_FRAME_OPCODE);
  if (opcode == OPCODE_PING) return EVENT_PING;
  if (opcode == OPCODE_PONG) return EVENT_PONG;
  // OPCODE_CLOSE. RFC 6455 §7.1.5: "If this Close control frame contains no status code, _The
  // WebSocket Connection Close Code_ is considered to be 1005."
  let code = CLOSE_NO_STATUS;
  if (len >= CLOSE_CODE_SIZE) {
    code = <u32>bswap<u16>(load<u16>(payload));
    // RFC 6455 §7.4.2: "Status codes in the range 0-999 are not used." §7.4.1 marks 1004, 1005,
    // 1006 and 1015 reserved ("MUST NOT be set as a status code in a Close control frame by an
    // endpoint"); anything outside the defined, registered and private ranges is a protocol error.
    if (!isValidCloseCode(code)) return fail(st, next, ERR_INVALID_CLOSE_CODE, CLOSE_PROTOCOL_ERROR);
    // RFC 6455 §5.5.1: "Following the 2-byte integer, the body MAY contain UTF-8-encoded data with
    // value /reason/". §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
    // that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
    // WebSocket Connection_."
    if (utf8Step(payload + CLOSE_CODE_SIZE, len - CLOSE_CODE_SIZE, UTF8_ACCEPT) != UTF8_ACCEPT) {
      return fail(st, next, ERR_CLOSE_REASON_UTF8, CLOSE_INVALID_PAYLOAD);
    }
    store<u32>(st + ST_OUT_DATA_PTR, <u32>(payload + CLOSE_CODE_SIZE));
    store<u32>(st + ST_OUT_DATA_LEN, len - CLOSE_CODE_SIZE);
  }
  store<u32>(st + ST_OUT_CLOSE_CODE, code);
  // RFC 6455 §1.4: after a Close frame "the endpoint ... MUST NOT send any more data frames";
  // whatever follows it is ignored.
  store<u8>(st + ST_PHASE, <u8>PHASE_CLOSED);
  return EVENT_CLOSE;
}

/**
 * Decodes from `ptr` up to `end` and returns the next event (EVENT_*), with its out-fields in the
 * state block. EVENT_NEED_MORE: everything up to `end` is consumed (a partial header or control
 * payload is kept in the state block). EVENT_DATA: the unmasked, validated piece
 * [ST_OUT_DATA_PTR, +ST_OUT_DATA_LEN) of a data message's payload, inside the input, with ST_OUT_FLAGS.
 * EVENT_PING / EVENT_PONG / EVENT_CLOSE: the complete control payload (for CLOSE: the reason, with
 * the code in ST_OUT_CLOSE_CODE) inside the state block. EVENT_ERROR: ST_OUT_ERROR_CODE and
 * ST_OUT_CLOSE_CODE; the state stays failed. Continue from ST_OUT_NEXT.
 */
export function decode(st: usize, ptr: usize, end: usize): u32 {
  let p = ptr;
  let phase = <u32>load<u8>(st + ST_PHASE);
  while (true) {
    if (phase == PHASE_HEADER) {
      if (p >= end) break;
      const have = <u32>load<u8>(st + ST_HDR_HAVE);
      if (have == 0) {
        const r = parseHeader(st, p, end - p);
        if (r > 0) {
          p += <usize>r;
        } else if (r == 0) {
          // A partial header (at most FRAME_HEADER_MAX - 1 bytes): keep it for the next read.
          const n = <u32>(end - p);
          memory.copy(st + ST_HDR_BUF, p, n);
          store<u8>(st + ST_HDR_HAVE, <u8>n);
          p = end;
          break;
        } else {
          return failHeader(st, p, r);
        }
      } else {
        const room = <usize>(FRAME_HEADER_MAX - have);
        const take = end - p < room ? end - p : room;
        const buf = st + ST_HDR_BUF;
        memory.copy(buf + <usize>have, p, take);
        const r = parseHeader(st, buf, <usize>have + take);
        if (r > 0) {
          p += <usize>(<u32>r - have);
          store<u8>(st + ST_HDR_HAVE, 0);
        } else if (r == 0) {
          store<u8>(st + ST_HDR_HAVE, <u8>(<usize>have + take));
          p = end;
          break;
        } else {
          return failHeader(st, p, r);
        }
      }
      phase = <u32>load<u8>(st + ST_PHASE);
    }

    if (phase == PHASE_DATA) {
      const remaining = load<u32>(st + ST_REMAINING);
      const availIn = end - p;
      const n = <usize>remaining < availIn ? remaining : <u32>availIn;
      if (n == 0 && remaining != 0) break;
      const key = load<u32>(st + ST_MASK_KEY);
      if (key != 0) store<u32>(st + ST_MASK_KEY, maskInPlace(p, n, key));
      const msgOpcode = <u32>load<u8>(st + ST_MSG_OPCODE);
      let flags: u32 = 0;
      let utf8: u32 = UTF8_ACCEPT;
      if (load<u8>(st + ST_MSG_COMPRESSED) != 0) {
        // Compressed bytes (RFC 7692 §6): UTF-8 applies to the inflated text, which the host checks.
        flags = msgOpcode == OPCODE_TEXT ? DATA_TEXT | DATA_COMPRESSED : DATA_COMPRESSED;
      } else if (msgOpcode == OPCODE_TEXT) {
        flags = DATA_TEXT;
        utf8 = utf8Step(p, n, load<u32>(st + ST_UTF8));
        // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that
        // the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
        // WebSocket Connection_." Checked per piece, so it fails at the first invalid byte's read.
        if (utf8 == UTF8_REJECT) return fail(st, p, ERR_INVALID_UTF8, CLOSE_INVALID_PAYLOAD);
        store<u32>(st + ST_UTF8, utf8);
      }
      const left = remaining - n;
      store<u32>(st + ST_REMAINING, left);
      const piece = p;
      p += <usize>n;
      let last = false;
      if (left == 0) {
        phase = PHASE_HEADER;
        store<u8>(st + ST_PHASE, <u8>PHASE_HEADER);
        if (load<u8>(st + ST_FRAME_FIN) != 0) {
          // RFC 6455 §8.1 (above): a message that ends inside a UTF-8 sequence is not valid UTF-8.
          if (utf8 != UTF8_ACCEPT) return fail(st, piece, ERR_TRUNCATED_UTF8, CLOSE_INVALID_PAYLOAD);
          last = true;
          flags |= DATA_LAST;
          store<u8>(st + ST_MSG_OPCODE, 0);
        } else if (n == 0) {
          continue; // an empty non-final fragment: nothing to report
        }
      }
      if (load<u8>(st + ST_MSG_STARTED) == 0) flags |= DATA_FIRST;
      store<u8>(st + ST_MSG_STARTED, last ? 0 : 1);
      store<u32>(st + ST_OUT_NEXT, <u32>p);
      store<u32>(st + ST_OUT_DATA_PTR, <u32>piece);
      store<u32>(st + ST_OUT_DATA_LEN, n);
      store<u32>(st + ST_OUT_FLAGS, flags);
      return EVENT_DATA;
    }

    if (phase == PHASE_CONTROL) {
      const len = load<u32>(st + ST_CTRL_LEN);
      const have = <u32>load<u8>(st + ST_CTRL_HAVE);
      const want = <usize>(len - have);
      const take = end - p < want ? end - p : want;
      memory.copy(st + ST_CTRL_BUF + <usize>have, p, take);
      p += take;
      if (take < want) {
        store<u8>(st + ST_CTRL_HAVE, <u8>(<usize>have + take));
        break;
      }
      return controlEvent(st, p);
    }

    if (phase == PHASE_CLOSED) {
      p = end;
      break;
    }
    // PHASE_FAILED: the error stays; report it again.
    store<u32>(st + ST_OUT_NEXT, <u32>p);
    return EVENT_ERROR;
  }
  store<u32>(st + ST_OUT_NEXT, <u32>end);
  store<u32>(st + ST_OUT_DATA_LEN, 0);
  return EVENT_NEED_MORE;
}
