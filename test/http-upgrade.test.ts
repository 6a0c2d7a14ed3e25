// The HTTP upgrade handshake (src/http): parsing, validation against the endpoint table, and the
// complete responses. Every request is also fed through HeadAccumulator split at every byte
// boundary and byte by byte, and must give the same response and the same trailing bytes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Buffer } from 'node:buffer';
import {
  EndpointTable, HEAD_INCOMPLETE, HeadAccumulator, HttpRefusal, STATUS_TEXT, acceptKey, buildErrorResponse,
  buildRefusalResponse, buildSwitchingProtocols, findHeadEnd, hasToken, headInOneChunk, hostHeaderForms, isValidKey,
  parseRequestHead, processHandshake, validateUpgrade,
} from '../src/http/upgrade.ts';
import type { EndpointSpec, Refusal, RequestHead } from '../src/http/upgrade.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const MAX_HEAD = 8192;

interface TestEndpoint extends EndpointSpec { readonly label: string }
const ENDPOINTS: TestEndpoint[] = [
  { label: 'echo@localhost', appIndex: 0, endpointId: 1, secure: false, hostHeaders: hostHeaderForms('localhost', 8080, false), path: '/echo', allowedOrigins: null },
  { label: 'echo@127', appIndex: 0, endpointId: 2, secure: false, hostHeaders: hostHeaderForms('127.0.0.1', 8080, false), path: '/echo', allowedOrigins: ['http://localhost:8080', 'https://Example.COM'] },
  { label: 'chat@localhost', appIndex: 1, endpointId: 3, secure: false, hostHeaders: hostHeaderForms('localhost', 8080, false), path: '/chat/room', allowedOrigins: [] },
  { label: 'root@v6', appIndex: 1, endpointId: 4, secure: false, hostHeaders: hostHeaderForms('::1', 8080, false), path: '', allowedOrigins: null },
];
const table = new EndpointTable(ENDPOINTS);
const tlsTable = new EndpointTable([
  { label: 'tls', appIndex: 0, endpointId: 9, secure: true, hostHeaders: hostHeaderForms('Example.com', 443, true), path: '/s', allowedOrigins: null },
]);
const port80Table = new EndpointTable([
  { label: 'p80', appIndex: 0, endpointId: 8, secure: false, hostHeaders: hostHeaderForms('example.com', 80, false), path: '/', allowedOrigins: null },
]);

type Headers = [string, string][];
const BASE: Headers = [
  ['Host', 'localhost:8080'],
  ['Upgrade', 'websocket'],
  ['Connection', 'Upgrade'],
  ['Sec-WebSocket-Key', KEY],
  ['Sec-WebSocket-Version', '13'],
];

interface RequestOptions {
  method?: string;
  target?: string;
  version?: string;
  /** Replace (or with null remove) base headers by exact name. */
  set?: Record<string, string | null>;
  add?: Headers;
  /** Raw bytes to append after the head. */
  trailing?: Buffer;
}

function request(o: RequestOptions = {}): Buffer {
  let text = `${o.method ?? 'GET'} ${o.target ?? '/echo'} ${o.version ?? 'HTTP/1.1'}\r\n`;
  for (const [name, value] of BASE) {
    if (o.set && name in o.set) {
      const v = o.set[name];
      if (v !== null) text += `${name}: ${v}\r\n`;
    } else text += `${name}: ${value}\r\n`;
  }
  for (const [name, value] of o.add ?? []) text += `${name}: ${value}\r\n`;
  text += '\r\n';
  const head = Buffer.from(text, 'latin1');
  return o.trailing ? Buffer.concat([head, o.trailing]) : head;
}

interface Outcome {
  ok: boolean;
  code: string | null;
  endpointId: number | null;
  response: string;
  rest: string;
}

/** Feeds `chunks` to a HeadAccumulator like a worker would, then answers the head. */
function feed(chunks: Uint8Array[], t: EndpointTable<any> = table, max = MAX_HEAD): Outcome | 'incomplete' {
  const acc = new HeadAccumulator(max);
  for (let c = 0; c < chunks.length; c++) {
    const r = acc.push(chunks[c]);
    if (!r.done) {
      if (r.refusal) {
        return { ok: false, code: r.refusal.code, endpointId: null, response: buildRefusalResponse(r.refusal).toString('latin1'), rest: '' };
      }
      continue;
    }
    const h = processHandshake(r.head, t);
    const rest = Buffer.concat([r.rest, ...chunks.slice(c + 1)]).toString('hex');
    return h.ok
      ? { ok: true, code: null, endpointId: h.endpoint.endpointId, response: h.response.toString('latin1'), rest }
      : { ok: false, code: h.refusal.code, endpointId: null, response: h.response.toString('latin1'), rest };
  }
  return 'incomplete';
}

/** The outcome for `bytes` in one chunk, after checking that every other chunking agrees. */
function outcome(bytes: Buffer, t: EndpointTable<any> = table, max = MAX_HEAD): Outcome | 'incomplete' {
  const whole = feed([bytes], t, max);
  for (let i = 1; i < bytes.length; i++) {
    const split = feed([bytes.subarray(0, i), bytes.subarray(i)], t, max);
    assert.equal(split, whole, `split at byte ${i}`);
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
  assert.equal(feed(single, t, max), whole, 'byte by byte');
  return whole;
}

interface ParsedResponse {
  statusLine: string;
  headers: [string, string][];
  body: string;
}

function parseResponse(text: string): ParsedResponse {
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'response has an empty line');
  const lines = text.slice(0, end).split('\r\n');
  const headers = lines.slice(1).map((l) => {
    const c = l.indexOf(': ');
    assert.ok(c > 0, `header line ${JSON.stringify(l)}`);
    return [l.slice(0, c), l.slice(c + 2)] as [string, string];
  });
  return { statusLine: lines[0], headers, body: text.slice(end + 4) };
}

