// WsStreamDecoder (src/core/stream.ts): chunks in, reassembled messages and control events out.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WsStreamDecoder } from '../src/core/stream.ts';
import type { WsStreamHandlers, WsStreamOptions } from '../src/core/stream.ts';
import { DataKind, DECODER_ERRORS, ErrorCode } from '../src/core/codes.ts';
import { binary, close, concat, cont, ping, pong, text } from './helpers/frames.ts';
import { rng, randInt } from './helpers/chunking.ts';

type Ev = [string, ...unknown[]];
async function collect(opts: Omit<WsStreamOptions, keyof WsStreamHandlers>) {
  const events: Ev[] = [];
  const dec = await WsStreamDecoder.create({
    ...opts,
    onMessage: (kind, bytes) => events.push(['message', kind, Buffer.from(bytes).toString(kind === DataKind.UTF8 ? 'utf8' : 'hex')]),
    onPing: (b) => events.push(['ping', Buffer.from(b).toString()]),
    onPong: (b) => events.push(['pong', Buffer.from(b).toString()]),
    onClose: (code, reason) => events.push(['close', code, reason]),
    onError: (e) => events.push(['error', e]),
  });
  return { dec, events };
}

const Stream = suite('WsStreamDecoder');
const big = Uint8Array.from({ length: 70000 }, (_, i) => (i * 13) & 0xff);
const input = concat(
  text('héllo'),
  binary('ab', { fin: false }), ping('p1'), cont('cd', { fin: false }), pong('q'), cont('ef'),
  binary(big),
  text('wor', { fin: false }), cont('ld'),
  close(1000, 'done'),
  text('ignored after close'),
);
const expected: Ev[] = [
  ['message', DataKind.UTF8, 'héllo'],
  ['ping', 'p1'], ['pong', 'q'], ['message', DataKind.BIN, Buffer.from('abcdef').toString('hex')],
  ['message', DataKind.BIN, Buffer.from(big).toString('hex')],
  ['message', DataKind.UTF8, 'world'],
  ['close', 1000, 'done'],
];

Stream('reassembles messages from one chunk', async () => {
  const { dec, events } = await collect({ role: 'server' });
  dec.push(input);
  assert.equal(events, expected);
  assert.ok(dec.done);
});

Stream('gives the same events for random chunkings and a small scratch region', async () => {
  const r = rng(7);
  for (let trial = 0; trial < 30; trial++) {
    const { dec, events } = await collect({ role: 'server', scratchSize: randInt(r, 1, 5000) });
    for (let o = 0; o < input.length;) {
      const n = randInt(r, 1, 9000);
      dec.push(input.subarray(o, o + n));
      o += n;
    }
    assert.equal(events, expected, `trial ${trial}`);
  }
});

Stream('decodes unmasked server frames in the client role', async () => {
  const { dec, events } = await collect({ role: 'client' });
  dec.push(concat(text('hi', { mask: null }), close(undefined, '', { mask: null })));
  assert.equal(events, [['message', DataKind.UTF8, 'hi'], ['close', 1005, '']]);
});

Stream('reports a protocol error once, with its close code, and ignores what follows', async () => {
  const { dec, events } = await collect({ role: 'server' });
  dec.push(concat(text('ok'), text(Uint8Array.of(0x61, 0xff))));
  dec.push(text('later'));
  assert.equal(events, [['message', DataKind.UTF8, 'ok'], ['error', DECODER_ERRORS[ErrorCode.INVALID_UTF8]]]);
  assert.is(DECODER_ERRORS[ErrorCode.INVALID_UTF8].closeCode, 1007);
});

Stream('applies the limits it is given', async () => {
  const { dec, events } = await collect({ role: 'server', maxMessageSize: 4 });
  assert.equal(dec.limits, { maxMessageSize: 4, maxFrameChainSize: 5, maxFragments: 131072 });
  dec.push(binary('12345'));
  assert.equal(events, [['error', DECODER_ERRORS[ErrorCode.MESSAGE_TOO_BIG]]]);
});

Stream('rejects a bad role', async () => {
  try {
    await WsStreamDecoder.create({ role: 'peer' as 'server' });
    assert.unreachable('created');
  } catch (e) {
    assert.match((e as Error).message, /role must be/);
  }
});

Stream.run();
