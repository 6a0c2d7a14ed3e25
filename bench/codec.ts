// Codec benchmark: decode + unmask + validate throughput of our WebAssembly decoder against ws's
// Receiver, in the same process, on the same bytes.
//   npm run bench:codec            (BENCH_MS=<ms per measurement, default 400>, BENCH_ROUNDS=<default 3>)
//
// Workload: a stream of ~1 MiB of masked client frames (what a server receives) of one message size
// and kind, cut into 64 KiB reads (frames straddle reads, as on a socket). Each pass copies every
// read once into the decoder's input (ours: into the wasm scratch region; ws: into a fresh Buffer,
// because both unmask in place and the input must be pristine again), then decodes it all.
// Consumers: ours sums the DATA pieces' lengths (the daemon copies them into a ring next), and in
// the copy-out column also copies each message into its own Uint8Array, as ws does for its
// listener; ws's 'message' listener sums the lengths of the Buffers ws builds. The best of BENCH_ROUNDS rounds is
// reported for each, in payload MB/s, with ours ÷ ws ratios.
import { createRequire } from 'node:module';
import { compileCore, createMemory, instantiateCore } from '../src/core/wasm.ts';
import type { Core, CoreBuild } from '../src/core/wasm.ts';
import { FrameDecoder } from '../src/core/codec.ts';
import { DataFlag, DecoderEvent, Opcode, Role } from '../src/core/codes.ts';
import { DECODER_STATE_SIZE } from '../src/core/layout.ts';
import { MemoryPlan } from '../src/core/memory.ts';

const MS = Number(process.env.BENCH_MS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const READ = 64 * 1024;
const STREAM_BYTES = 1024 * 1024;
const SIZES = [16, 1024, 64 * 1024];
const MAX_PAYLOAD = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Input

function maskedFrame(opcode: number, payload: Uint8Array, key: Uint8Array): Uint8Array {
  const n = payload.length;
  const ext = n <= 125 ? 0 : n <= 0xffff ? 2 : 8;
  const f = new Uint8Array(2 + ext + 4 + n);
  f[0] = 0x80 | opcode;
  if (ext === 0) f[1] = 0x80 | n;
  else if (ext === 2) { f[1] = 0x80 | 126; f[2] = n >> 8; f[3] = n & 0xff; }
  else { f[1] = 0x80 | 127; new DataView(f.buffer).setUint32(6, n); }
  f.set(key, 2 + ext);
  for (let i = 0; i < n; i++) f[6 + ext + i] = payload[i] ^ key[i & 3];
  return f;
}

function payloadOf(size: number, text: boolean): Uint8Array {
  const p = new Uint8Array(size);
  // Text: ASCII, like most JSON traffic (the SIMD fast path); binary: arbitrary bytes.
  for (let i = 0; i < size; i++) p[i] = text ? 0x20 + ((i * 7) % 95) : (i * 131 + 17) & 0xff;
  return p;
}

interface Workload { name: string; size: number; text: boolean; reads: Uint8Array[]; messages: number; payloadBytes: number }

function workload(size: number, text: boolean): Workload {
  const payload = payloadOf(size, text);
  const frames: Uint8Array[] = [];
  let total = 0, messages = 0;
  while (total < STREAM_BYTES || messages < 4) {
    const key = Uint8Array.of(0x11 + messages, 0x22, 0x33 + (messages & 7), 0x44);
    const f = maskedFrame(text ? Opcode.TEXT : Opcode.BINARY, payload, key);
    frames.push(f);
    total += f.length;
    messages++;
  }
  const stream = new Uint8Array(total);
  let o = 0;
  for (const f of frames) { stream.set(f, o); o += f.length; }
  const reads: Uint8Array[] = [];
  for (let i = 0; i < total; i += READ) reads.push(stream.slice(i, i + READ));
  const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
  return { name: `${label} ${text ? 'text' : 'binary'}`, size, text, reads, messages, payloadBytes: messages * size };
}

// ---------------------------------------------------------------------------------------------
// Runners: each returns a function that decodes the whole workload once and returns bytes seen.

/** `copyOut`: also copy every message out into its own Uint8Array (what ws hands its listener). */
function oursRunner(core: Core, w: Workload, copyOut = false): () => number {
  const plan = new MemoryPlan(core.heapBase);
  const state = plan.alloc(DECODER_STATE_SIZE);
  const scratch = plan.alloc(READ);
  if (plan.bytes > core.u8.length) throw new Error('bench memory too small');
  const dec = new FrameDecoder(core, state, Role.SERVER, { maxMessageSize: MAX_PAYLOAD });
  const u8 = core.u8;
  return () => {
    let bytes = 0, messages = 0;
    for (const read of w.reads) {
      u8.set(read, scratch);
      let ptr = scratch;
      const end = scratch + read.length;
      while (ptr < end) {
        const ev = dec.decode(ptr, end);
        if (ev === DecoderEvent.DATA) {
          const n = dec.dataLen;
          if (copyOut) {
            const p = dec.dataPtr;
            bytes += u8.slice(p, p + n).length;
          } else {
            bytes += n;
          }
          if (dec.flags & DataFlag.LAST) messages++;
          ptr = dec.next;
        } else if (ev === DecoderEvent.NEED_MORE) {
          break;
        } else {
          throw new Error(`unexpected event ${ev}: ${dec.error.message}`);
        }
      }
    }
    if (messages !== w.messages) throw new Error(`ours decoded ${messages} messages, expected ${w.messages}`);
    return bytes;
  };
}

type ReceiverCtor = new (opts: object) => {
  on(ev: string, fn: (...a: never[]) => void): void;
  write(chunk: Buffer): boolean;
};

function wsRunner(Receiver: ReceiverCtor, w: Workload): () => number {
  let bytes = 0, messages = 0;
  let failure: Error | undefined;
  const rec = new Receiver({ isServer: true, maxPayload: MAX_PAYLOAD });
  rec.on('message', (data: Buffer) => { bytes += data.length; messages++; });
  rec.on('error', (e: Error) => { failure = e; });
  return () => {
    bytes = 0; messages = 0;
    for (const read of w.reads) {
      const b = Buffer.allocUnsafe(read.length);
      b.set(read);
      rec.write(b);
    }
    if (failure) throw failure;
    if (messages !== w.messages) throw new Error(`ws decoded ${messages} messages, expected ${w.messages}`);
    return bytes;
  };
}

/** Payload MB/s of `run`, measured for about MS milliseconds after a warm-up. */
function measure(run: () => number): number {
  for (let i = 0; i < 3; i++) run();
  let bytes = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    bytes += run();
    t = performance.now();
  } while (t - t0 < MS);
  return bytes / 1e6 / ((t - t0) / 1e3);
}