function header(r: ParsedResponse, name: string): string | undefined {
  const all = r.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase());
  assert.ok(all.length <= 1, `at most one ${name} header`);
  return all[0]?.[1];
}

/**
 * Asserts that `bytes` is refused with `refusal` (under every chunking) and that the response is
 * complete: status line with reason phrase, Content-Type, Content-Length equal to the body's byte
 * length, Connection containing close, the expected extra headers, and the body text.
 */
function assertRefused(
  bytes: Buffer,
  refusal: Refusal,
  statusLine: string,
  extra: Record<string, string> = {},
  t: EndpointTable<any> = table,
  max = MAX_HEAD,
): ParsedResponse {
  const o = outcome(bytes, t, max);
  assert.ok(o !== 'incomplete', 'the head is complete');
  assert.is(o.ok, false, 'refused');
  assert.is(o.code, refusal.code);
  const r = parseResponse(o.response);
  assert.is(r.statusLine, statusLine);
  assert.is(header(r, 'Content-Type'), 'text/plain; charset=utf-8');
  assert.is(header(r, 'Content-Length'), String(Buffer.byteLength(r.body, 'utf8')));
  const status = Number(statusLine.split(' ')[1]);
  assert.is(r.body, `${status} ${statusLine.slice(13)}\n${refusal.reason}\n`);
  const expectedConnection = extra.Connection ?? 'close';
  assert.is(header(r, 'Connection'), expectedConnection);
  for (const [name, value] of Object.entries(extra)) assert.is(header(r, name), value, name);
  const allowed = new Set(['content-type', 'content-length', 'connection', ...Object.keys(extra).map((k) => k.toLowerCase())]);
  for (const [name] of r.headers) assert.ok(allowed.has(name.toLowerCase()), `unexpected header ${name}`);
  return r;
}

function assertAccepted(bytes: Buffer, endpointId: number, t: EndpointTable<any> = table): Outcome {
  const o = outcome(bytes, t);
  assert.ok(o !== 'incomplete', 'the head is complete');
  assert.is(o.code, null, 'not refused');
  assert.is(o.ok, true);
  assert.is(o.endpointId, endpointId);
  assert.is(
    o.response,
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
  );
  return o;
}

// ---------------------------------------------------------------------------------------------
const Accept = suite('http upgrade: accepted handshakes');

Accept('answers the RFC 6455 example key with its accept value', () => {
  assert.is(acceptKey(KEY), ACCEPT);
  assert.is(
    buildSwitchingProtocols(KEY).toString('latin1'),
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
  );
});

Accept('accepts a minimal handshake and selects the endpoint by Host and path', () => {
  assertAccepted(request(), 1);
  assertAccepted(request({ set: { Host: '127.0.0.1:8080' } }), 2);
  assertAccepted(request({ target: '/chat/room' }), 3);
});

Accept('reports the head length and returns the whole request as parsed', () => {
  const bytes = request({ add: [['X-Empty', ''], ['X-Spaces', ' \t a  b \t']] });
  const h = processHandshake(bytes, table);
  assert.ok(h.ok);
  if (!h.ok) return;
  assert.is(h.headLength, bytes.length);
  assert.is(h.key, KEY);
  assert.is(h.endpoint, ENDPOINTS[0], 'the caller\'s own endpoint object');
  const req = parseRequestHead(bytes) as RequestHead;
  assert.equal(req, {
    ok: true, method: 'GET', target: '/echo', versionMajor: 1, versionMinor: 1, headLength: bytes.length,
    headers: [
      { name: 'host', value: 'localhost:8080' },
      { name: 'upgrade', value: 'websocket' },
      { name: 'connection', value: 'Upgrade' },
      { name: 'sec-websocket-key', value: KEY },
      { name: 'sec-websocket-version', value: '13' },
      { name: 'x-empty', value: '' },
      { name: 'x-spaces', value: 'a  b' },
    ],
  });
});

Accept('treats header names case-insensitively', () => {
  const bytes = Buffer.from(
    `GET /echo HTTP/1.1\r\nhOsT: localhost:8080\r\nUPGRADE: websocket\r\nconnection: upgrade\r\nSEC-WEBSOCKET-KEY: ${KEY}\r\nsec-websocket-version: 13\r\n\r\n`,
  );
  assertAccepted(bytes, 1);
});

Accept('matches the Host hostname case-insensitively', () => {
  assertAccepted(request({ set: { Host: 'LocalHost:8080' } }), 1);
});

Accept('finds tokens in Connection and Upgrade lists, also across repeated header lines', () => {
  assertAccepted(request({ set: { Connection: 'keep-alive, Upgrade' } }), 1);
  assertAccepted(request({ set: { Connection: 'keep-alive,upgrade ,  ,close' } }), 1);
  assertAccepted(request({ set: { Upgrade: 'h2c, WebSocket' } }), 1);
  assertAccepted(request({ set: { Connection: 'keep-alive' }, add: [['Connection', 'UPGRADE']] }), 1);
  assertAccepted(request({ set: { Upgrade: 'h2c' }, add: [['Upgrade', 'websocket']] }), 1);
  assert.is(hasToken('keep-alive, Upgrade', 'upgrade'), true);
  assert.is(hasToken('upgrades, keep-alive', 'upgrade'), false);
  assert.is(hasToken('up grade', 'upgrade'), false);
  assert.is(hasToken('', 'upgrade'), false);
  assert.is(hasToken('\tupgrade\t', 'upgrade'), true);
});

