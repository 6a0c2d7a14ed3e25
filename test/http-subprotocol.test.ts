// Subprotocol negotiation (issue 11 part 2) at the src/http level: the offer list's syntax
// (RFC 6455 §11.3.4, RFC 9110 §5.6.1), the selection (the client's order of preference, the
// endpoint's list), the 101's Sec-WebSocket-Protocol, and the 400 for a malformed offer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Buffer } from 'node:buffer';
import {
  EndpointTable, HttpRefusal, hostHeaderForms, isToken, processHandshake, pushProtocols, selectSubprotocol,
  type EndpointSpec,
} from '../src/http/upgrade.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const endpoint = (id: number, path: string, subprotocols?: string[]): EndpointSpec => ({
  appIndex: 0, endpointId: id, secure: false, hostHeaders: hostHeaderForms('localhost', 8080, false), path,
  allowedOrigins: null, ...(subprotocols ? { subprotocols } : {}),
});
const table = new EndpointTable([
  endpoint(1, '/ab', ['a', 'b']),
  endpoint(2, '/none'),
  endpoint(3, '/empty', []),
  endpoint(4, '/v', ['chat.v2', 'chat.v1', 'Mixed-Case']),
]);

/** A request to `path` with each string of `protocols` as one Sec-WebSocket-Protocol line. */
function request(path: string, protocols: string[]): Buffer {
  let text = `GET ${path} HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;
  for (const p of protocols) text += `Sec-WebSocket-Protocol: ${p}\r\n`;
  return Buffer.from(text + '\r\n', 'latin1');
}

const Syntax = suite('subprotocol offer syntax');

Syntax('isToken: RFC 9110 tchar only, non-empty', () => {
  for (const t of ['a', 'chat', 'chat.v2', "!#$%&'*+-.^_`|~", 'A0z9']) assert.ok(isToken(t), t);
  for (const t of ['', ' ', 'a b', 'a,b', 'a/b', 'a;b', '"a"', 'a=b', '(a)', 'é', 'a\tb', '[a]', '{a}', 'a?', 'a@b', 'a:b']) {
    assert.not.ok(isToken(t), JSON.stringify(t));
  }
  assert.ok(isToken('x(abc)y', 2, 5), 'a range');
});

Syntax('pushProtocols: list elements with OWS, empty elements skipped, non-tokens refused', () => {
  const table: [string, string[] | null][] = [
    ['chat', ['chat']],
    ['a, b,c', ['a', 'b', 'c']],
    ['  a ,\tb\t', ['a', 'b']],
    ['a,,b', ['a', 'b']],
    [', a ,', ['a']],
    ['', []],
    [' , ,', []],
    ['a, b c', null],
    ['a, "b"', null],
    ['a/b', null],
    ['a; q=1', null],
    ['a, b=c', null],
  ];
  for (const [value, want] of table) {
    const out: string[] = [];
    const ok = pushProtocols(value, out);
    if (want === null) assert.is(ok, false, `${JSON.stringify(value)} is refused`);
    else {
      assert.is(ok, true, `${JSON.stringify(value)} is accepted`);
      assert.equal(out, want, JSON.stringify(value));
    }
  }
});

const Select = suite('subprotocol selection');

Select('selectSubprotocol: the first offered that is supported, in the client\'s order', () => {
  const cases: [string[] | undefined, string[] | undefined, number][] = [
    [['b', 'a'], ['a', 'b'], 1],
    [['a', 'b'], ['a', 'b'], 0],
    [['x', 'b'], ['a', 'b'], 1],
    [['x', 'y'], ['a', 'b'], -1],
    [[], ['a'], -1],
    [undefined, ['a'], -1],
    [['a'], undefined, -1],
    [['a'], [], -1],
    [['A'], ['a'], -1], // exact comparison: the client compares the answer exactly
    [['b', 'b', 'a'], ['a', 'b'], 1],
  ];
  for (const [offered, supported, want] of cases) {
    assert.is(selectSubprotocol(offered, supported), want, `${JSON.stringify(offered)} against ${JSON.stringify(supported)}`);
  }
});

const Handshake = suite('subprotocol in the handshake');

const BASE_101 = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n`;

Handshake('negotiation table: offers against endpoints, and the 101 they get', () => {
  const cases: { path: string; offer: string[]; selected: string | null; index?: number }[] = [
    { path: '/ab', offer: ['b, a'], selected: 'b', index: 1 },
    { path: '/ab', offer: ['a, b'], selected: 'a', index: 0 },
    { path: '/ab', offer: ['x', 'b'], selected: 'b', index: 1 }, // two lines form one list
    { path: '/ab', offer: ['x, y'], selected: null },
    { path: '/ab', offer: ['A'], selected: null },
    { path: '/ab', offer: [], selected: null },
    { path: '/none', offer: ['a, b'], selected: null },
    { path: '/empty', offer: ['a'], selected: null },
    { path: '/v', offer: ['chat.v1, chat.v2'], selected: 'chat.v1', index: 1 },
    { path: '/v', offer: ['chat.v3', 'Mixed-Case, chat.v2'], selected: 'Mixed-Case', index: 2 },
    { path: '/v', offer: [', , chat.v2 ,'], selected: 'chat.v2', index: 0 },
  ];
  for (const c of cases) {
    const what = `${c.path} offered ${JSON.stringify(c.offer)}`;
    const h = processHandshake(request(c.path, c.offer), table);
    assert.ok(h.ok, `${what}: accepted`);
    if (!h.ok) continue;
    const response = h.response.toString('latin1');
    if (c.selected === null) {
      assert.is(h.subprotocol, undefined, what);
      assert.is(h.subprotocolIndex, undefined, what);
      assert.is(response, BASE_101 + '\r\n', `${what}: no Sec-WebSocket-Protocol`);
    } else {
      assert.is(h.subprotocol, c.selected, what);
      assert.is(h.subprotocolIndex, c.index, what);
      assert.is(response, `${BASE_101}Sec-WebSocket-Protocol: ${c.selected}\r\n\r\n`, what);
    }
  }
});

Handshake('a malformed offer is refused with 400 PROTOCOL_INVALID, with or without subprotocols configured', () => {
  const bad = [['a b'], ['a, "b"'], ['chat/1'], [''], [' , '], ['a', 'b;c'], ['', ',']];
  for (const path of ['/ab', '/none']) {
    for (const offer of bad) {
      const h = processHandshake(request(path, offer), table);
      assert.is(h.ok, false, `${path} ${JSON.stringify(offer)}`);
      if (h.ok) continue;
      assert.is(h.refusal, HttpRefusal.PROTOCOL_INVALID, `${path} ${JSON.stringify(offer)}`);
      assert.match(h.response.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
    }
  }
  // An empty line beside a line with an element: one list with one element, so accepted.
  const ok = processHandshake(request('/ab', ['', 'a']), table);
  assert.ok(ok.ok && ok.subprotocol === 'a');
});

Handshake('the other checks come first: a malformed offer to an unknown path is still 404', () => {
  const h = processHandshake(request('/nowhere', ['a b']), table);
  assert.ok(!h.ok && h.refusal === HttpRefusal.PATH_NOT_FOUND);
});

Syntax.run();
Select.run();
Handshake.run();
