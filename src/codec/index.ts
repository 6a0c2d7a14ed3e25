// `ringsocket/codec`: the WebSocket frame codec on the private-memory WebAssembly build, for
// browsers (client framing) and tools. README.md, "The codec".
export { WsStreamDecoder } from '../core/stream.ts';
export type { WsStreamHandlers, WsStreamOptions } from '../core/stream.ts';
export { CloseCode, Opcode, DataKind, isValidCloseCode } from '../core/codes.ts';
export type { DecoderError } from '../core/codes.ts';
