// The body of a close frame, built in one place for every sender: the control frames the daemon
// sends from JavaScript (src/daemon/frames.ts encodeCloseFrame) and the core's encoder wrapper
// (src/core/codec.ts writeClose, whose bytes assembly/codec/encoder.ts encodeClose writes).
// Which codes may be sent is isValidCloseCode (src/core/codes.ts); test/close-frame.test.ts checks
// both senders against each other.
import { CloseCode, FrameSize, isValidCloseCode } from './codes.ts';

/** Bytes of the status code at the start of a close body. */
export const CLOSE_CODE_SIZE = 2;
/** The longest reason: 125 bytes of control frame payload (RFC 6455 §5.5), less the code. */
export const CLOSE_REASON_MAX = FrameSize.CONTROL_PAYLOAD_MAX - CLOSE_CODE_SIZE;
/** A UTF-8 sequence is at most 4 bytes: a lead byte and up to 3 continuation bytes. */
const UTF8_MAX_CONTINUATION = 3;

const EMPTY = new Uint8Array(0);

/**
 * Throws a RangeError unless a close frame may carry `code` with a reason of `reasonLength` bytes.
 * CloseCode.NO_STATUS stands for an empty body: no code, so no reason either.
 */
export function checkCloseCode(code: number, reasonLength: number): void {
  // RFC 6455 §7.4.1: 1005 "is a reserved value and MUST NOT be set as a status code in a Close
  // control frame by an endpoint"; §7.4 and the IANA registry give the other codes that may be.
  if (code === CloseCode.NO_STATUS ? reasonLength !== 0 : !isValidCloseCode(code)) {
    throw new RangeError(`cannot send close code ${code}${reasonLength ? ' with a reason' : ''}`);
  }
}

/**
 * `reason` cut to the CLOSE_REASON_MAX bytes that fit, before the UTF-8 sequence that would not
 * fit whole. RFC 6455 §5.5.1: "Following the 2-byte integer, the body MAY contain UTF-8-encoded
 * data with value /reason/"; a reason cut inside a sequence would make the peer fail the
 * connection (1007). A view, not a copy.
 */
export function fitCloseReason(reason: Uint8Array): Uint8Array {
  if (reason.length <= CLOSE_REASON_MAX) return reason;
  let end = CLOSE_REASON_MAX;
  // Byte `end` is the first one left out: while it continues a sequence (10xxxxxx), leave out
  // that sequence's earlier bytes too.
  for (let i = 0; i < UTF8_MAX_CONTINUATION && (reason[end] & 0xc0) === 0x80; i++) end--;
  return reason.subarray(0, end);
}

/**
 * A close frame's body: `code` in network byte order and `reason` as fitCloseReason cuts it, or no
 * bytes at all for CloseCode.NO_STATUS. RFC 6455 §5.5.1: "If there is a body, the first two bytes
 * of the body MUST be a 2-byte unsigned integer (in network byte order) representing a status code
 * with value /code/ defined in Section 7.4." Throws a RangeError for a code checkCloseCode refuses.
 */
export function closePayload(code: number, reason: Uint8Array = EMPTY): Uint8Array {
  const r = fitCloseReason(reason);
  checkCloseCode(code, r.length);
  if (code === CloseCode.NO_STATUS) return EMPTY;
  const p = new Uint8Array(CLOSE_CODE_SIZE + r.length);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, CLOSE_CODE_SIZE);
  return p;
}
