// The daemon end to end with apps/echo: ws (the reference client) and raw sockets.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { connect, Inbox, closed, rawExchange, upgradeRequest, clientFrame } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';
import { Opcode, CloseCode } from '../src/core/codes.ts';

const Echo = suite<{ d: RunningDaemon }>('daemon echo');

const echo = daemonSuite(Echo, async (ctx) => {
  ctx.d = await startDaemon({ config: { max_ws_msg_size: 16 * 1024 * 1024 + 16 } });
});

function pattern(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

Echo('echoes text with the same data kind', async ({ d }) => {
  const ws = await connect(d.url());
  const inbox = new Inbox(ws);
  ws.send('hello 笑笑');
  const m = await inbox.next();
  assert.is(m.isBinary, false);
  assert.is(m.data.toString(), 'hello 笑笑');
  ws.close();
  await closed(ws);
});

Echo('echoes binary payloads of 0, 1, 125, 126, 65535, 65536 and 1 MiB bytes', async ({ d }) => {
  const ws = await connect(d.url());
  const inbox = new Inbox(ws);
  for (const n of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
    const p = pattern(n, n);
    ws.send(p);
    const m = await inbox.next();
    assert.is(m.isBinary, true, `binary kind for ${n}`);
    assert.is(m.data.length, n, `length ${n}`);
    assert.ok(m.data.equals(p), `bytes of ${n}`);
  }
  ws.close();
  await closed(ws);
});

Echo('echoes a 16 MiB message', async ({ d }) => {
  const ws = await connect(d.url());
  const inbox = new Inbox(ws);
  const p = pattern(16 * 1024 * 1024, 3);
  ws.send(p);
  const m = await inbox.next(30000);
  assert.is(m.data.length, p.length);
  assert.ok(m.data.equals(p));
  ws.close();
  await closed(ws);
});

Echo('keeps many messages in order', async ({ d }) => {
  const ws = await connect(d.url());
  const inbox = new Inbox(ws);
  for (let i = 0; i < 2000; i++) ws.send(`m${i}`);
  for (let i = 0; i < 2000; i++) assert.is((await inbox.next()).data.toString(), `m${i}`);
  ws.close();
  await closed(ws);
});

Echo('answers a ping with a pong carrying the same payload', async ({ d }) => {
  const ws = await connect(d.url());
  const pong = new Promise<Buffer>((r) => ws.once('pong', r));
  ws.ping(Buffer.from('are you there'));
  assert.is((await withDeadline(pong, 5000, 'pong')).toString(), 'are you there');
  ws.close();
  await closed(ws);
});

Echo('reassembles a fragmented message with pings in between, and keeps a frame sent with the request', async ({ d }) => {
  const frames = [
    upgradeRequest(d.port) ,
    clientFrame(Opcode.TEXT, 'Hel', false),
    clientFrame(Opcode.PING, 'p1'),
    clientFrame(Opcode.CONTINUATION, 'lo, ', false),
    clientFrame(Opcode.PING, 'p2'),
    clientFrame(Opcode.CONTINUATION, 'world'),
  ];
  // Everything in one write: the frames arrive in the same packet as the request. The close
  // follows once the echo had time to come back.
  const out = await rawExchange(d.port, [Buffer.concat(frames.map((f) => Buffer.from(f))), 300, clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8]))]);
  const text = out.toString('latin1');
  assert.ok(text.startsWith('HTTP/1.1 101 '), text.slice(0, 40));
  const body = out.subarray(out.indexOf('\r\n\r\n') + 4);
  // pong p1, pong p2, text "Hello, world", close 1000 — pongs come as soon as the pings are read.
  const expect = Buffer.concat([
    Buffer.from([0x8a, 2]), Buffer.from('p1'),
    Buffer.from([0x8a, 2]), Buffer.from('p2'),
    Buffer.from([0x81, 12]), Buffer.from('Hello, world'),
    Buffer.from([0x88, 2, 0x03, 0xe8]),
  ]);
  assert.equal([...body], [...expect]);
});

Echo('echoes the client close code and reason', async ({ d }) => {
  for (const code of [1000, 1001, 3000, 4000, 4999]) {
    const ws = await connect(d.url());
    ws.close(code, 'bye');
    const c = await closed(ws);
    assert.is(c.code, code);
    assert.is(c.reason, 'bye');
  }
});

Echo('replies to an empty close with an empty close (the client sees 1005)', async ({ d }) => {
  const out = await rawExchange(d.port, [upgradeRequest(d.port), clientFrame(Opcode.CLOSE, Buffer.alloc(0))]);
  const body = out.subarray(out.indexOf('\r\n\r\n') + 4);
  assert.equal([...body], [0x88, 0]);
});

