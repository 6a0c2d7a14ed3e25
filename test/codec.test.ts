// The frame decoder (assembly/codec/decoder.ts) on both builds. Every case runs with its input fed
// whole, byte by byte, split at every byte boundary and at random cuts (test/helpers/chunking.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BIG_PAYLOAD, BUILDS, checkAllChunkings, hexOf as hexOfBytes, coreFor, expectedError, regions, runDecoder,
} from './helpers/chunking.ts';
import type { Decoded, ExpectOptions } from './helpers/chunking.ts';
import {
  binary, close, closeBody, concat, concatAll, cont, frame, hex, ping, pong, text, TEST_MASK,
} from './helpers/frames.ts';
import {
  DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, FrameDecoder, NO_LIMIT, resolveLimits,
} from '../src/core/codec.ts';
import { CloseCode, DataFlag, DecoderEvent, Opcode, Role } from '../src/core/codes.ts';

const hexOf = (b: Uint8Array | string) => hexOfBytes(typeof b === 'string' ? Buffer.from(b) : b);
const msgText = (s: string): Decoded => ({ type: 'text', data: Buffer.byteLength(s) <= BIG_PAYLOAD ? s : hexOf(s) });
const msgBin = (b: Uint8Array | string): Decoded => ({ type: 'binary', data: hexOf(b) });
const evPing = (b: Uint8Array | string = ''): Decoded => ({ type: 'ping', data: hexOf(b) });
const evPong = (b: Uint8Array | string = ''): Decoded => ({ type: 'pong', data: hexOf(b) });
const evClose = (code: number, reason = ''): Decoded => ({ type: 'close', code, reason });
const err = expectedError;

function expect(input: Uint8Array, expected: Decoded[], opts: ExpectOptions = {}): void {
  const mismatch = checkAllChunkings(input, expected, opts);
  assert.is(mismatch, null, mismatch ?? '');
}

function seq(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

// ---------------------------------------------------------------------------------------------
const Valid = suite('decoder: valid input');

Valid('decodes a masked text frame', () => {
  expect(text('Hello'), [msgText('Hello')]);
});

Valid('decodes the RFC 6455 §5.7 masked "Hello" example', () => {
  expect(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), [msgText('Hello')]);
});

Valid('decodes a binary frame and an empty text frame', () => {
  expect(concat(binary(seq(40)), text('')), [msgBin(seq(40)), msgText('')]);
});

Valid('decodes 7-bit, 16-bit and 64-bit lengths at their edges', () => {
  for (const n of [0, 1, 125, 126, 127, 1000]) expect(binary(seq(n, n)), [msgBin(seq(n, n))], { everySplitMax: 300 });
  const few: ExpectOptions = { byteByByteMax: 0, sampledSplits: 16, edgeSplits: 16, randomCuts: 2 };
  for (const n of [65535, 65536, 200000]) expect(binary(seq(n, 3)), [msgBin(seq(n, 3))], few);
});

Valid('accepts lengths in a longer form than needed', () => {
  expect(concat(
    binary('abc', { lengthForm: 16 }),
    text('défi', { lengthForm: 64 }),
  ), [msgBin('abc'), msgText('défi')]);
});

Valid('decodes many frames in one read', () => {
  const frames: Uint8Array[] = [];
  const want: Decoded[] = [];
  for (let i = 0; i < 60; i++) {
    if (i % 3 === 0) { frames.push(text(`message ${i} ✓`)); want.push(msgText(`message ${i} ✓`)); }
    else if (i % 3 === 1) { frames.push(binary(seq(i, i))); want.push(msgBin(seq(i, i))); }
    else { frames.push(ping(`p${i}`)); want.push(evPing(`p${i}`)); }
  }
  expect(concat(...frames), want, { everySplitMax: 2000 });
});

Valid('reassembles a fragmented text message with control frames interleaved', () => {
  // "€" (E2 82 AC) split across fragments, pings and a pong in between.
  const input = concat(
    frame({ opcode: Opcode.TEXT, fin: false, payload: Uint8Array.of(0x61, 0x62, 0x63, 0xe2) }),
    ping('x'),
    cont(Uint8Array.of(0x82), { fin: false }),
    pong('y'),
    cont(Uint8Array.of(0xac, 0x21)),
  );
  expect(input, [evPing('x'), evPong('y'), msgText('abc€!')]);
});

