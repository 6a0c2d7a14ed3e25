// The one error class an app sees from the API: a misuse of a helper, or a bad definition.
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
