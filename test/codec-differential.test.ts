// Differential test: seeded random frame sequences, valid and invalid, decoded by our decoder (both
// builds, input cut at random points) and by ws's Receiver (the oracle: isServer, maxPayload equal
// to our maxMessageSize) must give the same messages, pings, pongs, close frames and close codes.
//   DIFF_SEEDS=20000 node test/codec-differential.test.ts   more sequences (default 3000)
//   DIFF_SEED=1234 node test/codec-differential.test.ts     replay one seed (prints its frames)
//
// Where the two decoders legitimately differ, the generator avoids the case (and a unit test in
// test/codec.test.ts covers ours):
// - ws validates UTF-8 when a text message completes; we fail at the first invalid byte. So after
//   the fragment holding an invalid byte, a generated message carries no more control frames, and
//   it always completes (then the sequence ends).
// - A 64-bit length with the top bit set: ws says 1009 (length > 2^53 - 1), we say 1002 as
//   RFC 6455 §5.2 requires. Not generated here.
// - ws has no frame-chain or fragment-count limit by default: ours are set to NO_LIMIT here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { BUILDS, coreFor, rng, randInt, runDecoder, hexOf, BIG_PAYLOAD } from './helpers/chunking.ts';
import type { Decoded } from './helpers/chunking.ts';
import { frame, closeBody, concatAll } from './helpers/frames.ts';
import { NO_LIMIT } from '../src/core/codec.ts';
import { Opcode, Role } from '../src/core/codes.ts';

const require = createRequire(import.meta.url);
const { Receiver } = require('ws');
/** ws keeps an error's close code under its private Symbol('status-code'). */
function wsStatusCode(e: Error): number {
  const sym = Object.getOwnPropertySymbols(e).find((s) => s.description === 'status-code');
  if (!sym) throw new Error(`ws error without a status code: ${e.message}`);
  return (e as unknown as Record<symbol, number>)[sym];
}

type Outcome = Decoded | { type: 'error'; closeCode: number };

const td = new TextDecoder('utf-8', { fatal: true });
const textOf = (b: Uint8Array) => (b.length <= BIG_PAYLOAD ? td.decode(b) : hexOf(b));

/** ws's view of the byte stream, fed in the given chunks. */
function runWs(chunks: Uint8Array[], isServer: boolean, maxPayload: number): Outcome[] {
  const out: Outcome[] = [];
  const rec = new Receiver({ isServer, maxPayload });
  let closed = false;
  rec.on('message', (data: Buffer, isBinary: boolean) => {
    out.push(isBinary ? { type: 'binary', data: hexOf(data) } : { type: 'text', data: textOf(data) });
  });
  rec.on('ping', (d: Buffer) => out.push({ type: 'ping', data: hexOf(d) }));
  rec.on('pong', (d: Buffer) => out.push({ type: 'pong', data: hexOf(d) }));
  rec.on('conclude', (code: number, reason: Buffer) => {
    out.push({ type: 'close', code, reason: td.decode(reason) });
    closed = true;
  });
  rec.on('error', () => {}); // errors arrive through the write callback below
  for (const chunk of chunks) {
    if (closed) break;
    let error: Error | undefined;
    // The Writable's own _write, called directly: synchronous, errors handed to the callback.
    rec._write(Buffer.from(chunk), 'buffer', (e?: Error) => { if (e) error = e; });
    if (error) {
      out.push({ type: 'error', closeCode: wsStatusCode(error) });
      break;
    }
  }
  return out;
}

function runOurs(build: (typeof BUILDS)[number], chunks: Uint8Array[], role: Role, maxMessageSize: number): Outcome[] {
  const got = runDecoder(coreFor(build), chunks, { role, maxMessageSize, maxFrameChainSize: NO_LIMIT, maxFragments: NO_LIMIT });
  return got.map((d) => (d.type === 'error' ? { type: 'error', closeCode: d.closeCode } : d));
}

// ---------------------------------------------------------------------------------------------
// The generator

const te = new TextEncoder();
const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0xaf], [0xc1, 0x81], [0xf5, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xe0, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]];

interface Case {
  input: Uint8Array;
  role: Role;
  maxPayload: number;
  story: string[];
}

