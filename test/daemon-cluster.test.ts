// Scale-out through Redis (issue 13), end to end: a real redis-server (test/helpers/redis.ts) on
// loopback and three real daemons (node-a, node-b, node-c; 2 workers each) running one test app
// (test/fixtures/apps/cluster/app.ts) whose clients send it commands. Clients on different nodes get
// each other's broadcasts (every, every-except) and direct messages (single, multi, close); messages
// from one app instance to one client stay in order; the ids carry their node's number. Garbage
// published on the app's channels is refused and logged. Last, Redis is killed and restarted while
// node-a broadcasts every 20 ms: the daemons stay up and keep serving their own clients, reconnect
// and deliver again; the test prints the loss window it measured. A daemon without "cluster" runs
// beside them, alone, as before.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { createClient } from '@redis/client';
import { startDaemon, type AppSpec, type RunningDaemon } from './helpers/daemon.ts';
import { guardSetup, stopDaemon, outputTail } from './helpers/daemon-exit.ts';
import { startRedis, type RedisServer } from './helpers/redis.ts';
import { withDeadline, sleep } from './helpers/deadline.ts';
import { nodeOfClient, nodeNumberOf, workerOfClient, makeClientId } from '../src/cluster/ids.ts';
import { channelOf } from '../src/cluster/link.ts';
import { encodeBatch, Remote } from '../src/cluster/batch.ts';
import { Opcode } from '../src/core/codes.ts';
import { freePort } from './helpers/ports.ts';
import { parseExposition, sampleValue } from './helpers/prom.ts';

const APP: AppSpec = { name: 'cluster', app_path: 'test/fixtures/apps/cluster/app.ts', paths: ['/c'] };
const WORKERS = 2;
/** How long a client must stay without a message it should not get (after the others got theirs). */
const QUIET_MS = 300;

interface Got {
  /** performance.now() at arrival. */
  t: number;
  type: string;
  op?: string;
  seq?: number;
  text?: string;
  from?: number;
}

/** A client of the test app: records every message with its arrival time, knows its id. */
class Client {
  id = 0;
  readonly got: Got[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;
  readonly node: string;
  constructor(ws: WebSocket, node: string) {
    this.ws = ws;
    this.node = node;
    ws.on('message', (data: Buffer) => {
      let body: object;
      try {
        body = JSON.parse(data.toString()) as object;
      } catch {
        body = { type: 'raw', text: data.toString('hex') }; // not from the app: fails the counts
      }
      const m = { t: performance.now(), ...body } as Got & { id?: number };
      if (m.type === 'id') this.id = m.id!;
      this.got.push(m);
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string, node: string): Promise<Client> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const c = new Client(ws, node);
    await withDeadline(new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    }), 5000, `connect ${url}`);
    await until(() => c.id !== 0, 5000, () => `client on ${node} was not told its id`);
    return c;
  }

  get name(): string {
    return `${this.node}/${this.id} (worker ${workerOfClient(this.id)})`;
  }

  send(cmd: object): void {
    this.ws.send(JSON.stringify(cmd));
  }

  /** The app messages with this text, in arrival order. */
  msgs(text: string): Got[] {
    return this.got.filter((m) => m.type === 'msg' && m.text === text);
  }

  count(text: string): number {
    return this.msgs(text).length;
  }
}

/** Polls `cond` every 10 ms; fails with `what()` after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`deadline (${ms} ms): ${what()}`);
    await sleep(10);
  }
}

interface Node {
  name: string;
  /** nodeNumberOf(name). */
  number: number;
  d: RunningDaemon;
  clients: Client[];
}

const nodes: Node[] = [];
let redis: RedisServer | undefined;
let solo: RunningDaemon | undefined;
let soloClient: Client | undefined;
/** Every client opened, for the after hook. */
const opened: Client[] = [];

const node = (name: string): Node => nodes.find((n) => n.name === name)!;
const allClients = (): Client[] => nodes.flatMap((n) => n.clients);

