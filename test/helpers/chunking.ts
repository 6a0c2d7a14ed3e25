// Re-chunking harness for the codec tests: the same input fed whole, byte by byte, split at every
// byte boundary, and cut at seeded random points, through the decoder of each WebAssembly build
// (shared and private memory), must give identical results. Also: loading both builds over their own
// memories, and running a decoder over a list of chunks the way a host does.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DecoderEvent, DataFlag, DECODER_ERRORS, Role } from '../../src/core/codes.ts';
import type { DecoderLimits } from '../../src/core/codec.ts';
import { FrameDecoder } from '../../src/core/codec.ts';
import { DECODER_STATE_SIZE } from '../../src/core/layout.ts';
import { compileCore, createMemory, instantiateCore } from '../../src/core/wasm.ts';
import type { Core, CoreBuild } from '../../src/core/wasm.ts';

export type Build = CoreBuild;
export const BUILDS: readonly Build[] = ['shared', 'private'];

export interface TestCore extends Core {
  readonly build: Build;
}

// Compiled once per test process (the loader checks imports and exports).
const modules: Record<Build, WebAssembly.Module> = {
  shared: await compileCore('shared'),
  private: await compileCore('private'),
};

/** Instantiates `build` over a fresh memory of `bytes` bytes (its own; shared for the shared build). */
export function loadCore(build: Build, bytes = 4 * 1024 * 1024): TestCore {
  return { ...instantiateCore(modules[build], createMemory(build, bytes)), build };
}

const cores = new Map<Build, TestCore>();
/** One cached core per build (re-created only when a bigger memory is needed). */
export function coreFor(build: Build, minBytes = 4 * 1024 * 1024): TestCore {
  let c = cores.get(build);
  if (!c || c.u8.length < minBytes) {
    c = loadCore(build, Math.max(minBytes, 4 * 1024 * 1024));
    cores.set(build, c);
  }
  return c;
}

/** Addresses the harness uses in a core: a state block and an input region above heapBase. */
export function regions(core: TestCore): { state: number; input: number } {
  const state = (core.heapBase + 63) & ~63;
  return { state, input: state + ((DECODER_STATE_SIZE + 63) & ~63) };
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): failing seeds can be replayed.

import { rng } from './random.ts';
export { rng };
export const randInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

// ---------------------------------------------------------------------------------------------
// Chunkings

export interface Chunking {
  name: string;
  chunks: Uint8Array[];
}

export interface ChunkingOptions {
  /** Split at every byte boundary when the input is at most this long (default 4096); else sample. */
  everySplitMax?: number;
  /** Byte-by-byte feeding when the input is at most this long (default 1 MiB). */
  byteByByteMax?: number;
  /** For long inputs: every split in the first and last this many bytes (default 256). */
  edgeSplits?: number;
  /** For long inputs: this many random split points (default 256). */
  sampledSplits?: number;
  /** How many random multi-cut chunkings (default 8). */
  randomCuts?: number;
  seed?: number;
}

/** Whole, byte by byte, every 2-way split (or a sample of them for long inputs), random cuts. */
export function* chunkings(input: Uint8Array, opts: ChunkingOptions = {}): Generator<Chunking> {
  const n = input.length;
  yield { name: 'whole', chunks: [input] };
  if (n <= (opts.byteByByteMax ?? 1024 * 1024) && n > 1) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < n; i++) chunks.push(input.subarray(i, i + 1));
    yield { name: 'byte by byte', chunks };
  }
  const r = rng(opts.seed ?? 0x5eed);
  if (n <= (opts.everySplitMax ?? 4096)) {
    for (let i = 1; i < n; i++) yield { name: `split at ${i}`, chunks: [input.subarray(0, i), input.subarray(i)] };
  } else {
    // Every split near both ends (headers, the last frame), then sampled points.
    const edge = opts.edgeSplits ?? 256;
    const points = new Set<number>();
    for (let i = 1; i < Math.min(n, edge + 1); i++) points.add(i);
    for (let i = Math.max(1, n - edge); i < n; i++) points.add(i);
    for (let k = 0; k < (opts.sampledSplits ?? 256); k++) points.add(randInt(r, 1, n - 1));
    for (const i of [...points].sort((a, b) => a - b)) {
      yield { name: `split at ${i} (sampled)`, chunks: [input.subarray(0, i), input.subarray(i)] };
    }
  }
  for (let k = 0; k < (opts.randomCuts ?? 8) && n > 2; k++) {
    const cuts = new Set<number>();
    const count = randInt(r, 2, Math.min(n - 1, 32));
    while (cuts.size < count) cuts.add(randInt(r, 1, n - 1));
    const sorted = [0, ...[...cuts].sort((a, b) => a - b), n];
    const chunks: Uint8Array[] = [];
    for (let i = 0; i + 1 < sorted.length; i++) chunks.push(input.subarray(sorted[i], sorted[i + 1]));
    yield { name: `random cuts #${k} (${sorted.slice(1, -1).join(',')})`, chunks };
  }
}

