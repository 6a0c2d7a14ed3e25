// `ringsocket/codec`: the WebSocket frame codec of the daemon, on the private-memory WebAssembly
// build, for browsers and tools: client framing (masked client frames out; server frames decoded
// and validated under exactly the daemon's rules, by the same WebAssembly decoder).
//
//   import { createCodec } from 'ringsocket/codec';
//   const codec = await createCodec();                  // fetches/reads build/ringsocket.private.wasm once
//   const bytes = codec.frame('text', 'hi');            // a masked client frame (fresh random key)
//   codec.frame('binary', data, new Uint8Array([1, 2, 3, 4]));   // ... with the key you give
//   codec.close(1000, 'bye');                           // a masked close frame
//   const dec = codec.decoder({ onMessage(kind, bytes) {}, onClose(code, reason) {}, onError(e) {} });
//   dec.push(chunk);                                    // server frames, any chunking
//   codec.decode(bytes);                                // one-shot: [{ type: 'text', text: 'hi', ... }]
//
// Browser-safe: nothing reachable from this file imports a Node module (test/codec-browser-safe
// .test.ts walks the import graph); the .wasm is located relative to this module with
// `new URL(..., import.meta.url)`, which bundlers (Vite, esbuild with an asset plugin) pick up; no
// cross-origin isolation is needed (private memory). README.md, "The codec in the browser".
import { CloseCode, DataKind, Opcode, Utf8State } from '../core/codes.ts';
import type { DecoderError } from '../core/codes.ts';
import { frameHeaderSize, writeClose, writeFrameFrom } from '../core/codec.ts';
import type { DecoderLimits, MaskKey } from '../core/codec.ts';
import { MemoryPlan } from '../core/memory.ts';
import { WsStreamDecoder } from '../core/stream.ts';
import type { WsStreamHandlers } from '../core/stream.ts';
import { compileCore, createMemory, instantiateCore, readHeapBase } from '../core/wasm.ts';
import type { Core } from '../core/wasm.ts';

export { WsStreamDecoder } from '../core/stream.ts';
export type { WsStreamHandlers, WsStreamOptions } from '../core/stream.ts';
export { CloseCode, Opcode, DataKind, DECODER_ERRORS, isValidCloseCode } from '../core/codes.ts';
export type { DecoderError } from '../core/codes.ts';
export { frameHeaderSize, NO_LIMIT } from '../core/codec.ts';
export type { DecoderLimits, MaskKey } from '../core/codec.ts';
export { CoreLoadError } from '../core/wasm.ts';

/** Where the WebAssembly module comes from: a URL (fetched; file: read in Node), its bytes, or the compiled module. */
export type WasmSource = URL | string | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

/** The frames `frame()` makes. Close frames: `close()`. */
export type FrameKind = 'text' | 'binary' | 'ping' | 'pong';

const KIND_OPCODES: Record<FrameKind, Opcode> = { text: Opcode.TEXT, binary: Opcode.BINARY, ping: Opcode.PING, pong: Opcode.PONG };

/** One thing `decode()` found: a whole message, a control frame, or the error that ended the stream. */
export type CodecEvent =
  | { type: 'text'; data: Uint8Array; text: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'ping' | 'pong'; data: Uint8Array }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; error: DecoderError };

export interface DecoderOptions extends WsStreamHandlers, DecoderLimits {
  /**
   * Whose frames are decoded: 'server' (default) for what a client receives (unmasked; a masked
   * one is RS_ERR_MASKED_FRAME), 'client' for masked client frames, checked as the daemon does.
   */
  from?: 'server' | 'client';
  /** The decoder's input region: longer chunks are decoded in pieces of this size (default 64 KiB). */
  scratchSize?: number;
}

/** A frame header as it is on the wire (read, not validated: the decoder validates). */
export interface FrameHeader {
  fin: boolean;
  /** RSV1-3 as bits 2..0 (must be 0: no extension is ever negotiated). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The 4 masking-key bytes of a masked frame, else null. */
  maskKey: Uint8Array | null;
  payloadLength: number;
  /** Which length form the header uses: the 7-bit length, or the 16- or 64-bit extended length. */
  lengthForm: 7 | 16 | 64;
  /** Header bytes (2, 4 or 10, plus 4 for a mask key); the payload follows. */
  headerSize: number;
}