// ---------------------------------------------------------------------------------------------

/** ws's Receiver, loaded fresh with or without bufferutil (ws decides when it is first required). */
function loadWs(useBufferutil: boolean): ReceiverCtor {
  const require = createRequire(import.meta.url);
  for (const k of Object.keys(require.cache)) if (k.includes('/node_modules/ws/')) delete require.cache[k];
  if (useBufferutil) delete process.env.WS_NO_BUFFER_UTIL;
  else process.env.WS_NO_BUFFER_UTIL = '1';
  return require('ws').Receiver as ReceiverCtor;
}

let bufferutil = false;
try {
  await import('bufferutil' as string);
  bufferutil = true;
} catch {
  bufferutil = false;
}

const builds: CoreBuild[] = ['shared', 'private'];
const cores = new Map<CoreBuild, Core>();
for (const build of builds) {
  const module = await compileCore(build);
  cores.set(build, instantiateCore(module, createMemory(build, 4 * 1024 * 1024)));
}
const wsPlain = loadWs(false);
const wsBu = bufferutil ? loadWs(true) : undefined;

console.log(`codec benchmark: Node ${process.version}, ${process.arch}; best of ${ROUNDS} rounds of ${MS} ms; ` +
  `~1 MiB of masked client frames per pass in 64 KiB reads`);
console.log(bufferutil ? 'bufferutil: installed' : 'bufferutil: not installed (ws + bufferutil column skipped)');
const header = ['workload', 'msgs/pass', 'ours shared MB/s', 'ours private MB/s', 'ours shared + copy-out MB/s', 'ws MB/s', ...(wsBu ? ['ws+bufferutil MB/s'] : []), 'shared/ws', 'copy-out/ws', ...(wsBu ? ['shared/ws+bu'] : [])];
const rows: string[][] = [];
for (const size of SIZES) {
  for (const text of [true, false]) {
    const w = workload(size, text);
    const runners: [string, () => number][] = [
      ['shared', oursRunner(cores.get('shared')!, w)],
      ['private', oursRunner(cores.get('private')!, w)],
      ['copy', oursRunner(cores.get('shared')!, w, true)],
      ['ws', wsRunner(wsPlain, w)],
      ...(wsBu ? [['wsbu', wsRunner(wsBu, w)] as [string, () => number]] : []),
    ];
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of runners) best.set(name, Math.max(best.get(name) ?? 0, measure(run)));
    }
    const f = (x: number) => x.toFixed(x < 100 ? 1 : 0);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const s = best.get('shared')!, p = best.get('private')!, c = best.get('copy')!, ws = best.get('ws')!, bu = best.get('wsbu');
    rows.push([w.name, String(w.messages), f(s), f(p), f(c), f(ws), ...(bu ? [f(bu)] : []), ratio(s, ws), ratio(c, ws), ...(bu ? [ratio(s, bu)] : [])]);
    console.error(`  done: ${w.name}`);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log(line(header));
console.log('| ' + widths.map((n) => '-'.repeat(n)).join(' | ') + ' |');
for (const r of rows) console.log(line(r));
