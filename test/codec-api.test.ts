// `ringsocket/codec` (src/codec/index.ts) in Node: client frames against the independent frame
// builder of test/helpers/frames.ts (every length form, both key forms), close frames under the
// daemon's close rule, server frames decoded with the daemon's checks and limits, and the loader's
// sources. test/browser-codec.test.ts runs the same API in Chromium from the installed package.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import {
  createCodec, compileCodec, readFrameHeader, Codec, CoreLoadError, CloseCode,
} from '../src/codec/index.ts';
import type { CodecEvent } from '../src/codec/index.ts';
import { frame, close, closeBody, concat, cont, text, binary, ping, TEST_MASK } from './helpers/frames.ts';
import { guardSetup } from './helpers/daemon-exit.ts';

const Api = suite('ringsocket/codec');
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const payloadOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
const KEY_U32 = (TEST_MASK[0] | (TEST_MASK[1] << 8) | (TEST_MASK[2] << 16) | (TEST_MASK[3] << 24)) >>> 0;
const OPCODES = { text: 1, binary: 2, ping: 9, pong: 10 } as const;

let codec: Codec;
// guardSetup: a failing createCodec() fails every test (uvu drops a bare before hook's error).
guardSetup(Api, 'createCodec()', async () => { codec = await createCodec(); });

Api('client frames equal the reference builder byte for byte: every length form, both key forms', () => {
  for (const n of [0, 1, 125, 126, 1000, 65535, 65536, 70000]) {
    const p = payloadOf(n);
    for (const kind of ['binary', 'text'] as const) {
      const payload = kind === 'text' ? 'x'.repeat(n) : p;
      const want = frame({ opcode: OPCODES[kind], payload });
      assert.is(hexOf(codec.frame(kind, payload, TEST_MASK)), hexOf(want), `${kind} ${n} bytes, key as bytes`);
      assert.is(hexOf(codec.frame(kind, payload, KEY_U32)), hexOf(want), `${kind} ${n} bytes, key as u32`);
      assert.is(hexOf(codec.serverFrame(kind, payload)), hexOf(frame({ opcode: OPCODES[kind], payload, mask: null })), `server ${kind} ${n}`);
    }
    const h = readFrameHeader(codec.frame('binary', p, TEST_MASK))!;
    assert.is(h.lengthForm, n <= 125 ? 7 : n <= 65535 ? 16 : 64);
    assert.is(h.payloadLength, n);
    assert.is(h.headerSize, (n <= 125 ? 2 : n <= 65535 ? 4 : 10) + 4);
    assert.equal([...h.maskKey!], [...TEST_MASK]);
    assert.ok(h.fin && h.masked && h.rsv === 0 && h.opcode === 2);
  }
  for (const kind of ['ping', 'pong'] as const) {
    assert.is(hexOf(codec.frame(kind, 'p', TEST_MASK)), hexOf(frame({ opcode: OPCODES[kind], payload: 'p' })));
    assert.is(hexOf(codec.frame(kind, payloadOf(125), TEST_MASK)), hexOf(frame({ opcode: OPCODES[kind], payload: payloadOf(125) })));
  }
  assert.is(hexOf(codec.frame('text', 'héllo ✓', TEST_MASK)), hexOf(text('héllo ✓')), 'a string is sent as UTF-8');
});

Api('without a key each frame gets a fresh random one, and still carries the payload', () => {
  const a = codec.frame('text', 'same');
  const b = codec.frame('text', 'same');
  assert.is.not(hexOf(readFrameHeader(a)!.maskKey!), hexOf(readFrameHeader(b)!.maskKey!));
  for (const f of [a, b]) assert.equal(codec.decode(f, { from: 'client' }).map((e) => e.type === 'text' && e.text), ['same']);
});

Api('close frames: code and reason, 1005 = empty body, long reasons cut at a UTF-8 boundary, bad codes refused', () => {
  assert.is(hexOf(codec.close(1000, 'bye', TEST_MASK)), hexOf(close(1000, 'bye')));
  assert.is(hexOf(codec.close(undefined, undefined, TEST_MASK)), hexOf(close(1000)));
  assert.is(hexOf(codec.close(CloseCode.NO_STATUS, '', TEST_MASK)), hexOf(close()));
  assert.is(hexOf(codec.serverClose(4001, 'bad name')), hexOf(close(4001, 'bad name', { mask: null })));
  const long = 'é'.repeat(70); // 140 bytes: cut to 61 whole characters (122 bytes), not 123
  const cut = codec.decode(codec.serverClose(1000, long));
  assert.equal(cut, [{ type: 'close', code: 1000, reason: 'é'.repeat(61) }]);
  for (const code of [0, 999, 1004, 1005.5, 1006, 1015, 2999, 5000]) {
    assert.throws(() => codec.close(code, 'x'), RangeError, `code ${code}`);
  }
  assert.throws(() => codec.close(CloseCode.NO_STATUS, 'reason without a code'), RangeError);
});

