// A small connection over the platform's WebSocket (browsers, Node >= 22; `ws` can be passed in):
// connect() as a promise, send() typed by the protocol's message forms, incoming messages as an
// async iterator (or to a listener), and `closed` with the close code's name.
import type { Schema, Values } from '../app/schema.ts';
import { encodeMessage, type MessageForm, type MessageKind } from './encoding.ts';
import { closeInfo, type CloseInfo } from './close.ts';
import { ClientErrorCode, RingSocketClientError } from './errors.ts';

/** An incoming message: a string for a text message, a Uint8Array for a binary one. */
export type Incoming = string | Uint8Array<ArrayBuffer>;

/** The part of the WebSocket API the client uses (the browser's and Node's global, or `ws`). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly url: string;
  /** The subprotocol the server selected ('' for none); optional for WebSocket stand-ins. */
  readonly protocol?: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string; readonly wasClean: boolean }) => void): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The WebSocket API's readyState OPEN (WHATWG WebSockets: CONNECTING 0, OPEN 1, CLOSING 2, CLOSED 3). */
const OPEN = 1;

export interface ConnectOptions {
  /**
   * Receive every message here, in order, instead of through receive() / iteration. Installed
   * before the connection opens, so not even the first message is missed. Without it, messages
   * are queued until read, and a client that never reads keeps them all.
   */
  onMessage?: (data: Incoming) => void;
  /** Aborting it before the connection opens closes the socket and rejects (RS_CLIENT_ABORTED). */
  signal?: AbortSignal;
  /**
   * Subprotocols to offer (Sec-WebSocket-Protocol), most preferred first; the server picks the
   * first of them that the endpoint's `subprotocols` lists (`client.protocol`), or none.
   */
  protocols?: string | readonly string[];
  /** The WebSocket constructor (default: globalThis.WebSocket), e.g. `ws`'s on an older Node. */
  WebSocket?: WebSocketConstructor;
}

/** An open connection to a RingSocket app endpoint. */
export interface Client extends AsyncIterable<Incoming> {
  /** The URL as the WebSocket reports it. */
  readonly url: string;
  /** The subprotocol the server selected from `protocols`, '' for none. */
  readonly protocol: string;
  /** The underlying WebSocket (binaryType is 'arraybuffer'). */
  readonly socket: WebSocketLike;
  /** Bytes queued by send() but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Resolves once the connection has closed, whoever closed it; never rejects. */
  readonly closed: Promise<CloseInfo>;
  /**
   * Sends one message of a protocol's message form: its values encoded and checked by encode()
   * (a value the server would refuse throws RingSocketSchemaError and nothing is sent), as a text
   * or binary message as the form's kind says. Throws RS_CLIENT_NOT_OPEN once closing or closed.
   */
  send<S extends Schema>(form: MessageForm<S, MessageKind, number | null>, ...values: Values<S>): void;
  /** Sends bytes (binary) or a string (text) as they are, unchecked. */
  sendRaw(data: string | ArrayBufferView | ArrayBuffer): void;
  /**
   * The next message. Rejects with RS_CLIENT_CLOSED (its `close` says how) once the connection
   * closed and every message that arrived before was read.
   */
  receive(): Promise<Incoming>;
  /** Starts the closing handshake (code 1000 or 3000-4999, as the WebSocket API allows). */
  close(code?: number, reason?: string): void;
}

class Connection implements Client {
  readonly socket: WebSocketLike;
  readonly closed: Promise<CloseInfo>;
  private readonly listener: ((data: Incoming) => void) | null;
  private readonly queue: Incoming[] = [];
  private readonly waiters: ((m: Incoming | null) => void)[] = [];
  private info: CloseInfo | null = null;

