// The example apps over the real daemon (2 workers): silly-calc (RingSocket's README example) and
// chat, including the 49xx closes of messages that do not fit their read forms.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { sleep } from './helpers/deadline.ts';
import { Peer } from './fixtures/apps/peers.ts';
import { CloseCode } from '../src/core/codes.ts';

function calcRequest(i32: number, u16s: number[]): Buffer {
  const b = Buffer.alloc(4 + 2 * u16s.length);
  b.writeInt32BE(i32, 0);
  u16s.forEach((v, i) => b.writeUInt16BE(v, 4 + 2 * i));
  return b;
}

const Calc = suite<{ d: RunningDaemon }>('silly-calc over the daemon');

const calc = daemonSuite(Calc, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [{ name: 'silly-calc', app_path: 'apps/silly-calc/app.ts', paths: ['/silly-calc'] }],
    config: { worker_c: 2 },
  });
});

/** Connects n clients and makes sure the app has seen each of them open (a request round trip). */
async function calcPeers(d: RunningDaemon, n: number): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (let i = 0; i < n; i++) {
    const p = await Peer.open(d.url());
    // The app answers every valid request with "笑笑?" to the sender: proof that it knows the client.
    p.ws.send(calcRequest(0, [0]));
    assert.is(await p.nextText(), '笑笑?');
    peers.push(p);
  }
  // Drain the sums that the other clients' warm-up requests sent to earlier ones.
  await sleep(200);
  for (const p of peers) while (p.pending) await p.next();
  return peers;
}

Calc('sends the int64 sum to every other client and "笑笑?" as text to the sender', async ({ d }) => {
  const [a, b, c] = await calcPeers(d, 3);
  const cases: [number, number[], bigint][] = [
    [-5, [1, 65535, 3], 65534n],
    [2147483647, new Array(10).fill(65535), 2147483647n + 655350n],
    [-2147483648, [0], -2147483648n],
    [7, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 62n],
  ];
  for (const [i32, u16s, sum] of cases) {
    a.ws.send(calcRequest(i32, u16s));
    const reply = await a.next();
    assert.is(reply.isBinary, false);
    assert.is(reply.data.toString('utf8'), '笑笑?');
    for (const p of [b, c]) {
      const m = await p.next();
      assert.is(m.isBinary, true);
      assert.is(m.data.length, 8);
      assert.is(m.data.readBigInt64BE(0), sum, `sum of ${i32} and ${u16s}`);
    }
  }
  await sleep(100);
  assert.is(a.pending, 0, 'the sender does not get its own sum');
  await Promise.all([a.close(), b.close(), c.close()]);
});

Calc('closes with 4900 a request of a wrong size and with 4901 a text request', async ({ d }) => {
  const bad: [string, Buffer | string, number][] = [
    ['no uint16', calcRequest(1, []), CloseCode.WRONG_SIZE],
    ['11 uint16', calcRequest(1, new Array(11).fill(1)), CloseCode.WRONG_SIZE],
    ['an odd byte count', Buffer.concat([calcRequest(1, [1]), Buffer.from([0])]), CloseCode.WRONG_SIZE],
    ['3 bytes', Buffer.from([0, 0, 1]), CloseCode.WRONG_SIZE],
    ['text', 'hello', CloseCode.WRONG_DATA_KIND],
  ];
  const witness = (await calcPeers(d, 1))[0];
  for (const [what, payload, code] of bad) {
    const p = await Peer.open(d.url());
    p.ws.send(payload);
    const c = await p.closed;
    assert.is(c.code, code, what);
  }
  // Nobody else was affected, and no sum went out for a bad request.
  assert.is(witness.pending, 0);
  witness.ws.send(calcRequest(40, [2]));
  assert.is(await witness.nextText(), '笑笑?');
  await witness.close();
});

calc.stopTest({ after: (ctx) => { assert.not.match(ctx.d.output(), / error /); } });

Calc.run();

// ---------------------------------------------------------------------------------------------

type ChatMsg = { type: string; id?: number; name?: string; text?: string; old?: string; to?: number; clients?: { id: number; name: string }[]; message?: string };

