// Every opcode, close code and protocol error code of the project, in one place.
// The AssemblyScript twin is assembly/codes.ts; test/codes.test.ts checks that the two agree.

/** RFC 6455 §5.2 opcodes. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 §7.4.1 close codes, plus the RingSocket app range. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: "no status code was actually present"; never sent on the wire. */
  NO_STATUS: 1005,
  /** Reserved: connection closed without a close frame; never sent on the wire. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  /** IANA registry: "Try Again Later" (the server is overloaded; its inbound budget is spent). */
  TRY_AGAIN_LATER: 1013,
  /** App-chosen close codes: 4000-4899 (4900-4999 are RingSocket's own). */
  APP_MIN: 4000,
  APP_MAX: 4899,
  /** A read payload whose size does not fit the read schema. */
  WRONG_SIZE: 4900,
  /** A text message where the schema wants binary, or the other way round. */
  WRONG_DATA_KIND: 4901,
  /** RS_READ_SWITCH: the first payload byte selects no case. */
  UNKNOWN_CASE: 4902,
} as const;

/**
 * RFC 6455 §5.2 bits of a frame header's first two bytes, for hosts that write or patch a header
 * themselves (the decoder and encoder keep their own twins in AssemblyScript). RSV1 is RFC 7692's
 * "Per-Message Compressed" bit.
 */
export const FrameBits = {
  FIN: 0x80,
  RSV1: 0x40,
  RSV2: 0x20,
  RSV3: 0x10,
  OPCODE: 0x0f,
  MASK: 0x80,
  LENGTH: 0x7f,
} as const;

/** Data kinds as RingSocket names them (RS_BIN = 0, RS_UTF8 = 1). */
export const DataKind = { BIN: 0, UTF8: 1 } as const;
export type DataKind = (typeof DataKind)[keyof typeof DataKind];

/**
 * RFC 6455 §7.4 and the IANA registry: may this code appear in a close frame on the wire?
 * Valid: 1000-1003, 1007-1014, 3000-4999.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

// ---------------------------------------------------------------------------------------------
// The codec's constants. Twin of assembly/codes.ts (test/codes.test.ts checks every value): an AS
// constant PREFIX_NAME is `Object.NAME` here, with OPCODE_ -> Opcode, CLOSE_ -> CloseCode,
// ROLE_ -> Role, EVENT_ -> DecoderEvent, DATA_ -> DataFlag, UTF8_ -> Utf8State, ERR_ -> ErrorCode,
// and the unprefixed sizes -> FrameSize.

/** Decoder role: a server requires masked frames, a client requires unmasked ones (RFC 6455 §5.1). */
export const Role = { SERVER: 0, CLIENT: 1 } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** What decode() returns. */
export const DecoderEvent = {
  /** All input up to `end` is consumed; read more. */
  NEED_MORE: 0,
  /** A piece of a data message's payload: unmasked, UTF-8 checked, inside the input buffer. */
  DATA: 1,
  PING: 2,
  PONG: 3,
  /** A valid close frame: code (1005 when absent) and reason. Later input is ignored. */
  CLOSE: 4,
  /** A protocol violation: error code and close code; the decoder stays failed. */
  ERROR: 5,
} as const;
export type DecoderEvent = (typeof DecoderEvent)[keyof typeof DecoderEvent];

/** Flags of a DATA event. */
export const DataFlag = { FIRST: 1, LAST: 2, TEXT: 4, COMPRESSED: 8 } as const;

/** UTF-8 validator states the host can see (utf8Validate). Other values: a sequence is pending. */
export const Utf8State = { ACCEPT: 0, REJECT: 8 } as const;

/** RFC 6455 §5.2/§5.5 frame sizes. */
export const FrameSize = {
  /** §5.5: "All control frames MUST have a payload length of 125 bytes or less". */
  CONTROL_PAYLOAD_MAX: 125,
  /** 2 + 8 extended length bytes + 4 mask bytes. */
  FRAME_HEADER_MAX: 14,
  LENGTH_7_MAX: 125,
  LENGTH_16_MARKER: 126,
  LENGTH_64_MARKER: 127,
} as const;