Accept('ignores a query string when matching the path', () => {
  assertAccepted(request({ target: '/echo?token=abc&x=/chat/room' }), 1);
  assertAccepted(request({ target: '/echo?' }), 1);
  assertAccepted(request({ target: '/chat/room?a' }), 3);
});

Accept('accepts absolute-form targets and matches their authority like a Host header', () => {
  assertAccepted(request({ target: 'ws://localhost:8080/echo' }), 1);
  assertAccepted(request({ target: 'HTTP://LocalHost:8080/echo?x=1' }), 1);
  assertAccepted(request({ target: 'http://127.0.0.1:8080/echo' }), 2);
  // RFC 9112 §3.2.2: with absolute-form the Host header's value is ignored (but it must be present once).
  assertAccepted(request({ target: 'ws://127.0.0.1:8080/echo', set: { Host: 'elsewhere.example' } }), 2);
  assertAccepted(request({ target: 'ws://[::1]:8080', set: { Host: '[::1]:8080' } }), 4);
  assertAccepted(request({ target: 'ws://[::1]:8080?q', set: { Host: '[::1]:8080' } }), 4);
  assertAccepted(request({ target: 'wss://example.com/s', set: { Host: 'example.com' } }), 9, tlsTable);
  assertAccepted(request({ target: 'https://EXAMPLE.com:443/s', set: { Host: 'example.com' } }), 9, tlsTable);
});

Accept('serves an endpoint URL without a path at "/" and an IPv6 host in brackets', () => {
  assertAccepted(request({ target: '/', set: { Host: '[::1]:8080' } }), 4);
  assertAccepted(request({ target: '/?x', set: { Host: '[::1]:8080' } }), 4);
});

Accept('accepts the bare hostname and the explicit default port for an endpoint on port 80 or 443', () => {
  assertAccepted(request({ target: '/', set: { Host: 'example.com' } }), 8, port80Table);
  assertAccepted(request({ target: '/', set: { Host: 'example.com:80' } }), 8, port80Table);
  assertAccepted(request({ target: '/s', set: { Host: 'EXAMPLE.COM' } }), 9, tlsTable);
  assertAccepted(request({ target: '/s', set: { Host: 'example.com:443' } }), 9, tlsTable);
});

Accept('accepts an allowed Origin, compared case-insensitively, and no Origin at all', () => {
  const at127 = { Host: '127.0.0.1:8080' };
  assertAccepted(request({ set: at127, add: [['Origin', 'http://localhost:8080']] }), 2);
  assertAccepted(request({ set: at127, add: [['Origin', 'HTTP://LOCALHOST:8080']] }), 2);
  assertAccepted(request({ set: at127, add: [['Origin', 'https://example.com']] }), 2);
  assertAccepted(request({ set: at127 }), 2);
  assertAccepted(request(), 1);
});

Accept('reports offered subprotocols without selecting one, and ignores extensions', () => {
  const bytes = request({
    add: [['Sec-WebSocket-Protocol', 'chat, superchat'], ['Sec-WebSocket-Protocol', 'v2'],
      ['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits']],
  });
  const o = assertAccepted(bytes, 1);
  assert.not.ok(/sec-websocket-protocol|sec-websocket-extensions/i.test(o.response), 'no subprotocol or extension in the 101');
  const h = processHandshake(bytes, table);
  assert.ok(h.ok && h.protocols);
  if (h.ok) assert.equal(h.protocols, ['chat', 'superchat', 'v2']);
  const plain = processHandshake(request(), table);
  assert.ok(plain.ok && plain.protocols === undefined);
});

Accept('accepts Content-Length: 0 and obs-text in header values', () => {
  assertAccepted(request({ add: [['Content-Length', '0'], ['X-Name', 'caf\u00e9 \u00ff']] }), 1);
});

Accept('keeps the bytes behind the head (a first frame in the same packet) under every chunking', () => {
  const frame = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  const o = assertAccepted(request({ trailing: frame }), 1);
  assert.is(o.rest, frame.toString('hex'));
  // Even bytes that look like another request head stay untouched.
  const more = Buffer.from('\r\n\r\nGET / HTTP/1.1\r\n\r\n');
  assert.is(assertAccepted(request({ trailing: more }), 1).rest, more.toString('hex'));
});

Accept('accepts a head of exactly max_http_head_size bytes', () => {
  const base = request().length;
  const pad = 200 - base - 'X-Pad: \r\n'.length;
  const bytes = request({ add: [['X-Pad', 'p'.repeat(pad)]] });
  assert.is(bytes.length, 200);
  assertAccepted(Buffer.concat([bytes]), 1);
  const o = outcome(bytes, table, 200);
  assert.ok(o !== 'incomplete' && o.ok);
});

// ---------------------------------------------------------------------------------------------
const Refuse = suite('http upgrade: every refusal is a complete response');

const UPGRADE_426 = { Connection: 'Upgrade, close', Upgrade: 'websocket' };

