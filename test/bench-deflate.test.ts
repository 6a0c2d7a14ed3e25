// ringsocket-bench --deflate (src/bench/deflate.ts and its use in connection.ts): the check of the
// server's permessage-deflate answer, the RSV1-aware frame decoder, JSON-like text payloads, and
// short real runs against `ws` servers with perMessageDeflate (no daemon needed): echoes and
// broadcasts verified with compression both ways, context takeover on and off, and a server that
// declines the offer fails every connect.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { WebSocketServer } from 'ws';
import type { PerMessageDeflateOptions, RawData } from 'ws';
import { parseBenchArgs } from '../src/bench/args.ts';
import { runBench } from '../src/bench/driver.ts';
import { DEFLATE_OFFER, DeflateSession, parseDeflateResponse } from '../src/bench/deflate.ts';
import { createFraming } from '../src/bench/codec.ts';
import { buildRequest, checkResponse } from '../src/bench/handshake.ts';
import { acceptKey } from '../src/http/accept.ts';
import { jsonLikeText, PayloadFormat } from '../src/bench/payload.ts';
import { bench, assertClean } from './helpers/bench.ts';
import { withDeadline } from './helpers/deadline.ts';

const Parse = suite('bench --deflate: options, offer and answer');

Parse('--deflate is an option of every mode, off by default', () => {
  const on = parseBenchArgs(['echo', 'ws://127.0.0.1:9/x', '--deflate']);
  assert.ok(on.kind === 'run' && on.options.deflate);
  const off = parseBenchArgs(['echo', 'ws://127.0.0.1:9/x']);
  assert.ok(off.kind === 'run' && !off.options.deflate);
});

Parse('the request offers permessage-deflate; client_max_window_bits only with --deflate', () => {
  const target = { url: 'ws://h:1/p', host: 'h', port: 1, path: '/p', hostHeader: 'h:1' };
  assert.ok(buildRequest(target, 'k', true).toString().includes(`\r\nSec-WebSocket-Extensions: ${DEFLATE_OFFER}\r\n`));
  assert.not.ok(buildRequest(target, 'k').toString().includes('Extensions'));
});

Parse('reads what the server agreed to, and refuses a refusal or a malformed answer', () => {
  assert.equal(parseDeflateResponse('permessage-deflate'), { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 });
  assert.equal(parseDeflateResponse('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9'),
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 });
  for (const [v, why] of [
    [undefined, /declined/], ['permessage-deflate; client_max_window_bits', /8 to 15/], ['permessage-deflate; server_max_window_bits=16', /8 to 15/],
    ['permessage-deflate; server_no_context_takeover=1', /has a value/], ['permessage-deflate; x=1', /unknown/], ['x-other', /not offered/],
    ['permessage-deflate, permessage-deflate', /2 elements/], ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /twice/],
  ] as const) {
    const r = parseDeflateResponse(v);
    assert.type(r, 'string', String(v));
    assert.match(r as string, why);
  }
  const head = (ext?: string) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey('k')}${ext ? `\r\nSec-WebSocket-Extensions: ${ext}` : ''}`;
  const ok = checkResponse(head('permessage-deflate; server_no_context_takeover'), 'k', true);
  assert.ok(ok.ok && ok.deflate?.serverNoContextTakeover);
  assert.equal(checkResponse(head(), 'k', true), { ok: false, reason: 'the server declined permessage-deflate (no Sec-WebSocket-Extensions in its 101)' });
  assert.is(checkResponse(head('permessage-deflate'), 'k').ok, false); // not offered
});

Parse('text payloads are JSON-like and verifiable with --deflate; they compress, but not to nothing', () => {
  const t = jsonLikeText(2048);
  assert.is(t.length, 2048);
  assert.ok(t.every((b) => b >= 0x20 && b < 0x7f));
  const ratio = zlib.deflateRawSync(t).length / t.length;
  assert.ok(ratio > 0.15 && ratio < 0.6, `compresses to ${ratio}`);
  const f = new PayloadFormat('echo', 2048, false, true);
  const p = f.make(3, 42);
  assert.is(f.read(p), 0);
  assert.equal([f.id, f.seq], [3, 42]);
});

const Frames = suite('bench --deflate: the WebAssembly frame decoder with the extension on');

async function decode(bytes: number[][]) {
  const got: string[] = [];
  const framing = await createFraming();
  const d = framing.decoder({
    onMessage: (binary, b, compressed) => got.push(`${binary ? 'bin' : 'text'} ${compressed ? 'z' : '-'} ${Buffer.from(b).toString('hex')}`),
    onPing: (p) => got.push(`ping ${Buffer.from(p).toString('hex')}`),
    onClose: (code) => got.push(`close ${code}`),
    onError: (e) => got.push(`error ${e.closeCode} ${e.code}`),
  }, 1024, true);
  for (const b of bytes) d.push(Uint8Array.from(b));
  d.free();
  return got;
}

Frames('messages, RSV1 on the first frame, fragments split across pushes, pings, close', async () => {
  assert.equal(await decode([[0xc1, 0x02, 0xaa, 0xbb]]), ['text z aabb']);
  assert.equal(await decode([[0x42, 0x01, 0x01, 0x89, 0x00], [0x80, 0x01], [0x02, 0x88, 0x02, 0x03, 0xe8]]), ['ping ', 'bin z 0102', 'close 1000']);
  assert.equal(await decode([[0x82, 0x7e, 0x00, 0x03, 1, 2], [3]]), ['bin - 010203']);
});

Frames('fails RSV1 on a continuation or a control frame, RSV2/3, masks, stray continuations', async () => {
  assert.match((await decode([[0x41, 0x01, 0x01, 0xc0, 0x01, 0x02]]))[0], /^error 1002 RS_ERR_RSV/);
  assert.match((await decode([[0xc9, 0x00]]))[0], /^error 1002 RS_ERR_RSV/);
  assert.match((await decode([[0xa1, 0x00]]))[0], /^error 1002 RS_ERR_RSV/);
  assert.match((await decode([[0x81, 0x80, 0, 0, 0, 0]]))[0], /^error 1002 RS_ERR_MASKED_FRAME/);
  assert.match((await decode([[0x80, 0x00]]))[0], /^error 1002 RS_ERR_CONTINUATION_WITHOUT_START/);
  assert.match((await decode([[0x82, 0x7e, 0x08, 0x00]]))[0], /^error 1009/);
});

Frames('a session compresses and inflates as negotiated, with and without context takeover', async () => {
  for (const noCtx of [false, true]) {
    const p = { serverNoContextTakeover: noCtx, clientNoContextTakeover: noCtx, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
    const a = new DeflateSession(p, 1 << 20);
    const msg = Buffer.from(jsonLikeText(1500));
    const c1 = await a.compress(msg);
    const c2 = await a.compress(msg);
    // With context takeover the second copy refers back to the first and is much smaller.
    if (noCtx) assert.is(c2.length, c1.length); else assert.ok(c2.length < c1.length / 4, `${c2.length} vs ${c1.length}`);
    const b = new DeflateSession(p, 1 << 20);
    assert.ok((await b.inflate(c1)).equals(msg));
    assert.ok((await b.inflate(c2)).equals(msg));
    a.close();
    b.close();
  }
});

const Run = suite('bench --deflate: runs against ws with perMessageDeflate');

async function server(perMessageDeflate: boolean | PerMessageDeflateOptions, mode: 'echo' | 'broadcast' = 'echo') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await new Promise<void>((r) => wss.on('listening', () => r()));
  const seen = { extensions: new Set<string>(), bytesRead: 0, messages: 0, bytes: 0 };
  // The 101's Sec-WebSocket-Extensions, as ws writes it.
  wss.on('headers', (h: string[]) => { for (const l of h) if (/^sec-websocket-extensions:/i.test(l)) seen.extensions.add(l.slice(l.indexOf(':') + 1).trim()); });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    ws.on('close', () => { seen.bytesRead += req.socket.bytesRead; });
    ws.on('message', (data: RawData, isBinary) => {
      seen.messages++;
      seen.bytes += (data as Buffer).length;
      if (mode === 'echo') ws.send(data, { binary: isBinary });
      else for (const c of wss.clients) c.send(data, { binary: isBinary });
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/x`,
    seen,
    close: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }),
  };
}