/** The notice each daemon's app thread logs when its link is up. */
function linkedLine(n: { name: string; number: number }): RegExp {
  return new RegExp(`cluster: node "${n.name}" \\(${n.number}\\) linked through redis://127\\.0\\.0\\.1:\\d+`);
}

/** Waits until `re` appears in the daemon's output after `from` (characters). */
function waitOutput(n: Node, re: RegExp, from: number, ms: number): Promise<void> {
  return until(() => re.test(n.d.output().slice(from)), ms, () => `${n.name} did not log ${re}; its output since:\n${n.d.output().slice(from)}`);
}

/** Opens clients on `n` until every worker has one (at least 2, at most 12). */
async function openSpread(n: Node): Promise<void> {
  const workers = new Set<number>();
  while (n.clients.length < 2 || workers.size < WORKERS) {
    if (n.clients.length >= 12) throw new Error(`${n.name}: 12 clients, all on workers ${[...workers].join(', ')}`);
    const c = await Client.open(n.d.url(), n.name);
    opened.push(c);
    n.clients.push(c);
    workers.add(workerOfClient(c.id));
  }
  // clients[0] and clients[1] on different workers.
  const other = n.clients.findIndex((c) => workerOfClient(c.id) !== workerOfClient(n.clients[0].id));
  [n.clients[1], n.clients[other]] = [n.clients[other], n.clients[1]];
}

/**
 * Waits until every client of `want` has the message `text`, then QUIET_MS more; asserts that each
 * of them got it exactly once and every other client (of the three nodes) not at all.
 */
async function expectDelivery(text: string, want: Client[], from?: Client): Promise<void> {
  await until(() => want.every((c) => c.count(text) >= 1), 5000,
    () => `"${text}" did not reach ${want.filter((c) => c.count(text) === 0).map((c) => c.name).join(', ')}`);
  await sleep(QUIET_MS);
  for (const c of allClients()) {
    const expected = want.includes(c) ? 1 : 0;
    assert.is(c.count(text), expected, `client ${c.name} got "${text}" ${c.count(text)} times, expected ${expected}`);
    if (from) for (const m of c.msgs(text)) assert.is(m.from, from.id, `"${text}" at ${c.name} names its sender`);
  }
}

const S = suite('cluster: three daemons through one Redis');
/** The metrics port of each node, in the order of `names`. */
const metricsPorts: number[] = [];

async function refusedCount(i: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPorts[i]}/metrics`)).text();
  return sampleValue(parseExposition(text), 'ringsocket_cluster_refused_total', { app: APP.name }) ?? -1;
}

guardSetup(S, 'starting Redis and the daemons', async () => {
  redis = await startRedis();
  const url = redis.url;
  // The three nodes and a daemon alone beside them (no "cluster"), started at once.
  const names = ['node-a', 'node-b', 'node-c'];
  for (const _ of names) metricsPorts.push(await freePort());
  const started = await Promise.allSettled([
    ...names.map((name, i) => startDaemon({
      apps: [APP],
      config: { worker_c: WORKERS, log_level: 'notice', cluster: { redis_url: url, node_id: name }, metrics: { port_number: metricsPorts[i] } },
    })),
    startDaemon({ apps: [APP], config: { worker_c: 1, log_level: 'notice' } }),
  ]);
  started.forEach((r, i) => {
    if (r.status !== 'fulfilled') return;
    if (i < names.length) nodes.push({ name: names[i], number: nodeNumberOf(names[i]), d: r.value, clients: [] });
    else solo = r.value;
  });
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  assert.is(new Set(nodes.map((n) => n.number)).size, 3, 'the three node_ids hash to three numbers');
  await Promise.all(nodes.map((n) => waitOutput(n, linkedLine(n), 0, 10_000)));
  for (const n of nodes) await openSpread(n);
  soloClient = await Client.open(solo!.url(), 'solo');
  opened.push(soloClient);
});

S.after(async () => {
  for (const c of opened) c.ws.terminate();
  await Promise.all([...nodes.map((n) => n.d), ...(solo ? [solo] : [])].map((d) => d.stop().catch(() => null)));
  await redis?.stop().catch(() => {});
});

S('ids: unique across the nodes, each carries its node number, and a node\'s clients span its workers', () => {
  const ids = allClients().map((c) => c.id);
  assert.is(new Set(ids).size, ids.length, `ids are unique: ${ids.join(', ')}`);
  for (const n of nodes) {
    assert.match(n.d.output(), linkedLine(n), `${n.name} logged its number ${n.number}`);
    for (const c of n.clients) {
      assert.ok(Number.isSafeInteger(c.id) && c.id > 0, `${c.name}: a positive safe integer`);
      assert.is(nodeOfClient(c.id), n.number, `${c.name}: nodeOfClient is ${n.name}'s number`);
    }
    const workers = new Set(n.clients.map((c) => workerOfClient(c.id)));
    assert.equal([...workers].sort(), [0, 1], `${n.name}'s clients are on both workers`);
  }
});

