// The connection's errors (connect, send, receive). Encoding and decoding throw
// RingSocketSchemaError (src/app/errors.ts) instead; both carry a stable machine code.
import type { CloseInfo } from './close.ts';

export const ClientErrorCode = {
  /** No WebSocket constructor: neither the platform's (globalThis.WebSocket) nor opts.WebSocket. */
  NO_WEBSOCKET: 'RS_CLIENT_NO_WEBSOCKET',
  /** The connection closed before it opened (refused, not found, handshake failed ...). */
  CONNECT_FAILED: 'RS_CLIENT_CONNECT_FAILED',
  /** connect()'s signal was aborted before the connection opened. */
  ABORTED: 'RS_CLIENT_ABORTED',
  /** send() or sendRaw() on a connection that is closing or closed. */
  NOT_OPEN: 'RS_CLIENT_NOT_OPEN',
  /** receive() on a connection that closed with no message left to read. */
  CLOSED: 'RS_CLIENT_CLOSED',
  /** receive() or iteration on a client whose messages go to the onMessage listener. */
  HAS_LISTENER: 'RS_CLIENT_HAS_LISTENER',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class RingSocketClientError extends Error {
  readonly code: ClientErrorCode;
  /** How the connection closed, for CONNECT_FAILED and CLOSED; null otherwise. */
  readonly close: CloseInfo | null;
  constructor(code: ClientErrorCode, message: string, close: CloseInfo | null = null) {
    super(message);
    this.name = 'RingSocketClientError';
    this.code = code;
    this.close = close;
  }
}
