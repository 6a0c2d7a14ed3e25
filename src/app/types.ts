// The `rs` object every app callback receives, one interface per callback kind: a helper that the
// original does not allow in a callback kind is absent from that kind's type (a compile error), and
// throws RingSocketAppError (RS_APP_NOT_HERE) if called anyway from untyped code.
import type { Config } from '../config/types.ts';
import type { DataKind } from '../core/codes.ts';
import type { LogLevel } from '../log.ts';

export type { LogLevel, Config, DataKind };

/** What an app callback returns: see README.md, "Return values". void counts as 0. */
export type CallbackResult = number | void;

/** A client id: a positive safe integer. Senders also accept it as a bigint (e.g. read by ntoh.u64). */
export type ClientId = number;
export type ClientIdLike = number | bigint;

/** The client's peer address (IPv4 or IPv6), as rs.clientAddr() returns it. */
export interface ClientAddr {
  readonly family: 4 | 6;
  /** "127.0.0.1", "::1", "::ffff:10.0.0.1" ... */
  readonly address: string;
  readonly port: number;
}

export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends (...args: never[]) => unknown
    ? T
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** Available in every callback, including init (rs_get_conf, rs_get_app_data, RS_LOG). */
export interface InitRs {
  /** The daemon's resolved configuration, frozen (rs_get_conf). */
  config(): DeepReadonly<Config>;
  /**
   * The app data reserved by `init: { appDataSize }`, zero-filled at start (rs_get_app_data).
   * The same array in every callback; empty when no size was given.
   */
  appData(): Uint8Array;
  /**
   * RS_LOG / RS_LOG_ERRNO: one log line at `level`, prefixed with the app's name, written only if
   * the configured log_level lets it through. With `cause`, its stack (or text) is appended.
   */
  log(level: LogLevel, message: string, cause?: unknown): void;
  /** Whether rs.log(level, ...) would write anything: skip building costly messages. */
  logEnabled(level: LogLevel): boolean;
}

/** Writers and the senders that need no current client: open, read, close and timer (not init). */
export interface TimerRs extends InitRs {
  /** rs_w_p: append bytes (any ArrayBufferView, ArrayBuffer or SharedArrayBuffer; copied now). */
  wBytes(bytes: ArrayBufferView | ArrayBufferLike): this;
  /** rs_w_str: append a string as UTF-8 (no terminating NUL). */
  wStr(text: string): this;
  /** rs_w_uint8 ... rs_w_uint64: host byte order. u64 takes a bigint or a safe integer. */
  wU8(value: number): this;
  wU16(value: number): this;
  wU32(value: number): this;
  wU64(value: bigint | number): this;
  /** rs_w_int8 ... rs_w_int64: host byte order. */
  wI8(value: number): this;
  wI16(value: number): this;
  wI32(value: number): this;
  wI64(value: bigint | number): this;
  /** rs_w_uint16_hton ...: network byte order (big-endian). */
  wU16Hton(value: number): this;
  wU32Hton(value: number): this;
  wU64Hton(value: bigint | number): this;
  wI16Hton(value: number): this;
  wI32Hton(value: number): this;
  wI64Hton(value: bigint | number): this;
  /** IEEE 754 floats (no C counterpart; the read schemas have f32/f64, so the writers do too). */
  wF32(value: number): this;
  wF64(value: number): this;
  wF32Hton(value: number): this;
  wF64Hton(value: number): this;

  /** rs_to_single: send what was written to one client, and empty the write buffer. */
  toSingle(kind: DataKind, clientId: ClientIdLike): void;
  /** rs_to_multi: to several clients (duplicates are sent once). */
  toMulti(kind: DataKind, clientIds: readonly ClientIdLike[]): void;
  /** rs_to_every: to every client connected to this app. */
  toEvery(kind: DataKind): void;
  /** rs_to_every_except_single: to every client but one. */
  toEveryExceptSingle(kind: DataKind, clientId: ClientIdLike): void;
  /** rs_to_every_except_multi: to every client but those listed. */
  toEveryExceptMulti(kind: DataKind, clientIds: readonly ClientIdLike[]): void;
  /**
   * rs_close: close a client with a code in 4000-4899. Its close callback runs once the current
   * callback has returned. A client that is not open (already closed) is ignored.
   */
  close(clientId: ClientIdLike, code: number): void;
}