// ---------------------------------------------------------------------------------------------
// Running a decoder the way a host does

export type Decoded =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: string } // hex
  | { type: 'ping'; data: string } // hex
  | { type: 'pong'; data: string } // hex
  | { type: 'close'; code: number; reason: string }
  /** A compressed message (permessage-deflate): its compressed bytes as hex. */
  | { type: 'compressed'; text: boolean; data: string }
  | { type: 'error'; code: string; closeCode: number; message: string };

const td = new TextDecoder('utf-8', { fatal: true });
/** Payloads as hex (or, past 4 KiB, their length and SHA-256, to keep comparisons cheap). */
export const BIG_PAYLOAD = 4096;
export function hexOf(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return b.length <= BIG_PAYLOAD ? buf.toString('hex') : `${b.length} bytes, sha256 ${createHash('sha256').update(buf).digest('hex')}`;
}
function textOf(b: Uint8Array): string {
  const s = td.decode(b); // throws on invalid UTF-8: the decoder must never pass any
  return b.length <= BIG_PAYLOAD ? s : hexOf(b);
}

export interface RunOptions extends DecoderLimits {
  role?: Role;
}

/**
 * Feeds `chunks` one after another through a fresh decoder (each chunk copied to the same input
 * region, like a socket read into a scratch buffer) and reassembles the events. Checks the DATA
 * invariants on the way (pieces inside the chunk, FIRST exactly once, TEXT constant, LAST ends).
 */
export function runDecoder(core: TestCore, chunks: readonly Uint8Array[], opts: RunOptions = {}): Decoded[] {
  const { state, input } = regions(core);
  const dec = new FrameDecoder(core, state, opts.role ?? Role.SERVER, opts);
  const out: Decoded[] = [];
  let pieces: Uint8Array[] = [];
  let inMessage = false;
  let textMessage = false;
  let compressedMessage = false;
  let calls = 0;
  const maxCalls = 64 + chunks.reduce((a, c) => a + c.length, 0) * 4 + chunks.length * 4;
  for (const chunk of chunks) {
    if (input + chunk.length > core.u8.length) throw new Error('chunk does not fit the test memory');
    core.u8.set(chunk, input);
    let ptr = input;
    const end = input + chunk.length;
    for (;;) {
      if (++calls > maxCalls) throw new Error('decoder does not make progress');
      const ev = dec.decode(ptr, end);
      const next = dec.next;
      if (ev === DecoderEvent.NEED_MORE) {
        if (next !== end) throw new Error(`NEED_MORE with next ${next} != end ${end}`);
        break;
      }
      if (ev === DecoderEvent.ERROR) {
        const e = dec.error;
        if (dec.closeCode !== e.closeCode) throw new Error(`close code ${dec.closeCode} != table ${e.closeCode}`);
        out.push({ type: 'error', code: e.code, closeCode: e.closeCode, message: e.message });
        return out;
      }
      if (next < ptr || next > end) throw new Error(`next ${next} outside [${ptr}, ${end}]`);
      if (ev === DecoderEvent.DATA) {
        const flags = dec.flags;
        const p = dec.dataPtr, n = dec.dataLen;
        if (p < ptr || p + n !== next) throw new Error(`DATA piece [${p}, +${n}) is not right before next ${next}`);
        const first = (flags & DataFlag.FIRST) !== 0;
        const isText = (flags & DataFlag.TEXT) !== 0;
        if (first === inMessage) throw new Error(`DATA FIRST flag ${first} while inMessage ${inMessage}`);
        const compressed = (flags & DataFlag.COMPRESSED) !== 0;
        if (first) { inMessage = true; textMessage = isText; compressedMessage = compressed; }
        else if (isText !== textMessage) throw new Error('DATA TEXT flag changed inside a message');
        else if (compressed !== compressedMessage) throw new Error('DATA COMPRESSED flag changed inside a message');
        pieces.push(core.u8.slice(p, p + n));
        if (flags & DataFlag.LAST) {
          let len = 0;
          for (const x of pieces) len += x.length;
          const all = new Uint8Array(len);
          let o = 0;
          for (const x of pieces) { all.set(x, o); o += x.length; }
          out.push(compressedMessage ? { type: 'compressed', text: textMessage, data: hexOf(all) }
            : textMessage ? { type: 'text', data: textOf(all) } : { type: 'binary', data: hexOf(all) });
          pieces = [];
          inMessage = false;
        }
      } else if (ev === DecoderEvent.PING || ev === DecoderEvent.PONG) {
        out.push({ type: ev === DecoderEvent.PING ? 'ping' : 'pong', data: hexOf(dec.data) });
      } else if (ev === DecoderEvent.CLOSE) {
        out.push({ type: 'close', code: dec.closeCode, reason: td.decode(dec.data) });
        return out;
      } else {
        throw new Error(`unknown event ${ev}`);
      }
      ptr = next;
    }
  }
  return out;
}