S('every: a broadcast from node-a reaches every client of every node once, the sender too', async () => {
  const a0 = node('node-a').clients[0];
  a0.send({ op: 'every', seq: 1, text: 'every-a' });
  await expectDelivery('every-a', allClients(), a0);
  // And from a node-c client on its second worker.
  const c1 = node('node-c').clients[1];
  c1.send({ op: 'every', seq: 2, text: 'every-c' });
  await expectDelivery('every-c', allClients(), c1);
});

S('every-except: excluded clients on other nodes (and the sender\'s) get nothing, the others once', async () => {
  const [a, b, c] = ['node-a', 'node-b', 'node-c'].map(node);
  // toEveryExceptSingle, the excluded client on node-b.
  const out1 = b.clients[1];
  a.clients[0].send({ op: 'except', to: [out1.id], text: 'except-single' });
  await expectDelivery('except-single', allClients().filter((x) => x !== out1), a.clients[0]);
  // toEveryExceptMulti from node-b, excluding one client of each node (the sender's node included).
  const out = [a.clients[1], b.clients[0], c.clients[1]];
  b.clients[1].send({ op: 'except', to: out.map((x) => x.id), text: 'except-multi' });
  await expectDelivery('except-multi', allClients().filter((x) => !out.includes(x)), b.clients[1]);
});

S('single and multi: each target on any node gets one copy, nobody else any', async () => {
  const [a, b, c] = ['node-a', 'node-b', 'node-c'].map(node);
  a.clients[0].send({ op: 'single', to: [b.clients[1].id], text: 'single-ab' });
  await expectDelivery('single-ab', [b.clients[1]], a.clients[0]);
  c.clients[0].send({ op: 'single', to: [a.clients[1].id], text: 'single-ca' });
  await expectDelivery('single-ca', [a.clients[1]], c.clients[0]);
  // multi from node-a to two remote nodes and the local one; one id listed twice.
  const targets = [b.clients[0], c.clients[1], a.clients[1], b.clients[1]];
  a.clients[0].send({ op: 'multi', to: [...targets.map((x) => x.id), b.clients[0].id], text: 'multi-abc' });
  await expectDelivery('multi-abc', targets, a.clients[0]);
});

S('order: 2000 messages from node-a\'s app to one client on node-b arrive all, in order', async () => {
  const N = 2000;
  const to = node('node-b').clients[0];
  node('node-a').clients[0].send({ op: 'burst', to: [to.id], n: N, text: 'burst' });
  await until(() => to.count('burst') >= N, 10_000, () => `node-b's client got ${to.count('burst')} of ${N}`);
  await sleep(QUIET_MS);
  const seqs = to.msgs('burst').map((m) => m.seq!);
  assert.is(seqs.length, N, `${N} messages, no more`);
  const wrong = seqs.findIndex((s, i) => s !== i);
  assert.is(wrong, -1, `message ${wrong} has seq ${seqs[wrong]} (after ${seqs[wrong - 1]})`);
  for (const c of allClients()) if (c !== to) assert.is(c.count('burst'), 0, `${c.name} got none of the burst`);
});

