// One client WebSocket connection of the bench over a raw `net` socket: our own upgrade request and
// accept-key check, then every frame through the ClientFraming codec. Outgoing frames queued during
// one turn of the event loop go out in one write.
import net from 'node:net';
import type { BenchTarget } from './args.ts';
import { CloseCode, FrameBits } from '../core/codes.ts';
import type { ClientDecoder, ClientFraming, ProtocolError } from './framing.ts';
import { buildRequest, checkResponse, headEnd, MAX_RESPONSE_HEAD, newKey } from './handshake.ts';
import { DeflateSession } from './deflate.ts';

export const ConnState = {
  IDLE: 0,
  CONNECTING: 1,
  HANDSHAKE: 2,
  OPEN: 3,
  /** We sent Close and wait for the server's Close and the end of the stream. */
  CLOSING: 4,
  CLOSED: 5,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

export interface ConnEvents {
  onOpen(c: Conn): void;
  onMessage(c: Conn, binary: boolean, bytes: Uint8Array): void;
  /** TCP connect or handshake failed; the connection is closed. */
  onConnectFailed(c: Conn, reason: string): void;
  /** The codec reported a protocol violation by the server; the connection is being closed. */
  onProtocolError(c: Conn, err: ProtocolError): void;
  /**
   * The connection ended. `requested` is true when it ended after our own close() (a clean close:
   * `clean` tells whether the server answered with Close before the stream ended).
   */
  onClosed(c: Conn, requested: boolean, clean: boolean, detail: string): void;
}

const NORMAL_CLOSURE = CloseCode.NORMAL;
const NO_STATUS = CloseCode.NO_STATUS;
const INVALID_DATA = CloseCode.INVALID_PAYLOAD;

export class Conn {
  readonly index: number;
  state: ConnState = ConnState.IDLE;
  /** performance.now() when connect() was called and when the handshake completed. */
  connectStart = 0;
  openedAt = 0;
  /** Free for the driver (per-connection mode state). */
  seqOut = 0;
  seqIn = 0;

  readonly #target: BenchTarget;
  readonly #framing: ClientFraming;
  readonly #events: ConnEvents;
  readonly #maxMessage: number;
  #socket: net.Socket | null = null;
  #decoder: ClientDecoder | null = null;
  #key = '';
  #head: Buffer[] = [];
  #headBytes = 0;
  #pending: Buffer[] = [];
  #flushQueued = false;
  #closeRequested = false;
  #closeReceived = false;
  #finished = false;
  #timer: NodeJS.Timeout | null = null;
  /** Offer permessage-deflate; once accepted, #deflate compresses and inflates. */
  readonly #offerDeflate: boolean;
  #deflate: DeflateSession | null = null;
  /** Received messages waiting for the inflater (or for one before them), delivered in order. */
  #rx: Promise<void> = Promise.resolve();
  #rxWaiting = 0;

  constructor(index: number, target: BenchTarget, framing: ClientFraming, events: ConnEvents, maxMessageSize: number, deflate = false) {
    this.index = index;
    this.#target = target;
    this.#framing = framing;
    this.#events = events;
    this.#maxMessage = maxMessageSize;
    this.#offerDeflate = deflate;
  }

  connect(timeoutMs = 10000): void {
    this.state = ConnState.CONNECTING;
    this.connectStart = performance.now();
    this.#key = newKey();
    const s = net.connect({ host: this.#target.host, port: this.#target.port });
    this.#socket = s;
    s.setNoDelay(true);
    this.#timer = setTimeout(() => this.#fail(`no handshake within ${timeoutMs} ms`), timeoutMs);
    s.on('connect', () => {
      if (this.state !== ConnState.CONNECTING) return;
      this.state = ConnState.HANDSHAKE;
      s.write(buildRequest(this.#target, this.#key, this.#offerDeflate));
    });
    s.on('data', (chunk: Buffer) => this.#onData(chunk));
    s.on('error', (err) => this.#onEnd(`socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    s.on('close', () => this.#onEnd('connection closed by the server'));
  }

  /** Queues one encoded frame; frames queued in the same turn go out in one write. */
  send(frame: Buffer): void {
    if (this.state !== ConnState.OPEN) return;
    this.#pending.push(frame);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /**
   * Sends one data message: framed at once, or with permessage-deflate compressed first (then it
   * goes out when the compressor is done, still in order). `payload` may be reused by the caller.
   */
  sendData(binary: boolean, payload: Uint8Array): void {
    const d = this.#deflate;
    if (!d) { this.send(this.#framing.dataFrame(binary, payload)); return; }
    void d.compress(Buffer.from(payload)).then((c) => {
      const frame = this.#framing.dataFrame(binary, c);
      frame[0] |= FrameBits.RSV1; // RFC 7692 §6: the first frame of a compressed message has RSV1
      this.send(frame);
    }, () => { /* the connection closed meanwhile */ });
  }

  #received(binary: boolean, bytes: Uint8Array, compressed: boolean): void {
    if (!compressed && this.#rxWaiting === 0) { this.#deliver(binary, bytes); return; }
    const d = this.#deflate!;
    const copy = compressed ? null : Buffer.from(bytes);
    const job = compressed ? d.inflate(Buffer.from(bytes)) : null;
    this.#rxWaiting++;
    this.#rx = this.#rx.then(async () => {
      try {
        this.#deliver(binary, job ? await job : copy!);
      } catch (err) {
        this.#onProtocolError({ code: 'INFLATE', closeCode: INVALID_DATA, message: `a compressed message does not inflate: ${(err as Error).message}` });
      } finally {
        this.#rxWaiting--;
      }
    });
  }

  #deliver(binary: boolean, bytes: Uint8Array): void {
    if (this.state === ConnState.OPEN || this.state === ConnState.CLOSING) this.#events.onMessage(this, binary, bytes);
  }

  /** Bytes Node holds in user space for this socket (back-pressure hint). */
  get writeBacklog(): number {
    return this.#socket ? this.#socket.writableLength : 0;
  }

  #flush(): void {
    this.#flushQueued = false;
    const p = this.#pending;
    if (p.length === 0 || !this.#socket || this.#socket.destroyed) { p.length = 0; return; }
    this.#socket.write(p.length === 1 ? p[0] : Buffer.concat(p));
    p.length = 0;
  }

  /** Starts a clean close (§7.1.2): send Close, wait for the server's Close and the end of TCP. */
  close(timeoutMs = 3000): void {
    if (this.state === ConnState.CLOSED || this.#closeRequested) return;
    this.#closeRequested = true;
    if (this.state !== ConnState.OPEN) { this.#finish(true, false, 'closed before open'); return; }
    this.#flush();
    this.state = ConnState.CLOSING;
    this.#socket!.write(this.#framing.closeFrame(NORMAL_CLOSURE));
    this.#timer = setTimeout(() => this.#finish(true, false, `no Close reply within ${timeoutMs} ms`), timeoutMs);
  }

  #onData(chunk: Buffer): void {
    if (this.state === ConnState.HANDSHAKE) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      const all = this.#head.length === 1 ? chunk : Buffer.concat(this.#head);
      const end = headEnd(all);
      if (end < 0) {
        if (this.#headBytes > MAX_RESPONSE_HEAD) this.#fail(`response head over ${MAX_RESPONSE_HEAD} bytes`);
        else if (this.#head.length > 1) this.#head = [all];
        return;
      }
      this.#head = [];
      const check = checkResponse(all.toString('latin1', 0, end - 4), this.#key, this.#offerDeflate);
      if (!check.ok) { this.#fail(`handshake: ${check.reason}`); return; }
      if (check.deflate) this.#deflate = new DeflateSession(check.deflate, this.#maxMessage);
      clearTimeout(this.#timer!);
      this.#timer = null;
      this.state = ConnState.OPEN;
      this.openedAt = performance.now();
      const common = {
        onPing: (payload: Uint8Array) => {
          if (this.state === ConnState.OPEN) this.send(this.#framing.pongFrame(payload));
        },
        onClose: (code: number, reason: string) => this.#onCloseFrame(code, reason),
        onError: (err: ProtocolError) => this.#onProtocolError(err),
      };
      // The WebAssembly decoder in both cases; with --deflate it accepts RSV1 as RFC 7692 allows.
      this.#decoder = this.#deflate
        ? this.#framing.decoder({ ...common, onMessage: (binary, bytes, compressed) => this.#received(binary, bytes, compressed) }, this.#maxMessage, true)
        : this.#framing.decoder({ ...common, onMessage: (binary, bytes) => this.#deliver(binary, bytes) }, this.#maxMessage);
      this.#events.onOpen(this);
      if (end < all.length && this.state === ConnState.OPEN) this.#decoder.push(all.subarray(end));
      return;
    }
    if (this.state === ConnState.OPEN || this.state === ConnState.CLOSING) this.#decoder!.push(chunk);
  }

  #onCloseFrame(code: number, reason: string): void {
    if (this.#closeReceived) return;
    this.#closeReceived = true;
    if (this.state === ConnState.CLOSING) {
      // Our Close was answered: the server closes TCP first (§7.1.1); end our side too.
      this.#socket!.end();
      return;
    }
    // A Close we did not ask for: answer it, echoing its code (§5.5.1), and report an unexpected
    // close. 1005 (no code in the frame) is never sent: answer 1000 then.
    this.#flush();
    this.#socket!.end(this.#framing.closeFrame(code === NO_STATUS ? NORMAL_CLOSURE : code));
    this.#finish(false, true, `server sent Close ${code}${reason ? ` "${reason}"` : ''}`);
  }

  #onProtocolError(err: ProtocolError): void {
    if (this.state === ConnState.CLOSED) return;
    this.#events.onProtocolError(this, err);
    if (this.#socket && !this.#socket.destroyed) {
      this.#socket.end(this.#framing.closeFrame(err.closeCode));
    }
    // We end this connection ourselves: the protocol error is the one thing counted for it.
    this.#finish(true, true, `protocol error ${err.code}`);
  }

  #onEnd(detail: string): void {
    if (this.state === ConnState.CONNECTING || this.state === ConnState.HANDSHAKE) { this.#fail(detail); return; }
    if (this.state === ConnState.CLOSING) { this.#finish(true, this.#closeReceived, this.#closeReceived ? 'closed' : detail); return; }
    this.#finish(false, false, detail);
  }

  #fail(reason: string): void {
    if (this.#finished) return;
    const wasOpen = this.state === ConnState.OPEN || this.state === ConnState.CLOSING;
    if (wasOpen) { this.#finish(this.#closeRequested, false, reason); return; }
    this.#finished = true;
    this.state = ConnState.CLOSED;
    this.#cleanup();
    this.#events.onConnectFailed(this, reason);
  }

  #finish(requested: boolean, clean: boolean, detail: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.state = ConnState.CLOSED;
    this.#cleanup();
    this.#events.onClosed(this, requested, clean, detail);
  }

  #cleanup(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.#pending.length = 0;
    if (this.#decoder) { this.#decoder.free(); this.#decoder = null; }
    if (this.#deflate) { this.#deflate.close(); this.#deflate = null; }
    const s = this.#socket;
    if (s && !s.destroyed) {
      // Let a queued Close reply go out, then make sure the socket goes away.
      if (s.writableLength > 0 || s.writableEnded) setTimeout(() => s.destroy(), 1000).unref();
      else s.destroy();
    }
  }
}