const PRIVATE_WASM = (): URL => new URL('../../build/ringsocket.private.wasm', import.meta.url);

let defaultModule: Promise<WebAssembly.Module> | undefined;

/**
 * Compiles the private build. Without `source`, the package's build/ringsocket.private.wasm,
 * found relative to this module (fetched in a browser, read from disk in Node), compiled once per
 * page or process.
 */
export function compileCodec(source?: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return Promise.resolve(source);
  if (source !== undefined) return compileCore('private', source);
  defaultModule ??= compileCore('private', PRIVATE_WASM()).catch((err: unknown) => {
    defaultModule = undefined; // a failed fetch may succeed later
    throw err;
  });
  return defaultModule;
}

/** Compiles (once) and instantiates the codec. `wasm`: where the private build is, if not beside this module. */
export async function createCodec(opts: { wasm?: WasmSource } = {}): Promise<Codec> {
  return new Codec(await compileCodec(opts.wasm));
}

const EMPTY = new Uint8Array(0);
const INITIAL_OUTPUT = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/**
 * The codec over one private instance of the WebAssembly core. Encoders return a new Uint8Array
 * (the frame's bytes) each call. Decoders (`decoder()`, `decode()`) have their own instances.
 */
export class Codec {
  /** The compiled private build: `new Codec(codec.module)` makes another codec without compiling. */
  readonly module: WebAssembly.Module;
  #core!: Core;
  #out = 0;
  #capacity = 0;

  constructor(module: WebAssembly.Module) {
    this.module = module;
    this.#grow(INITIAL_OUTPUT);
  }

  /**
   * A client frame (FIN set, masked, minimal length form) carrying `payload` (a string is sent as
   * its UTF-8 bytes). `maskKey`: 4 bytes (or their little-endian u32); default a fresh key from
   * crypto.getRandomValues. Throws a RangeError for a ping or pong over 125 bytes and a TypeError
   * for a text payload given as bytes that are not UTF-8 (the daemon would close with 1007).
   */
  frame(kind: FrameKind, payload: Uint8Array | string = EMPTY, maskKey?: MaskKey): Uint8Array {
    return this.#frame(kind, payload, maskKey ?? true);
  }

  /**
   * A client close frame. `code` must be valid on the wire (1000-1003, 1007-1014, 3000-4999), or
   * CloseCode.NO_STATUS (1005) for an empty body; a reason over 123 bytes is cut before the UTF-8
   * sequence that does not fit (the daemon's own rule, src/core/close.ts).
   */
  close(code: number = CloseCode.NORMAL, reason: string | Uint8Array = '', maskKey?: MaskKey): Uint8Array {
    return this.#close(code, reason, maskKey ?? true);
  }

  /** The same frame as the server sends it: unmasked (tests, inspectors, tools that play the server). */
  serverFrame(kind: FrameKind, payload: Uint8Array | string = EMPTY): Uint8Array {
    return this.#frame(kind, payload, false);
  }

  /** A server close frame (unmasked), under close()'s rules. */
  serverClose(code: number = CloseCode.NORMAL, reason: string | Uint8Array = ''): Uint8Array {
    return this.#close(code, reason, false);
  }

  /**
   * A stream decoder of server frames (or, with `from: 'client'`, of client frames), with the
   * daemon's checks and limits (docs/codec.md): push() chunks of any size; the handlers run inside
   * push(); after a close frame or an error further input is ignored.
   */
  decoder(opts: DecoderOptions = {}): WsStreamDecoder {
    const { from = 'server', ...rest } = opts;
    if (from !== 'server' && from !== 'client') throw new TypeError(`from must be 'server' or 'client', got ${String(from)}`);
    return new WsStreamDecoder(this.module, { ...rest, role: from === 'server' ? 'client' : 'server' });
  }

