// Regressions: one suite per handshake flaw of the C original (ringsocket-behaviour.md §3.6), each
// named after the flaw, each showing the fixed behaviour.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Buffer } from 'node:buffer';
import { EndpointTable, HeadAccumulator, HttpRefusal, hostHeaderForms, processHandshake } from '../src/http/upgrade.ts';
import type { Refusal } from '../src/http/upgrade.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
// The setup the behaviour report verified the prefix bugs with.
const table = new EndpointTable([
  { appIndex: 0, endpointId: 1, secure: false, hostHeaders: hostHeaderForms('localhost', 18080, false), path: '/echo', allowedOrigins: ['http://localhost:8080'] },
  { appIndex: 0, endpointId: 2, secure: false, hostHeaders: hostHeaderForms('localhost', 18080, false), path: '/', allowedOrigins: null },
]);

function request(target: string, host: string | null, extra = ''): Buffer {
  return Buffer.from(
    `GET ${target} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    'latin1',
  );
}

function refusalOf(bytes: Buffer): Refusal | null {
  const h = processHandshake(bytes, table);
  return h.ok ? null : h.refusal;
}

function endpointOf(bytes: Buffer): number | null {
  const h = processHandshake(bytes, table);
  return h.ok ? h.endpoint.endpointId : null;
}

const HostPrefix = suite('regress: Host was prefix-matched (localhost, local and "" matched localhost:18080)');
HostPrefix('refuses a Host that is only a prefix of the endpoint\'s host:port with 404', () => {
  for (const host of ['localhost', 'local', 'l', '', 'localhost:1808']) {
    assert.is(refusalOf(request('/echo', host)), HttpRefusal.HOST_NOT_FOUND, JSON.stringify(host));
  }
  assert.is(refusalOf(request('/echo', 'localhost:180800')), HttpRefusal.HOST_NOT_FOUND);
  assert.is(endpointOf(request('/echo', 'localhost:18080')), 1);
});
HostPrefix('refuses a request without Host with 400 instead of matching an empty prefix', () => {
  assert.is(refusalOf(request('/echo', null)), HttpRefusal.HOST_MISSING);
});

const PathPrefix = suite('regress: the path was prefix-matched (/ech matched /echo, / matched everything)');
PathPrefix('refuses a path that is only a prefix of an endpoint path with 404', () => {
  assert.is(refusalOf(request('/ech', 'localhost:18080')), HttpRefusal.PATH_NOT_FOUND);
  assert.is(refusalOf(request('/e', 'localhost:18080')), HttpRefusal.PATH_NOT_FOUND);
});
PathPrefix('does not let a "/" endpoint catch other paths', () => {
  assert.is(refusalOf(request('/other', 'localhost:18080')), HttpRefusal.PATH_NOT_FOUND);
  assert.is(refusalOf(request('/echo/extra', 'localhost:18080')), HttpRefusal.PATH_NOT_FOUND);
  assert.is(refusalOf(request('/echoes', 'localhost:18080')), HttpRefusal.PATH_NOT_FOUND);
  assert.is(endpointOf(request('/', 'localhost:18080')), 2);
  assert.is(endpointOf(request('/echo', 'localhost:18080')), 1);
});

const OriginPrefix = suite('regress: Origin was prefix-matched (http://local matched http://localhost:8080)');
OriginPrefix('refuses an Origin that is a prefix or an extension of an allowed origin with 403', () => {
  for (const origin of ['http://local', 'http://localhost:80', 'http://localhost:8080/', 'http://localhost:80800', 'h']) {
    assert.is(refusalOf(request('/echo', 'localhost:18080', `Origin: ${origin}\r\n`)), HttpRefusal.ORIGIN_NOT_ALLOWED, origin);
  }
  assert.is(endpointOf(request('/echo', 'localhost:18080', 'Origin: http://localhost:8080\r\n')), 1);
});

const QueryString = suite('regress: a query string gave 404');
QueryString('accepts a query string and ignores it for matching', () => {
  assert.is(endpointOf(request('/echo?room=1&user=2', 'localhost:18080')), 1);
  assert.is(endpointOf(request('/?x', 'localhost:18080')), 2);
});

const UpgradeUnchecked = suite('regress: the Upgrade header was not checked (missing or h2c still got 101)');
UpgradeUnchecked('refuses a missing Upgrade or Upgrade: h2c with 426', () => {
  const noUpgrade = Buffer.from(
    `GET /echo HTTP/1.1\r\nHost: localhost:18080\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  assert.is(refusalOf(noUpgrade), HttpRefusal.UPGRADE_REQUIRED);
  assert.is(refusalOf(Buffer.from(noUpgrade.toString().replace('Connection', 'Upgrade: h2c\r\nConnection'))), HttpRefusal.UPGRADE_REQUIRED);
});