Refuse('refuses a head larger than max_http_head_size with 431', () => {
  const bytes = request({ add: [['X-Pad', 'p'.repeat(200)]] });
  assertRefused(bytes, HttpRefusal.HEAD_TOO_LARGE, 'HTTP/1.1 431 Request Header Fields Too Large', {}, table, bytes.length - 1);
  // Also when the end of the head never comes.
  const acc = new HeadAccumulator(64);
  let r;
  for (let i = 0; i < 63; i++) {
    r = acc.push(Buffer.from('a'));
    assert.is(r, HEAD_INCOMPLETE, `incomplete after ${i + 1} bytes`);
  }
  r = acc.push(Buffer.from('a'));
  assert.equal(r, { done: false, refusal: HttpRefusal.HEAD_TOO_LARGE });
  assert.throws(() => acc.push(Buffer.from('a')), /push after the head was complete or refused/);
});

Refuse('refuses a plain GET of an endpoint (no Upgrade) with 426 Upgrade Required', () => {
  const plain = Buffer.from('GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n');
  assertRefused(plain, HttpRefusal.UPGRADE_REQUIRED, 'HTTP/1.1 426 Upgrade Required', UPGRADE_426);
  assertRefused(request({ set: { Upgrade: 'h2c' } }), HttpRefusal.UPGRADE_REQUIRED, 'HTTP/1.1 426 Upgrade Required', UPGRADE_426);
  assertRefused(request({ set: { Upgrade: 'websocket/13' } }), HttpRefusal.UPGRADE_REQUIRED, 'HTTP/1.1 426 Upgrade Required', UPGRADE_426);
});

Refuse('refuses a plain GET of an unknown path with 404', () => {
  const plain = Buffer.from('GET /favicon.ico HTTP/1.1\r\nHost: localhost:8080\r\n\r\n');
  assertRefused(plain, HttpRefusal.PATH_NOT_FOUND, 'HTTP/1.1 404 Not Found');
});

Refuse('refuses another method with 405 and Allow: GET, after the target is known', () => {
  for (const method of ['POST', 'PUT', 'OPTIONS', 'get', 'GOT', 'CONNECT']) {
    assertRefused(request({ method }), HttpRefusal.METHOD_NOT_ALLOWED, 'HTTP/1.1 405 Method Not Allowed', { Allow: 'GET' });
  }
  assertRefused(request({ method: 'POST', target: '/nope' }), HttpRefusal.PATH_NOT_FOUND, 'HTTP/1.1 404 Not Found');
});

