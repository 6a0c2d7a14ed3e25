// Handshakes over real sockets: refusals (a complete HTTP response with the right status, then
// close), heads that arrive in pieces, the peer address the app is told, and the peer address lookup.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite, withDaemon } from './helpers/daemon-exit.ts';
import { rawExchange, upgradeRequest, connect, connectInbox, closed, clientFrame } from './helpers/client.ts';
import { Opcode } from '../src/core/codes.ts';
import { peerAddress } from '../src/daemon/worker/handshake.ts';

const Hs = suite<{ d: RunningDaemon }>('daemon handshake');
const hs = daemonSuite(Hs, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [
      { name: 'echo', app_path: 'apps/echo/app.ts', paths: ['/echo'] },
      { name: 'web', app_path: 'apps/echo/app.ts', paths: ['/web'], allowed_origins: ['https://good.example'] },
      { name: 'peer', app_path: 'test/fixtures/apps/peer/app.ts', paths: ['/peer'] },
    ],
    config: { max_http_head_size: 2048 },
  });
});

function parse(out: Buffer): { status: number; headers: Map<string, string>; body: string } {
  const text = out.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a complete head: ${JSON.stringify(text.slice(0, 80))}`);
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) [A-Za-z ]+$/.exec(lines[0]);
  assert.ok(m, `status line with a reason: ${lines[0]}`);
  const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const body = text.slice(end + 4);
  assert.is(Number(headers.get('content-length')), Buffer.byteLength(body, 'latin1'), 'Content-Length matches the body');
  return { status: Number(m![1]), headers, body };
}

const cases: [string, (port: number) => string, number, string?][] = [
  ['an unknown path', (p) => upgradeRequest(p, '/nope'), 404],
  ['a Host that is not the endpoint\'s', (p) => upgradeRequest(p, '/echo', {}, `127.0.0.2:${p}`), 404],
  ['a Host that is only a prefix of the endpoint\'s', (p) => upgradeRequest(p, '/echo', {}, '127.0.0.1'), 404],
  ['POST', (p) => upgradeRequest(p).replace(/^GET/, 'POST'), 405, 'allow'],
  ['HTTP/1.0', (p) => upgradeRequest(p).replace('HTTP/1.1', 'HTTP/1.0'), 400],
  ['a key that is not 16 bytes of base64', (p) => upgradeRequest(p, '/echo', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }), 400],
  ['a missing key', (p) => upgradeRequest(p, '/echo', { 'Sec-WebSocket-Key': '' }), 400],
  ['version 8', (p) => upgradeRequest(p, '/echo', { 'Sec-WebSocket-Version': '8' }), 426, 'sec-websocket-version'],
  ['a plain GET without Upgrade', (p) => `GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`, 426, 'upgrade'],
  ['an Origin on an endpoint without allowed_origins', (p) => upgradeRequest(p, '/echo', { Origin: 'https://good.example' }), 403],
  ['an Origin that is not allowed', (p) => upgradeRequest(p, '/web', { Origin: 'https://evil.example' }), 403],
  ['an Origin that is a prefix of an allowed one', (p) => upgradeRequest(p, '/web', { Origin: 'https://good.ex' }), 403],
  ['a request head over max_http_head_size', (p) => upgradeRequest(p, '/echo', { 'X-Big': 'a'.repeat(3000) }), 431],
];

for (const [what, req, status, header] of cases) {
  Hs(`refuses ${what} with ${status} and closes`, async ({ d }) => {
    const r = parse(await rawExchange(d.port, [req(d.port)]));
    assert.is(r.status, status);
    if (header) assert.ok(r.headers.has(header), `has ${header}`);
  });
}

Hs('completes a head that arrives in pieces, and decodes the frame behind its last piece', async ({ d }) => {
  const req = upgradeRequest(d.port, '/echo');
  const last = Buffer.concat([Buffer.from(req.slice(40), 'latin1'), clientFrame(Opcode.TEXT, 'hi')]);
  const out = await rawExchange(d.port, [req.slice(0, 10), 50, req.slice(10, 40), 50, last, 300, clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8]))]);
  const text = out.toString('latin1');
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  const frames = out.subarray(text.indexOf('\r\n\r\n') + 4);
  assert.equal([...frames.subarray(0, 4)], [0x81, 2, 0x68, 0x69], 'the echo of "hi"');
  assert.equal([...frames.subarray(4, 8)], [0x88, 2, 0x03, 0xe8], 'the close reply');
});

Hs('refuses with 431 a head that passes max_http_head_size across pieces', async ({ d }) => {
  const req = upgradeRequest(d.port, '/echo', { 'X-Big': 'a'.repeat(3000) });
  const r = parse(await rawExchange(d.port, [req.slice(0, 1000), 50, req.slice(1000, 2500)]));
  assert.is(r.status, 431);
});

Hs('tells the app the address and port the client connected from', async ({ d }) => {
  const { ws, inbox } = await connectInbox(d.url('/peer'));
  const addr = JSON.parse((await inbox.next()).data.toString());
  const local = (ws as unknown as { _socket: net.Socket })._socket.localPort;
  assert.equal(addr, { family: 4, address: '127.0.0.1', port: local });
  ws.close();
  await closed(ws);
});

Hs('accepts an allowed Origin, and a query string', async ({ d }) => {
  const ws = await connect(`${d.url('/web')}?room=1`, { origin: 'https://good.example' });
  ws.close();
  await closed(ws);
});

Hs('keeps serving after every refusal', async ({ d }) => {
  const ws = await connect(d.url('/echo'));
  ws.close();
  await closed(ws);
});

hs.stopTest();

Hs.run();

const Root = suite('daemon endpoint paths');

Root('serves an endpoint whose URL has no path at "/" (the original crashed on it)', async () => {
  const d = await startDaemon({ apps: [{ name: 'echo', app_path: 'apps/echo/app.ts', paths: [''] }] });
  await withDaemon(d, async () => {
    const ws = await connect(`ws://127.0.0.1:${d.port}/`);
    ws.close();
    await closed(ws);
    const refused = parse(await rawExchange(d.port, [upgradeRequest(d.port, '/other')]));
    assert.is(refused.status, 404, '"/" does not match every path');
  });
});