function generate(seed: number): Case {
  const r = rng(seed);
  const role = r() < 0.8 ? Role.SERVER : Role.CLIENT;
  const maxPayload = [50, 300, 1000, 70000][randInt(r, 0, 3)];
  const frames: Uint8Array[] = [];
  const story: string[] = [];
  const key = () => (role === Role.SERVER ? Uint8Array.from({ length: 4 }, () => randInt(r, 0, 255)) : null);
  const form = (len: number): 7 | 16 | 64 | undefined => {
    const roll = r();
    if (roll < 0.85) return undefined;
    if (roll < 0.93 && len <= 0xffff) return 16;
    return 64;
  };
  const bytesOf = (n: number) => Uint8Array.from({ length: n }, () => randInt(r, 0, 255));
  const textBytes = (n: number): Uint8Array => {
    let s = '';
    let bytes = 0;
    while (bytes < n) {
      const roll = r();
      const cp = roll < 0.6 ? randInt(r, 0x20, 0x7e)
        : roll < 0.75 ? randInt(r, 0x80, 0x7ff)
        : roll < 0.9 ? (() => { let c; do c = randInt(r, 0x800, 0xffff); while (c >= 0xd800 && c <= 0xdfff); return c; })()
        : randInt(r, 0x10000, 0x10ffff);
      s += String.fromCodePoint(cp);
      bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }
    return te.encode(s);
  };
  const control = (): Uint8Array => {
    const opcode = r() < 0.6 ? Opcode.PING : Opcode.PONG;
    const payload = bytesOf(r() < 0.8 ? randInt(r, 0, 20) : randInt(r, 0, 125));
    story.push(`${opcode === Opcode.PING ? 'ping' : 'pong'}(${payload.length})`);
    return frame({ opcode, payload, mask: key(), lengthForm: r() < 0.05 ? 16 : undefined });
  };
  const push = (f: Uint8Array) => frames.push(f);

  const nMessages = randInt(r, 0, 5);
  const faultAt = r() < 0.6 ? randInt(r, 0, nMessages) : -1;
  for (let m = 0; m <= nMessages; m++) {
    if (m === faultAt) {
      fault(r, push, key, story, maxPayload, role, bytesOf, textBytes, control);
      return { input: concatAll(frames), role, maxPayload, story };
    }
    if (m === nMessages) break;
    if (r() < 0.2) push(control());
    const isText = r() < 0.5;
    const big = r() < 0.05;
    const len = big ? randInt(r, 126, 70000) : randInt(r, 0, 200);
    const payload = isText ? textBytes(len) : bytesOf(len);
    const nFrag = r() < 0.5 ? 1 : randInt(r, 2, 6);
    const cuts = Array.from({ length: nFrag - 1 }, () => randInt(r, 0, payload.length)).sort((a, b) => a - b);
    const bounds = [0, ...cuts, payload.length];
    story.push(`${isText ? 'text' : 'binary'}(${payload.length}) in ${nFrag}`);
    for (let i = 0; i < nFrag; i++) {
      const piece = payload.subarray(bounds[i], bounds[i + 1]);
      push(frame({ opcode: i === 0 ? (isText ? Opcode.TEXT : Opcode.BINARY) : Opcode.CONTINUATION, fin: i === nFrag - 1, payload: piece, mask: key(), lengthForm: form(piece.length) }));
      if (i < nFrag - 1 && r() < 0.3) push(control());
    }
  }
  // Sometimes end in the middle of a frame: neither decoder reports anything more.
  if (r() < 0.2 && frames.length) {
    const last = frames[frames.length - 1];
    frames[frames.length - 1] = last.subarray(0, randInt(r, 0, last.length - 1));
    story.push('cut');
  }
  return { input: concatAll(frames), role, maxPayload, story };
}

