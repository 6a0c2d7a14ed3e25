// WebSocket input: a client's bytes go through the WebAssembly decoder (in the worker's scratch
// region of the shared memory); complete messages become READ records in the app's inbound ring,
// pings get pongs, and a close frame or a protocol error starts the close sequence.
import type { Core } from '../../core/wasm.ts';
import { CloseCode, Opcode, DataKind } from '../../core/codes.ts';
import {
  decode, eventNext, eventDataPtr, eventDataLen, eventFlags, eventCloseCode, eventError,
  DecoderEvent, DataFlag,
} from '../../core/codec.ts';
import { DECODER_STATE_SIZE } from '../../core/layout.ts';
import { Inbound, IN_HEADER_SIZE } from '../records.ts';
import { encodeControlFrame, encodeCloseFrame } from '../frames.ts';
import type { Logger } from '../../log.ts';
import { Conn, Phase } from './conn.ts';
import type { Output } from './output.ts';
import type { InboundBudget } from './budget.ts';
import type { FaultHook } from './faults.ts';
import type { InboundProducer } from './inbound.ts';
import type { Clients } from './clients.ts';
import type { CloseOrder } from './close-order.ts';
import { Inflated, type WorkerDeflate } from './deflate.ts';
import { isUtf8 } from 'node:buffer';
import { MetricsBlock } from '../../metrics/block.ts';

export interface WsInputOptions {
  core: Core;
  /** The worker's scratch region: input is copied here and decoded in place. */
  scratch: number;
  scratchSize: number;
  /** The decoder state blocks, one per connection slot. */
  states: number;
  inbound: InboundProducer;
  output: Output;
  clients: Clients;
  budget: InboundBudget;
  /** Our close frame waits for the replies to the client's earlier messages (close-order.ts). */
  closeOrder: CloseOrder;
  log: Logger;
  /** Tests only (faults.ts). */
  fault?: FaultHook | null;
  /** permessage-deflate (deflate.ts); null or absent when no endpoint offers it. */
  deflate?: WorkerDeflate | null;
  /** This worker's metrics block; absent: counts go nowhere. */
  metrics?: MetricsBlock;
}

export class WsInput {
  readonly #core: Core;
  readonly #u8: Uint8Array;
  readonly #scratch: number;
  readonly #scratchSize: number;
  readonly #states: number;
  readonly #inbound: InboundProducer;
  readonly #output: Output;
  readonly #clients: Clients;
  readonly #budget: InboundBudget;
  readonly #closeOrder: CloseOrder;
  readonly #log: Logger;
  readonly #fault: FaultHook | null;
  readonly #deflate: WorkerDeflate | null;
  readonly #metrics: MetricsBlock;
  /** Messages (READ records) committed during the current feed, counted once at its end. */
  #messages = 0;

  constructor(o: WsInputOptions) {
    this.#core = o.core;
    this.#u8 = o.core.u8;
    this.#scratch = o.scratch;
    this.#scratchSize = o.scratchSize;
    this.#states = o.states;
    this.#inbound = o.inbound;
    this.#output = o.output;
    this.#clients = o.clients;
    this.#budget = o.budget;
    this.#closeOrder = o.closeOrder;
    this.#log = o.log;
    this.#fault = o.fault ?? null;
    this.#deflate = o.deflate ?? null;
    this.#metrics = o.metrics ?? MetricsBlock.detached(255);
  }

  /** The decoder state block of a connection slot. */
  stateOf(c: Conn): number {
    return this.#states + c.slot * DECODER_STATE_SIZE;
  }