Refuse('answers a HEAD request with headers only (Content-Length of the body it omits)', () => {
  const h = processHandshake(request({ method: 'HEAD' }), table);
  assert.is(h.ok, false);
  const text = h.response.toString('latin1');
  const body = `405 Method Not Allowed\n${HttpRefusal.METHOD_NOT_ALLOWED.reason}\n`;
  assert.is(text,
    `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
    'Connection: close\r\nAllow: GET\r\n\r\n');
});

Refuse('refuses HTTP/1.0 and other 1.x versions with 400, another major version with 505', () => {
  assertRefused(request({ version: 'HTTP/1.0' }), HttpRefusal.HTTP_1_1_REQUIRED, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ version: 'HTTP/1.2' }), HttpRefusal.HTTP_1_1_REQUIRED, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ version: 'HTTP/2.0' }), HttpRefusal.HTTP_VERSION_NOT_SUPPORTED, 'HTTP/1.1 505 HTTP Version Not Supported');
  assertRefused(request({ version: 'HTTP/0.9' }), HttpRefusal.HTTP_VERSION_NOT_SUPPORTED, 'HTTP/1.1 505 HTTP Version Not Supported');
});

Refuse('refuses a missing or repeated Host with 400', () => {
  assertRefused(request({ set: { Host: null } }), HttpRefusal.HOST_MISSING, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'ws://localhost:8080/echo', set: { Host: null } }), HttpRefusal.HOST_MISSING, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ add: [['Host', 'localhost:8080']] }), HttpRefusal.HOST_DUPLICATE, 'HTTP/1.1 400 Bad Request');
});

Refuse('refuses a Host or authority that no endpoint of the path has with 404', () => {
  assertRefused(request({ set: { Host: 'localhost' } }), HttpRefusal.HOST_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ set: { Host: 'localhost:8081' } }), HttpRefusal.HOST_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ set: { Host: 'localhost:8080.' } }), HttpRefusal.HOST_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: '/chat/room', set: { Host: '127.0.0.1:8080' } }), HttpRefusal.HOST_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: 'ws://localhost:9/echo' }), HttpRefusal.HOST_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: '/s', set: { Host: 'example.com:8443' } }), HttpRefusal.HOST_NOT_FOUND, 'HTTP/1.1 404 Not Found', {}, tlsTable);
});

Refuse('refuses an unknown path, a fragment and an absolute URL of the wrong scheme with 404', () => {
  assertRefused(request({ target: '/echo/' }), HttpRefusal.PATH_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: '/ECHO' }), HttpRefusal.PATH_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: '/ech%6F' }), HttpRefusal.PATH_NOT_FOUND, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: '/echo#frag' }), HttpRefusal.TARGET_FRAGMENT, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: '/echo?a#frag' }), HttpRefusal.TARGET_FRAGMENT, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: 'wss://localhost:8080/echo' }), HttpRefusal.SCHEME_MISMATCH, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: 'https://localhost:8080/echo' }), HttpRefusal.SCHEME_MISMATCH, 'HTTP/1.1 404 Not Found');
  assertRefused(request({ target: 'ws://example.com/s', set: { Host: 'example.com' } }), HttpRefusal.SCHEME_MISMATCH, 'HTTP/1.1 404 Not Found', {}, tlsTable);
});

Refuse('refuses other request-target forms and malformed absolute URLs with 400', () => {
  assertRefused(request({ target: '*' }), HttpRefusal.TARGET_FORM, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'localhost:8080' }), HttpRefusal.TARGET_FORM, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'ftp://localhost:8080/echo' }), HttpRefusal.TARGET_FORM, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'echo' }), HttpRefusal.TARGET_FORM, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'ws:/localhost:8080/echo' }), HttpRefusal.TARGET_INVALID, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'ws:///echo' }), HttpRefusal.TARGET_INVALID, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ target: 'ws://user@localhost:8080/echo' }), HttpRefusal.TARGET_INVALID, 'HTTP/1.1 400 Bad Request');
});

Refuse('refuses a request with a body with 400', () => {
  assertRefused(request({ add: [['Content-Length', '5']] }), HttpRefusal.BODY_NOT_ALLOWED, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ add: [['Transfer-Encoding', 'chunked']] }), HttpRefusal.BODY_NOT_ALLOWED, 'HTTP/1.1 400 Bad Request');
});

Refuse('refuses a Connection header without the upgrade token with 400', () => {
  assertRefused(request({ set: { Connection: 'keep-alive' } }), HttpRefusal.CONNECTION_NOT_UPGRADE, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ set: { Connection: null } }), HttpRefusal.CONNECTION_NOT_UPGRADE, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ set: { Connection: 'upgrades' } }), HttpRefusal.CONNECTION_NOT_UPGRADE, 'HTTP/1.1 400 Bad Request');
});

Refuse('refuses a Sec-WebSocket-Version other than 13 with 426 and Sec-WebSocket-Version: 13', () => {
  const extra = { ...UPGRADE_426, 'Sec-WebSocket-Version': '13' };
  for (const v of ['8', '14', '013', '13, 8', '']) {
    assertRefused(request({ set: { 'Sec-WebSocket-Version': v } }), HttpRefusal.WS_VERSION_UNSUPPORTED, 'HTTP/1.1 426 Upgrade Required', extra);
  }
  assertRefused(request({ set: { 'Sec-WebSocket-Version': null } }), HttpRefusal.WS_VERSION_UNSUPPORTED, 'HTTP/1.1 426 Upgrade Required', extra);
  assertRefused(request({ add: [['Sec-WebSocket-Version', '13']] }), HttpRefusal.WS_VERSION_DUPLICATE, 'HTTP/1.1 400 Bad Request');
});

Refuse('refuses a missing, repeated or malformed Sec-WebSocket-Key with 400', () => {
  assertRefused(request({ set: { 'Sec-WebSocket-Key': null } }), HttpRefusal.KEY_MISSING, 'HTTP/1.1 400 Bad Request');
  assertRefused(request({ add: [['Sec-WebSocket-Key', KEY]] }), HttpRefusal.KEY_DUPLICATE, 'HTTP/1.1 400 Bad Request');
  for (const key of [
    '', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ=', 'dGhlIHNhbXBsZSBub25jZQ===',
    'dGhlIHNhbXBsZSBub25jZR==', // non-zero padding bits
    'dGhlIHNhbXBsZSBub25j-Q==', 'dGhlIHNhbXBsZSBub25j_Q==', 'dGhlIHNhbXBsZSBub25j Q==',
    'AAAAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAAA=', // 18 and 17 bytes
    'AAAAAAAAAAAAAAAAAAAA', // 15 bytes
  ]) {
    assertRefused(request({ set: { 'Sec-WebSocket-Key': key } }), HttpRefusal.KEY_INVALID, 'HTTP/1.1 400 Bad Request');
  }
});

Refuse('refuses an Origin that is not allowed with 403, and a repeated Origin with 400', () => {
  const at127 = { Host: '127.0.0.1:8080' };
  for (const origin of ['http://evil.example', 'http://localhost:8080/', 'http://localhost', 'https://localhost:8080', 'null']) {
    assertRefused(request({ set: at127, add: [['Origin', origin]] }), HttpRefusal.ORIGIN_NOT_ALLOWED, 'HTTP/1.1 403 Forbidden');
  }
  assertRefused(request({ add: [['Origin', 'http://localhost:8080']] }), HttpRefusal.ORIGIN_NOT_ACCEPTED, 'HTTP/1.1 403 Forbidden');
  assertRefused(request({ target: '/chat/room', add: [['Origin', 'http://localhost:8080']] }), HttpRefusal.ORIGIN_NOT_ACCEPTED, 'HTTP/1.1 403 Forbidden');
  assertRefused(
    request({ set: at127, add: [['Origin', 'http://localhost:8080'], ['Origin', 'http://localhost:8080']] }),
    HttpRefusal.ORIGIN_DUPLICATE, 'HTTP/1.1 400 Bad Request',
  );
});

Refuse('checks in a fixed order: version, Host, target, method, body, Upgrade, Connection, version, key, Origin', () => {
  const bad = { Connection: 'close', 'Sec-WebSocket-Key': 'x', 'Sec-WebSocket-Version': '8' };
  const code = (o: RequestOptions) => (processHandshake(request(o), table) as { refusal: Refusal }).refusal.code;
  assert.is(code({ version: 'HTTP/1.0', set: { Host: null } }), 'RS_HTTP_1_1_REQUIRED');
  assert.is(code({ target: '/nope', set: { Host: null } }), 'RS_HTTP_HOST_MISSING');
  assert.is(code({ method: 'POST', target: '/nope' }), 'RS_HTTP_PATH_NOT_FOUND');
  assert.is(code({ method: 'POST', set: { Upgrade: null } }), 'RS_HTTP_METHOD_NOT_ALLOWED');
  assert.is(code({ set: { Upgrade: null, ...bad }, add: [['Content-Length', '1']] }), 'RS_HTTP_BODY_NOT_ALLOWED');
  assert.is(code({ set: { Upgrade: null, ...bad } }), 'RS_HTTP_UPGRADE_REQUIRED');
  assert.is(code({ set: bad }), 'RS_HTTP_CONNECTION_NOT_UPGRADE');
  assert.is(code({ set: { ...bad, Connection: 'Upgrade' } }), 'RS_HTTP_WS_VERSION_UNSUPPORTED');
  assert.is(code({ set: { 'Sec-WebSocket-Key': 'x' }, add: [['Origin', 'http://x']] }), 'RS_HTTP_KEY_INVALID');
});

// ---------------------------------------------------------------------------------------------
const Syntax = suite('http upgrade: malformed request heads get 400');

function raw(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
const GOOD_TAIL = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

Syntax('refuses bare LF line endings anywhere, without waiting for CRLF CRLF', () => {
  const cases = [
    'GET /echo HTTP/1.1\nHost: localhost:8080\r\n' + GOOD_TAIL,
    'GET /echo HTTP/1.1\r\nHost: localhost:8080\n' + GOOD_TAIL,
    'GET /echo HTTP/1.1\nHost: localhost:8080\n\n',
    'GET /echo HTTP/1.1\r\nHost: localhost:8080\r\n\n',
    'GET /echo HTTP/1.1\r\nHost: localhost:8080\n\r\n',
    '\n\n',
  ];
  for (const text of cases) assertRefused(raw(text), HttpRefusal.BARE_LF, 'HTTP/1.1 400 Bad Request');
});

Syntax('refuses a malformed request line', () => {
  for (const line of [
    'GET  /echo HTTP/1.1', 'GET /echo  HTTP/1.1', ' GET /echo HTTP/1.1', 'GET /echo HTTP/1.1 ', 'GET /echo',
    'GET /echo http/1.1', 'GET /echo HTTP/1.10', 'GET /echo HTTP/11', 'GET /echo HTTP/1.x', 'GET /echo HTTP/1,1',
    'G@T /echo HTTP/1.1', 'GET\t/echo HTTP/1.1', 'GET /ec\u00e9ho HTTP/1.1', 'GET /ec\x7fho HTTP/1.1', '/echo HTTP/1.1',
    'GET /echo HTTP/1.1\rX', '',
  ]) {
    assertRefused(raw(`${line}\r\nHost: localhost:8080\r\n${GOOD_TAIL}`), HttpRefusal.MALFORMED_REQUEST_LINE, 'HTTP/1.1 400 Bad Request');
  }
});

Syntax('refuses folded header lines (obs-fold)', () => {
  assertRefused(raw(`GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nX-A: a\r\n  b\r\n${GOOD_TAIL}`), HttpRefusal.OBS_FOLD, 'HTTP/1.1 400 Bad Request');
  assertRefused(raw(`GET /echo HTTP/1.1\r\n\tHost: localhost:8080\r\n${GOOD_TAIL}`), HttpRefusal.OBS_FOLD, 'HTTP/1.1 400 Bad Request');
});

Syntax('refuses a header line without a token name right before a colon', () => {
  for (const line of ['Host : localhost:8080', 'Host localhost:8080', ': x', 'X(y): 1', 'X y: 1', 'Ho\u00e9st: x', 'X-\x01: y', 'NoColon']) {
    assertRefused(raw(`GET /echo HTTP/1.1\r\n${line}\r\nHost: localhost:8080\r\n${GOOD_TAIL}`), HttpRefusal.MALFORMED_HEADER, 'HTTP/1.1 400 Bad Request');
  }
});

Syntax('refuses control characters in header values, including a bare CR', () => {
  for (const value of ['a\x00b', 'a\x7fb', 'a\rb', 'a\x1bb', '\x0b']) {
    assertRefused(raw(`GET /echo HTTP/1.1\r\nX-Bad: ${value}\r\nHost: localhost:8080\r\n${GOOD_TAIL}`), HttpRefusal.INVALID_HEADER_VALUE, 'HTTP/1.1 400 Bad Request');
  }
});

Syntax('reports a head that has no empty line as incomplete', () => {
  const r = parseRequestHead(raw('GET /echo HTTP/1.1\r\nHost: x\r\n'));
  assert.is(r, HttpRefusal.HEAD_INCOMPLETE);
  assert.is(parseRequestHead(raw('GET /echo HTTP/1.1')), HttpRefusal.HEAD_INCOMPLETE);
  assert.is(parseRequestHead(raw('')), HttpRefusal.HEAD_INCOMPLETE);
  const h = processHandshake(raw('GET /echo HTTP/1.1\r\nHost: x\r\n'), table);
  assert.is(h.ok, false);
  if (!h.ok) assert.ok(h.response.toString('latin1').startsWith('HTTP/1.1 400 Bad Request\r\n'));
});

Syntax('parses only up to the end it is given and the first empty line', () => {
  const bytes = Buffer.concat([request(), raw('garbage\x00\n\n')]);
  const r = parseRequestHead(bytes);
  assert.ok(r.ok);
  assert.is((r as RequestHead).headLength, request().length);
  assert.is(parseRequestHead(bytes, request().length - 1), HttpRefusal.HEAD_INCOMPLETE);
});

// ---------------------------------------------------------------------------------------------
const Head = suite('http upgrade: findHeadEnd and HeadAccumulator');

Head('finds the end of the head just past CRLF CRLF, or -1', () => {
  const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\nrest';
  const b = raw(text);
  assert.is(findHeadEnd(b), text.indexOf('rest'));
  assert.is(findHeadEnd(raw('GET / HTTP/1.1\r\nHost: a\r\n')), -1);
  assert.is(findHeadEnd(raw('')), -1);
  assert.is(findHeadEnd(raw('\r\n\r\n')), 4);
  assert.is(findHeadEnd(b, 0, text.indexOf('rest') - 1), -1, 'bounded by end');
  assert.is(findHeadEnd(raw('a\n\nb')), 3);
  assert.is(findHeadEnd(raw('a\r\n\nb')), 4);
  assert.is(findHeadEnd(raw('a\n\r\nb')), 4);
  assert.is(findHeadEnd(raw('a\r\r\n\r\r\nb')), -1, 'CR CR LF is no line end');
});

Head('resumes at every split without rescanning and agrees with a one-shot scan', () => {
  for (const text of ['GET / HTTP/1.1\r\nHost: a\r\n\r\nXY', 'a\n\nb', 'ab\r\n\ncd', '\r\n\r\n', 'x\r\n\r\r\n\r\n']) {
    const b = raw(text);
    const once = findHeadEnd(b);
    for (let cut = 0; cut <= b.length; cut++) {
      const first = findHeadEnd(b, 0, cut);
      const resumed = first >= 0 ? first : findHeadEnd(b, cut);
      assert.is(resumed, once, `${JSON.stringify(text)} cut at ${cut}`);
    }
    let got = -1;
    for (let len = 1; len <= b.length && got < 0; len++) got = findHeadEnd(b, len - 1, len);
    assert.is(got, once, `${JSON.stringify(text)} byte by byte`);
  }
});

Head('hands back views of a single complete chunk without copying', () => {
  const bytes = request({ trailing: raw('FRAME') });
  const r = new HeadAccumulator(MAX_HEAD).push(bytes);
  assert.ok(r.done);
  if (!r.done) return;
  assert.is(r.head.buffer, bytes.buffer);
  assert.is(r.head.byteOffset, bytes.byteOffset);
  assert.is(r.head.length, bytes.length - 5);
  assert.is(r.rest.byteOffset, bytes.byteOffset + bytes.length - 5);
  assert.is(Buffer.from(r.rest).toString(), 'FRAME');
});

Head('headInOneChunk: the head and the rest of one chunk as views, or null when the head is not all there', () => {
  const bytes = request({ trailing: raw('FRAME') });
  const r = headInOneChunk(bytes, MAX_HEAD);
  assert.ok(r);
  assert.is(r!.head.buffer, bytes.buffer);
  assert.is(r!.head.length, bytes.length - 5);
  assert.is(Buffer.from(r!.rest).toString(), 'FRAME');
  assert.is(headInOneChunk(bytes.subarray(0, bytes.length - 8), MAX_HEAD), null, 'no empty line yet');
  assert.is(headInOneChunk(bytes, bytes.length - 6), null, 'a head longer than the limit is not found');
  assert.is(headInOneChunk(new Uint8Array(0), MAX_HEAD), null);
  // What the worker does: an accumulator only for a head that was not in its first chunk.
  const acc = new HeadAccumulator(MAX_HEAD);
  assert.is(acc.push(bytes.subarray(0, 20)).done, false);
  const whole = acc.push(bytes.subarray(20));
  assert.ok(whole.done);
  if (whole.done) assert.is(Buffer.from(whole.head).toString('latin1'), Buffer.from(r!.head).toString('latin1'));
});

Head('ignores empty chunks and rejects a bad limit', () => {
  const acc = new HeadAccumulator(MAX_HEAD);
  assert.is(acc.push(new Uint8Array(0)).done, false);
  const bytes = request();
  assert.is(acc.push(bytes.subarray(0, 10)).done, false);
  assert.is(acc.buffered, 10);
  assert.is(acc.push(new Uint8Array(0)).done, false);
  const r = acc.push(bytes.subarray(10));
  assert.ok(r.done);
  if (r.done) assert.is(Buffer.from(r.head).toString('latin1'), bytes.toString('latin1'));
  assert.throws(() => new HeadAccumulator(0), /maxHeadSize must be an integer >= 16, got 0/);
});

// ---------------------------------------------------------------------------------------------
const Build = suite('http upgrade: response builders and endpoint table');

Build('builds an error response with Content-Length equal to the body and merges Connection', () => {
  const r = buildErrorResponse(426, [['Upgrade', 'websocket'], ['connection', 'Upgrade']], { detail: 'Use WebSocket.' });
  assert.is(r.toString('latin1'),
    'HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 36\r\n' +
    'Connection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n426 Upgrade Required\nUse WebSocket.\n');
  assert.is(buildErrorResponse(405, { Allow: 'GET' }).toString('latin1'),
    'HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\n' +
    'Connection: close\r\nAllow: GET\r\n\r\n405 Method Not Allowed\n');
  assert.is(buildErrorResponse(503).toString('latin1'),
    'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\n' +
    'Connection: close\r\n\r\n503 Service Unavailable\n');
  const utf8 = buildErrorResponse(400, undefined, { detail: 'caf\u00e9 \u2603' });
  const p = parseResponse(utf8.toString('latin1'));
  assert.is(Number(header(p, 'Content-Length')), utf8.length - utf8.indexOf('\r\n\r\n') - 4);
});

Build('answers the request timeout with 408', () => {
  const p = parseResponse(buildRefusalResponse(HttpRefusal.HEAD_TIMEOUT).toString('latin1'));
  assert.is(p.statusLine, 'HTTP/1.1 408 Request Timeout');
  assert.is(p.body, '408 Request Timeout\nThe request head was not received in time.\n');
  assert.is(header(p, 'Content-Length'), String(p.body.length));
});

Build('refuses to build headers that could split the response', () => {
  assert.throws(() => buildErrorResponse(400, { X: 'a\r\nSet-Cookie: x' }), /invalid response header value/);
  assert.throws(() => buildErrorResponse(400, [['X Y', 'a']]), /invalid response header name/);
  assert.throws(() => buildSwitchingProtocols(KEY, [['X', 'a\nb']]), /invalid response header value/);
  assert.throws(() => buildErrorResponse(42), /invalid HTTP status 42/);
});

Build('adds extra headers to the 101', () => {
  assert.is(buildSwitchingProtocols(KEY, { 'X-Server': 'ringsocket' }).toString('latin1'),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\nX-Server: ringsocket\r\n\r\n`);
});