Valid('reassembles a fragmented binary message with empty fragments', () => {
  expect(concat(
    binary('', { fin: false }),
    cont('ab', { fin: false }),
    cont('', { fin: false }),
    ping(),
    cont('cd', { fin: false }),
    cont(''),
  ), [evPing(), msgBin('abcd')]);
});

Valid('decodes ping and pong payloads up to 125 bytes', () => {
  expect(concat(ping(''), ping(seq(125)), pong(seq(1)), pong(seq(125, 9))),
    [evPing(''), evPing(seq(125)), evPong(seq(1)), evPong(seq(125, 9))]);
});

Valid('decodes an empty close frame as 1005', () => {
  expect(close(), [evClose(CloseCode.NO_STATUS)]);
});

Valid('decodes a close frame with code and UTF-8 reason', () => {
  expect(close(1000, 'bye ✓'), [evClose(1000, 'bye ✓')]);
  expect(close(4999, 'x'.repeat(123)), [evClose(4999, 'x'.repeat(123))]);
});

Valid('accepts every valid close code: 1000-1003, 1007-1014, 3000-4999', () => {
  for (const core of BUILDS.map((b) => coreFor(b))) {
    for (let code = 0; code <= 5100; code++) {
      const ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      const got = runDecoder(core, [close(code)]);
      assert.equal(got, [ok ? evClose(code) : err('RS_ERR_INVALID_CLOSE_CODE')], `code ${code} on ${core.build}`);
    }
  }
});

Valid('decodes frames masked with an all-zero key', () => {
  expect(text('zero key', { mask: Uint8Array.of(0, 0, 0, 0) }), [msgText('zero key')]);
});

Valid('decodes unmasked server frames in the client role', () => {
  const m = { mask: null };
  expect(concat(text('hi', m), binary('', m), ping('p', m), close(1001, 'gone', m)),
    [msgText('hi'), msgBin(''), evPing('p'), evClose(1001, 'gone')], { role: Role.CLIENT });
});

Valid('ignores everything after a close frame', () => {
  for (const build of BUILDS) {
    const core = coreFor(build);
    const { state, input } = regions(core);
    const dec = new FrameDecoder(core, state, Role.SERVER);
    const bytes = concat(close(1000), hex('ff ff ff ff'), text('late'));
    core.u8.set(bytes, input);
    const end = input + bytes.length;
    assert.is(dec.decode(input, end), DecoderEvent.CLOSE);
    assert.is(dec.closeCode, 1000);
    assert.is(dec.decode(dec.next, end), DecoderEvent.NEED_MORE);
    assert.is(dec.next, end);
  }
});

Valid('needs one decode call for a whole small frame in one read', () => {
  for (const build of BUILDS) {
    const core = coreFor(build);
    const { state, input } = regions(core);
    const dec = new FrameDecoder(core, state, Role.SERVER);
    const bytes = text('small');
    core.u8.set(bytes, input);
    const end = input + bytes.length;
    assert.is(dec.decode(input, end), DecoderEvent.DATA);
    assert.is(dec.flags, DataFlag.FIRST | DataFlag.LAST | DataFlag.TEXT);
    assert.is(dec.next, end, 'the event says the read is used up: the host needs no second call');
    assert.is(dec.dataPtr, end - 5, 'the payload is unmasked in place in the input');
    assert.is(Buffer.from(dec.data).toString(), 'small');
  }
});

Valid('delivers a payload split across reads as pieces, FIRST on the first, LAST on the last', () => {
  for (const build of BUILDS) {
    const core = coreFor(build);
    const { state, input } = regions(core);
    const dec = new FrameDecoder(core, state, Role.SERVER);
    const bytes = binary(seq(1000));
    const flags: number[] = [];
    for (const [a, b] of [[0, 3], [3, 500], [500, 501], [501, bytes.length]]) {
      core.u8.set(bytes.subarray(a, b), input);
      let ptr = input;
      for (;;) {
        const ev = dec.decode(ptr, input + b - a);
        if (ev === DecoderEvent.NEED_MORE) break;
        assert.is(ev, DecoderEvent.DATA);
        flags.push(dec.flags);
        ptr = dec.next;
      }
    }
    assert.equal(flags, [DataFlag.FIRST, 0, DataFlag.LAST]);
  }
});