  /** Decodes a chunk of a client's stream. */
  feed(c: Conn, chunk: Uint8Array): void {
    const u8 = this.#u8;
    const scratch = this.#scratch;
    let off = 0;
    while (off < chunk.length && c.phase !== Phase.DEAD) {
      const n = Math.min(chunk.length - off, this.#scratchSize);
      u8.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), scratch);
      off += n;
      this.#decode(c, scratch, scratch + n);
    }
    this.#countMessages(c);
  }

  /** Decodes the first n bytes of the scratch, where a socket read put them (user-read.ts). */
  decodeScratch(c: Conn, n: number): void {
    this.#decode(c, this.#scratch, this.#scratch + n);
    this.#countMessages(c);
  }

  #countMessages(c: Conn): void {
    if (this.#messages === 0) return;
    this.#metrics.messagesIn(c.appIndex, this.#messages);
    this.#messages = 0;
  }

  #decode(c: Conn, start: number, end: number): void {
    const core = this.#core;
    const u8 = this.#u8;
    const state = this.stateOf(c);
    // Closing behind the app's replies (close-order.ts): nothing more is read from this client.
    if (this.#closeOrder.has(c)) return;
    let p = start;
    for (;;) {
      const ev = decode(core, state, p, end);
      if (ev === DecoderEvent.NEED_MORE) return;
      p = eventNext(core, state);
      switch (ev) {
        case DecoderEvent.DATA: {
          if (c.closeSent || c.appClosed) break; // data after our close frame is ignored
          const ptr = eventDataPtr(core, state);
          const len = eventDataLen(core, state);
          const flags = eventFlags(core, state);
          const first = (flags & DataFlag.FIRST) !== 0;
          const last = (flags & DataFlag.LAST) !== 0;
          const kind = (flags & DataFlag.TEXT) !== 0 ? DataKind.UTF8 : DataKind.BIN;
          const compressed = (flags & DataFlag.COMPRESSED) !== 0;
          if (first && last && compressed) {
            if (!this.#inflated(c, kind, u8.subarray(ptr, ptr + len))) return;
          } else if (first && last) {
            if (this.#fault !== null) this.#fault(u8.subarray(ptr, ptr + len));
            const rec = this.#inbound.reserve(c.appIndex, IN_HEADER_SIZE + len);
            this.#inbound.writeHeader(rec, Inbound.READ, kind, c.endpointId, c.id);
            if (rec.u8 === u8) core.exports.copy(rec.ptr + IN_HEADER_SIZE, ptr, len);
            else rec.u8.set(u8.subarray(ptr, ptr + len), rec.ptr + IN_HEADER_SIZE);
            this.#inbound.commit(c.appIndex, rec);
            this.#messages++;
          } else {
            // A message in several pieces (fragments, or reads): gathered by the budget's assembler.
            const budget = this.#budget;
            if (first) budget.begin(c, kind, c.lastRx);
            if (!last) {
              if (len > 0) budget.append(c, u8.subarray(ptr, ptr + len));
            } else if (compressed) {
              // The compressed pieces in one buffer, inflated as one message.
              const m = c.msg!;
              const all = Buffer.allocUnsafe(m.bytes + len);
              all.set(u8.subarray(ptr, ptr + len), m.copyTo(all, 0));
              const msgKind = m.kind;
              budget.release(c);
              if (!this.#inflated(c, msgKind, all)) return;
            } else {
              // The earlier pieces from the assembler, the last one straight from the read buffer.
              const m = c.msg!;
              const rec = this.#inbound.reserve(c.appIndex, IN_HEADER_SIZE + m.bytes + len);
              this.#inbound.writeHeader(rec, Inbound.READ, m.kind, c.endpointId, c.id);
              const at = m.copyTo(rec.u8, rec.ptr + IN_HEADER_SIZE);
              if (rec.u8 === u8) core.exports.copy(at, ptr, len);
              else rec.u8.set(u8.subarray(ptr, ptr + len), at);
              this.#inbound.commit(c.appIndex, rec);
              this.#messages++;
              budget.release(c);
            }
          }
          break;
        }
        case DecoderEvent.PING: {
          if (c.closeSent) break;
          const ptr = eventDataPtr(core, state);
          const len = eventDataLen(core, state);
          this.#output.write(c, encodeControlFrame(Opcode.PONG, u8.subarray(ptr, ptr + len)));
          break;
        }
        case DecoderEvent.PONG:
          break;
        case DecoderEvent.CLOSE: {
          const code = eventCloseCode(core, state);
          c.closeReceived = true;
          c.closeCode = code;
          // The close that ends the connection is the client's (ours came first: clients.ts sendClose).
          if (!c.closeSent) this.#metrics.closeCode(code);
          if (!c.closeSent) {
            // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a
            // Close frame, the endpoint MUST send a Close frame in response. ... the endpoint
            // typically echos the status code it received." and "An endpoint MAY delay sending a
            // Close frame until its current message is sent": the replies to earlier messages go first.
            const ptr = eventDataPtr(core, state);
            const len = eventDataLen(core, state);
            const reply = code === CloseCode.NO_STATUS ? encodeCloseFrame(0) : encodeCloseFrame(code, u8.subarray(ptr, ptr + len));
            this.#closeOrder.close(c, reply);
          } else {
            // RFC 6455 §7.1.1: "the server SHOULD close the underlying TCP connection first".
            this.#clients.finishTcp(c);
          }
          return;
        }
        case DecoderEvent.ERROR: {
          const err = eventError(core, state);
          this.#log.info(`client ${c.id}: ${err.code}: ${err.message} (closing with ${err.closeCode})`, undefined, { client: c.id });
          c.closeCode = err.closeCode;
          // RFC 6455 §7.1.7: "Fail the WebSocket Connection": our close frame (after the replies to
          // the valid messages before the error: close-order.ts), then close the TCP connection.
          if (!c.closeSent) this.#closeOrder.close(c, encodeCloseFrame(err.closeCode));
          else this.#clients.finishTcp(c);
          return;
        }
      }
    }
  }

  /**
   * A compressed message (RFC 7692 §7.2.2): inflated (deflate.ts) into a READ record, text checked
   * as UTF-8 once inflated. False: the client is being closed (1009 past max_ws_msg_size, 1007 for
   * invalid compressed data or invalid UTF-8) and nothing more is decoded.
   */
  #inflated(c: Conn, kind: number, payload: Uint8Array): boolean {
    const deflate = this.#deflate!;
    const r = deflate.inflate(c.deflate!, [payload]);
    if (r === Inflated.TOO_BIG) return this.#failMessage(c, CloseCode.MESSAGE_TOO_BIG, 'the compressed message inflates past max_ws_msg_size');
    if (r === Inflated.INVALID_DATA) return this.#failMessage(c, CloseCode.INVALID_PAYLOAD, 'invalid compressed data');
    const sink = deflate.sink;
    const n = sink.total;
    const rec = this.#inbound.reserve(c.appIndex, IN_HEADER_SIZE + n);
    this.#inbound.writeHeader(rec, Inbound.READ, kind, c.endpointId, c.id);
    const at = rec.ptr + IN_HEADER_SIZE;
    sink.copyTo(rec.u8, at);
    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the
    // byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
    // Connection_." The record is not committed: the next reservation replaces it.
    if (kind === DataKind.UTF8 && !(rec.u8 === this.#u8 ? this.#core.exports.utf8Validate(at, n, 0) === 0 : isUtf8(rec.u8.subarray(at, at + n)))) {
      return this.#failMessage(c, CloseCode.INVALID_PAYLOAD, 'the inflated text is not valid UTF-8');
    }
    this.#inbound.commit(c.appIndex, rec);
    this.#messages++;
    return true;
  }

  /** Closes `c` over a message the decoder passed but the inflation refused (as an ERROR event does). */
  #failMessage(c: Conn, code: number, why: string): false {
    this.#log.info(`client ${c.id}: ${why} (closing with ${code})`, undefined, { client: c.id });
    c.closeCode = code;
    if (!c.closeSent) this.#closeOrder.close(c, encodeCloseFrame(code));
    else this.#clients.finishTcp(c);
    return false;
  }
}
