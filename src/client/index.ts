// ringsocket/client: the typed client, for browsers and Node >= 22 (both have WebSocket).
//   import { connect, decode, ntoh } from 'ringsocket/client';
// README.md ("The typed client") describes all of it. Everything reachable from here must stay
// browser-safe: no node: import, nothing outside the allow-list of test/client.test.ts.
export { connect } from './connection.ts';
export type { Client, ConnectOptions, Incoming, WebSocketLike, WebSocketConstructor } from './connection.ts';
export { encode, encodeCase, decode, defineMessage, encodeMessage } from './encoding.ts';
export type { MessageForm, MessageKind, Encoded } from './encoding.ts';
export { closeName } from './close.ts';
export type { CloseInfo, CloseName } from './close.ts';
export { RingSocketClientError, ClientErrorCode } from './errors.ts';
export { net, ntoh, str, bytes, HOST_LITTLE_ENDIAN } from '../app/schema.ts';
export type {
  Param, ArrayParam, ScalarParam, ByteOrderParams, Schema, Values, Decoded, ValueIn, ValueOut, ScalarName, ScalarValue,
} from '../app/schema.ts';
export { RingSocketSchemaError, SchemaErrorCode, RingSocketAppError, AppErrorCode } from '../app/errors.ts';
export { CloseCode } from '../core/codes.ts';
