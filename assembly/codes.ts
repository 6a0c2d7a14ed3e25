// Every opcode, close code, decoder event and protocol error code of the WebAssembly core, in one
// place. The TypeScript twin is src/core/codes.ts; test/codes.test.ts reads this file and checks that
// every constant here has the same value there (so keep each one a plain integer literal, one per
// line, `export const NAME: type = value;`).
// Plain `const` globals with literal values are folded into the code by the compiler: they are not
// exported from the module (only assembly/index.ts's exports are) and cost no Wasm global.

// RFC 6455 §5.2 opcodes.
export const OPCODE_CONTINUATION: u32 = 0;
export const OPCODE_TEXT: u32 = 1;
export const OPCODE_BINARY: u32 = 2;
export const OPCODE_CLOSE: u32 = 8;
export const OPCODE_PING: u32 = 9;
export const OPCODE_PONG: u32 = 10;

// RFC 6455 §7.4.1 close codes the core produces or recognises.
export const CLOSE_NORMAL: u32 = 1000;
export const CLOSE_PROTOCOL_ERROR: u32 = 1002;
export const CLOSE_NO_STATUS: u32 = 1005;
export const CLOSE_INVALID_PAYLOAD: u32 = 1007;
export const CLOSE_MESSAGE_TOO_BIG: u32 = 1009;

// Decoder roles: which masking rule applies to incoming frames.
export const ROLE_SERVER: u32 = 0;
export const ROLE_CLIENT: u32 = 1;

// Decoder events: the return value of decode().
export const EVENT_NEED_MORE: u32 = 0;
export const EVENT_DATA: u32 = 1;
export const EVENT_PING: u32 = 2;
export const EVENT_PONG: u32 = 3;
export const EVENT_CLOSE: u32 = 4;
export const EVENT_ERROR: u32 = 5;

// DATA event flags (the FLAGS out-field).
export const DATA_FIRST: u32 = 1;
export const DATA_LAST: u32 = 2;
export const DATA_TEXT: u32 = 4;
// The message is compressed (RSV1 on its first frame, permessage-deflate negotiated): its pieces
// are compressed bytes, and a text message's UTF-8 is not checked (the host checks it inflated).
export const DATA_COMPRESSED: u32 = 8;

// UTF-8 validator states that the host may see (utf8Validate's argument and result).
export const UTF8_ACCEPT: u32 = 0;
export const UTF8_REJECT: u32 = 8;

// Decoder error codes (the ERROR_CODE out-field). src/core/codes.ts maps each one to its stable
// string code, its close code and its message.
export const ERR_NONE: u32 = 0;
export const ERR_RSV_SET: u32 = 1;
export const ERR_UNKNOWN_OPCODE: u32 = 2;
export const ERR_CONTINUATION_WITHOUT_START: u32 = 3;
export const ERR_DATA_FRAME_INSIDE_MESSAGE: u32 = 4;
export const ERR_FRAGMENTED_CONTROL_FRAME: u32 = 5;
export const ERR_CONTROL_FRAME_TOO_LONG: u32 = 6;
export const ERR_UNMASKED_FRAME: u32 = 7;
export const ERR_MASKED_FRAME: u32 = 8;
export const ERR_LENGTH_TOP_BIT: u32 = 9;
export const ERR_CLOSE_PAYLOAD_ONE_BYTE: u32 = 10;
export const ERR_INVALID_CLOSE_CODE: u32 = 11;
export const ERR_CLOSE_REASON_UTF8: u32 = 12;
export const ERR_INVALID_UTF8: u32 = 13;
export const ERR_TRUNCATED_UTF8: u32 = 14;
export const ERR_MESSAGE_TOO_BIG: u32 = 15;
export const ERR_FRAME_CHAIN_TOO_BIG: u32 = 16;
export const ERR_TOO_MANY_FRAGMENTS: u32 = 17;

// RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
export const CONTROL_PAYLOAD_MAX: u32 = 125;
// RFC 6455 §5.2 frame header sizes: 2 bytes, then 0/2/8 extended length bytes, then 0/4 mask bytes.
export const FRAME_HEADER_MAX: u32 = 14;
export const LENGTH_7_MAX: u32 = 125;
export const LENGTH_16_MARKER: u32 = 126;
export const LENGTH_64_MARKER: u32 = 127;
