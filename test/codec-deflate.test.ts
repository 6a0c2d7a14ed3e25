// The decoder with permessage-deflate negotiated (decoderInit's extensions, DataFlag.COMPRESSED):
// RSV1 on a data message's first frame marks it compressed; RSV1 anywhere else, RSV2 and RSV3, or
// RSV1 without the extension are protocol errors (1002). Every case runs on both builds with its
// input whole, byte by byte, split at every byte boundary and cut at random points.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateRawSync } from 'node:zlib';
import { checkAllChunkings, coreFor, expectedError, hexOf, regions, type Decoded, type ExpectOptions } from './helpers/chunking.ts';
import { binary, concat, cont, ping, pong, close, text } from './helpers/frames.ts';
import { DataFlag, DecoderEvent, Role } from '../src/core/codes.ts';
import { extensionBits, FrameDecoder, isCompressed } from '../src/core/codec.ts';
import { DecoderLayout } from '../src/core/layout.ts';

const RSV1 = 4, RSV2 = 2, RSV3 = 1;
const deflate: ExpectOptions = { permessageDeflate: true };
const z = (s: string | Uint8Array): Uint8Array => {
  const c = deflateRawSync(typeof s === 'string' ? Buffer.from(s) : s, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  return c.subarray(0, c.length - 4); // RFC 7692 §7.2.1: the 00 00 ff ff tail is removed
};
const zText = (b: Uint8Array): Decoded => ({ type: 'compressed', text: true, data: hexOf(b) });
const zBin = (b: Uint8Array): Decoded => ({ type: 'compressed', text: false, data: hexOf(b) });
const err = expectedError;

function expect(input: Uint8Array, expected: Decoded[], opts: ExpectOptions = deflate): void {
  const mismatch = checkAllChunkings(input, expected, opts);
  assert.is(mismatch, null, mismatch ?? '');
}

const C = suite('decoder: permessage-deflate');

C('the extension resolves to EXT_DEFLATE and is off by default', () => {
  assert.is(extensionBits(), 0);
  assert.is(extensionBits({ permessageDeflate: true }), DecoderLayout.EXT_DEFLATE);
});

C('RSV1 on a single-frame text or binary message marks it compressed', () => {
  const t = z('hello hello hello');
  expect(text(t, { rsv: RSV1 }), [zText(t)]);
  const b = z(Uint8Array.of(0, 1, 2, 3, 0, 1, 2, 3));
  expect(binary(b, { rsv: RSV1 }), [zBin(b)]);
});

C('a compressed text message is not UTF-8 checked by the decoder (its bytes are compressed)', () => {
  const bad = Uint8Array.of(0xff, 0xfe, 0xc3);
  expect(text(bad, { rsv: RSV1 }), [zText(bad)]);
  // The same bytes uncompressed on the same connection are still refused.
  expect(concat(text(bad, { rsv: RSV1 }), text(bad)), [zText(bad), err('RS_ERR_INVALID_UTF8')]);
});

C('uncompressed and compressed messages mix on one connection', () => {
  const t = z('compressed');
  expect(concat(text('plain'), text(t, { rsv: RSV1 }), binary('raw'), text(t, { rsv: RSV1 })), [
    { type: 'text', data: 'plain' }, zText(t), { type: 'binary', data: hexOf(Buffer.from('raw')) }, zText(t),
  ]);
});

C('a fragmented compressed message: RSV1 on the first frame only, control frames between', () => {
  const t = z('fragmented and compressed, fragmented and compressed');
  const a = t.subarray(0, 5), b = t.subarray(5, 9), c = t.subarray(9);
  expect(concat(text(a, { rsv: RSV1, fin: false }), cont(b, { fin: false }), ping('p'), cont(c)), [
    { type: 'ping', data: hexOf(Buffer.from('p')) }, zText(t),
  ]);
  // Empty first and middle fragments.
  expect(concat(binary(new Uint8Array(0), { rsv: RSV1, fin: false }), cont(new Uint8Array(0), { fin: false }), cont(t)), [zBin(t)]);
  // The message after it is not compressed unless it says so.
  expect(concat(text(a, { rsv: RSV1, fin: false }), cont(t.subarray(5)), text('next')), [zText(t), { type: 'text', data: 'next' }]);
});

C('RSV1 on a continuation frame is a protocol error', () => {
  const t = z('abcdef');
  expect(concat(text(t.subarray(0, 2), { rsv: RSV1, fin: false }), cont(t.subarray(2), { rsv: RSV1 })), [err('RS_ERR_RSV_SET')]);
  expect(concat(text('ab', { fin: false }), cont('cd', { rsv: RSV1 })), [err('RS_ERR_RSV_SET')]);
});

C('RSV1 on a control frame is a protocol error', () => {
  expect(ping('x', { rsv: RSV1 }), [err('RS_ERR_RSV_SET')]);
  expect(pong('x', { rsv: RSV1 }), [err('RS_ERR_RSV_SET')]);
  expect(close(1000, '', { rsv: RSV1 }), [err('RS_ERR_RSV_SET')]);
  const t = z('abc');
  expect(concat(text(t, { rsv: RSV1, fin: false }), ping('', { rsv: RSV1 })), [err('RS_ERR_RSV_SET')]);
});

C('RSV2 and RSV3 are protocol errors, alone or with RSV1', () => {
  for (const rsv of [RSV2, RSV3, RSV1 | RSV2, RSV1 | RSV3, RSV1 | RSV2 | RSV3]) {
    expect(text('x', { rsv }), [err('RS_ERR_RSV_SET')]);
    expect(binary('x', { rsv }), [err('RS_ERR_RSV_SET')]);
  }
});

C('without the extension RSV1 is a protocol error, as before', () => {
  const t = z('abc');
  expect(text(t, { rsv: RSV1 }), [err('RS_ERR_RSV_SET')], {});
  expect(binary(t, { rsv: RSV1 }), [err('RS_ERR_RSV_SET')], { permessageDeflate: false });
});

C('limits count the compressed bytes', () => {
  const t = z('x'.repeat(1000)); // a few bytes that inflate to 1000
  expect(text(t, { rsv: RSV1 }), [zText(t)], { permessageDeflate: true, maxMessageSize: 125 });
  expect(text(new Uint8Array(126), { rsv: RSV1 }), [err('RS_ERR_MESSAGE_TOO_BIG')], { permessageDeflate: true, maxMessageSize: 125 });
});

C('DATA events carry DataFlag.COMPRESSED on every piece, and FrameDecoder.reset keeps the extension', () => {
  for (const build of ['shared', 'private'] as const) {
    const core = coreFor(build);
    const { state, input } = regions(core);
    const dec = new FrameDecoder(core, state, Role.SERVER, { permessageDeflate: true });
    const t = z('pieces pieces pieces');
    const bytes = concat(text(t.subarray(0, 3), { rsv: RSV1, fin: false }), cont(t.subarray(3)));
    for (let round = 0; round < 2; round++) {
      core.u8.set(bytes, input);
      let p = input;
      const flags: number[] = [];
      for (;;) {
        const ev = dec.decode(p, input + bytes.length);
        if (ev === DecoderEvent.NEED_MORE) break;
        assert.is(ev, DecoderEvent.DATA);
        flags.push(dec.flags);
        p = dec.next;
      }
      assert.equal(flags, [DataFlag.FIRST | DataFlag.TEXT | DataFlag.COMPRESSED, DataFlag.LAST | DataFlag.TEXT | DataFlag.COMPRESSED], build);
      assert.ok(flags.every(isCompressed));
      dec.reset(Role.SERVER);
    }
  }
});

C.run();