const DuplicatesUnchecked = suite('regress: duplicate headers were not checked');
DuplicatesUnchecked('refuses repeated Host, Sec-WebSocket-Key, Sec-WebSocket-Version and Origin with 400', () => {
  assert.is(refusalOf(request('/echo', 'localhost:18080', 'Host: localhost:18080\r\n')), HttpRefusal.HOST_DUPLICATE);
  assert.is(refusalOf(request('/echo', 'localhost:18080', `Sec-WebSocket-Key: ${KEY}\r\n`)), HttpRefusal.KEY_DUPLICATE);
  assert.is(refusalOf(request('/echo', 'localhost:18080', 'Sec-WebSocket-Version: 13\r\n')), HttpRefusal.WS_VERSION_DUPLICATE);
  assert.is(
    refusalOf(request('/echo', 'localhost:18080', 'Origin: http://localhost:8080\r\nOrigin: http://localhost:8080\r\n')),
    HttpRefusal.ORIGIN_DUPLICATE,
  );
});

const VersionStatus = suite('regress: an unsupported Sec-WebSocket-Version gave a bare 400');
VersionStatus('answers 426 with Sec-WebSocket-Version: 13', () => {
  const bytes = Buffer.from(request('/echo', 'localhost:18080').toString().replace('Version: 13', 'Version: 8'));
  const r = processHandshake(bytes, table);
  assert.is(r.ok, false);
  if (!r.ok) {
    assert.is(r.refusal, HttpRefusal.WS_VERSION_UNSUPPORTED);
    assert.ok(r.response.toString().startsWith('HTTP/1.1 426 Upgrade Required\r\n'));
    assert.ok(r.response.toString().includes('\r\nSec-WebSocket-Version: 13\r\n'));
  }
});

const Truncated = suite('regress: error responses were truncated to 7 bytes ("HTTP/1.")');
Truncated('sends complete error responses with a reason phrase, headers and a body', () => {
  const r = processHandshake(request('/nope', 'localhost:18080'), table);
  assert.is(r.ok, false);
  if (r.ok) return;
  const text = r.response.toString('latin1');
  const body = '404 Not Found\nNo WebSocket endpoint has this path.\n';
  assert.is(text,
    `HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
});

const PipelinedLost = suite('regress: bytes sent right behind the request were discarded');
PipelinedLost('keeps a first frame that arrives in the same chunk as the head', () => {
  const frame = Buffer.from([0x82, 0x82, 1, 2, 3, 4, 0x55, 0xaa]);
  const bytes = Buffer.concat([request('/echo', 'localhost:18080'), frame]);
  const acc = new HeadAccumulator(8192);
  const r = acc.push(bytes);
  assert.ok(r.done);
  if (!r.done) return;
  const h = processHandshake(r.head, table);
  assert.ok(h.ok);
  assert.equal([...r.rest], [...frame]);
  assert.equal([...bytes.subarray(h.ok ? h.headLength : 0)], [...frame]);
});
PipelinedLost('keeps the bytes behind a head that arrived in several chunks', () => {
  const frame = Buffer.from([0x81, 0x80, 9, 9, 9, 9]);
  const bytes = Buffer.concat([request('/echo', 'localhost:18080'), frame]);
  const acc = new HeadAccumulator(8192);
  assert.is(acc.push(bytes.subarray(0, 50)).done, false);
  const r = acc.push(bytes.subarray(50));
  assert.ok(r.done);
  if (r.done) assert.equal([...r.rest], [...frame]);
});

const NoLimit = suite('regress: the request head had no size limit');
NoLimit('refuses a head that grows past max_http_head_size with 431 however it is chunked', () => {
  const acc = new HeadAccumulator(1024);
  let last;
  let pushes = 0;
  const line = Buffer.from('X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
  acc.push(Buffer.from('GET /echo HTTP/1.1\r\n'));
  do {
    last = acc.push(line);
    pushes++;
  } while (!last.done && !last.refusal && pushes < 100);
  assert.equal(last, { done: false, refusal: HttpRefusal.HEAD_TOO_LARGE });
  assert.ok(pushes <= Math.ceil(1024 / line.length) + 1, `refused after ${pushes} lines`);
});

HostPrefix.run();
PathPrefix.run();
OriginPrefix.run();
QueryString.run();
UpgradeUnchecked.run();
DuplicatesUnchecked.run();
VersionStatus.run();
Truncated.run();
PipelinedLost.run();
NoLimit.run();
