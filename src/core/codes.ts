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