/** The error entry a test expects, from the table (so a test asserts the whole error). */
export function expectedError(code: string): Decoded {
  const e = DECODER_ERRORS.find((x) => x.code === code);
  if (!e) throw new Error(`no such error ${code}`);
  return { type: 'error', code: e.code, closeCode: e.closeCode, message: e.message };
}

export interface ExpectOptions extends RunOptions, ChunkingOptions {}

/**
 * Decodes `input` on both builds under every chunking and returns the first mismatch against
 * `expected` (or null). Use with assert: `assert.is(checkAllChunkings(...), null)`.
 */
export function checkAllChunkings(input: Uint8Array, expected: readonly Decoded[], opts: ExpectOptions = {}): string | null {
  for (const build of BUILDS) {
    const core = coreFor(build, input.length + 1024 * 1024);
    for (const c of chunkings(input, opts)) {
      let got: Decoded[];
      try {
        got = runDecoder(core, c.chunks, opts);
      } catch (e) {
        return `${build} build, ${c.name}: ${(e as Error).message}`;
      }
      const a = JSON.stringify(got), b = JSON.stringify(expected);
      if (a !== b) return `${build} build, ${c.name}:\n${diff(a, b)}`;
    }
  }
  return null;
}

/** The two JSON texts around their first difference. */
function diff(got: string, want: string): string {
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  const from = Math.max(0, i - 120);
  const cut = (s: string) => (from > 0 ? '…' : '') + s.slice(from, i + 200) + (s.length > i + 200 ? `… (${s.length} chars)` : '');
  return `  got      ${cut(got)}\n  expected ${cut(want)}`;
}

// ---------------------------------------------------------------------------------------------
// Twins: AssemblyScript constants read from source, to compare with their TypeScript mirrors.

/**
 * Every `export const NAME: type = <integer>;` of an AssemblyScript file (any other export const
 * fails), or with `declaration` '@inline const' every `@inline const NAME: type = <integer>;`.
 */
export function readAsConstants(path: URL, declaration: 'export const' | '@inline const' = 'export const'): Map<string, number> {
  const out = new Map<string, number>();
  const pattern = new RegExp(`^${declaration} ([A-Z0-9_]+): (?:u8|u16|u32|i32|usize) = (0x[0-9a-f]+|\\d+);`, 'i');
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith(`${declaration} `)) continue;
    const m = pattern.exec(line);
    if (!m) throw new Error(`not a plain integer constant: ${line}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}