S('rs.close of a client on another node closes it with the code; its neighbours stay', async () => {
  const c = node('node-c');
  const victim = await Client.open(c.d.url(), 'node-c');
  opened.push(victim);
  node('node-a').clients[0].send({ op: 'close', to: [victim.id], code: 4321 });
  const r = await withDeadline(victim.closed, 5000, `the close of ${victim.name} by node-a's app (rs.close of another node's client)`);
  assert.is(r.code, 4321, `${victim.name} was closed with the app's code`);
  for (const x of c.clients) assert.is(x.ws.readyState, WebSocket.OPEN, `${x.name} is still open`);
  // node-c's instance of the app ran the victim's close callback (it is not left open there).
  const asker = c.clients[0];
  asker.send({ op: 'closes' });
  await until(() => asker.got.some((m) => m.type === 'closes'), 5000, () => 'node-c\'s app answered');
  const closes = asker.got.filter((m) => m.type === 'closes').pop() as unknown as { ids: number[] };
  assert.ok(closes.ids.includes(victim.id), `node-c's app ran the close callback of ${victim.name}: ${JSON.stringify(closes.ids)}`);
  // A close from node-b to node-a's client, and node-a's own clients go on.
  const victim2 = await Client.open(node('node-a').d.url(), 'node-a');
  opened.push(victim2);
  node('node-b').clients[1].send({ op: 'close', to: [victim2.id], code: 4000 });
  assert.is((await withDeadline(victim2.closed, 5000, `the close of ${victim2.name}`)).code, 4000);
  node('node-c').clients[0].send({ op: 'every', text: 'after-close' });
  await expectDelivery('after-close', allClients());
});

S('a daemon without "cluster" beside them: small ids (node 0), its broadcasts stay its own', async () => {
  const s = soloClient!;
  assert.is(nodeOfClient(s.id), 0, `a daemon alone hands out ids of node 0 (${s.id})`);
  assert.ok(s.id < 2 ** 20, `a small id: ${s.id}`);
  assert.not.match(solo!.output(), /cluster: |redis/i, `the lone daemon says nothing about a cluster or Redis:\n${solo!.output()}`);
  s.send({ op: 'every', text: 'solo' });
  node('node-a').clients[0].send({ op: 'every', text: 'not-solo' });
  await until(() => s.count('solo') === 1, 5000, () => 'the lone client got its own broadcast');
  await expectDelivery('not-solo', allClients());
  assert.is(s.count('not-solo'), 0, 'the cluster\'s broadcast did not reach the lone daemon');
  for (const c of allClients()) assert.is(c.count('solo'), 0, `${c.name} did not get the lone daemon's broadcast`);
  assert.is(s.count('solo'), 1);
});

