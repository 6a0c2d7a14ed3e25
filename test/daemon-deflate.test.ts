// permessage-deflate end to end: the real daemon with apps/echo and apps/broadcast, ws clients with
// and without perMessageDeflate (and its options), and raw sockets for what ws would not send:
// fragmented compressed messages, a compression bomb, RSV1 where it is not allowed, malformed offers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import zlib from 'node:zlib';
import WebSocket from 'ws';
import { withDeadline } from './helpers/deadline.ts';
import { startDaemon, ECHO, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { Inbox, closed, rawExchange, upgradeRequest, clientFrame } from './helpers/client.ts';
import { Opcode, CloseCode } from '../src/core/codes.ts';

const MAX_MSG = 2 * 1024 * 1024;
const D = suite<{ d: RunningDaemon }>('daemon permessage-deflate');

const dd = daemonSuite(D, async (ctx) => {
  ctx.d = await startDaemon({
    config: { max_ws_msg_size: MAX_MSG, permessage_deflate: true },
    apps: [
      { ...ECHO, paths: ['/echo'] },
      { name: 'echo-ctx', app_path: 'apps/echo/app.ts', paths: ['/ctx'], endpoint: { permessage_deflate: { server_no_context_takeover: false, threshold: 16 } } },
      { name: 'echo-plain', app_path: 'apps/echo/app.ts', paths: ['/plain'], endpoint: { permessage_deflate: false } },
      { name: 'broadcast', app_path: 'apps/broadcast/app.ts', paths: ['/bc', '/bc-ctx'] },
      { name: 'echo-cap', app_path: 'apps/echo/app.ts', paths: ['/cap'], endpoint: { permessage_deflate: { max_contexts: 1 } } },
      { name: 'hooked-cap', app_path: 'test/fixtures/apps/upgrade/app.ts', paths: ['/hooked-cap'], endpoint: { permessage_deflate: { max_contexts: 1 } } },
    ],
  });
});

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
const RSV1 = 0x40;
const deflated = (b: Buffer | string): Buffer => {
  const c = zlib.deflateRawSync(typeof b === 'string' ? Buffer.from(b) : b, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return c.subarray(0, c.length - 4);
};
const inflated = (b: Buffer): Buffer => zlib.inflateRawSync(Buffer.concat([b, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
function text(n: number, seed = 0): string {
  const words = ['deflate', 'ringsocket', 'message', 'window', 'context', '笑', 'takeover', 'é'];
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[(i * 7 + seed) % words.length] + ' ';
  return s.slice(0, n);
}
function binary(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = ((i >> 3) * 13 + seed) & 0x3f;
  return b;
}

interface Frame { fin: boolean; rsv1: boolean; rsv: number; opcode: number; payload: Buffer }
/** The 101's head and the server frames after it. */
function parseResponse(all: Buffer): { head: string; frames: Frame[] } {
  const end = all.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a response head: ${all.toString('latin1').slice(0, 200)}`);
  const head = all.subarray(0, end).toString('latin1');
  const frames: Frame[] = [];
  let p = end + 4;
  while (p + 2 <= all.length) {
    const b0 = all[p], b1 = all[p + 1];
    let len = b1 & 0x7f, h = 2;
    if (len === 126) { len = all.readUInt16BE(p + 2); h = 4; }
    else if (len === 127) { len = Number(all.readBigUInt64BE(p + 2)); h = 10; }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & RSV1) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, payload: all.subarray(p + h, p + h + len) });
    p += h + len;
  }
  return { head, frames };
}
const closeCodeOf = (frames: Frame[]): number | undefined => {
  const c = frames.find((f) => f.opcode === Opcode.CLOSE);
  return c && c.payload.length >= 2 ? c.payload.readUInt16BE(0) : undefined;
};
/** A client frame with RSV1 set (a compressed message's first frame). */
function rsv1(frame: Buffer): Buffer {
  frame[0] |= RSV1;
  return frame;
}
const OFFER = { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' };
const closeFrame = () => clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8]));

async function raw(d: RunningDaemon, path: string, frames: (Buffer | number)[], headers: Record<string, string> = OFFER): Promise<{ head: string; frames: Frame[] }> {
  return parseResponse(await rawExchange(d.port, [upgradeRequest(d.port, path, headers), ...frames], 10000));
}

/** A ws client, its inbox, and the Sec-WebSocket-Extensions of the 101 it got. */
function extHeader(url: string, opts: WebSocket.ClientOptions): Promise<{ ws: WebSocket; inbox: Inbox; ext: string | undefined }> {
  return withDeadline(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, ...opts });
    const inbox = new Inbox(ws);
    let ext: string | undefined;
    ws.once('upgrade', (res) => { ext = res.headers['sec-websocket-extensions']; });
    ws.once('open', () => resolve({ ws, inbox, ext }));
    ws.once('error', reject);
  }), 5000, `connect ${url}`);
}

D('a ws client with perMessageDeflate gets the extension; the 101 names the agreed parameters', async ({ d }) => {
  const { ws, ext } = await extHeader(d.url('/echo'), { perMessageDeflate: true });
  assert.is(ext, 'permessage-deflate; server_no_context_takeover');
  ws.close();
  await closed(ws);
  const r = await raw(d, '/ctx', [closeFrame()]);
  assert.match(r.head, /^HTTP\/1\.1 101 /);
  assert.match(r.head, /\r\nSec-WebSocket-Extensions: permessage-deflate\r?$/m);
});

D('a client without the offer, and an endpoint with permessage_deflate false, get no extension', async ({ d }) => {
  for (const [path, opts] of [['/echo', { perMessageDeflate: false }], ['/plain', { perMessageDeflate: true }]] as const) {
    const { ws, inbox, ext } = await extHeader(d.url(path), opts);
    assert.is(ext, undefined, path);
    ws.send(text(5000));
    assert.is((await inbox.next()).data.toString(), text(5000));
    ws.close();
    await closed(ws);
  }
  const r = await raw(d, '/plain', [closeFrame()]);
  assert.not.match(r.head, /Sec-WebSocket-Extensions/i);
});

D('max_contexts: a client beyond it is answered with no context takeover both ways, and its slot comes back', async ({ d }) => {
  const a = await extHeader(d.url('/cap'), { perMessageDeflate: true });
  const b = await extHeader(d.url('/cap'), { perMessageDeflate: true });
  assert.is(a.ext, 'permessage-deflate; server_no_context_takeover');
  assert.is(b.ext, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  for (const c of [a, b]) {
    for (const n of [3000, 3000, 40000]) {
      c.ws.send(text(n, n));
      assert.is((await c.inbox.next()).data.toString(), text(n, n));
    }
  }
  a.ws.close(CloseCode.NORMAL);
  await closed(a.ws);
  await new Promise((r) => setTimeout(r, 100)); // the worker's socket 'close' frees the slot
  const c = await extHeader(d.url('/cap'), { perMessageDeflate: true });
  assert.is(c.ext, 'permessage-deflate; server_no_context_takeover', 'the freed context is given again');
  for (const x of [b, c]) { x.ws.close(CloseCode.NORMAL); await closed(x.ws); }
});

D('max_contexts: a handshake waiting for an upgrade hook holds no context; it is negotiated when the client opens', async ({ d }) => {
  await new Promise((r) => setTimeout(r, 100)); // the previous test's closes have freed their contexts
  // a waits 800 ms for the hook; b, which asks meanwhile and is accepted at once, gets the one context.
  const slow = extHeader(d.url('/hooked-cap?mode=accept&delay=800'), { perMessageDeflate: true });
  await new Promise((r) => setTimeout(r, 200));
  const b = await extHeader(d.url('/hooked-cap?mode=accept'), { perMessageDeflate: true });
  assert.is(b.ext, 'permessage-deflate; server_no_context_takeover', 'the waiting handshake did not take the context');
  const a = await slow;
  assert.is(a.ext, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover', 'beyond max_contexts when it opened');
  for (const x of [a, b]) { x.ws.close(CloseCode.NORMAL); await closed(x.ws); }
});

D('echoes text and binary below and above the threshold with every ws option', async ({ d }) => {
  const variants: [string, WebSocket.ClientOptions['perMessageDeflate']][] = [
    ['/echo', true], ['/ctx', true], ['/echo', { clientNoContextTakeover: true }], ['/ctx', { serverNoContextTakeover: true }],
    ['/ctx', { serverMaxWindowBits: 10, clientMaxWindowBits: 9 }], ['/ctx', { serverMaxWindowBits: 8 }], ['/echo', { serverMaxWindowBits: 8 }], ['/echo', { clientMaxWindowBits: 8, threshold: 0 }],
    ['/ctx', { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 }],
  ];
  for (const [path, pmd] of variants) {
    const { ws, inbox, ext } = await extHeader(d.url(path), { perMessageDeflate: pmd });
    assert.ok(ext, `${path} ${JSON.stringify(pmd)} negotiated`);
    // Repeated messages: with context takeover the later ones refer back to the earlier ones.
    for (const n of [0, 10, 1023, 1024, 5000, 70000, 300000, 5000, 70000]) {
      const t = text(n, n);
      ws.send(t);
      const m = await inbox.next();
      assert.is(m.isBinary, false);
      assert.is(m.data.toString(), t, `${path} ${JSON.stringify(pmd)} text ${n}`);
      const b = binary(n, n);
      ws.send(b);
      const mb = await inbox.next();
      assert.ok(mb.isBinary && mb.data.equals(b), `${path} ${JSON.stringify(pmd)} binary ${n}`);
    }
    ws.close(CloseCode.NORMAL);
    const c = await closed(ws);
    assert.is(c.code, CloseCode.NORMAL);
  }
});

D('our frames: RSV1 from the threshold on (1024 by default, 16 on /ctx), never on control frames', async ({ d }) => {
  const small = 'a'.repeat(1023), big = 'b'.repeat(1024);
  const r = await raw(d, '/echo', [clientFrame(Opcode.TEXT, small), clientFrame(Opcode.TEXT, big), clientFrame(Opcode.PING, 'p'), closeFrame()]);
  // The worker answers the ping itself: the pong may come before the app's echoes.
  const [f1, f2] = r.frames.filter((f) => f.opcode === Opcode.TEXT);
  const pong = r.frames.find((f) => f.opcode === Opcode.PONG)!;
  const cl = r.frames[r.frames.length - 1];
  assert.is(f1.rsv1, false);
  assert.is(f1.payload.toString(), small);
  assert.is(f2.rsv1, true);
  assert.ok(f2.payload.length < 100, `compressed to ${f2.payload.length}`);
  assert.is(inflated(f2.payload).toString(), big);
  assert.is(pong.opcode, Opcode.PONG);
  assert.is(pong.rsv, 0);
  assert.is(cl.opcode, Opcode.CLOSE);
  assert.is(cl.rsv, 0);
  const r2 = await raw(d, '/ctx', [clientFrame(Opcode.TEXT, 'a'.repeat(15)), clientFrame(Opcode.TEXT, 'b'.repeat(16))]
    .concat([closeFrame()]));
  assert.is(r2.frames[0].rsv1, false);
  assert.is(r2.frames[1].rsv1, true);
});

D('a fragmented compressed message (RSV1 on the first frame, a ping between) is inflated whole', async ({ d }) => {
  const t = text(20000, 3);
  const z = deflated(t);
  const a = z.subarray(0, 10), b = z.subarray(10, 200), c = z.subarray(200);
  const r = await raw(d, '/echo', [
    rsv1(clientFrame(Opcode.TEXT, a, false)), clientFrame(Opcode.CONTINUATION, b, false), clientFrame(Opcode.PING, 'x'),
    50, clientFrame(Opcode.CONTINUATION, c, true), closeFrame(),
  ]);
  const data = r.frames.filter((f) => f.opcode === Opcode.TEXT);
  assert.is(data.length, 1);
  assert.is(inflated(data[0].payload).toString(), t);
  assert.is(closeCodeOf(r.frames), 1000);
});

D('compressed messages on a connection without client context: each stands alone', async ({ d }) => {
  const headers = { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_no_context_takeover' };
  const r = await raw(d, '/echo', [rsv1(clientFrame(Opcode.BINARY, deflated(binary(3000)))), rsv1(clientFrame(Opcode.BINARY, deflated(binary(3000)))), closeFrame()], headers);
  assert.match(r.head, /Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover/);
  const data = r.frames.filter((f) => f.opcode === Opcode.BINARY);
  assert.is(data.length, 2);
  for (const f of data) assert.ok(inflated(f.payload).equals(binary(3000)));
});

D('a broadcast reaches deflate and plain clients, on shared and own contexts, intact', async ({ d }) => {
  const clients = await Promise.all([
    extHeader(d.url('/bc'), { perMessageDeflate: true }),
    extHeader(d.url('/bc'), { perMessageDeflate: false }),
    extHeader(d.url('/bc'), { perMessageDeflate: { serverMaxWindowBits: 9 } }),
    extHeader(d.url('/bc-ctx'), { perMessageDeflate: { clientNoContextTakeover: true } }),
    extHeader(d.url('/bc'), { perMessageDeflate: false }),
  ]);
  assert.equal(clients.map((c) => c.ext !== undefined), [true, false, true, true, false]);
  const msgs = [text(5000, 1), text(10), text(5000, 1), text(200000, 2)];
  for (const m of msgs) {
    clients[0].ws.send(m);
    for (const [i, c] of clients.entries()) assert.is((await c.inbox.next()).data.toString(), m, `client ${i}`);
  }
  clients[1].ws.send(binary(4096));
  for (const c of clients) assert.ok((await c.inbox.next()).data.equals(binary(4096)));
  for (const c of clients) { c.ws.close(); await closed(c.ws); }
});

D('a compression bomb is closed with 1009 without being inflated', async ({ d }) => {
  // 1 GiB of zeros deflates to about 1 MB (zlib's ratio is at most about 1032:1); the decoder lets
  // it through (1 MB < max_ws_msg_size), the inflation stops past 2 MiB.
  const bomb = zlib.deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
  const payload = Buffer.concat(new Array(16).fill(bomb.subarray(0, bomb.length - 4)));
  // 16 × 64 MiB: a stream of 16 sync-flushed pieces is one valid DEFLATE stream.
  assert.ok(payload.length < MAX_MSG, `${payload.length} compressed bytes`);
  const t0 = Date.now();
  const r = await raw(d, '/ctx', [rsv1(clientFrame(Opcode.BINARY, payload))]);
  assert.is(closeCodeOf(r.frames), CloseCode.MESSAGE_TOO_BIG);
  assert.ok(Date.now() - t0 < 3000, `closed in ${Date.now() - t0} ms`);
  // A few KB that inflate to 10 MiB, on the shared inflater, too.
  const small = deflated(Buffer.alloc(10 * 1024 * 1024));
  assert.ok(small.length < 16 * 1024);
  const r2 = await raw(d, '/echo', [rsv1(clientFrame(Opcode.TEXT, small))], { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_no_context_takeover' });
  assert.is(closeCodeOf(r2.frames), CloseCode.MESSAGE_TOO_BIG);
  assert.match(d.output(), /inflates past max_ws_msg_size \(closing with 1009\)/);
  // The daemon goes on serving.
  const { ws, inbox } = await extHeader(d.url('/echo'), { perMessageDeflate: true });
  ws.send(text(3000));
  assert.is((await inbox.next()).data.toString(), text(3000));
  ws.close();
  await closed(ws);
});

D('a message just at max_ws_msg_size once inflated passes; one byte more is 1009', async ({ d }) => {
  const ok = await raw(d, '/echo', [rsv1(clientFrame(Opcode.BINARY, deflated(Buffer.alloc(MAX_MSG, 1)))), closeFrame()]);
  const data = ok.frames.filter((f) => f.opcode === Opcode.BINARY);
  assert.is(data.length, 1);
  assert.is(inflated(data[0].payload).length, MAX_MSG);
  const over = await raw(d, '/echo', [rsv1(clientFrame(Opcode.BINARY, deflated(Buffer.alloc(MAX_MSG + 1, 1))))]);
  assert.is(closeCodeOf(over.frames), CloseCode.MESSAGE_TOO_BIG);
});

D('RSV1 on a continuation frame or on a control frame is 1002', async ({ d }) => {
  const z = deflated(text(3000));
  const cont = await raw(d, '/echo', [rsv1(clientFrame(Opcode.TEXT, z.subarray(0, 5), false)), rsv1(clientFrame(Opcode.CONTINUATION, z.subarray(5)))]);
  assert.is(closeCodeOf(cont.frames), CloseCode.PROTOCOL_ERROR);
  const ping = await raw(d, '/echo', [rsv1(clientFrame(Opcode.PING, 'x'))]);
  assert.is(closeCodeOf(ping.frames), CloseCode.PROTOCOL_ERROR);
  const cl = await raw(d, '/echo', [rsv1(closeFrame())]);
  assert.is(closeCodeOf(cl.frames), CloseCode.PROTOCOL_ERROR);
  // Without the extension RSV1 stays a protocol error.
  const none = await raw(d, '/echo', [rsv1(clientFrame(Opcode.TEXT, z))], {});
  assert.not.match(none.head, /Sec-WebSocket-Extensions/i);
  assert.is(closeCodeOf(none.frames), CloseCode.PROTOCOL_ERROR);
});

D('invalid compressed data and invalid UTF-8 once inflated are 1007', async ({ d }) => {
  const bad = await raw(d, '/echo', [rsv1(clientFrame(Opcode.BINARY, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x12])))]);
  assert.is(closeCodeOf(bad.frames), CloseCode.INVALID_PAYLOAD);
  const utf8 = await raw(d, '/ctx', [clientFrame(Opcode.TEXT, 'fine'), rsv1(clientFrame(Opcode.TEXT, deflated(Buffer.from([0x61, 0xc3, 0x28]))))]);
  assert.is(utf8.frames[0].payload.toString(), 'fine');
  assert.is(closeCodeOf(utf8.frames), CloseCode.INVALID_PAYLOAD);
});

D('malformed or unacceptable Sec-WebSocket-Extensions do not break the handshake', async ({ d }) => {
  for (const value of [
    'permessage-deflate; client_max_window_bits=', 'permessage-deflate; foo', 'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_no_context_takeover=1', 'x-webkit-deflate-frame', ';;;', 'permessage-deflate; a="unterminated',
  ]) {
    const r = await raw(d, '/echo', [clientFrame(Opcode.TEXT, text(2000)), closeFrame()], { 'Sec-WebSocket-Extensions': value });
    assert.match(r.head, /^HTTP\/1\.1 101 /, value);
    assert.not.match(r.head, /Sec-WebSocket-Extensions/i, value);
    assert.is(r.frames[0].rsv, 0);
    assert.is(r.frames[0].payload.toString(), text(2000), value);
  }
  // A declined offer followed by an acceptable one.
  const r = await raw(d, '/echo', [closeFrame()], { 'Sec-WebSocket-Extensions': 'permessage-deflate; foo, permessage-deflate; server_max_window_bits=10' });
  assert.match(r.head, /Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10/);
});

dd.stopTest();
D.run();
