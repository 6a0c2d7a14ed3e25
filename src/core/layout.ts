// TS mirror of assembly/codec/layout.ts: the decoder state block. test/codec-layout.test.ts checks
// that every constant there has the same value here. Offsets are bytes from the block's start; the
// block must be 4-byte aligned so the u32 fields can be read through a Uint32Array (use 16).
export const DecoderLayout = {
  ST_PHASE: 0,
  ST_ROLE: 1,
  ST_HDR_HAVE: 2,
  ST_FRAME_OPCODE: 3,
  ST_FRAME_FIN: 4,
  ST_MSG_OPCODE: 5,
  ST_MSG_STARTED: 6,
  ST_CTRL_HAVE: 7,
  ST_MASK_KEY: 8,
  ST_REMAINING: 12,
  ST_UTF8: 16,
  ST_MSG_SIZE: 20,
  ST_CHAIN_SIZE: 24,
  ST_FRAGMENTS: 28,
  ST_MAX_MESSAGE: 32,
  ST_MAX_CHAIN: 36,
  ST_MAX_FRAGMENTS: 40,
  ST_CTRL_LEN: 44,
  ST_HDR_BUF: 48,
  /** Out-field: where the next decode() call continues. */
  ST_OUT_NEXT: 64,
  /** Out-field: DATA piece, PING/PONG payload or CLOSE reason address. */
  ST_OUT_DATA_PTR: 68,
  /** Out-field: its length. */
  ST_OUT_DATA_LEN: 72,
  /** Out-field: DataFlag bits of a DATA event. */
  ST_OUT_FLAGS: 76,
  /** Out-field: CLOSE: the peer's code (1005 when absent); ERROR: the code to close with. */
  ST_OUT_CLOSE_CODE: 80,
  /** Out-field: ERROR: the ErrorCode. */
  ST_OUT_ERROR_CODE: 84,
  /** EXT_* bits negotiated for the connection (decoderInit). */
  ST_EXTENSIONS: 88,
  /** 1 while the open message is compressed. */
  ST_MSG_COMPRESSED: 89,
  ST_CTRL_BUF: 96,
  DECODER_STATE_SIZE: 224,
  PHASE_HEADER: 0,
  PHASE_DATA: 1,
  PHASE_CONTROL: 2,
  PHASE_CLOSED: 3,
  PHASE_FAILED: 4,
  /** Extension bit: permessage-deflate (RSV1 marks a compressed message). */
  EXT_DEFLATE: 1,
} as const;

/** Bytes of one decoder state block. */
export const DECODER_STATE_SIZE = DecoderLayout.DECODER_STATE_SIZE;
/** Required alignment of a decoder state block (16: SIMD-friendly, and u32 fields are aligned). */
export const DECODER_STATE_ALIGN = 16;
