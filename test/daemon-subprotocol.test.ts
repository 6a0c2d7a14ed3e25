// Subprotocols end to end (issue 11 part 2): real ws clients against the daemon. The endpoint lists
// ["a", "b"]; a client offering ["b", "a"] gets "b" (its own order of preference), the 101 names
// it (ws.protocol), and the app sees it in open, read and close callbacks (rs.subprotocol()).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { Inbox, closed, rawExchange, upgradeRequest } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';

const APP = {
  name: 'sub', app_path: 'test/fixtures/apps/subprotocol/app.ts', paths: ['/sub', '/plain'],
};

const Sub = suite<{ d: RunningDaemon }>('subprotocols through the daemon');
const lifecycle = daemonSuite(Sub, async (ctx) => {
  // The same app module twice: with subprotocols on /sub, without on /plain.
  ctx.d = await startDaemon({
    apps: [
      { ...APP, paths: ['/sub'], endpoint: { subprotocols: ['a', 'b'] } },
      { ...APP, name: 'plain', paths: ['/plain'] },
    ],
  });
});

const text = (m: { data: Buffer }) => m.data.toString();

Sub('ws.protocol is the first supported in the client\'s order; the app agrees', async ({ d }) => {
  const table: [string[], string][] = [
    [['b', 'a'], 'b'],
    [['a', 'b'], 'a'],
    [['x', 'b'], 'b'],
  ];
  for (const [offer, want] of table) {
    const { ws, inbox } = await connectWith(d.url('/sub'), offer);
    assert.is(ws.protocol, want, `offer ${JSON.stringify(offer)}: the 101's Sec-WebSocket-Protocol`);
    assert.is(text(await inbox.next()), `open ${want}`, 'rs.subprotocol() in open');
    ws.send('ping');
    assert.is(text(await inbox.next()), `ping ${want}`, 'rs.subprotocol() in read');
    ws.close();
    await closed(ws);
  }
  // None supported: the 101 has no Sec-WebSocket-Protocol (which ws, having offered some, refuses).
  const req = upgradeRequest(d.port, '/sub', { 'Sec-WebSocket-Protocol': 'x, y' });
  const res = (await rawExchange(d.port, [req, 50, Buffer.from([0x88, 0x80, 0, 0, 0, 0])])).toString('latin1');
  assert.match(res, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.not.match(res, /Sec-WebSocket-Protocol/i);
  assert.match(res, /open -/, 'rs.subprotocol() is null');
});

Sub('rs.subprotocol() in the close callback, seen by another client', async ({ d }) => {
  const watcher = await connectWith(d.url('/sub'), ['a']);
  assert.is(text(await watcher.inbox.next()), 'open a');
  const leaver = await connectWith(d.url('/sub'), ['b']);
  assert.is(text(await leaver.inbox.next()), 'open b');
  leaver.ws.close();
  await closed(leaver.ws);
  assert.match(text(await watcher.inbox.next()), /^closed \d+ b$/);
  watcher.ws.close();
  await closed(watcher.ws);
});

Sub('an endpoint without subprotocols selects none: ws refuses the 101, a plain client is fine', async ({ d }) => {
  const plain = await connectWith(d.url('/plain'), []);
  assert.is(plain.ws.protocol, '');
  assert.is(text(await plain.inbox.next()), 'open -');
  plain.ws.close();
  await closed(plain.ws);
  // ws requires a subprotocol in the answer when it offered some (RFC 6455 leaves it to the client).
  const err = await new Promise<string>((resolve) => {
    const ws = new WebSocket(d.url('/plain'), ['a']);
    ws.once('error', (e) => resolve(e.message));
    ws.once('open', () => { ws.close(); resolve('opened'); });
  });
  assert.match(err, /Server sent no subprotocol/);
});

Sub('a malformed Sec-WebSocket-Protocol gets 400', async ({ d }) => {
  const req = upgradeRequest(d.port, '/sub', { 'Sec-WebSocket-Protocol': 'a b' });
  const res = (await rawExchange(d.port, [req])).toString('latin1');
  assert.match(res, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(res, /Sec-WebSocket-Protocol must be a comma-separated list/);
});

lifecycle.stopTest();

/** A ws client offering `protocols` (none: no Sec-WebSocket-Protocol), collecting its messages. */
function connectWith(url: string, protocols: string[]): Promise<{ ws: WebSocket; inbox: Inbox }> {
  return withDeadline(new Promise((resolve, reject) => {
    const ws = protocols.length ? new WebSocket(url, protocols) : new WebSocket(url);
    const inbox = new Inbox(ws);
    ws.once('open', () => resolve({ ws, inbox }));
    ws.once('error', reject);
  }), 5000, `connect ${url}`);
}

Sub.run();
