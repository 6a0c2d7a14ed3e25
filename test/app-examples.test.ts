// The example apps (apps/*/app.ts) with a recording host: silly-calc's exact bytes, chat's room
// behaviour and wire format, echo and broadcast.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DataKind, RS_BIN, RS_UTF8 } from '../src/app/index.ts';
import { createAppRuntime, type AppRuntime } from '../src/app/runtime.ts';
import { createRecordingHost, type RecordingHost } from '../src/app/testing.ts';
import sillyCalc from '../apps/silly-calc/app.ts';
import chat, { CLOSE_BAD_NAME } from '../apps/chat/app.ts';
import echo from '../apps/echo/app.ts';
import broadcast from '../apps/broadcast/app.ts';

const A = 257, B = 513, C = 770;
const ADDR = { family: 4 as const, address: '127.0.0.1', port: 50000 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function run(app: unknown, ids: number[] = [A, B, C]): { host: RecordingHost; rt: AppRuntime } {
  const host = createRecordingHost();
  const rt = createAppRuntime(app, host);
  assert.is(rt.init(), true);
  for (const id of ids) rt.open(id, 1, ADDR);
  host.clear();
  return { host, rt };
}

// ---------------------------------------------------------------------------------------------
const Calc = suite('silly-calc');

function calcRequest(i32: number, u16s: number[]): Uint8Array {
  const b = new Uint8Array(4 + 2 * u16s.length);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, i32);
  u16s.forEach((v, i) => dv.setUint16(4 + 2 * i, v));
  return b;
}

const LAUGH = [0xe7, 0xac, 0x91, 0xe7, 0xac, 0x91, 0x3f]; // "笑笑?"

Calc('sends the int64 sum in network order to every other client, then "笑笑?" as text to the sender', () => {
  const { host, rt } = run(sillyCalc);
  rt.read(A, 1, DataKind.BIN, calcRequest(-5, [1, 65535, 10]));
  assert.equal(host.events, [
    { type: 'send', kind: RS_BIN, bytes: new Uint8Array([0, 0, 0, 0, 0, 1, 0, 5]), to: { kind: 'every_except_single', id: A } },
    { type: 'send', kind: RS_UTF8, bytes: new Uint8Array(LAUGH), to: { kind: 'single', id: A } },
  ]);
  assert.is(dec(host.sends()[1].bytes), '笑笑?');
});

Calc('sums negative results and the extremes of both parameters', () => {
  const cases: [number, number[], number][] = [
    [-100, [1], -99],
    [-(2 ** 31), new Array(10).fill(65535), -(2 ** 31) + 10 * 65535],
    [2 ** 31 - 1, new Array(10).fill(65535), 2 ** 31 - 1 + 10 * 65535],
    [0, [0], 0],
  ];
  for (const [i32, u16s, sum] of cases) {
    const { host, rt } = run(sillyCalc);
    rt.read(B, 1, DataKind.BIN, calcRequest(i32, u16s));
    const expected = new Uint8Array(8);
    new DataView(expected.buffer).setBigInt64(0, BigInt(sum));
    assert.equal(host.sends()[0].bytes, expected, `${i32} + ${u16s}`);
    assert.equal(host.sends()[0].to, { kind: 'every_except_single', id: B });
  }
});

Calc('closes requests outside the schema: 4900 for sizes, 4901 for text', () => {
  const bad: [number, Uint8Array, number][] = [
    [DataKind.BIN, calcRequest(1, []), 4900],
    [DataKind.BIN, calcRequest(1, new Array(11).fill(1)), 4900],
    [DataKind.BIN, calcRequest(1, [1]).subarray(0, 5), 4900],
    [DataKind.BIN, new Uint8Array(3), 4900],
    [DataKind.UTF8, calcRequest(1, [1]), 4901],
  ];
  for (const [kind, payload, code] of bad) {
    const { host, rt } = run(sillyCalc);
    rt.read(A, 1, kind, payload);
    assert.equal(host.events.filter((e) => e.type !== 'log'), [{ type: 'close', id: A, code }]);
  }
});

