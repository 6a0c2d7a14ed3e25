// The app API's delivery guarantees (issue 4, item 5; behaviour report §7 and §2.8), end to end
// through the real daemon with 2 workers: every-except never reaches the excluded clients, one
// app's messages to one client arrive in the order sent, an app without an open callback still
// sends, a client's open reaches the app before its reads and its close after the last.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { withDeadline, sleep } from './helpers/deadline.ts';
import { upgradeRequest, clientFrame } from './helpers/client.ts';
import { Peer, peersOnEveryWorker } from './fixtures/apps/peers.ts';
import { Opcode } from '../src/core/codes.ts';

const COMMANDS = { name: 'commands', app_path: 'test/fixtures/apps/commands/app.ts', paths: ['/commands'] };

// ---------------------------------------------------------------------------------------------

const Delivery = suite<{ d: RunningDaemon; peers: Peer[] }>('app delivery (2 workers)');

const delivery = daemonSuite(Delivery, async (ctx) => {
  ctx.d = await startDaemon({ apps: [COMMANDS], config: { worker_c: 2 } });
  ctx.peers = await peersOnEveryWorker(ctx.d.url(), 2, 3);
});

/** Collects each peer's text messages up to and including `end`. */
async function textsUntil(peers: Peer[], end: string): Promise<Map<Peer, string[]>> {
  const out = new Map<Peer, string[]>();
  await Promise.all(peers.map(async (p) => {
    const got: string[] = [];
    for (;;) {
      const t = await p.nextText();
      got.push(t);
      if (t === end) break;
    }
    out.set(p, got);
  }));
  return out;
}

Delivery('every-except (single, multi, cur) never reaches the excluded clients, on either worker', async ({ peers }) => {
  const a = peers[0];
  const sameWorker = peers.find((p) => p !== a && p.worker === a.worker)!;
  const otherWorker = peers.filter((p) => p.worker !== a.worker);
  const exMulti = [sameWorker, otherWorker[0]];
  a.cmd({ cmd: 'send', variant: 'toEveryExceptSingle', ids: [sameWorker.id], text: 'ex-single-1' });
  a.cmd({ cmd: 'send', variant: 'toEveryExceptSingle', ids: [otherWorker[1].id], text: 'ex-single-2' });
  a.cmd({ cmd: 'send', variant: 'toEveryExceptMulti', ids: exMulti.map((p) => p.id), text: 'ex-multi' });
  a.cmd({ cmd: 'send', variant: 'toEveryExceptCur', text: 'ex-cur' });
  a.cmd({ cmd: 'send', variant: 'toEvery', text: 'end' });
  const got = await textsUntil(peers, 'end');
  for (const p of peers) {
    const expect = [
      ...(p === sameWorker ? [] : ['ex-single-1']),
      ...(p === otherWorker[1] ? [] : ['ex-single-2']),
      ...(exMulti.includes(p) ? [] : ['ex-multi']),
      ...(p === a ? [] : ['ex-cur']),
      'end',
    ];
    assert.equal(got.get(p), expect, `client ${p.id} (worker ${p.worker})`);
  }
});

Delivery('single and multi reach exactly the listed clients, across workers', async ({ peers }) => {
  const a = peers[0];
  const other = peers.find((p) => p.worker !== a.worker)!;
  const multi = peers.filter((_, i) => i % 2 === 1);
  a.cmd({ cmd: 'send', variant: 'toSingle', ids: [other.id], text: 'single' });
  a.cmd({ cmd: 'send', variant: 'toMulti', ids: [...multi.map((p) => p.id), multi[0].id], text: 'multi' });
  a.cmd({ cmd: 'send', variant: 'toCur', text: 'cur' });
  a.cmd({ cmd: 'send', variant: 'toEvery', text: 'end' });
  const got = await textsUntil(peers, 'end');
  for (const p of peers) {
    const expect = [...(p === other ? ['single'] : []), ...(multi.includes(p) ? ['multi'] : []), ...(p === a ? ['cur'] : []), 'end'];
    assert.equal(got.get(p), expect, `client ${p.id} (worker ${p.worker})`);
  }
});

Delivery('messages from the app to one client arrive in the order sent, through every sender, on both workers', async ({ peers }) => {
  const n = 3000;
  peers[0].cmd({ cmd: 'flood', n, ids: peers.map((p) => p.id) });
  await Promise.all(peers.map(async (p) => {
    for (let i = 0; i < n; i++) {
      const m = await p.next();
      assert.ok(m.isBinary && m.data.length === 4, `client ${p.id}: message ${i} is a 4-byte binary message`);
      const seq = m.data.readUInt32BE(0);
      if (seq !== i) assert.unreachable(`client ${p.id} (worker ${p.worker}): message ${i} has seq ${seq}`);
    }
  }));
  await sleep(100);
  for (const p of peers) assert.is(p.pending, 0, `client ${p.id}: nothing beyond the ${n} messages`);
});

