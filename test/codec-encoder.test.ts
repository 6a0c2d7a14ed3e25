// The frame encoder (assembly/codec/encoder.ts via src/core/codec.ts) on both builds: byte-exact
// against the test frame builder, all three length forms, client masking, close frames, refusals,
// and round trips through our decoder and ws's Receiver.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { BUILDS, coreFor, regions, runDecoder, hexOf } from './helpers/chunking.ts';
import { frame, close as closeFrame } from './helpers/frames.ts';
import {
  frameHeaderSize, writeClose, writeFrame, writeFrameFrom, maskKeyToU32,
} from '../src/core/codec.ts';
import { CloseCode, Opcode, Role } from '../src/core/codes.ts';

const { Receiver } = createRequire(import.meta.url)('ws');
const payloadOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70000];
const KEY = Uint8Array.of(0x12, 0x34, 0x56, 0x78);

for (const build of BUILDS) {
  const Enc = suite(`encoder (${build} build)`);
  const core = coreFor(build);
  const { input: dst } = regions(core);
  const out = (size: number) => core.u8.slice(dst, dst + size);

  Enc('writes unmasked server frames in all three length forms', () => {
    for (const n of LENGTHS) {
      const p = payloadOf(n);
      const size = writeFrame(core, dst, Opcode.BINARY, p);
      assert.is(size, frameHeaderSize(n, false) + n);
      assert.equal(out(size), frame({ opcode: Opcode.BINARY, payload: p, mask: null }), `length ${n}`);
    }
  });

  Enc('writes masked client frames with the given key', () => {
    for (const n of LENGTHS) {
      const p = payloadOf(n);
      const size = writeFrame(core, dst, Opcode.TEXT, p, KEY);
      assert.equal(out(size), frame({ opcode: Opcode.TEXT, payload: p, mask: KEY }), `length ${n}`);
    }
  });

  Enc('writes client frames with a fresh random key each time', () => {
    const a = out(writeFrame(core, dst, Opcode.BINARY, payloadOf(10), true));
    const b = out(writeFrame(core, dst, Opcode.BINARY, payloadOf(10), true));
    assert.is(a[1] & 0x80, 0x80);
    assert.not.equal(Array.from(a.subarray(2, 6)), Array.from(b.subarray(2, 6)), 'two random keys differ (2^-32 chance of a false failure)');
    const msg = { type: 'binary', data: hexOf(payloadOf(10)) } as const;
    assert.equal(runDecoder(core, [a, b]), [msg, msg]);
  });

  Enc('agrees with the core on every header size', () => {
    for (const n of [...LENGTHS, 0xffffffff]) {
      for (const masked of [false, true]) assert.is(core.exports.frameHeaderSize(n, masked ? 1 : 0), frameHeaderSize(n, masked), `${n} ${masked}`);
    }
  });

  Enc('writes close frames with code and reason, and an empty one for 1005', () => {
    assert.equal(out(writeClose(core, dst, CloseCode.NORMAL, 'bye ✓')), closeFrame(1000, 'bye ✓', { mask: null }));
    assert.equal(out(writeClose(core, dst, 4000, 'x', KEY)), closeFrame(4000, 'x', { mask: KEY }));
    assert.equal(out(writeClose(core, dst, CloseCode.NO_STATUS)), Uint8Array.of(0x88, 0x00));
    assert.equal(out(writeClose(core, dst, 3000, 'r'.repeat(123))), closeFrame(3000, 'r'.repeat(123), { mask: null }));
    // Longer reasons are cut to 123 bytes, as every close frame's are (src/core/close.ts).
    assert.equal(out(writeClose(core, dst, 3000, 'r'.repeat(124))), closeFrame(3000, 'r'.repeat(123), { mask: null }));
  });

  Enc('refuses invalid close codes and long or fragmented control frames', () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 5000]) {
      assert.throws(() => writeClose(core, dst, code, code === 1005 ? 'x' : ''), /cannot send close code/);
    }
    assert.throws(() => writeFrame(core, dst, Opcode.PING, payloadOf(126)), /at most 125/);
    assert.is(writeFrame(core, dst, Opcode.PING, payloadOf(125)), 127);
    assert.is(core.exports.encodeFrameHeader(dst, Opcode.PING, 0, 0, 0, 0), 0, 'no fragmented control frames');
    assert.is(core.exports.encodeFrameHeader(dst, 3, 1, 0, 0, 0), 0, 'no unknown opcodes');
    assert.is(core.exports.encodeClose(dst, 999, 0, 0, 0, 0), 0);
  });

  Enc('encodes a payload already in place after the header (no copy)', () => {
    const p = payloadOf(300);
    const h = frameHeaderSize(300, true);
    core.u8.set(p, dst + h);
    const size = writeFrameFrom(core, dst, Opcode.BINARY, dst + h, 300, maskKeyToU32(KEY));
    assert.equal(out(size), frame({ opcode: Opcode.BINARY, payload: p, mask: KEY }));
  });

  Enc('round-trips client frames through our server decoder and server frames through our client decoder', () => {
    for (const n of LENGTHS) {
      const p = payloadOf(n);
      const c = out(writeFrame(core, dst, Opcode.BINARY, p, true));
      assert.equal(runDecoder(core, [c]), [{ type: 'binary', data: hexOf(p) }], `client ${n}`);
      const s = out(writeFrame(core, dst, Opcode.BINARY, p));
      assert.equal(runDecoder(core, [s], { role: Role.CLIENT }), [{ type: 'binary', data: hexOf(p) }], `server ${n}`);
    }
  });

  Enc('writes frames that ws decodes', () => {
    const got: string[] = [];
    const rec = new Receiver({ isServer: true, maxPayload: 1 << 20 });
    rec.on('message', (d: Buffer, bin: boolean) => got.push(`${bin ? 'bin' : 'text'}:${d.length}:${d.subarray(0, 3).toString('hex')}`));
    rec.on('ping', (d: Buffer) => got.push(`ping:${d.toString()}`));
    rec.on('conclude', (code: number, reason: Buffer) => got.push(`close:${code}:${reason.toString()}`));
    const frames = [
      out(writeFrame(core, dst, Opcode.TEXT, new TextEncoder().encode('héllo'), true)),
      out(writeFrame(core, dst, Opcode.BINARY, payloadOf(70000), true)),
      out(writeFrame(core, dst, Opcode.PING, new TextEncoder().encode('p'), true)),
      out(writeClose(core, dst, 1001, 'away', true)),
    ];
    for (const f of frames) rec._write(Buffer.from(f), 'buffer', (e?: Error) => { if (e) throw e; });
    assert.equal(got, ['text:6:68c3a9', `bin:70000:${hexOf(payloadOf(3))}`, 'ping:p', 'close:1001:away']);
  });

  Enc.run();
}
