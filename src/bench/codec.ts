// The bench client's framing on RingSocket's WebAssembly codec (private build): masked client
// frames are encoded by the core's encoder, and server frames are parsed by the core's decoder in
// the client role. Each worker thread has its own instances; decoder state blocks come from arenas
// of ARENA_DECODERS blocks, each arena one instance with its own memory (an input region shared by
// its decoders, which is fine: a push is decoded completely before it returns).
import { compileCore, createMemory, instantiateCore } from '../core/wasm.ts';
import type { Core } from '../core/wasm.ts';
import { FrameDecoder, writeClose, writeFrame } from '../core/codec.ts';
import { DataFlag, DecoderEvent, Opcode, Role } from '../core/codes.ts';
import { MessageAssembler } from '../core/assembler.ts';
import { DECODER_STATE_ALIGN, DECODER_STATE_SIZE } from '../core/layout.ts';
import { MemoryPlan } from '../core/memory.ts';
import type { ClientDecoder, ClientFraming, FrameHandlers } from './framing.ts';

/** Decoder state blocks per arena (one wasm instance each). */
export const ARENA_DECODERS = 4096;
/** Bytes of socket input decoded per decode pass (larger chunks are fed in pieces). */
export const INPUT_REGION = 256 * 1024;
/** Largest payload the encoder takes in one frame (the encode region is sized for it). */
export const MAX_ENCODE_PAYLOAD = 16 * 1024 * 1024;

const textDecoder = new TextDecoder();

/** Random mask keys, drawn from the CSPRNG in batches (RFC 6455 §5.3). */
class MaskKeys {
  #pool = new Uint32Array(1024);
  #next = this.#pool.length;
  take(): number {
    if (this.#next === this.#pool.length) {
      globalThis.crypto.getRandomValues(this.#pool);
      this.#next = 0;
    }
    return this.#pool[this.#next++];
  }
}

interface Arena {
  core: Core;
  input: number;
  free: number[];
}

class StreamDecoder implements ClientDecoder {
  readonly #arena: Arena;
  readonly #dec: FrameDecoder;
  readonly #h: FrameHandlers;
  /** A message whose pieces arrive in several pushes (kind: 1 binary, 0 text). */
  readonly #msg = new MessageAssembler();
  /** Whether the message #msg gathers is compressed (DataFlag.COMPRESSED of its first piece). */
  #compressed = false;
  #done = false;
  #freed = false;

  constructor(arena: Arena, state: number, handlers: FrameHandlers, maxMessageSize: number, deflate: boolean) {
    this.#arena = arena;
    this.#dec = new FrameDecoder(arena.core, state, Role.CLIENT, { maxMessageSize, permessageDeflate: deflate });
    this.#h = handlers;
  }

  push(chunk: Uint8Array): void {
    for (let off = 0; off < chunk.length && !this.#done; off += INPUT_REGION) {
      const piece = chunk.length - off > INPUT_REGION ? chunk.subarray(off, off + INPUT_REGION) : off === 0 ? chunk : chunk.subarray(off);
      this.#decode(piece);
    }
  }