// ---------------------------------------------------------------------------------------------
const Chat = suite('chat');

/** The JSON messages sent so far, with their recipients. */
function chatSends(host: RecordingHost): [unknown, unknown][] {
  return host.sends().map((s) => {
    assert.is(s.kind, RS_UTF8);
    return [s.to, JSON.parse(dec(s.bytes))];
  });
}

const req = (byte: number, rest: Uint8Array | string = new Uint8Array(0)) => {
  const r = typeof rest === 'string' ? enc(rest) : rest;
  const b = new Uint8Array(1 + r.length);
  b[0] = byte;
  b.set(r, 1);
  return b;
};

function whisper(to: bigint, text: string): Uint8Array {
  const t = enc(text);
  const b = new Uint8Array(9 + t.length);
  b[0] = 2;
  new DataView(b.buffer).setBigUint64(1, to);
  b.set(t, 9);
  return b;
}

Chat('welcomes a new client and tells everyone else it joined', () => {
  const { host, rt } = run(chat, [A]);
  rt.open(B, 1, ADDR);
  assert.equal(chatSends(host), [
    [{ kind: 'single', id: B }, { type: 'welcome', id: B, name: `guest-${B}` }],
    [{ kind: 'every_except_single', id: B }, { type: 'join', id: B, name: `guest-${B}` }],
  ]);
});

Chat('says to everyone but the sender, from text or binary messages', () => {
  const { host, rt } = run(chat);
  rt.read(A, 1, DataKind.UTF8, req(0, 'hi 笑'));
  rt.read(B, 1, DataKind.BIN, req(0, 'yo'));
  assert.equal(chatSends(host), [
    [{ kind: 'every_except_single', id: A }, { type: 'say', id: A, name: `guest-${A}`, text: 'hi 笑' }],
    [{ kind: 'every_except_single', id: B }, { type: 'say', id: B, name: `guest-${B}`, text: 'yo' }],
  ]);
});

Chat('renames for everyone, and later messages carry the new name', () => {
  const { host, rt } = run(chat);
  rt.read(A, 1, DataKind.UTF8, req(1, 'ann'));
  rt.read(A, 1, DataKind.UTF8, req(0, 'hello'));
  assert.equal(chatSends(host), [
    [{ kind: 'every' }, { type: 'rename', id: A, old: `guest-${A}`, name: 'ann' }],
    [{ kind: 'every_except_single', id: A }, { type: 'say', id: A, name: 'ann', text: 'hello' }],
  ]);
});

Chat('closes a client that picks a name with a control character with 4001, and says it left', () => {
  const { host, rt } = run(chat);
  rt.read(A, 1, DataKind.UTF8, req(1, 'a\u0007b'));
  assert.is(CLOSE_BAD_NAME, 4001);
  assert.equal(host.closes(), [[A, 4001]]);
  assert.equal(chatSends(host), [[{ kind: 'every' }, { type: 'leave', id: A, name: `guest-${A}` }]]);
  assert.is(rt.clientCount, 2);
});

Chat('whispers to one client and confirms to the sender', () => {
  const { host, rt } = run(chat);
  rt.read(A, 1, DataKind.BIN, whisper(BigInt(C), 'psst'));
  assert.equal(chatSends(host), [
    [{ kind: 'single', id: C }, { type: 'whisper', id: A, name: `guest-${A}`, text: 'psst' }],
    [{ kind: 'single', id: A }, { type: 'whispered', to: C }],
  ]);
});

Chat('answers a whisper to nobody with an error', () => {
  const { host, rt } = run(chat);
  rt.read(A, 1, DataKind.BIN, whisper(2n ** 64n - 1n, 'x'));
  rt.read(A, 1, DataKind.BIN, whisper(999n, 'x'));
  assert.equal(chatSends(host), [
    [{ kind: 'single', id: A }, { type: 'error', message: 'no client 18446744073709551615' }],
    [{ kind: 'single', id: A }, { type: 'error', message: 'no client 999' }],
  ]);
});