function fault(
  r: () => number, push: (f: Uint8Array) => void, key: () => Uint8Array | null, story: string[],
  maxPayload: number, role: Role, bytesOf: (n: number) => Uint8Array, textBytes: (n: number) => Uint8Array,
  control: () => Uint8Array,
): void {
  const kind = randInt(r, 0, 13);
  const openFirst = () => {
    const isText = r() < 0.5;
    push(frame({ opcode: isText ? Opcode.TEXT : Opcode.BINARY, fin: false, payload: isText ? textBytes(randInt(r, 0, 30)) : bytesOf(randInt(r, 0, 30)), mask: key() }));
    if (r() < 0.5) push(control());
  };
  story.push(`fault ${kind}`);
  switch (kind) {
    case 0: { // RSV bits
      if (r() < 0.5) openFirst();
      push(frame({ opcode: [Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.CONTINUATION][randInt(r, 0, 3)], rsv: randInt(r, 1, 7), payload: bytesOf(3), mask: key() }));
      break;
    }
    case 1: // unknown opcode
      push(frame({ opcode: [3, 4, 5, 6, 7, 11, 12, 13, 14, 15][randInt(r, 0, 9)], payload: bytesOf(randInt(r, 0, 10)), mask: key() }));
      break;
    case 2: // wrong masking for the role
      push(frame({ opcode: Opcode.TEXT, payload: 'x', mask: role === Role.SERVER ? null : Uint8Array.of(1, 2, 3, 4) }));
      break;
    case 3: // continuation without a message
      push(frame({ opcode: Opcode.CONTINUATION, fin: r() < 0.5, payload: bytesOf(5), mask: key() }));
      break;
    case 4: // new data frame inside a fragmented message
      openFirst();
      push(frame({ opcode: r() < 0.5 ? Opcode.TEXT : Opcode.BINARY, payload: 'a', mask: key() }));
      break;
    case 5: // fragmented control frame
      if (r() < 0.5) openFirst();
      push(frame({ opcode: [Opcode.PING, Opcode.PONG, Opcode.CLOSE][randInt(r, 0, 2)], fin: false, payload: bytesOf(2), mask: key() }));
      break;
    case 6: // control frame over 125 bytes
      push(frame({ opcode: [Opcode.PING, Opcode.PONG, Opcode.CLOSE][randInt(r, 0, 2)], payload: bytesOf(randInt(r, 126, 300)), mask: key() }));
      break;
    case 7: // 1-byte close payload
      push(frame({ opcode: Opcode.CLOSE, payload: bytesOf(1), mask: key() }));
      break;
    case 8: { // close code, valid or not
      const code = r() < 0.5 ? [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999][randInt(r, 0, 7)] : [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535][randInt(r, 0, 8)];
      if (r() < 0.3) openFirst();
      push(frame({ opcode: Opcode.CLOSE, payload: closeBody(code, textBytes(randInt(r, 0, 40)).subarray(0, 60)), mask: key() }));
      break;
    }
    case 9: { // close reason with invalid UTF-8
      const bad = INVALID_UTF8[randInt(r, 0, INVALID_UTF8.length - 1)];
      push(frame({ opcode: Opcode.CLOSE, payload: concatAll([closeBody(1000, 'ab'), Uint8Array.from(bad), te.encode('cd')]), mask: key() }));
      break;
    }
    case 10: // empty close
      push(frame({ opcode: Opcode.CLOSE, mask: key() }));
      break;
    case 11: { // text message with an invalid byte (or cut-off sequence at its end), fragmented
      // Within maxPayload: ws would report 1009 for a later oversize fragment, where we already
      // failed at the invalid byte.
      const room = Math.min(40, Math.floor((maxPayload - 4) / 2) - 4);
      const before = textBytes(randInt(r, 0, room));
      const after = textBytes(randInt(r, 0, room));
      const truncate = r() < 0.3;
      const bad = truncate ? Uint8Array.of(0xf0, 0x9f, 0x98) : Uint8Array.from(INVALID_UTF8[randInt(r, 0, INVALID_UTF8.length - 1)]);
      const payload = truncate ? concatAll([before, bad]) : concatAll([before, bad, after]);
      const badAt = before.length;
      const nFrag = randInt(r, 1, 4);
      const cuts = Array.from({ length: nFrag - 1 }, () => randInt(r, 0, payload.length)).sort((a, b) => a - b);
      const bounds = [0, ...cuts, payload.length];
      for (let i = 0; i < nFrag; i++) {
        push(frame({ opcode: i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, fin: i === nFrag - 1, payload: payload.subarray(bounds[i], bounds[i + 1]), mask: key() }));
        // Control frames only while the invalid byte is still ahead (see the top of the file).
        if (i < nFrag - 1 && bounds[i + 1] <= badAt && !truncate && r() < 0.5) push(control());
      }
      break;
    }
    case 12: { // over maxPayload, in one frame or across fragments: only the header needs to arrive
      const firstLen = randInt(r, 0, maxPayload);
      const over = maxPayload - firstLen + randInt(r, 1, 100000);
      const fragmented = r() < 0.5;
      if (fragmented) {
        push(frame({ opcode: Opcode.BINARY, fin: false, payload: bytesOf(firstLen), mask: key() }));
        if (r() < 0.5) push(control());
      }
      const header = frame({ opcode: fragmented ? Opcode.CONTINUATION : Opcode.TEXT, declaredLength: fragmented ? over : maxPayload + randInt(r, 1, 100000), mask: key() });
      push(header.subarray(0, header.length - (role === Role.SERVER ? 4 : 0))); // up to the length
      break;
    }
    default: { // a message of exactly maxPayload bytes in pieces: passes
      const payload = bytesOf(maxPayload);
      const half = randInt(r, 0, maxPayload);
      push(frame({ opcode: Opcode.BINARY, fin: false, payload: payload.subarray(0, half), mask: key() }));
      push(control());
      push(frame({ opcode: Opcode.CONTINUATION, payload: payload.subarray(half), mask: key() }));
      break;
    }
  }
  // Bytes after the fault must not matter.
  if (r() < 0.3) push(bytesOf(randInt(r, 1, 20)));
}