  #decode(piece: Uint8Array): void {
    const core = this.#arena.core;
    const u8 = core.u8;
    const start = this.#arena.input;
    u8.set(piece, start);
    const end = start + piece.length;
    const dec = this.#dec;
    let ptr = start;
    for (;;) {
      const ev = dec.decode(ptr, end);
      if (ev === DecoderEvent.NEED_MORE) return;
      ptr = dec.next;
      switch (ev) {
        case DecoderEvent.DATA: {
          const flags = dec.flags;
          const p = dec.dataPtr, n = dec.dataLen;
          const first = (flags & DataFlag.FIRST) !== 0;
          const last = (flags & DataFlag.LAST) !== 0;
          const piece = u8.subarray(p, p + n);
          const compressed = (flags & DataFlag.COMPRESSED) !== 0;
          if (first && last) {
            // The whole message in this input: hand out a view, no copy.
            this.#h.onMessage((flags & DataFlag.TEXT) === 0, piece, compressed);
          } else {
            const msg = this.#msg;
            if (first) {
              msg.start((flags & DataFlag.TEXT) === 0 ? 1 : 0);
              this.#compressed = compressed;
            }
            if (!last) msg.append(piece);
            else this.#h.onMessage(msg.kind === 1, msg.take(piece), this.#compressed);
          }
          break;
        }
        case DecoderEvent.PING:
          this.#h.onPing(dec.data.slice());
          break;
        case DecoderEvent.PONG:
          break;
        case DecoderEvent.CLOSE:
          this.#done = true;
          this.#h.onClose(dec.closeCode, textDecoder.decode(dec.data));
          return;
        case DecoderEvent.ERROR: {
          this.#done = true;
          const e = dec.error;
          this.#h.onError({ code: e.code, closeCode: e.closeCode, message: e.message });
          return;
        }
      }
      if (this.#freed) return;
    }
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#done = true;
    this.#msg.reset();
    this.#arena.free.push(this.#dec.state);
  }
}

class WasmFraming implements ClientFraming {
  readonly #module: WebAssembly.Module;
  readonly #arenas: Arena[] = [];
  readonly #enc: Core;
  readonly #encAt: number;
  readonly #keys = new MaskKeys();

  constructor(module: WebAssembly.Module, heapBase: number, maxPayload: number) {
    this.#module = module;
    const plan = new MemoryPlan(heapBase);
    this.#encAt = plan.alloc(14 + maxPayload);
    this.#enc = instantiateCore(module, createMemory('private', plan.bytes));
  }

  #arena(): Arena {
    for (const a of this.#arenas) if (a.free.length > 0) return a;
    const heapBase = this.#enc.heapBase;
    const plan = new MemoryPlan(heapBase);
    const input = plan.alloc(INPUT_REGION);
    const states = plan.alloc(ARENA_DECODERS * DECODER_STATE_SIZE, 64);
    const a: Arena = { core: instantiateCore(this.#module, createMemory('private', plan.bytes)), input, free: [] };
    if (DECODER_STATE_SIZE % DECODER_STATE_ALIGN !== 0) throw new Error('decoder state size is not a multiple of its alignment');
    for (let i = ARENA_DECODERS - 1; i >= 0; i--) a.free.push(states + i * DECODER_STATE_SIZE);
    this.#arenas.push(a);
    return a;
  }

  decoder(handlers: FrameHandlers, maxMessageSize: number, deflate = false): ClientDecoder {
    const a = this.#arena();
    return new StreamDecoder(a, a.free.pop()!, handlers, maxMessageSize, deflate);
  }

  #copyOut(size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    out.set(this.#enc.u8.subarray(this.#encAt, this.#encAt + size));
    return out;
  }

  dataFrame(binary: boolean, payload: Uint8Array): Buffer {
    const size = writeFrame(this.#enc, this.#encAt, binary ? Opcode.BINARY : Opcode.TEXT, payload, this.#keys.take());
    return this.#copyOut(size);
  }

  pongFrame(payload: Uint8Array): Buffer {
    return this.#copyOut(writeFrame(this.#enc, this.#encAt, Opcode.PONG, payload, this.#keys.take()));
  }

  closeFrame(code: number): Buffer {
    return this.#copyOut(writeClose(this.#enc, this.#encAt, code, '', this.#keys.take()));
  }
}

/** The framing of one bench thread: compiles the private core and sets up the encoder. */
export async function createFraming(maxPayload = MAX_ENCODE_PAYLOAD): Promise<ClientFraming> {
  const module = await compileCore('private');
  const probe = instantiateCore(module, createMemory('private', 65536));
  return new WasmFraming(module, probe.heapBase, maxPayload);
}
