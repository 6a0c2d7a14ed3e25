// The example apps in the real daemon, over WebSocket with two workers: silly-calc's exact
// output and exclusions, chat's room, broadcast, and the 49xx closes seen by a client.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type WebSocket from 'ws';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { connectInbox, closed, type Inbox } from './helpers/client.ts';

const Apps = suite<{ d: RunningDaemon }>('example apps in the daemon');

const life = daemonSuite(Apps, async (ctx) => {
  // One worker: a client's OPEN record and every later message of the suite go through one ring,
  // in order. With two, a client has its 101 before the app may have read its OPEN (on the other
  // worker's ring), and a toEvery from the app reaches only the clients it has seen open: the
  // tests here would race with that (the e2e tests check the multi-worker guarantees).
  ctx.d = await startDaemon({
    config: { worker_c: 1 },
    apps: [
      { name: 'silly-calc', app_path: 'apps/silly-calc/app.ts', paths: ['/calc'] },
      { name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'] },
      { name: 'broadcast', app_path: 'apps/broadcast/app.ts', paths: ['/all'] },
    ],
  });
});

type Client = { ws: WebSocket; inbox: Inbox };

async function clients(d: RunningDaemon, path: string, n: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < n; i++) out.push(await connectInbox(d.url(path)));
  return out;
}

async function closeAll(cs: Client[]): Promise<void> {
  for (const c of cs) c.ws.close();
  await Promise.all(cs.map((c) => closed(c.ws)));
}

function calcRequest(i32: number, u16s: number[]): Buffer {
  const b = Buffer.alloc(4 + 2 * u16s.length);
  b.writeInt32BE(i32, 0);
  u16s.forEach((v, i) => b.writeUInt16BE(v, 4 + 2 * i));
  return b;
}

function int64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
}

Apps('silly-calc: the sum goes to every other client, "笑笑?" to the sender, and nothing else', async ({ d }) => {
  const cs = await clients(d, '/calc', 5);
  cs[0].ws.send(calcRequest(-5, [1, 65535, 10]));
  const reply = await cs[0].inbox.next();
  assert.equal([reply.isBinary, reply.data.toString()], [false, '笑笑?']);
  for (const c of cs.slice(1)) {
    const m = await c.inbox.next();
    assert.equal([m.isBinary, [...m.data]], [true, [...int64(65541)]]);
  }
  // A second request from another client: the first sender's next message is that sum, so it
  // never got its own.
  cs[1].ws.send(calcRequest(1, [2]));
  const next = await cs[0].inbox.next();
  assert.equal([next.isBinary, [...next.data]], [true, [...int64(3)]]);
  assert.is((await cs[1].inbox.next()).data.toString(), '笑笑?');
  await closeAll(cs);
});

Apps('silly-calc: a request outside the schema closes the client with 4900, text with 4901', async ({ d }) => {
  const [a, b, c] = await clients(d, '/calc', 3);
  const codes = Promise.all([a, b, c].map((x) => closed(x.ws).then((r) => r.code)));
  a.ws.send(calcRequest(1, []));
  b.ws.send(calcRequest(1, new Array(11).fill(1)));
  c.ws.send('text');
  assert.equal(await codes, [4900, 4900, 4901]);
});

Apps('chat: join, say to the others only, whisper by id, leave', async ({ d }) => {
  const [a] = await clients(d, '/chat', 1);
  const welcomeA = JSON.parse((await a.inbox.next()).data.toString());
  assert.is(welcomeA.type, 'welcome');
  const [b] = await clients(d, '/chat', 1);
  const welcomeB = JSON.parse((await b.inbox.next()).data.toString());
  assert.equal(JSON.parse((await a.inbox.next()).data.toString()), { type: 'join', id: welcomeB.id, name: welcomeB.name });

  a.ws.send('\x00hello');
  assert.equal(JSON.parse((await b.inbox.next()).data.toString()), { type: 'say', id: welcomeA.id, name: welcomeA.name, text: 'hello' });

  const w = Buffer.alloc(9 + 4);
  w[0] = 2;
  w.writeBigUInt64BE(BigInt(welcomeA.id), 1);
  w.write('psst', 9);
  b.ws.send(w);
  assert.equal(JSON.parse((await a.inbox.next()).data.toString()), { type: 'whisper', id: welcomeB.id, name: welcomeB.name, text: 'psst' });
  assert.equal(JSON.parse((await b.inbox.next()).data.toString()), { type: 'whispered', to: welcomeA.id });
  assert.is(a.inbox.pending, 0, 'the sayer got nothing of its own');

  const bClosed = closed(b.ws);
  b.ws.send(Buffer.from([9]));
  assert.is((await bClosed).code, 4902);
  assert.equal(JSON.parse((await a.inbox.next()).data.toString()), { type: 'leave', id: welcomeB.id, name: welcomeB.name });
  await closeAll([a]);
});

Apps('broadcast: every message reaches every client, the sender included, with its data kind', async ({ d }) => {
  const cs = await clients(d, '/all', 4);
  cs[2].ws.send('to all');
  cs[3].ws.send(Buffer.from([1, 2, 3]));
  for (const c of cs) {
    const got = [await c.inbox.next(), await c.inbox.next()].map((m) => [m.isBinary, [...m.data]]);
    assert.equal(got.sort(), [[false, [...Buffer.from('to all')]], [true, [1, 2, 3]]].sort());
  }
  await closeAll(cs);
});

life.stopTest();

Apps.run();