// ---------------------------------------------------------------------------------------------
const Protocol = suite('decoder: RFC 6455 violations');

Protocol('rejects each RSV bit with 1002', () => {
  for (const rsv of [4, 2, 1, 7]) expect(text('x', { rsv }), [err('RS_ERR_RSV_SET')]);
  expect(concat(text('ok'), ping('', { rsv: 4 })), [msgText('ok'), err('RS_ERR_RSV_SET')]);
});

Protocol('rejects unknown opcodes with 1002', () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) expect(frame({ opcode, payload: 'x' }), [err('RS_ERR_UNKNOWN_OPCODE')]);
});

Protocol('rejects a continuation frame without a message with 1002', () => {
  expect(cont('x'), [err('RS_ERR_CONTINUATION_WITHOUT_START')]);
  expect(concat(text('done'), cont('x')), [msgText('done'), err('RS_ERR_CONTINUATION_WITHOUT_START')]);
});

Protocol('rejects a new data frame inside a fragmented message with 1002', () => {
  expect(concat(text('a', { fin: false }), text('b')), [err('RS_ERR_DATA_FRAME_INSIDE_MESSAGE')]);
  expect(concat(binary('a', { fin: false }), ping(), binary('b')), [evPing(), err('RS_ERR_DATA_FRAME_INSIDE_MESSAGE')]);
});

Protocol('rejects a fragmented control frame with 1002', () => {
  for (const opcode of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
    expect(frame({ opcode, fin: false, payload: '' }), [err('RS_ERR_FRAGMENTED_CONTROL_FRAME')]);
  }
});

Protocol('rejects a control frame longer than 125 bytes with 1002', () => {
  expect(ping(seq(126)), [err('RS_ERR_CONTROL_FRAME_TOO_LONG')], { everySplitMax: 200 });
  expect(pong(seq(3), { lengthForm: 16, declaredLength: 126 }).subarray(0, 2), [err('RS_ERR_CONTROL_FRAME_TOO_LONG')]);
  expect(close(1000, 'x'.repeat(124)), [err('RS_ERR_CONTROL_FRAME_TOO_LONG')], { everySplitMax: 200 });
});

Protocol('rejects an unmasked client frame with 1002 after its first two bytes', () => {
  expect(text('hi', { mask: null }), [err('RS_ERR_UNMASKED_FRAME')]);
  expect(text('hi', { mask: null }).subarray(0, 2), [err('RS_ERR_UNMASKED_FRAME')]);
});

Protocol('rejects a masked server frame in the client role with 1002', () => {
  expect(text('hi'), [err('RS_ERR_MASKED_FRAME')], { role: Role.CLIENT });
});

Protocol('rejects a 64-bit length with the top bit set with 1002', () => {
  const top = frame({ opcode: Opcode.BINARY, lengthForm: 64, declaredLength: 1n << 63n });
  expect(top, [err('RS_ERR_LENGTH_TOP_BIT')], { maxMessageSize: NO_LIMIT, maxFrameChainSize: NO_LIMIT });
  expect(frame({ opcode: Opcode.BINARY, lengthForm: 64, declaredLength: 0xffffffffffffffffn }), [err('RS_ERR_LENGTH_TOP_BIT')]);
});

Protocol('rejects a 1-byte close payload with 1002', () => {
  expect(frame({ opcode: Opcode.CLOSE, payload: Uint8Array.of(3) }), [err('RS_ERR_CLOSE_PAYLOAD_ONE_BYTE')]);
});

Protocol('rejects invalid close codes with 1002', () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    expect(close(code, 'r'), [err('RS_ERR_INVALID_CLOSE_CODE')]);
  }
});

Protocol('rejects a close reason that is not UTF-8 with 1007', () => {
  expect(frame({ opcode: Opcode.CLOSE, payload: concat(closeBody(1000), hex('ce ba e1 bd f9')) }), [err('RS_ERR_CLOSE_REASON_UTF8')]);
  expect(frame({ opcode: Opcode.CLOSE, payload: concat(closeBody(1000), hex('e2 82')) }), [err('RS_ERR_CLOSE_REASON_UTF8')]);
});

