// The error classes of the API: RingSocketAppError, what an app sees (a misuse of a helper, or a
// bad definition), and RingSocketSchemaError, what encoding values for a read schema or decoding a
// payload with one throws (src/app/schema.ts; the typed client's encode and decode).
// Every error carries a stable machine code; the messages name the helper and what was wrong.

export const AppErrorCode = {
  /** defineApp() / readBin() / net.u16.between() ... got something it cannot use. */
  BAD_DEFINITION: 'RS_APP_BAD_DEFINITION',
  /** A helper was called in a callback kind that does not allow it (e.g. toCur in a timer). */
  NOT_HERE: 'RS_APP_NOT_HERE',
  /** A helper was called while no callback runs (after an await, from a setTimeout, ...). */
  OUTSIDE_CALLBACK: 'RS_APP_OUTSIDE_CALLBACK',
  /** A data kind other than DataKind.BIN (0) or DataKind.UTF8 (1). */
  BAD_DATA_KIND: 'RS_APP_BAD_DATA_KIND',
  /** A client id that is not a positive safe integer. */
  BAD_CLIENT_ID: 'RS_APP_BAD_CLIENT_ID',
  /** A close code outside 4000-4899. */
  BAD_CLOSE_CODE: 'RS_APP_BAD_CLOSE_CODE',
  /** A writer got a value its type cannot hold (wU8(256), wI32(1.5), wU64(-1n) ...). */
  BAD_VALUE: 'RS_APP_BAD_VALUE',
  /** The message being written would exceed max_ws_msg_size. */
  MESSAGE_TOO_BIG: 'RS_APP_MESSAGE_TOO_BIG',
  /** A text (RS_UTF8) send whose bytes are not valid UTF-8. */
  INVALID_UTF8: 'RS_APP_INVALID_UTF8',
  /** toCur / toEveryExceptCur / closeCur after the current client was closed in this callback. */
  CUR_CLOSED: 'RS_APP_CUR_CLOSED',
  /** rs.log() with a level that is not error, warning, notice, info or debug. */
  BAD_LOG_LEVEL: 'RS_APP_BAD_LOG_LEVEL',
} as const;
export type AppErrorCode = (typeof AppErrorCode)[keyof typeof AppErrorCode];

/**
 * Thrown inside the app when it misuses the API. If the app does not catch it, the runtime logs it
 * (with the app's name) and closes the current client, if any, with 1011; the app keeps serving.
 */
export class RingSocketAppError extends Error {
  readonly code: AppErrorCode;
  constructor(code: AppErrorCode, message: string) {
    super(message);
    this.name = 'RingSocketAppError';
    this.code = code;
  }
}

export const SchemaErrorCode = {
  /** A value that has no encoding in its parameter: a wrong JS type, a number out of range. */
  BAD_VALUE: 'RS_SCHEMA_BAD_VALUE',
  /** Values or a payload that do not fit the schema's sizes, counts or UTF-8: the server closes with 4900. */
  WRONG_SIZE: 'RS_SCHEMA_WRONG_SIZE',
  /** A message meant to be sent as text whose bytes are not UTF-8: the server closes with 1007. */
  INVALID_UTF8: 'RS_SCHEMA_INVALID_UTF8',
} as const;
export type SchemaErrorCode = (typeof SchemaErrorCode)[keyof typeof SchemaErrorCode];

/**
 * Thrown by encode() for values the server would refuse (or that have no encoding), before
 * anything is sent, and by decode() for a payload that does not fit its schema.
 */
export class RingSocketSchemaError extends Error {
  readonly code: SchemaErrorCode;
  /** The close code the server sends for such a message (4900, 1007), or null: no bytes exist for it. */
  readonly closeCode: number | null;
  constructor(code: SchemaErrorCode, closeCode: number | null, message: string) {
    super(message);
    this.name = 'RingSocketSchemaError';
    this.code = code;
    this.closeCode = closeCode;
  }
}