const Chat = suite<{ d: RunningDaemon }>('chat over the daemon');

const chat = daemonSuite(Chat, async (ctx) => {
  ctx.d = await startDaemon({ apps: [{ name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'] }], config: { worker_c: 2 } });
});

async function json(p: Peer): Promise<ChatMsg> {
  return JSON.parse(await p.nextText()) as ChatMsg;
}

/** Joins the room; every earlier member gets the join notice. */
async function join(d: RunningDaemon, members: Peer[]): Promise<Peer> {
  const p = await Peer.open(d.url());
  const w = await json(p);
  assert.is(w.type, 'welcome');
  assert.is(w.name, `guest-${w.id}`);
  p.id = w.id!;
  for (const m of members) assert.equal(await json(m), { type: 'join', id: p.id, name: `guest-${p.id}` });
  return p;
}

Chat('says, renames, whispers and lists; join and leave notices go to everyone else', async ({ d }) => {
  const a = await join(d, []);
  const b = await join(d, [a]);
  const c = await join(d, [a, b]);

  a.ws.send('\x00hello 笑');
  for (const p of [b, c]) assert.equal(await json(p), { type: 'say', id: a.id, name: `guest-${a.id}`, text: 'hello 笑' });

  a.ws.send('\x01ann');
  for (const p of [a, b, c]) assert.equal(await json(p), { type: 'rename', id: a.id, old: `guest-${a.id}`, name: 'ann' });

  const whisper = Buffer.alloc(9);
  whisper[0] = 2;
  whisper.writeBigUInt64BE(BigInt(c.id), 1);
  a.ws.send(Buffer.concat([whisper, Buffer.from('psst')]));
  assert.equal(await json(c), { type: 'whisper', id: a.id, name: 'ann', text: 'psst' });
  assert.equal(await json(a), { type: 'whispered', to: c.id });

  whisper.writeBigUInt64BE(BigInt(c.id + 256 * 1000), 1);
  a.ws.send(Buffer.concat([whisper, Buffer.from('anyone?')]));
  assert.equal(await json(a), { type: 'error', message: `no client ${c.id + 256 * 1000}` });

  b.ws.send(Buffer.from([3]));
  const list = await json(b);
  assert.equal(list.clients, [{ id: a.id, name: 'ann' }, { id: b.id, name: `guest-${b.id}` }, { id: c.id, name: `guest-${c.id}` }].sort((x, y) => x.id - y.id));

  await c.close();
  for (const p of [a, b]) assert.equal(await json(p), { type: 'leave', id: c.id, name: `guest-${c.id}` });
  await sleep(100);
  for (const p of [a, b]) assert.is(p.pending, 0, `client ${p.id} got nothing else`);
  await a.close();
  assert.equal(await json(b), { type: 'leave', id: a.id, name: 'ann' });
  await b.close();
  await sleep(200); // the app sees b's close before the next test's clients join
});

Chat('closes with 4902 on an unknown case, 4901 on the wrong data kind, 4900 on a wrong size, 4001 on a bad name', async ({ d }) => {
  const witness = await join(d, []);
  const bad: [string, Buffer | string, number][] = [
    ['case 9', Buffer.from([9, 1, 2]), CloseCode.UNKNOWN_CASE],
    ['rename as binary', Buffer.from('\x01bob'), CloseCode.WRONG_DATA_KIND],
    ['an empty message', Buffer.alloc(0), CloseCode.WRONG_SIZE],
    ['say with no text', '\x00', CloseCode.WRONG_SIZE],
    ['a 33-byte name', '\x01' + 'x'.repeat(33), CloseCode.WRONG_SIZE],
    ['a name with a control character', '\x01a\tb', 4001],
  ];
  for (const [what, payload, code] of bad) {
    const p = await join(d, [witness]);
    p.ws.send(payload);
    assert.is((await p.closed).code, code, what);
    assert.equal(await json(witness), { type: 'leave', id: p.id, name: `guest-${p.id}` }, `leave notice after ${what}`);
  }
  await witness.close();
});

chat.stopTest({ after: (ctx) => { assert.not.match(ctx.d.output(), / error /); } });

Chat.run();