/** Numeric decoder error codes (the decoder's ERROR_CODE out-field); see DECODER_ERRORS. */
export const ErrorCode = {
  NONE: 0,
  RSV_SET: 1,
  UNKNOWN_OPCODE: 2,
  CONTINUATION_WITHOUT_START: 3,
  DATA_FRAME_INSIDE_MESSAGE: 4,
  FRAGMENTED_CONTROL_FRAME: 5,
  CONTROL_FRAME_TOO_LONG: 6,
  UNMASKED_FRAME: 7,
  MASKED_FRAME: 8,
  LENGTH_TOP_BIT: 9,
  CLOSE_PAYLOAD_ONE_BYTE: 10,
  INVALID_CLOSE_CODE: 11,
  CLOSE_REASON_UTF8: 12,
  INVALID_UTF8: 13,
  TRUNCATED_UTF8: 14,
  MESSAGE_TOO_BIG: 15,
  FRAME_CHAIN_TOO_BIG: 16,
  TOO_MANY_FRAGMENTS: 17,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A decoder error as the host reports it. */
export interface DecoderError {
  /** Stable machine code. */
  readonly code: `RS_ERR_${string}`;
  /** The close code to send (RFC 6455 §7.4.1). */
  readonly closeCode: number;
  readonly message: string;
}

const P = CloseCode.PROTOCOL_ERROR;
const U = CloseCode.INVALID_PAYLOAD;
const B = CloseCode.MESSAGE_TOO_BIG;

/** Decoder errors, indexed by ErrorCode. */
export const DECODER_ERRORS: readonly DecoderError[] = Object.freeze([
  { code: 'RS_ERR_NONE', closeCode: 0, message: 'no error' },
  { code: 'RS_ERR_RSV_SET', closeCode: P, message: 'a reserved bit is set that no negotiated extension allows there (RSV2, RSV3; RSV1 except on the first frame of a data message with permessage-deflate)' },
  { code: 'RS_ERR_UNKNOWN_OPCODE', closeCode: P, message: 'unknown opcode' },
  { code: 'RS_ERR_CONTINUATION_WITHOUT_START', closeCode: P, message: 'continuation frame without a message to continue' },
  { code: 'RS_ERR_DATA_FRAME_INSIDE_MESSAGE', closeCode: P, message: 'new data frame inside a fragmented message' },
  { code: 'RS_ERR_FRAGMENTED_CONTROL_FRAME', closeCode: P, message: 'control frame without FIN (control frames must not be fragmented)' },
  { code: 'RS_ERR_CONTROL_FRAME_TOO_LONG', closeCode: P, message: 'control frame payload longer than 125 bytes' },
  { code: 'RS_ERR_UNMASKED_FRAME', closeCode: P, message: 'frame from the client is not masked' },
  { code: 'RS_ERR_MASKED_FRAME', closeCode: P, message: 'frame from the server is masked' },
  { code: 'RS_ERR_LENGTH_TOP_BIT', closeCode: P, message: '64-bit payload length has its most significant bit set' },
  { code: 'RS_ERR_CLOSE_PAYLOAD_ONE_BYTE', closeCode: P, message: 'close frame with a 1-byte payload' },
  { code: 'RS_ERR_INVALID_CLOSE_CODE', closeCode: P, message: 'invalid close code' },
  { code: 'RS_ERR_CLOSE_REASON_UTF8', closeCode: U, message: 'close reason is not valid UTF-8' },
  { code: 'RS_ERR_INVALID_UTF8', closeCode: U, message: 'text message is not valid UTF-8' },
  { code: 'RS_ERR_TRUNCATED_UTF8', closeCode: U, message: 'text message ends inside a UTF-8 sequence' },
  { code: 'RS_ERR_MESSAGE_TOO_BIG', closeCode: B, message: 'message is larger than the maximum message size' },
  { code: 'RS_ERR_FRAME_CHAIN_TOO_BIG', closeCode: B, message: "message's frames (headers and interleaved control frames included) exceed the maximum frame chain size" },
  { code: 'RS_ERR_TOO_MANY_FRAGMENTS', closeCode: B, message: 'message has more fragments than the maximum' },
].map((e) => Object.freeze(e as DecoderError)));
