// Control frames (ping, pong, close) the worker sends from JavaScript Buffers. Data frames are
// encoded by the WebAssembly core straight into ring memory (app-thread.ts); a control frame's
// payload is at most 125 bytes (RFC 6455 §5.5: "All control frames MUST have a payload length of
// 125 bytes or less"), so its header is always the two bytes written here.
// RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client."
import { Opcode, FrameSize } from '../core/codes.ts';

const FIN = 0x80;

export function encodeControlFrame(opcode: number, payload: Uint8Array): Buffer {
  if (payload.length > FrameSize.CONTROL_PAYLOAD_MAX) throw new RangeError(`control frame payload of ${payload.length} bytes`);
  const b = Buffer.allocUnsafe(2 + payload.length);
  b[0] = FIN | opcode;
  b[1] = payload.length;
  b.set(payload, 2);
  return b;
}

/** A close frame; code 0 means an empty close payload. The reason is cut to fit 125 bytes. */
export function encodeCloseFrame(code: number, reason?: Uint8Array): Buffer {
  if (code === 0) return encodeControlFrame(Opcode.CLOSE, new Uint8Array(0));
  const r = reason ? reason.subarray(0, FrameSize.CONTROL_PAYLOAD_MAX - 2) : new Uint8Array(0);
  const p = new Uint8Array(2 + r.length);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return encodeControlFrame(Opcode.CLOSE, p);
}