Protocol('stays failed after an error', () => {
  for (const build of BUILDS) {
    const core = coreFor(build);
    const { state, input } = regions(core);
    const dec = new FrameDecoder(core, state, Role.SERVER);
    const bytes = concat(cont('x'), text('fine'));
    core.u8.set(bytes, input);
    assert.is(dec.decode(input, input + bytes.length), DecoderEvent.ERROR);
    const first = dec.error;
    assert.is(dec.decode(dec.next, input + bytes.length), DecoderEvent.ERROR);
    assert.equal(dec.error, first);
    assert.is(dec.closeCode, CloseCode.PROTOCOL_ERROR);
  }
});

// ---------------------------------------------------------------------------------------------
const Utf8 = suite('decoder: UTF-8 in text messages');

Utf8('rejects invalid UTF-8 in a text frame with 1007', () => {
  for (const bad of ['80', 'c0 af', 'e0 80 af', 'ed a0 80', 'f4 90 80 80', 'f5 80 80 80', 'ff', 'ce ba e1 bd f9 ce bc']) {
    expect(text(hex(bad)), [err('RS_ERR_INVALID_UTF8')]);
  }
});

Utf8('fails at the first invalid byte, before the message completes', () => {
  // Only the first, non-final fragment has arrived; its invalid byte is reported already.
  expect(frame({ opcode: Opcode.TEXT, fin: false, payload: hex('61 62 ed a0') }), [err('RS_ERR_INVALID_UTF8')]);
  // A frame whose payload has only partly arrived, bad byte inside the part.
  expect(text(concat(hex('61 ff'), new Uint8Array(20).fill(0x61))).subarray(0, 10), [err('RS_ERR_INVALID_UTF8')]);
});

Utf8('rejects a text message that ends inside a UTF-8 sequence with 1007', () => {
  expect(text(hex('e2 82')), [err('RS_ERR_TRUNCATED_UTF8')]);
  expect(concat(text(hex('61 f0 9f'), { fin: false }), cont(hex('98'))), [err('RS_ERR_TRUNCATED_UTF8')]);
  expect(concat(text(hex('61 f0'), { fin: false }), cont('')), [err('RS_ERR_TRUNCATED_UTF8')]);
});

Utf8('accepts a UTF-8 sequence split across fragments', () => {
  expect(concat(text(hex('f0'), { fin: false }), cont(hex('9f'), { fin: false }), ping(), cont(hex('98 80'))), [evPing(), msgText('😀')]);
});

Utf8('does not validate binary messages', () => {
  expect(binary(hex('ff fe 80')), [msgBin(hex('ff fe 80'))]);
});

// ---------------------------------------------------------------------------------------------
const Limits = suite('decoder: limits');

Limits('rejects a frame over the message size from its header alone, with 1009', () => {
  const header = frame({ opcode: Opcode.BINARY, declaredLength: 1001, lengthForm: 16 }).subarray(0, 4);
  expect(header, [err('RS_ERR_MESSAGE_TOO_BIG')], { maxMessageSize: 1000 });
  expect(binary(seq(1000)), [msgBin(seq(1000))], { maxMessageSize: 1000, everySplitMax: 0, randomCuts: 2 });
  expect(frame({ opcode: Opcode.BINARY, lengthForm: 64, declaredLength: (1n << 62n) }).subarray(0, 10), [err('RS_ERR_MESSAGE_TOO_BIG')]);
});

Limits('rejects fragments whose total exceeds the message size, at the header that crosses it', () => {
  expect(concat(binary(seq(600), { fin: false }), frame({ opcode: 0, declaredLength: 401, lengthForm: 16 }).subarray(0, 4)),
    [err('RS_ERR_MESSAGE_TOO_BIG')], { maxMessageSize: 1000, everySplitMax: 700 });
  const all = seq(1000);
  expect(concat(binary(all.subarray(0, 600), { fin: false }), cont(all.subarray(600))), [msgBin(all)], { maxMessageSize: 1000, everySplitMax: 0 });
});