Run('echo of 2 KiB JSON-like text: verified, compressed on the wire both ways (ws keeps context)', async () => {
  const s = await server({ threshold: 0 });
  try {
    const r = await bench(['echo', s.url, '-c', '8', '-p', '2', '-s', '2048', '-d', '0.5', '--deflate']);
    assertClean(r);
    assert.ok(r.options.deflate);
    assert.ok(r.messages.received > 50, `${r.messages.received} echoes`);
    assert.equal([...s.seen.extensions], ['permessage-deflate']);
    // What came over TCP is far less than the payloads it carried: the client compressed them.
    assert.ok(s.seen.bytesRead < s.seen.bytes / 2, `${s.seen.bytesRead} bytes read for ${s.seen.bytes} bytes of messages`);
  } finally {
    await s.close();
  }
});

Run('echo with no context takeover either way and a small window, binary, two threads', async () => {
  const s = await server({ threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 });
  try {
    const r = await bench(['echo', s.url, '-c', '6', '-s', '4096', '--binary', '--threads', '2', '-d', '0.5', '--deflate']);
    assertClean(r);
    assert.ok(r.messages.received > 20);
    assert.equal([...s.seen.extensions], ['permessage-deflate; client_max_window_bits=9; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10']);
  } finally {
    await s.close();
  }
});

Run('echo with ws\'s default threshold: small echoes come back uncompressed, in order with the rest', async () => {
  const s = await server(true);
  try {
    const r = await bench(['echo', s.url, '-c', '4', '-p', '4', '-s', '64', '-d', '0.4', '--deflate']);
    assertClean(r);
    assert.ok(r.messages.received > 20);
  } finally {
    await s.close();
  }
});

Run('broadcast with compression: every client gets every message', async () => {
  const s = await server({ threshold: 0 }, 'broadcast');
  try {
    const r = await bench(['broadcast', s.url, '-c', '10', '--senders', '2', '-s', '1024', '-d', '0.5', '--deflate']);
    assertClean(r);
    assert.ok(r.completed !== null && r.completed.count > 10);
  } finally {
    await s.close();
  }
});

Run('a server without permessage-deflate fails every connect, saying it declined', async () => {
  const s = await server(false);
  try {
    const p = parseBenchArgs(['echo', s.url, '-c', '3', '-d', '0.2', '--deflate']);
    if (p.kind !== 'run') throw new Error('args');
    const r = await withDeadline(runBench(p.options), 30000, 'bench');
    assert.not.ok(r.ok);
    assert.is(r.connections.failed, 3);
    assert.match(r.errorSamples.join('\n'), /declined permessage-deflate/);
  } finally {
    await s.close();
  }
});

Parse.run();
Frames.run();
Run.run();