Build('validates keys strictly', () => {
  assert.ok(isValidKey(KEY));
  assert.ok(isValidKey('AAAAAAAAAAAAAAAAAAAAAA=='));
  assert.ok(isValidKey('/////////////////////w=='));
  for (let i = 0; i < 200; i++) {
    const bytes = Buffer.alloc(16, i * 13 + 1);
    bytes[15] = i;
    assert.ok(isValidKey(bytes.toString('base64')), bytes.toString('base64'));
  }
  assert.not.ok(isValidKey('/////////////////////x=='));
});

Build('lists the Host forms of an endpoint URL', () => {
  assert.equal(hostHeaderForms('LocalHost', 8080, false), ['localhost:8080']);
  assert.equal(hostHeaderForms('example.com', 80, false), ['example.com', 'example.com:80']);
  assert.equal(hostHeaderForms('example.com', 443, false), ['example.com:443']);
  assert.equal(hostHeaderForms('example.com', 443, true), ['example.com', 'example.com:443']);
  assert.equal(hostHeaderForms('::1', 8080, false), ['[::1]:8080']);
  assert.equal(hostHeaderForms('[::1]', 80, false), ['[::1]', '[::1]:80']);
});

Build('refuses endpoint tables that cannot work', () => {
  const ep = (o: Partial<EndpointSpec>): EndpointSpec => ({
    appIndex: 0, endpointId: 1, secure: false, hostHeaders: ['a:1'], path: '/x', allowedOrigins: null, ...o,
  });
  assert.throws(() => new EndpointTable([ep({}), ep({ endpointId: 2, hostHeaders: ['b:1', 'A:1'] })]),
    /endpoint 2 \(app 0\) and endpoint 1 \(app 0\) both serve Host a:1 at path \/x/);
  assert.throws(() => new EndpointTable([ep({ path: 'x' })]), /has path "x"; a path starts with/);
  assert.throws(() => new EndpointTable([ep({ path: '/x?y' })]), /has path "\/x\?y"/);
  assert.throws(() => new EndpointTable([ep({ hostHeaders: [] })]), /has no host header forms/);
  assert.throws(() => new EndpointTable([ep({ hostHeaders: [''] })]), /has an empty host header form/);
  const t = new EndpointTable([ep({}), ep({ endpointId: 2, path: '' })]);
  assert.is(t.find('A:1', '/x')?.endpointId, 1);
  assert.is(t.find('a:1', '/')?.endpointId, 2);
  assert.is(t.find('a:1', '/y'), undefined);
});