Limits('counts control frames inside a message toward the frame-chain size, with 1009', () => {
  // Chain: 6+10 (first), 6+3 (ping), 6+10 (last) = 41 bytes.
  const input = concat(binary(seq(10), { fin: false }), ping('abc'), cont(seq(10, 2)));
  expect(input, [evPing('abc'), msgBin(concat(seq(10), seq(10, 2)))], { maxFrameChainSize: 41 });
  expect(input, [evPing('abc'), err('RS_ERR_FRAME_CHAIN_TOO_BIG')], { maxFrameChainSize: 40 });
  expect(input, [err('RS_ERR_FRAME_CHAIN_TOO_BIG')], { maxFrameChainSize: 24 });
  // Control frames between messages count toward nothing.
  expect(concat(ping(seq(125)), binary(seq(10))), [evPing(seq(125)), msgBin(seq(10))], { maxFrameChainSize: 16 });
});

Limits('rejects a message with more fragments than the maximum, with 1009', () => {
  const frags = (n: number) => concat(binary('a', { fin: false }), ...Array.from({ length: n - 2 }, () => cont('b', { fin: false })), cont('c'));
  expect(frags(4), [msgBin('abbc')], { maxFragments: 4 });
  expect(frags(5), [err('RS_ERR_TOO_MANY_FRAGMENTS')], { maxFragments: 4 });
  // The count starts again with each message.
  expect(concat(frags(4), frags(4)), [msgBin('abbc'), msgBin('abbc')], { maxFragments: 4 });
});

Limits('defaults: 16 MiB messages, 1.25× chain, 131072 fragments', () => {
  assert.equal(resolveLimits(), { maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE, maxFrameChainSize: 20 * 1024 * 1024, maxFragments: DEFAULT_MAX_FRAGMENTS });
  assert.is(DEFAULT_MAX_MESSAGE_SIZE, 16 * 1024 * 1024);
  assert.is(DEFAULT_MAX_FRAGMENTS, 131072);
  assert.throws(() => resolveLimits({ maxMessageSize: -1 }), /maxMessageSize/);
});

const bigOpts: ExpectOptions = { byteByByteMax: 0, edgeSplits: 3, sampledSplits: 3, randomCuts: 1 };

Limits('accepts a 4 MiB message in 64-byte fragments with the default limits', () => {
  const total = 4 * 1024 * 1024, frag = 64;
  const payload = seq(total, 7);
  const parts: Uint8Array[] = [];
  for (let o = 0; o < total; o += frag) {
    const piece = payload.subarray(o, o + frag);
    parts.push(o === 0 ? binary(piece, { fin: false }) : cont(piece, { fin: o + frag >= total }));
  }
  const input = concatAll(parts);
  const mismatch = checkAllChunkings(input, [msgBin(payload)], bigOpts);
  assert.is(mismatch, null, mismatch ?? '');
});

Limits('stops a flood of empty fragments with the default limits', () => {
  const empty = cont('', { fin: false });
  const parts = [binary('', { fin: false })];
  for (let i = 0; i < DEFAULT_MAX_FRAGMENTS + 10; i++) parts.push(empty);
  expect(concatAll(parts), [err('RS_ERR_TOO_MANY_FRAGMENTS')], bigOpts);
});

Limits('stops a flood of pings inside a message with the frame-chain limit', () => {
  const parts = [binary('x', { fin: false })];
  for (let i = 0; i < 200; i++) parts.push(ping(seq(100, i)));
  const want: Decoded[] = [];
  // maxMessageSize 100 -> chain 125: first frame 7 bytes, then pings of 106 bytes: one fits.
  want.push(evPing(seq(100, 0)), err('RS_ERR_FRAME_CHAIN_TOO_BIG'));
  expect(concat(...parts), want, { maxMessageSize: 100, everySplitMax: 300, byteByByteMax: 5000 });
});

Limits('checks the fragment limit only on data frames, not on control frames', () => {
  expect(concat(binary('a', { fin: false }), ping(), ping(), ping(), cont('b')), [evPing(), evPing(), evPing(), msgBin('ab')], { maxFragments: 2 });
});

Valid('rejects nothing that was masked with the test key by mistake', () => {
  // Sanity of the test builder itself: TEST_MASK is non-zero so masking matters.
  assert.ok(TEST_MASK.some((b) => b !== 0));
  assert.not.equal(Array.from(text('abcd').subarray(6)), Array.from(Buffer.from('abcd')));
});

Valid.run();
Protocol.run();
Utf8.run();
Limits.run();