  /**
   * Decodes `bytes` (whole frames of one stream, server frames unless `from: 'client'`) into
   * events: each message (fragments joined), control frame, and the error that stops decoding.
   * Bytes of a frame that is not complete give no event.
   */
  decode(bytes: Uint8Array, opts: { from?: 'server' | 'client' } & DecoderLimits = {}): CodecEvent[] {
    const events: CodecEvent[] = [];
    const dec = this.decoder({
      ...opts,
      scratchSize: Math.max(1, Math.min(bytes.length, 1 << 20)),
      onMessage: (kind, data) => events.push(kind === DataKind.UTF8 ? { type: 'text', data, text: decoder.decode(data) } : { type: 'binary', data }),
      onPing: (data) => events.push({ type: 'ping', data }),
      onPong: (data) => events.push({ type: 'pong', data }),
      onClose: (code, reason) => events.push({ type: 'close', code, reason }),
      onError: (error) => events.push({ type: 'error', error }),
    });
    dec.push(bytes);
    return events;
  }

  #frame(kind: FrameKind, payload: Uint8Array | string, mask: MaskKey | boolean): Uint8Array {
    if (!Object.hasOwn(KIND_OPCODES, kind)) {
      throw new TypeError(`frame kind must be 'text', 'binary', 'ping' or 'pong' (close frames: close()), got ${String(kind)}`);
    }
    const opcode = KIND_OPCODES[kind];
    const bytes = typeof payload === 'string' ? encoder.encode(payload) : payload;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('payload must be a string or a Uint8Array');
    const header = frameHeaderSize(bytes.length, mask !== false);
    this.#ensure(header + bytes.length);
    const core = this.#core;
    // The payload goes where the frame will carry it; writeFrameFrom masks it in place there.
    const src = this.#out + header;
    core.u8.set(bytes, src);
    if (opcode === Opcode.TEXT && typeof payload !== 'string' &&
        core.exports.utf8Validate(src, bytes.length, Utf8State.ACCEPT) !== Utf8State.ACCEPT) {
      throw new TypeError('a text frame must carry UTF-8: these bytes are not (the daemon would close with 1007)');
    }
    const size = writeFrameFrom(core, this.#out, opcode, src, bytes.length, mask);
    return core.u8.slice(this.#out, this.#out + size);
  }

  #close(code: number, reason: string | Uint8Array, mask: MaskKey | boolean): Uint8Array {
    this.#ensure(256); // 14-byte header at most + 125-byte body
    const size = writeClose(this.#core, this.#out, code, reason, mask);
    return this.#core.u8.slice(this.#out, this.#out + size);
  }

  #ensure(bytes: number): void {
    if (bytes > this.#capacity) this.#grow(Math.max(bytes, this.#capacity * 2));
  }

  /** A new instance whose output region holds `capacity` bytes (the memory itself never grows). */
  #grow(capacity: number): void {
    const plan = new MemoryPlan(readHeapBase(this.module, 'private'));
    const out = plan.alloc(capacity);
    this.#core = instantiateCore(this.module, createMemory('private', plan.bytes));
    this.#out = out;
    this.#capacity = capacity;
  }
}

/**
 * Reads the header of the frame at the start of `bytes`, or returns null when `bytes` ends before
 * the header does. For display and tools: it checks nothing (the decoders do).
 */
export function readFrameHeader(bytes: Uint8Array): FrameHeader | null {
  if (bytes.length < 2) return null;
  const b0 = bytes[0];
  const b1 = bytes[1];
  const masked = (b1 & 0x80) !== 0;
  const len7 = b1 & 0x7f;
  const lengthForm = len7 === 127 ? 64 : len7 === 126 ? 16 : 7;
  const base = lengthForm === 64 ? 10 : lengthForm === 16 ? 4 : 2;
  const headerSize = base + (masked ? 4 : 0);
  if (bytes.length < headerSize) return null;
  let payloadLength = len7;
  if (lengthForm === 16) payloadLength = (bytes[2] << 8) | bytes[3];
  else if (lengthForm === 64) {
    payloadLength = 0;
    for (let i = 2; i < 10; i++) payloadLength = payloadLength * 256 + bytes[i];
  }
  return {
    fin: (b0 & 0x80) !== 0,
    rsv: (b0 >> 4) & 7,
    opcode: b0 & 0x0f,
    masked,
    maskKey: masked ? bytes.slice(base, base + 4) : null,
    payloadLength,
    lengthForm,
    headerSize,
  };
}