Delivery('an app without an open callback sends to a new client (no "no_open_cb" trap)', async ({ d, peers }) => {
  const fresh = await Peer.open(d.url());
  // toCur from a read: the reply arrives.
  await fresh.learnId();
  assert.ok(fresh.id > 0);
  // toEvery from another client's read reaches it too, as does toSingle.
  peers[0].cmd({ cmd: 'send', variant: 'toSingle', ids: [fresh.id], text: 'just you' });
  assert.is(await fresh.nextText(), 'just you');
  peers[0].cmd({ cmd: 'send', variant: 'toEvery', text: 'all of you' });
  assert.is(await fresh.nextText(), 'all of you');
  for (const p of peers) assert.is(await p.nextText(), 'all of you');
  await fresh.close();
});

delivery.stopTest({
  before: async (ctx) => { await Promise.all(ctx.peers.map((p) => p.close())); },
  after: (ctx) => { assert.not.match(ctx.d.output(), / error /, 'no error line'); },
});

Delivery.run();

// ---------------------------------------------------------------------------------------------

const OpenEvery = suite<{ d: RunningDaemon }>('app sends from the open callback');

const openEvery = daemonSuite(OpenEvery, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [{ name: 'open-every', app_path: 'test/fixtures/apps/open-every/app.ts', paths: ['/oe'] }],
    config: { worker_c: 2 },
  });
});

// Regression: the app thread once stamped records sent from an open callback with the sequence
// number of that OPEN itself, so the worker's every-filter (`openSeq < stamp`) skipped the new client.
OpenEvery('an every-send from the open callback reaches the new client; every-except-cur does not', async ({ d }) => {
  const a = await Peer.open(d.url());
  const texts: string[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      texts.push(await a.nextText(1500));
    } catch {
      break;
    }
  }
  const id = texts.length ? texts[texts.length - 1].split(' ').pop() : '?';
  assert.equal(texts, [`every ${id}`, `every-except-multi ${id}`, `cur ${id}`]);
  await a.close();
});

openEvery.stopTest();

OpenEvery.run();

// ---------------------------------------------------------------------------------------------

const Sequence = suite<{ d: RunningDaemon }>('app event order per client (2 workers)');

const sequence = daemonSuite(Sequence, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [{ name: 'sequence', app_path: 'test/fixtures/apps/sequence/app.ts', paths: ['/seq', '/observe'] }],
    config: { worker_c: 2, shutdown_wait_ws: 2 },
  });
});

/** Upgrade, `reads` messages and (optionally) a close frame in ONE write; then FIN. */
function rawBurst(port: number, reads: number, withClose: boolean): Promise<void> {
  return withDeadline(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      const parts: Buffer[] = [Buffer.from(upgradeRequest(port, '/seq'))];
      for (let i = 0; i < reads; i++) parts.push(clientFrame(i % 2 ? Opcode.TEXT : Opcode.BINARY, `m${i}`));
      if (withClose) parts.push(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
      s.end(Buffer.concat(parts));
    });
    s.on('data', () => {});
    s.on('error', reject);
    s.on('close', () => resolve());
  }), 10000, 'raw burst');
}

interface SeqReport { opens: number; reads: number; closes: number; open: number; violations: string[] }

Sequence('a client\'s open reaches the app before any of its reads, and its close after the last', async ({ d }) => {
  const observer = await Peer.open(d.url('/observe'));
  const ask = async (): Promise<SeqReport> => {
    observer.ws.send('report');
    return JSON.parse(await observer.nextText()) as SeqReport;
  };
  let expectReads = 0, expectClients = 0;
  for (let round = 0; round < 4; round++) {
    const jobs: Promise<void>[] = [];
    // Raw sockets: the messages (and the close) arrive in the same packet as the upgrade request.
    for (let i = 0; i < 15; i++) { jobs.push(rawBurst(d.port, 3, i % 3 !== 0)); expectReads += 3; expectClients++; }
    // ws clients: 20 messages, then a close.
    for (let i = 0; i < 5; i++) {
      jobs.push((async () => {
        const p = await Peer.open(d.url('/seq'));
        for (let k = 0; k < 20; k++) p.ws.send(`w${k}`);
        await p.close();
      })());
      expectReads += 20;
      expectClients++;
    }
    await Promise.all(jobs);
  }
  let r = await ask();
  for (let i = 0; i < 50 && (r.closes < expectClients || r.reads < expectReads); i++) {
    await sleep(100);
    r = await ask();
  }
  assert.equal(r.violations, []);
  assert.equal({ opens: r.opens, reads: r.reads, closes: r.closes, open: r.open },
    { opens: expectClients, reads: expectReads, closes: expectClients, open: 0 });
  await observer.close();
});

sequence.stopTest();

Sequence.run();
