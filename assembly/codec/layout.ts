// The decoder state block: DECODER_STATE_SIZE bytes per connection at an address the host chooses
// (4-byte aligned; 16 is better). src/core/layout.ts mirrors every constant here and
// test/codec-layout.test.ts checks that the two files agree, so keep one `export const NAME: type =
// value;` per line with an integer literal.
//
// Private fields (the decoder's own; the host never writes them after decoderInit):
export const ST_PHASE: u32 = 0; // u8: PHASE_*
export const ST_ROLE: u32 = 1; // u8: ROLE_SERVER / ROLE_CLIENT
export const ST_HDR_HAVE: u32 = 2; // u8: header bytes buffered in ST_HDR_BUF (header split across reads)
export const ST_FRAME_OPCODE: u32 = 3; // u8: opcode of the frame being read
export const ST_FRAME_FIN: u32 = 4; // u8: its FIN bit
export const ST_MSG_OPCODE: u32 = 5; // u8: OPCODE_TEXT/OPCODE_BINARY while a message is open, else 0
export const ST_MSG_STARTED: u32 = 6; // u8: 1 once a DATA event with DATA_FIRST went out for it
export const ST_CTRL_HAVE: u32 = 7; // u8: control payload bytes buffered in ST_CTRL_BUF
export const ST_MASK_KEY: u32 = 8; // u32: masking key, rotated to the next payload byte's phase
export const ST_REMAINING: u32 = 12; // u32: payload bytes of the current frame still to come
export const ST_UTF8: u32 = 16; // u32: UTF-8 validator state of the open text message
export const ST_MSG_SIZE: u32 = 20; // u32: data payload bytes of the open message (headers seen)
export const ST_CHAIN_SIZE: u32 = 24; // u32: header + payload bytes of every frame of the message
export const ST_FRAGMENTS: u32 = 28; // u32: data frames of the open message
export const ST_MAX_MESSAGE: u32 = 32; // u32: limit (decoderInit)
export const ST_MAX_CHAIN: u32 = 36; // u32: limit (decoderInit)
export const ST_MAX_FRAGMENTS: u32 = 40; // u32: limit (decoderInit)
export const ST_CTRL_LEN: u32 = 44; // u32: payload length of the control frame being read
export const ST_HDR_BUF: u32 = 48; // 16 bytes: a frame header split across reads (at most 14 bytes)
// Out-fields, written by decode() for the event it returns:
export const ST_OUT_NEXT: u32 = 64; // u32: where the next decode() call continues
export const ST_OUT_DATA_PTR: u32 = 68; // u32: DATA piece / PING / PONG payload / CLOSE reason
export const ST_OUT_DATA_LEN: u32 = 72; // u32: its length
export const ST_OUT_FLAGS: u32 = 76; // u32: DATA_FIRST | DATA_LAST | DATA_TEXT (DATA only)
export const ST_OUT_CLOSE_CODE: u32 = 80; // u32: CLOSE: the peer's code (1005 if none); ERROR: ours
export const ST_OUT_ERROR_CODE: u32 = 84; // u32: ERROR: ERR_* (stays set: the state is failed)
// Private fields after the out-fields:
export const ST_EXTENSIONS: u32 = 88; // u8: EXT_* bits negotiated for this connection (decoderInit)
export const ST_MSG_COMPRESSED: u32 = 89; // u8: 1 while the open message is compressed (RSV1)
// Control payload buffer (PING/PONG/CLOSE payloads are copied here and unmasked, whole):
export const ST_CTRL_BUF: u32 = 96; // 128 bytes (a control payload is at most 125)
export const DECODER_STATE_SIZE: u32 = 224;

// Decoder phases (ST_PHASE).
export const PHASE_HEADER: u32 = 0;
export const PHASE_DATA: u32 = 1;
export const PHASE_CONTROL: u32 = 2;
export const PHASE_CLOSED: u32 = 3;
export const PHASE_FAILED: u32 = 4;

// Extension bits (ST_EXTENSIONS, decoderInit's `extensions`).
export const EXT_DEFLATE: u32 = 1; // permessage-deflate (RFC 7692): RSV1 marks a compressed message
