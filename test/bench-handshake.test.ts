// The bench client's side of the opening handshake (src/bench/handshake.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildRequest, checkResponse, headEnd } from '../src/bench/handshake.ts';
import { parseBenchArgs } from '../src/bench/args.ts';

const H = suite('bench handshake');

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='; // RFC 6455 §1.3's example

function ok(extra = ''): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n${extra}`;
}

H('builds a version 13 upgrade request for the URL path and host', () => {
  const r = parseBenchArgs(['echo', 'ws://127.0.0.1:9000/chat?room=1']);
  if (r.kind !== 'run') throw new Error('bad args');
  assert.is(buildRequest(r.options.targets[0], KEY).toString('latin1'),
    'GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});

H('finds the end of the head, and nothing before the blank line', () => {
  const bytes = Buffer.from(ok() + '\r\n\x81\x00', 'latin1');
  assert.is(headEnd(bytes), bytes.length - 2);
  assert.is(headEnd(Buffer.from(ok(), 'latin1')), -1);
});

H('accepts a correct 101 response with headers in any case', () => {
  assert.equal(checkResponse(ok(), KEY), { ok: true });
  assert.equal(checkResponse(`HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept: ${ACCEPT}`, KEY), { ok: true });
});

H('rejects each way a response can be wrong', () => {
  assert.equal(checkResponse('HTTP/1.1 404 Not Found\r\n', KEY), { ok: false, reason: 'status 404 Not Found' });
  assert.equal(checkResponse('HTTP/1.0 101 x\r\n', KEY), { ok: false, reason: 'malformed status line: "HTTP/1.0 101 x"' });
  assert.equal(checkResponse(ok().replace('Upgrade: websocket\r\n', ''), KEY), { ok: false, reason: 'missing or wrong Upgrade header' });
  assert.equal(checkResponse(ok().replace('Connection: Upgrade', 'Connection: close'), KEY), { ok: false, reason: 'missing Connection: Upgrade' });
  assert.equal(checkResponse(ok(), 'x3JJHMbDL1EzLkh9GBhXDw=='), { ok: false, reason: 'wrong Sec-WebSocket-Accept' });
  assert.equal(checkResponse(ok().replace(/Sec-WebSocket-Accept: .*\r\n/, ''), KEY), { ok: false, reason: 'missing Sec-WebSocket-Accept' });
  assert.equal(checkResponse(ok('Sec-WebSocket-Extensions: permessage-deflate\r\n'), KEY), { ok: false, reason: 'unrequested Sec-WebSocket-Extensions' });
  assert.equal(checkResponse(ok('Sec-WebSocket-Protocol: chat\r\n'), KEY), { ok: false, reason: 'unrequested Sec-WebSocket-Protocol' });
  assert.equal(checkResponse(ok('no colon here\r\n'), KEY), { ok: false, reason: 'malformed header line: "no colon here"' });
});

H.run();