Chat('lists who is here, by id', () => {
  const { host, rt } = run(chat, [C, A]);
  rt.read(C, 1, DataKind.UTF8, req(1, 'cy'));
  host.clear();
  rt.read(A, 1, DataKind.BIN, req(3));
  assert.equal(chatSends(host), [
    [{ kind: 'single', id: A }, { type: 'list', clients: [{ id: A, name: `guest-${A}` }, { id: C, name: 'cy' }] }],
  ]);
});

Chat('tells everyone when a client leaves, and forgets it', () => {
  const { host, rt } = run(chat);
  rt.read(B, 1, DataKind.UTF8, req(1, 'bo'));
  rt.close(B, 1);
  rt.read(A, 1, DataKind.BIN, req(3));
  const sends = chatSends(host);
  assert.equal(sends[1], [{ kind: 'every' }, { type: 'leave', id: B, name: 'bo' }]);
  assert.equal(sends[2], [{ kind: 'single', id: A }, { type: 'list', clients: [{ id: A, name: `guest-${A}` }, { id: C, name: `guest-${C}` }] }]);
});

Chat('closes malformed requests: 4902 unknown, 4901 wrong kind, 4900 wrong size', () => {
  const cases: [number, Uint8Array, number][] = [
    [DataKind.BIN, req(9), 4902],
    [DataKind.BIN, req(1, 'ann'), 4901],
    [DataKind.UTF8, req(3), 4901],
    [DataKind.UTF8, req(0), 4900],
    [DataKind.UTF8, req(0, 'x'.repeat(1001)), 4900],
    [DataKind.UTF8, req(1, 'x'.repeat(33)), 4900],
    [DataKind.BIN, req(3, 'x'), 4900],
    [DataKind.BIN, whisper(1n, '').subarray(0, 8), 4900],
    [DataKind.BIN, new Uint8Array(0), 4900],
  ];
  for (const [kind, payload, code] of cases) {
    const { host, rt } = run(chat);
    rt.read(A, 1, kind, payload);
    assert.equal(host.closes(), [[A, code]], `request ${[...payload.subarray(0, 4)]}`);
  }
});

Chat('starts an empty room on every init', () => {
  run(chat, [A, B]);
  const { host, rt } = run(chat, [C]);
  rt.read(C, 1, DataKind.BIN, req(3));
  assert.equal(chatSends(host), [[{ kind: 'single', id: C }, { type: 'list', clients: [{ id: C, name: `guest-${C}` }] }]]);
});

// ---------------------------------------------------------------------------------------------
const Echo = suite('echo and broadcast');

Echo('echo sends every message back to its sender with the same data kind', () => {
  const { host, rt } = run(echo);
  const big = new Uint8Array(70_000).map((_, i) => i * 7);
  rt.read(A, 1, DataKind.UTF8, enc('hello 笑笑'));
  rt.read(B, 1, DataKind.BIN, new Uint8Array([0, 255, 1]));
  rt.read(C, 1, DataKind.BIN, new Uint8Array(0));
  rt.read(A, 1, DataKind.BIN, big);
  assert.equal(host.events, [
    { type: 'send', kind: RS_UTF8, bytes: enc('hello 笑笑'), to: { kind: 'single', id: A } },
    { type: 'send', kind: RS_BIN, bytes: new Uint8Array([0, 255, 1]), to: { kind: 'single', id: B } },
    { type: 'send', kind: RS_BIN, bytes: new Uint8Array(0), to: { kind: 'single', id: C } },
    { type: 'send', kind: RS_BIN, bytes: big, to: { kind: 'single', id: A } },
  ]);
});

Echo('broadcast sends every message to every client, the sender included', () => {
  const { host, rt } = run(broadcast);
  rt.read(B, 1, DataKind.UTF8, enc('all'));
  rt.read(C, 1, DataKind.BIN, new Uint8Array([9]));
  assert.equal(host.events, [
    { type: 'send', kind: RS_UTF8, bytes: enc('all'), to: { kind: 'every' } },
    { type: 'send', kind: RS_BIN, bytes: new Uint8Array([9]), to: { kind: 'every' } },
  ]);
});

Calc.run();
Chat.run();
Echo.run();