  constructor(socket: WebSocketLike, listener: ((data: Incoming) => void) | null) {
    this.socket = socket;
    this.listener = listener;
    socket.addEventListener('message', (event) => this.deliver(toIncoming(event.data)));
    this.closed = new Promise((resolve) => {
      socket.addEventListener('close', (event) => {
        const info = closeInfo(event.code, event.reason, event.wasClean);
        this.info = info;
        for (const w of this.waiters.splice(0)) w(null);
        resolve(info);
      });
    });
  }

  get url(): string {
    return this.socket.url;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get protocol(): string {
    return this.socket.protocol ?? '';
  }

  send<S extends Schema>(form: MessageForm<S, MessageKind, number | null>, ...values: Values<S>): void {
    this.checkOpen();
    this.socket.send(encodeMessage(form, ...values));
  }

  sendRaw(data: string | ArrayBufferView | ArrayBuffer): void {
    this.checkOpen();
    this.socket.send(data);
  }

  async receive(): Promise<Incoming> {
    const m = await this.next();
    if (m !== null) return m;
    const info = this.info!;
    throw new RingSocketClientError(ClientErrorCode.CLOSED, `the connection closed (${describeClose(info)}) and no message is left`, info);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Incoming> {
    for (let m = await this.next(); m !== null; m = await this.next()) yield m;
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  /** The next queued message, or null once closed and drained. */
  private next(): Promise<Incoming | null> {
    if (this.listener !== null) {
      return Promise.reject(new RingSocketClientError(ClientErrorCode.HAS_LISTENER, 'messages go to the onMessage listener given to connect(); there is nothing to receive'));
    }
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.info !== null) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private deliver(m: Incoming): void {
    if (this.listener !== null) return this.listener(m);
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  private checkOpen(): void {
    const state = this.socket.readyState;
    if (state !== OPEN) throw new RingSocketClientError(ClientErrorCode.NOT_OPEN, `the connection is not open (readyState ${state})`);
  }
}

function toIncoming(data: unknown): Incoming {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  // `ws` with binaryType 'arraybuffer' gives ArrayBuffers too; a Node Buffer would be a view.
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  throw new TypeError(`unexpected message data from the WebSocket: ${Object.prototype.toString.call(data)}`);
}

function describeClose(info: CloseInfo): string {
  return `${info.code}${info.name ? ` ${info.name}` : ''}${info.reason ? ` "${info.reason}"` : ''}`;
}

/**
 * Opens a connection to an app endpoint (ws:// or wss:// URL). Resolves once it is open; rejects
 * with RS_CLIENT_CONNECT_FAILED if it closes first (its `close` says how: a refused handshake is
 * 1006 in browsers, which tell no more), RS_CLIENT_ABORTED, or RS_CLIENT_NO_WEBSOCKET. A URL the
 * WebSocket constructor refuses rejects with the constructor's own error (a SyntaxError).
 */
export function connect(url: string | URL, opts: ConnectOptions = {}): Promise<Client> {
  const Ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Ctor === undefined) {
    return Promise.reject(new RingSocketClientError(ClientErrorCode.NO_WEBSOCKET, 'no WebSocket: this platform has none (Node < 22?); pass one as connect(url, { WebSocket })'));
  }
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(new RingSocketClientError(ClientErrorCode.ABORTED, `connecting to ${String(url)} was aborted`));
  return new Promise((resolve, reject) => {
    const protocols = opts.protocols;
    const socket = protocols === undefined ? new Ctor(String(url))
      : new Ctor(String(url), typeof protocols === 'string' ? protocols : [...protocols]);
    socket.binaryType = 'arraybuffer';
    const conn = new Connection(socket, opts.onMessage ?? null);
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      socket.close();
      reject(new RingSocketClientError(ClientErrorCode.ABORTED, `connecting to ${String(url)} was aborted`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.addEventListener('open', () => {
      signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      resolve(conn);
    });
    void conn.closed.then((info) => {
      signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      reject(new RingSocketClientError(ClientErrorCode.CONNECT_FAILED, `could not connect to ${String(url)}: closed with ${describeClose(info)}`, info));
    });
  });
}