Build('covers every refusal in the table', () => {
  // Every refusal code must have a test above that produces it; this list is the table's keys.
  assert.equal(Object.keys(HttpRefusal).sort(), [
    'BARE_LF', 'BODY_NOT_ALLOWED', 'CONNECTION_NOT_UPGRADE', 'HEAD_INCOMPLETE', 'HEAD_TIMEOUT', 'HEAD_TOO_LARGE',
    'HOST_DUPLICATE', 'HOST_MISSING', 'HOST_NOT_FOUND', 'HTTP_1_1_REQUIRED', 'HTTP_VERSION_NOT_SUPPORTED',
    'INVALID_HEADER_VALUE', 'KEY_DUPLICATE', 'KEY_INVALID', 'KEY_MISSING', 'MALFORMED_HEADER',
    'MALFORMED_REQUEST_LINE', 'METHOD_NOT_ALLOWED', 'OBS_FOLD', 'ORIGIN_DUPLICATE', 'ORIGIN_NOT_ACCEPTED',
    'ORIGIN_NOT_ALLOWED', 'PATH_NOT_FOUND', 'PROTOCOL_INVALID', 'SCHEME_MISMATCH', 'TARGET_FORM', 'TARGET_FRAGMENT', 'TARGET_INVALID',
    'UPGRADE_REQUIRED', 'WS_VERSION_DUPLICATE', 'WS_VERSION_UNSUPPORTED',
  ]);
  for (const r of Object.values(HttpRefusal)) {
    assert.ok(STATUS_TEXT[r.status], `${r.code} has a reason phrase`);
    assert.ok(r.code.startsWith('RS_HTTP_'));
  }
  // validateUpgrade is usable on its own with a parsed head.
  const req = parseRequestHead(request()) as RequestHead;
  const v = validateUpgrade(req, table);
  assert.ok(v.ok && v.endpoint.endpointId === 1 && v.key === KEY);
});

Accept.run();
Refuse.run();
Syntax.run();
Head.run();
Build.run();