/** The close callback: the closed client is the current one, but it cannot be sent to. */
export interface CloseRs extends TimerRs {
  /** rs_get_client_id: the client of this open, read or close event. */
  clientId(): ClientId;
  /** rs_get_endpoint_id: the endpoint_id through which that client connected. */
  endpointId(): number;
  /**
   * The subprotocol the handshake selected for that client (the first one in the client's
   * Sec-WebSocket-Protocol that the endpoint's `subprotocols` lists), or null when none was.
   */
  subprotocol(): string | null;
  /**
   * What the upgrade hook (req.setClientData) or an earlier callback (rs.setClientData) attached to
   * that client; undefined if nothing was. The type argument is the app's own claim (not checked):
   * `rs.clientData<User>()`. Dropped after the client's close callback.
   */
  clientData<T = unknown>(): T | undefined;
}

/** The open callback: the current client is live. */
export interface OpenRs extends CloseRs {
  /** rs_get_client_addr: the client's peer address. */
  clientAddr(): ClientAddr;
  /** rs_to_cur: send to the current client. */
  toCur(kind: DataKind): void;
  /** rs_to_every_except_cur: to every client but the current one. */
  toEveryExceptCur(kind: DataKind): void;
  /** rs_close_cur: close the current client with a code in 4000-4899. */
  closeCur(code: number): void;
  /** Replaces what rs.clientData() returns for the current client (from this callback on). */
  setClientData(value: unknown): void;
}

/** The read callbacks. */
export interface ReadRs extends OpenRs {
  /** rs_get_read_data_kind: DataKind.BIN (RS_BIN) or DataKind.UTF8 (RS_UTF8). */
  readDataKind(): DataKind;
}

/** Every helper (the runtime's single rs object implements all of them). */
export type Rs = ReadRs;

/** The reading methods of the URLSearchParams the upgrade hook gets as req.query. */
export interface UpgradeQuery extends Iterable<[string, string]> {
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  entries(): IterableIterator<[string, string]>;
  forEach(callback: (value: string, name: string) => void): void;
  readonly size: number;
  toString(): string;
}

/**
 * The HTTP request of a WebSocket handshake, as the upgrade hook sees it (defineApp({ upgrade })).
 * Plain values the hook may keep; only setClientData is bound to the pending client.
 */
export interface UpgradeRequest {
  /** The request target's path, as sent (no query), e.g. "/chat". */
  readonly path: string;
  /**
   * The request target's query string, parsed ("?token=abc" -> query.get('token')): a
   * URLSearchParams, typed by its reading methods (so an app compiles without the DOM lib).
   */
  readonly query: UpgradeQuery;
  /**
   * The request headers by lower-case name ("cookie", "authorization", ...). A header sent on
   * several lines is joined with ", " (cookie with "; "). Values are the bytes as latin1.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The peer's IP address ("10.0.0.7", "::1") and port, as rs.clientAddr() will give them. */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** The endpoint_id of the endpoint the request is for. */
  readonly endpointId: number;
  /** The subprotocol the handshake selected (the endpoint's subprotocols), or null. */
  readonly subprotocol: string | null;
  /**
   * Attaches a value to the client: rs.clientData() returns it in the client's callbacks, if the
   * hook accepts. Only until the hook has settled (later it throws RS_APP_OUTSIDE_CALLBACK).
   */
  setClientData(value: unknown): void;
}

/**
 * What the upgrade hook returns (or its promise resolves to): nothing (or 0) accepts the client;
 * an HTTP status from 400 to 599 refuses it with a complete response of that status.
 */
export type UpgradeResult = number | void;
