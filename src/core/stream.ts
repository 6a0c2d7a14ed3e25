// WsStreamDecoder: the codec for tools (bench client, tests, browsers). It owns a private-memory
// instance of the core with one decoder state block and one scratch input region, takes Uint8Array
// chunks of a WebSocket byte stream (after the HTTP upgrade), reassembles fragmented messages and
// reports messages, pings, pongs, the close frame and protocol errors through callbacks.
//
//   const dec = await WsStreamDecoder.create({ role: 'client', onMessage: (kind, bytes) => ... });
//   socket.on('data', (chunk) => dec.push(chunk));
//
// Loads the private build only (no cross-origin isolation needed in browsers). Callbacks run
// synchronously inside push(); the bytes they get are copies the callee may keep.
import { DataKind, DecoderEvent, DataFlag, Role } from './codes.ts';
import type { DecoderError } from './codes.ts';
import { FrameDecoder } from './codec.ts';
import { MessageAssembler } from './assembler.ts';
import type { DecoderLimits } from './codec.ts';
import { DECODER_STATE_SIZE } from './layout.ts';
import { MemoryPlan } from './memory.ts';
import { compileCore, createMemory, instantiateCore, readHeapBase } from './wasm.ts';
import type { Core } from './wasm.ts';

export interface WsStreamHandlers {
  /** A complete message: DataKind.UTF8 (valid UTF-8, already checked) or DataKind.BIN. */
  onMessage?(kind: DataKind, bytes: Uint8Array): void;
  onPing?(payload: Uint8Array): void;
  onPong?(payload: Uint8Array): void;
  /** The peer's close frame (code 1005 when it had none). Later input is ignored. */
  onClose?(code: number, reason: string): void;
  /** A protocol violation; send `closeCode` and drop the connection. Later input is ignored. */
  onError?(error: DecoderError): void;
}

export interface WsStreamOptions extends DecoderLimits, WsStreamHandlers {
  /** 'server' decodes client frames (masked), 'client' decodes server frames (unmasked). */
  role: 'server' | 'client';
  /** Scratch region size: longer chunks are decoded in pieces of this size (default 64 KiB). */
  scratchSize?: number;
}

const DEFAULT_SCRATCH = 64 * 1024;
const td = new TextDecoder('utf-8');

let privateModule: Promise<WebAssembly.Module> | undefined;

export class WsStreamDecoder {
  readonly core: Core;
  readonly #dec: FrameDecoder;
  readonly #scratch: number;
  readonly #scratchSize: number;
  readonly #h: WsStreamHandlers;
  /** A message whose pieces arrive in several pushes (kind: DataKind). */
  readonly #msg = new MessageAssembler();
  #done = false;

  /** Compiles (once per process) the private build and creates a decoder. */
  static async create(opts: WsStreamOptions, module?: WebAssembly.Module): Promise<WsStreamDecoder> {
    if (!module) {
      privateModule ??= compileCore('private');
      module = await privateModule;
    }
    return new WsStreamDecoder(module, opts);
  }

  /** `module`: the private build, compiled (compileCore('private')). */
  constructor(module: WebAssembly.Module, opts: WsStreamOptions) {
    if (opts.role !== 'server' && opts.role !== 'client') throw new TypeError(`role must be 'server' or 'client', got ${String(opts.role)}`);
    const scratchSize = opts.scratchSize ?? DEFAULT_SCRATCH;
    if (!Number.isInteger(scratchSize) || scratchSize < 1) throw new RangeError(`scratchSize must be a positive integer, got ${scratchSize}`);
    const plan = new MemoryPlan(readHeapBase(module, 'private'));
    const state = plan.alloc(DECODER_STATE_SIZE);
    this.#scratch = plan.alloc(scratchSize);
    this.#scratchSize = scratchSize;
    this.core = instantiateCore(module, createMemory('private', plan.bytes));
    this.#dec = new FrameDecoder(this.core, state, opts.role === 'server' ? Role.SERVER : Role.CLIENT, opts);
    this.#h = opts;
  }

  /** The limits in force (defaults applied). */
  get limits() { return this.#dec.limits; }

  /** True once a close frame or an error has ended the stream. */
  get done(): boolean { return this.#done; }

  /** Decodes the next bytes of the stream; handlers run before this returns. */
  push(chunk: Uint8Array): void {
    const u8 = this.core.u8;
    for (let off = 0; off < chunk.length && !this.#done; off += this.#scratchSize) {
      const piece = chunk.subarray(off, Math.min(chunk.length, off + this.#scratchSize));
      u8.set(piece, this.#scratch);
      this.#run(this.#scratch, this.#scratch + piece.length);
    }
  }

  #run(ptr: number, end: number): void {
    const dec = this.#dec;
    const u8 = this.core.u8;
    while (ptr < end) {
      const ev = dec.decode(ptr, end);
      if (ev === DecoderEvent.NEED_MORE) return;
      if (ev === DecoderEvent.DATA) {
        const flags = dec.flags;
        const p = dec.dataPtr;
        const n = dec.dataLen;
        const kind = (flags & DataFlag.TEXT) !== 0 ? DataKind.UTF8 : DataKind.BIN;
        if ((flags & (DataFlag.FIRST | DataFlag.LAST)) === (DataFlag.FIRST | DataFlag.LAST)) {
          this.#h.onMessage?.(kind, u8.slice(p, p + n));
        } else {
          const msg = this.#msg;
          if (flags & DataFlag.FIRST) msg.start(kind);
          if (!(flags & DataFlag.LAST)) msg.append(u8.subarray(p, p + n));
          else this.#h.onMessage?.(msg.kind as DataKind, msg.take(u8.subarray(p, p + n)));
        }
      } else if (ev === DecoderEvent.PING) {
        this.#h.onPing?.(dec.data.slice());
      } else if (ev === DecoderEvent.PONG) {
        this.#h.onPong?.(dec.data.slice());
      } else if (ev === DecoderEvent.CLOSE) {
        this.#done = true;
        this.#h.onClose?.(dec.closeCode, td.decode(dec.data));
        return;
      } else {
        this.#done = true;
        this.#h.onError?.(dec.error);
        return;
      }
      ptr = dec.next;
    }
  }
}