function randomChunks(r: () => number, input: Uint8Array): Uint8Array[] {
  if (input.length < 2 || r() < 0.3) return [input];
  const cuts = Array.from({ length: randInt(r, 1, Math.min(12, input.length - 1)) }, () => randInt(r, 1, input.length - 1)).sort((a, b) => a - b);
  const bounds = [0, ...cuts, input.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(input.subarray(bounds[i], bounds[i + 1]));
  return out;
}

// ---------------------------------------------------------------------------------------------

const Diff = suite('decoder vs ws Receiver');

function compareSeed(seed: number): string | null {
  const c = generate(seed);
  const want = runWs([c.input], c.role === Role.SERVER, c.maxPayload);
  const r = rng(seed ^ 0x9e3779b9);
  for (const build of BUILDS) {
    for (const chunks of [[c.input], randomChunks(r, c.input)]) {
      const got = runOurs(build, chunks, c.role, c.maxPayload);
      const a = JSON.stringify(got), b = JSON.stringify(want);
      if (a !== b) {
        return `seed ${seed} (${build} build, ${chunks.length} chunks; role ${c.role ? 'client' : 'server'}, maxPayload ${c.maxPayload}): ${c.story.join(' ')}\n` +
          `  ours ${a.slice(0, 400)}\n  ws   ${b.slice(0, 400)}\n  replay: DIFF_SEED=${seed} node test/codec-differential.test.ts`;
      }
    }
  }
  return null;
}

Diff('gives the same messages and close codes as ws on random frame sequences', () => {
  const only = process.env.DIFF_SEED;
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: Number(process.env.DIFF_SEEDS ?? 3000) }, (_, i) => i + 1);
  let errors = 0, closes = 0;
  for (const seed of seeds) {
    if (only !== undefined) console.log(generate(seed).story.join(' '));
    const mismatch = compareSeed(seed);
    if (mismatch) assert.unreachable(mismatch);
    const c = generate(seed);
    const outcome = runWs([c.input], c.role === Role.SERVER, c.maxPayload).at(-1);
    if (outcome?.type === 'error') errors++;
    if (outcome?.type === 'close') closes++;
  }
  // The generator must exercise both sides: plenty of failures and of clean runs.
  if (only === undefined) {
    assert.ok(errors > seeds.length / 10, `${errors} of ${seeds.length} sequences end in an error`);
    assert.ok(closes > seeds.length / 50, `${closes} of ${seeds.length} sequences end in a close`);
  }
});

Diff('covers every close code ws produces: 1002, 1007 and 1009', () => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 600; seed++) {
    const c = generate(seed);
    const last = runWs([c.input], c.role === Role.SERVER, c.maxPayload).at(-1);
    if (last?.type === 'error') seen.add(last.closeCode);
  }
  assert.equal([...seen].sort(), [1002, 1007, 1009]);
});

Diff.run();
