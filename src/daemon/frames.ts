// Control frames (ping, pong, close) the worker sends from JavaScript Buffers. Data frames are
// encoded by the WebAssembly core straight into ring memory (app-thread.ts); a control frame's
// payload is at most 125 bytes (RFC 6455 §5.5: "All control frames MUST have a payload length of
// 125 bytes or less"), so its header is always the two bytes written here.
// RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client."
import { CloseCode, Opcode, FrameSize } from '../core/codes.ts';
import { closePayload } from '../core/close.ts';

const FIN = 0x80;

export function encodeControlFrame(opcode: number, payload: Uint8Array): Buffer {
  if (payload.length > FrameSize.CONTROL_PAYLOAD_MAX) throw new RangeError(`control frame payload of ${payload.length} bytes`);
  const b = Buffer.allocUnsafe(2 + payload.length);
  b[0] = FIN | opcode;
  b[1] = payload.length;
  b.set(payload, 2);
  return b;
}

/** The `code` that asks encodeCloseFrame for an empty close body (as CloseCode.NO_STATUS does). */
export const EMPTY_CLOSE = 0;

/**
 * A close frame whose body closePayload (src/core/close.ts) builds: the code and the reason cut to
 * fit 125 bytes at a UTF-8 boundary. EMPTY_CLOSE or CloseCode.NO_STATUS: an empty body. Throws a
 * RangeError for any other code that may not be sent (isValidCloseCode).
 */
export function encodeCloseFrame(code: number, reason?: Uint8Array): Buffer {
  return encodeControlFrame(Opcode.CLOSE, closePayload(code === EMPTY_CLOSE ? CloseCode.NO_STATUS : code, reason));
}