Api('refused: control frames over 125 bytes, text bytes that are not UTF-8, close or unknown kinds through frame()', () => {
  assert.throws(() => codec.frame('ping', payloadOf(126)), RangeError);
  assert.throws(() => codec.frame('pong', payloadOf(126)), RangeError);
  assert.throws(() => codec.frame('text', Uint8Array.of(0x61, 0xff)), /not \(the daemon would close with 1007\)/);
  assert.throws(() => codec.frame('text', Uint8Array.of(0xe2, 0x9c)), TypeError, 'truncated sequence');
  assert.throws(() => codec.frame('close' as 'text', 'x'), /close frames: close\(\)/);
  assert.throws(() => codec.frame('toString' as 'text', 'x'), TypeError);
  assert.throws(() => codec.frame('binary', 'x', Uint8Array.of(1, 2, 3)), RangeError, 'a 3-byte key');
});

const serverStream = concat(
  text('héllo', { mask: null }),
  binary('ab', { fin: false, mask: null }), ping('p', { mask: null }), cont('cd', { mask: null }),
  close(1001, 'going away', { mask: null }),
  text('after close', { mask: null }),
);
const expected: CodecEvent[] = [
  { type: 'text', data: new TextEncoder().encode('héllo'), text: 'héllo' },
  { type: 'ping', data: new TextEncoder().encode('p') },
  { type: 'binary', data: Uint8Array.of(0x61, 0x62, 0x63, 0x64) },
  { type: 'close', code: 1001, reason: 'going away' },
];

Api('decode() and decoder(): server frames, fragments joined, nothing after the close, any chunking', () => {
  assert.equal(codec.decode(serverStream), expected);
  const got: unknown[] = [];
  const dec = codec.decoder({
    onMessage: (kind, data) => got.push(['message', kind, hexOf(data)]),
    onPing: (d) => got.push(['ping', hexOf(d)]),
    onClose: (code, reason) => got.push(['close', code, reason]),
  });
  for (let i = 0; i < serverStream.length; i++) dec.push(serverStream.subarray(i, i + 1));
  assert.equal(got, [['message', 1, hexOf(expected[0].type === 'text' ? expected[0].data : new Uint8Array())], ['ping', '70'], ['message', 0, '61626364'], ['close', 1001, 'going away']]);
  assert.ok(dec.done);
});

Api('the daemon’s checks: a masked server frame, an unmasked client frame, bad UTF-8, a too-big message', () => {
  const err = (events: CodecEvent[]) => events.map((e) => (e.type === 'error' ? `${e.error.code} ${e.error.closeCode}` : e.type));
  assert.equal(err(codec.decode(text('masked'))), ['RS_ERR_MASKED_FRAME 1002']);
  assert.equal(err(codec.decode(text('unmasked', { mask: null }), { from: 'client' })), ['RS_ERR_UNMASKED_FRAME 1002']);
  assert.equal(err(codec.decode(frame({ opcode: 1, payload: Uint8Array.of(0xc3, 0x28), mask: null }))), ['RS_ERR_INVALID_UTF8 1007']);
  assert.equal(err(codec.decode(frame({ opcode: 8, payload: closeBody(1006), mask: null }))), ['RS_ERR_INVALID_CLOSE_CODE 1002']);
  assert.equal(err(codec.decode(binary(payloadOf(11), { mask: null }), { maxMessageSize: 10 })), ['RS_ERR_MESSAGE_TOO_BIG 1009']);
  assert.equal(err(codec.decode(frame({ opcode: 2, rsv: 4, payload: 'x', mask: null }))), ['RS_ERR_RSV_SET 1002']);
  assert.throws(() => codec.decoder({ from: 'both' as 'server' }), TypeError);
});

Api('client frames decode as the daemon reads them (from: client) for every length form', () => {
  for (const n of [0, 125, 126, 65535, 65536, 70000]) {
    const p = payloadOf(n);
    const events = codec.decode(codec.frame('binary', p), { from: 'client' });
    assert.is(events.length, 1);
    assert.ok(events[0].type === 'binary' && hexOf(events[0].data) === hexOf(p), `${n} bytes`);
  }
});

Api('readFrameHeader: null until the whole header is there', () => {
  const f = codec.frame('binary', payloadOf(70000), TEST_MASK);
  for (let n = 0; n < 14; n++) assert.is(readFrameHeader(f.subarray(0, n)), null, `${n} bytes`);
  assert.is(readFrameHeader(f.subarray(0, 14))!.payloadLength, 70000);
  assert.equal(readFrameHeader(codec.serverFrame('text', 'hi')), {
    fin: true, rsv: 0, opcode: 1, masked: false, maskKey: null, payloadLength: 2, lengthForm: 7, headerSize: 2,
  });
});

Api('sources: the default URL, bytes, a compiled module; the shared build is refused', async () => {
  const m = await compileCodec();
  assert.is(await compileCodec(), m, 'the default build is compiled once');
  assert.is(await compileCodec(m), m);
  const bytes = readFileSync(new URL('../build/ringsocket.private.wasm', import.meta.url));
  const c = await createCodec({ wasm: bytes });
  assert.is(hexOf(c.frame('text', 'x', TEST_MASK)), hexOf(text('x')));
  assert.is(hexOf(new Codec(m).frame('text', 'x', TEST_MASK)), hexOf(text('x')));
  const shared = new URL('../build/ringsocket.shared.wasm', import.meta.url);
  try {
    await createCodec({ wasm: shared });
    assert.unreachable('the shared build must be refused');
  } catch (err) {
    assert.instance(err, CoreLoadError);
    assert.is((err as CoreLoadError).code, 'RS_ERR_CORE_IMPORTS');
  }
});

Api.run();