async function expectClose(d: RunningDaemon, frames: Buffer[], code: number): Promise<void> {
  const out = await rawExchange(d.port, [upgradeRequest(d.port), ...frames]);
  const body = out.subarray(out.indexOf('\r\n\r\n') + 4);
  const closeAt = body.indexOf(Buffer.from([0x88]));
  assert.ok(closeAt >= 0, `a close frame arrives (got ${body.toString('hex')})`);
  assert.is(body.readUInt16BE(closeAt + 2), code);
}

Echo('closes with 1002 on an unmasked frame', async ({ d }) => {
  await expectClose(d, [Buffer.from([0x81, 0x02, 0x68, 0x69])], CloseCode.PROTOCOL_ERROR);
});

Echo('closes with 1002 on a reserved bit', async ({ d }) => {
  const f = clientFrame(Opcode.TEXT, 'x');
  f[0] |= 0x40;
  await expectClose(d, [f], CloseCode.PROTOCOL_ERROR);
});

Echo('closes with 1002 on a reserved opcode', async ({ d }) => {
  await expectClose(d, [clientFrame(3, 'x')], CloseCode.PROTOCOL_ERROR);
});

Echo('closes with 1002 on a continuation without a start', async ({ d }) => {
  await expectClose(d, [clientFrame(Opcode.CONTINUATION, 'x')], CloseCode.PROTOCOL_ERROR);
});

Echo('closes with 1002 on a close frame with an invalid code', async ({ d }) => {
  await expectClose(d, [clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xed]))], CloseCode.PROTOCOL_ERROR); // 1005
});

Echo('closes with 1007 on invalid UTF-8, even in the first fragment', async ({ d }) => {
  await expectClose(d, [clientFrame(Opcode.TEXT, Buffer.from([0xce, 0xba, 0xed, 0xa0, 0x80]), false)], CloseCode.INVALID_PAYLOAD);
});

Echo('serves a new client after others failed', async ({ d }) => {
  const ws = await connect(d.url());
  const inbox = new Inbox(ws);
  ws.send('still here');
  assert.is((await inbox.next()).data.toString(), 'still here');
  ws.close();
  await closed(ws);
});

echo.stopTest();

Echo.run();

const Limits = suite<{ d: RunningDaemon }>('daemon limits');
const limits = daemonSuite(Limits, async (ctx) => {
  ctx.d = await startDaemon({ config: { max_ws_msg_size: 1024, max_ws_fragment_c: 8 } });
});

Limits('closes with 1009 on a message over max_ws_msg_size, from the header alone', async ({ d }) => {
  const ws = await connect(d.url());
  const c = closed(ws);
  ws.send(Buffer.alloc(1025));
  assert.is((await c).code, CloseCode.MESSAGE_TOO_BIG);
});

Limits('closes with 1009 on too many fragments', async ({ d }) => {
  const frames = [];
  for (let i = 0; i < 10; i++) frames.push(clientFrame(i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, 'x', false));
  await expectClose(d, frames, CloseCode.MESSAGE_TOO_BIG);
});

Limits('accepts a message of exactly max_ws_msg_size', async ({ d }) => {
  const ws = await connect(d.url());
  const inbox = new Inbox(ws);
  ws.send(Buffer.alloc(1024, 9));
  assert.is((await inbox.next()).data.length, 1024);
  ws.close();
  await closed(ws);
});

limits.stopTest();

Limits.run();

const Timeouts = suite<{ d: RunningDaemon }>('daemon timeouts');
const timeouts = daemonSuite(Timeouts, async (ctx) => {
  ctx.d = await startDaemon({ config: { idle_timeout: 2, ping_interval: 1, shutdown_wait_http: 1 } });
});

Timeouts('sends a ping after ping_interval of silence', async ({ d }) => {
  const ws = await connect(d.url(), { autoPong: false });
  const ping = new Promise<void>((r) => ws.once('ping', () => r()));
  await withDeadline(ping, 4000, 'server ping');
  ws.terminate();
});

Timeouts('closes an idle client with 1001 after idle_timeout', async ({ d }) => {
  const ws = await connect(d.url(), { autoPong: false });
  const c = await closed(ws, 6000);
  assert.is(c.code, CloseCode.GOING_AWAY);
});

Timeouts('a client that answers pings is not idle', async ({ d }) => {
  const ws = await connect(d.url());
  let closedEarly = false;
  ws.once('close', () => { closedEarly = true; });
  await new Promise((r) => setTimeout(r, 3500));
  assert.is(closedEarly, false);
  ws.close();
  await closed(ws);
});

Timeouts('answers 408 and closes when the handshake does not finish within shutdown_wait_http', async ({ d }) => {
  const started = Date.now();
  const out = await rawExchange(d.port, ['GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n'], 5000);
  assert.match(out.toString(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.ok(Date.now() - started >= 900, 'waited about a second');
});

timeouts.stopTest();

Timeouts.run();