Root.run();

const Slots = suite('daemon connection slots');

Slots('answers 503 when fd_alloc_c connections are open, and serves again once one closes', async () => {
  const d = await startDaemon({ config: { worker_c: 1, fd_alloc_c: 2 } });
  await withDaemon(d, async () => {
    const a = await connect(d.url('/echo'));
    const b = await connect(d.url('/echo'));
    const refused = (await rawExchange(d.port, [upgradeRequest(d.port, '/echo')])).toString('latin1');
    assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(refused, /\r\nRetry-After: 5\r\n/i);
    a.close();
    await closed(a);
    await new Promise((r) => setTimeout(r, 100));
    const c = await connect(d.url('/echo'));
    c.close();
    b.close();
    await Promise.all([closed(c), closed(b)]);
    await d.waitFor(/connection limit reached \(fd_alloc_c 2\)/);
  });
});

Slots.run();

const Peer = suite('peerAddress');

Peer('asks the handle for the peer, IPv4 and IPv6, and caches nothing on the socket', async () => {
  for (const host of ['127.0.0.1', '::1']) {
    const server = net.createServer();
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, host, () => resolve(true));
    });
    if (!listening) continue; // no IPv6 loopback here
    const accepted = once(server, 'connection');
    const client = net.connect((server.address() as net.AddressInfo).port, host);
    await once(client, 'connect');
    const [s] = (await accepted) as [net.Socket];
    const p = peerAddress(s);
    assert.equal({ address: p.address, port: p.port }, { address: host, port: client.localPort });
    assert.is((s as unknown as { _peername?: unknown })._peername, undefined, 'nothing cached on the socket');
    assert.equal([s.remoteAddress, s.remotePort], [host, client.localPort], 'remoteAddress still answers');
    client.destroy();
    s.destroy();
    server.close();
  }
  const p = peerAddress(new net.Socket());
  assert.equal({ address: p.address, port: p.port }, { address: undefined, port: undefined }, 'no handle: remoteAddress');
});

Peer.run();