S('garbage published on the app\'s channels is refused and logged; the daemons stay up and deliver', async () => {
  const pub = createClient({ url: redis!.url, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  pub.on('error', () => {});
  const from = nodes.map((n) => n.d.output().length);
  const counts = await Promise.all(nodes.map((_, i) => refusedCount(i)));
  try {
    await pub.connect();
    const all = channelOf('ringsocket', APP.name, 'all');
    // A version-1 header that promises 2^32-1 entries; an entry that names a NaN client id.
    const huge = Buffer.alloc(16);
    huge[0] = 1;
    huge.writeUInt32LE(0xffffffff, 4);
    const nan = Buffer.alloc(16 + 12 + 8 + 1);
    nan[0] = 1;
    nan.writeUInt32LE(1, 4);
    nan[16] = 2; // Remote.TO
    nan[17] = 1; // text
    nan.writeUInt32LE(1, 20);
    nan.writeUInt32LE(1, 24);
    nan.writeDoubleLE(NaN, 28);
    const garbage = [Buffer.from('not a batch at all'), Buffer.alloc(0), Buffer.alloc(4096, 0xff), huge, nan];
    for (const g of garbage) {
      const receivers = await pub.sPublish(all, g);
      assert.is(receivers, 3, 'every node is subscribed to the app\'s channel');
    }
    for (const n of nodes) assert.is(await pub.sPublish(channelOf('ringsocket', APP.name, n.number), Buffer.from([9, 9, 9])), 1, `${n.name} reads its own channel`);
    // Refused too: a close code an app cannot send (1005), a text message that is not UTF-8.
    const b = node('node-b').number;
    const target = node('node-b').clients[0].id;
    const badClose = encodeBatch(7, [{ kind: Remote.CLOSE, opcode: Opcode.CLOSE, ids: [target], payload: new Uint8Array([0x03, 0xed]) }]);
    const badText = encodeBatch(7, [{ kind: Remote.TO, opcode: Opcode.TEXT, ids: [target], payload: new Uint8Array([0xff, 0xfe]) }]);
    for (const g of [badClose, badText]) assert.is(await pub.sPublish(all, Buffer.from(g)), 3);
    // Well-formed, from a node that does not exist, for clients that do not (a worker node-b does not
    // have, a serial nobody got): not refused, and nothing happens.
    const ghosts = encodeBatch(7, [
      { kind: Remote.TO, opcode: Opcode.TEXT, ids: [makeClientId(1, 200, b), makeClientId(2 ** 32, 0, b)], payload: Buffer.from('ghost') },
      { kind: Remote.CLOSE, opcode: Opcode.CLOSE, ids: [makeClientId(2 ** 32, 1, b)], payload: new Uint8Array([0x0f, 0xa0]) },
    ]);
    assert.is(await pub.sPublish(all, Buffer.from(ghosts)), 3);
    const perNode = garbage.length + 1 + 2;
    await Promise.all(nodes.map(async (n, i) => {
      await until(async () => (await refusedCount(i)) - counts[i] >= perNode, 5000, () => `${n.name} did not count ${perNode} refused batches`);
    }));
    await sleep(200);
    for (const [i, n] of nodes.entries()) {
      assert.is(await refusedCount(i) - counts[i], perNode, `${n.name}: exactly the bad batches are refused (the ghosts are not)`);
      // Whoever can publish cannot flood the log: one line per 10 s, whatever the number of batches.
      const lines = n.d.output().slice(from[i]).match(/cluster: a batch from Redis was refused/g) ?? [];
      assert.ok(lines.length >= 1 && lines.length <= 2, `${n.name} logged ${lines.length} refusal lines`);
    }
    assert.is(node('node-b').clients[0].ws.readyState, WebSocket.OPEN, 'the target of the bad close and the bad text is still open');
  } finally {
    pub.destroy();
  }
  for (const n of nodes) assert.is(n.d.proc.exitCode, null, `${n.name} is still running`);
  node('node-b').clients[0].send({ op: 'every', text: 'after-garbage' });
  await expectDelivery('after-garbage', allClients(), node('node-b').clients[0]);
});

S('Redis killed and restarted mid-stream: the daemons stay up, reconnect and deliver again; the loss window', async () => {
  const [a, b, c] = ['node-a', 'node-b', 'node-c'].map(node);
  const sender = a.clients[0];
  const receivers = [b.clients[0], c.clients[0]];
  const ticks = (r: Client) => r.msgs('tick');
  const sentAt: number[] = [];
  let seq = 0;
  const timer = setInterval(() => {
    sentAt[seq] = performance.now();
    sender.send({ op: 'every', seq: seq++, text: 'tick' });
  }, 20);
  let killAt = 0, restartAt = 0;
  const from = nodes.map((n) => n.d.output().length);
  try {
    await until(() => receivers.every((r) => ticks(r).length >= 10), 5000, () => 'ticks did not flow before the kill');
    killAt = performance.now();
    await redis!.kill();
    await Promise.all(nodes.map((n, i) => waitOutput(n, /cluster: lost Redis/, from[i], 5000)));
    await sleep(Math.max(0, killAt + 1000 - performance.now()));
    // Without Redis, every daemon still serves its own clients: node-b's broadcast reaches node-b's.
    for (const n of nodes) assert.is(n.d.proc.exitCode, null, `${n.name} is still running without Redis`);
    b.clients[1].send({ op: 'every', text: 'local-b' });
    await until(() => b.clients.every((x) => x.count('local-b') === 1), 3000, () => 'node-b\'s own broadcast did not reach its clients while Redis was down');
    const seqAtCheck = seq;
    await until(() => a.clients[1].msgs('tick').some((m) => m.seq! >= seqAtCheck), 3000, () => 'node-a\'s own clients stopped getting its broadcasts while Redis was down');
    restartAt = performance.now();
    await redis!.restart();
    await until(() => receivers.every((r) => ticks(r).some((m) => sentAt[m.seq!] > restartAt)), 15_000,
      () => `ticks sent after the restart did not reach ${receivers.filter((r) => !ticks(r).some((m) => sentAt[m.seq!] > restartAt)).map((r) => r.name).join(', ')}`);
    await Promise.all(nodes.map((n, i) => waitOutput(n, new RegExp(`cluster: lost Redis[\\s\\S]*${linkedLine(n).source}`), from[i], 5000)));
    await sleep(200);
  } finally {
    clearInterval(timer);
  }
  const last = seq - 1;
  await until(() => receivers.every((r) => ticks(r).some((m) => m.seq === last)), 5000, () => `the last tick ${last} did not arrive everywhere`);
  await sleep(QUIET_MS);

  const down = Math.round(restartAt - killAt);
  const lines: string[] = [];
  for (const r of receivers) {
    const got = ticks(r);
    const seqs = got.map((m) => m.seq!);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${r.name}: tick ${seqs[i]} after ${seqs[i - 1]} (out of order or twice)`);
    const before = got.filter((m) => m.t < restartAt);
    const after = got.filter((m) => m.t >= restartAt);
    assert.ok(before.length > 0 && after.length > 0, `${r.name}: ticks before the kill and after the restart`);
    const lastBefore = before[before.length - 1], firstAfter = after[0];
    assert.is(seqs[0], 0, `${r.name} got the first tick`);
    assert.is(before.length, lastBefore.seq! + 1, `${r.name}: no tick lost before the kill`);
    assert.is(after.length, last - firstAfter.seq! + 1, `${r.name}: no tick lost after the first one that came back (from ${firstAfter.seq} to ${last})`);
    const window = Math.round(firstAfter.t - lastBefore.t);
    const lost = firstAfter.seq! - lastBefore.seq! - 1;
    assert.ok(lost > 0, `${r.name}: ticks sent while Redis was down are lost (at most once), not queued`);
    assert.ok(window < down + 10_000, `${r.name}: loss window ${window} ms, more than the ${down} ms outage + 10 s`);
    lines.push(`${r.node} ${window} ms, ${lost} messages lost (first back ${Math.round(firstAfter.t - restartAt)} ms after the restart)`);
  }
  console.log(`cluster loss window: ${lines.join('; ')} (kill ${Math.round(killAt - sentAt[0])} ms into ${last + 1} ticks of 20 ms, Redis down ${down} ms)`);
  for (const n of nodes) assert.is(n.d.proc.exitCode, null, `${n.name} is still running; its output ends:\n${outputTail(n.d)}`);
  // Everything works as before the outage.
  c.clients[1].send({ op: 'multi', to: [a.clients[1].id, b.clients[1].id], text: 'after-outage' });
  await expectDelivery('after-outage', [a.clients[1], b.clients[1]], c.clients[1]);
});

S('the daemons exit with 0 on SIGTERM', async () => {
  for (const c of opened) c.ws.terminate();
  const errors: string[] = [];
  for (const d of [...nodes.map((n) => n.d), solo!]) {
    try {
      await stopDaemon(d);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  assert.is(errors.length, 0, errors.join('\n'));
});

S.run();
