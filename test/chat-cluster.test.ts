// apps/chat across two daemons that share one Redis (README "Scale-out with Redis"): the member
// list is shared (apps/chat/members.ts), a whisper crosses nodes, a rename and a leave on one node
// show in the other's list, a node whose hash Redis lost (a restart, an eviction) writes it whole
// again, the other nodes keep its members meanwhile, the members of a node that is killed drop out of
// the list, a restarted node's previous members are gone, and a node started while Redis is down
// says why. Needs /usr/bin/redis-server (it fails, never skips, without it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from '@redis/client';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { assertExit, guardSetup, outputTail } from './helpers/daemon-exit.ts';
import { startRedis, type RedisServer } from './helpers/redis.ts';
import { sleep } from './helpers/deadline.ts';
import { freePort } from './helpers/ports.ts';
import { Peer } from './fixtures/apps/peers.ts';
import { nodeNumberOf, nodeOfClient } from '../src/cluster/ids.ts';
import { CRASH_MS, GONE_MS, TICK_MS, TTL_MS } from '../apps/chat/members.ts';

type Member = { id: number; name: string };
type ChatMsg = { type: string; id?: number; name?: string; text?: string; old?: string; to?: number; clients?: Member[]; message?: string };

/** The chat's keys in Redis (members.ts, default key_prefix). */
const MEMBERS_KEY = (node: string) => `ringsocket:{ringsocket:chat}:members:${node}`;
const NODES_KEY = 'ringsocket:{ringsocket:chat}:nodes';

interface Ctx {
  redis?: RedisServer;
  a?: RunningDaemon;
  b?: RunningDaemon;
  /** A client of the test's own, to look at the keys. */
  r?: ReturnType<typeof createClient>;
}

/** The line a daemon's link logs each time it links (at start, and again after losing Redis). */
const linkedLine = (nodeId: string) => new RegExp(`cluster: node "${nodeId}" \\(\\d+\\) linked through`, 'g');

/**
 * Starts a daemon running the chat as cluster node `nodeId`; resolves once the chat shares its
 * member list and (unless `linked` is false) the daemon's own link is up.
 */
async function startNode(redis: RedisServer, nodeId: string, linked = true): Promise<RunningDaemon> {
  const d = await startDaemon({
    apps: [{ name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'] }],
    config: { worker_c: 2, cluster: { redis_url: redis.url, node_id: nodeId } },
  });
  try {
    if (linked) await d.waitFor(linkedLine(nodeId), 10_000);
    await d.waitFor(/sharing the member list of the room through Redis/, 10_000);
  } catch (err) {
    await d.stop('SIGKILL');
    throw err;
  }
  return d;
}

async function json(p: Peer, ms = 5000): Promise<ChatMsg> {
  return JSON.parse(await p.nextText(ms)) as ChatMsg;
}

/** The test's clients: those a failed test left open are closed after it, so that the next one starts alone. */
const peers: Peer[] = [];

/** Joins the room on `d`; `members` (on any node) each get the join notice. */
async function join(d: RunningDaemon, members: Peer[]): Promise<Peer> {
  const p = await Peer.open(d.url());
  peers.push(p);
  const w = await json(p);
  assert.is(w.type, 'welcome');
  p.id = w.id!;
  for (const m of members) assert.equal(await json(m), { type: 'join', id: p.id, name: `guest-${p.id}` });
  return p;
}

/**
 * Joins the room on `d` as its first member once its join notice has crossed to `other`: an
 * observer there gets it, then leaves. A notice reaches the clients a node has seen open when it
 * arrives there, so a client that opened on `other` before that would get it too.
 */
async function joinFirst(d: RunningDaemon, other: RunningDaemon): Promise<Peer> {
  const o = await join(other, []);
  const p = await join(d, []);
  // The leave of the previous test's last member on `d` may still be on its way to `other`.
  let m = await json(o);
  while (m.type === 'leave') m = await json(o);
  assert.equal(m, { type: 'join', id: p.id, name: `guest-${p.id}` });
  await o.close();
  m = await json(p);
  // Passed over: a leave a failed test left, and the observer's own join, which crosses to `d`
  // through Redis and so may arrive after `p` opened there (it then reaches `p` too).
  while ((m.type === 'leave' && m.id !== o.id) || (m.type === 'join' && m.id === o.id)) m = await json(p);
  assert.equal(m, { type: 'leave', id: o.id, name: `guest-${o.id}` });
  await listUntil(p, (l) => l.length === 1, 'the observer leaves the list');
  return p;
}

/**
 * Asks for the list until `ok` holds for it (the other node's change arrives through Redis), at most
 * `ms`. With `skipNotices`, join and leave notices that arrive meanwhile are passed over.
 */
async function listUntil(p: Peer, ok: (clients: Member[]) => boolean, what: string, ms = 5000, skipNotices = false): Promise<Member[]> {
  const until = Date.now() + ms;
  let last: Member[] = [];
  for (;;) {
    p.ws.send(Buffer.from([3]));
    let m = await json(p);
    while (skipNotices && (m.type === 'join' || m.type === 'leave')) m = await json(p);
    assert.is(m.type, 'list', `a list, not ${JSON.stringify(m)}`);
    last = m.clients!;
    if (ok(last)) return last;
    if (Date.now() > until) assert.unreachable(`${what}: not within ${ms} ms; the list is ${JSON.stringify(last)}`);
    await sleep(50);
  }
}

const byId = (list: Member[]) => [...list].sort((x, y) => x.id - y.id);
const member = (p: Peer): Member => ({ id: p.id, name: `guest-${p.id}` });

/** Redis restarts empty (a crash: nothing persisted); the test's own client connects again. */
async function restartRedis(ctx: Ctx): Promise<void> {
  ctx.r!.destroy();
  await ctx.redis!.restart();
  ctx.r = createClient({ url: ctx.redis!.url, socket: { reconnectStrategy: false } });
  ctx.r.on('error', () => {});
  await ctx.r.connect();
}

/** How many times each daemon's own link has linked so far. */
const linkCount = (ctx: Ctx): number[] =>
  [[ctx.a!, 'node-a'], [ctx.b!, 'node-b']].map(([d, id]) => ((d as RunningDaemon).output().match(linkedLine(id as string)) ?? []).length);

/**
 * Waits until both daemons' own links are back after Redis restarted (`before`: linkCount before),
 * so that notices cross again: both linked again (the log) and both subscribe again (the daemon's
 * broadcast channel and the chat's channel have two subscribers each). `check` runs meanwhile.
 */
async function relinked(ctx: Ctx, before: number[], until: number, check: () => Promise<void> = async () => {}): Promise<void> {
  const subscribers = async (): Promise<number[]> => {
    const [, shard] = await ctx.r!.sendCommand(['PUBSUB', 'SHARDNUMSUB', 'ringsocket:{ringsocket:chat}:all']) as [string, number];
    const [, classic] = await ctx.r!.sendCommand(['PUBSUB', 'NUMSUB', 'ringsocket:{ringsocket:chat}:members']) as [string, number];
    return [shard, classic];
  };
  for (;;) {
    await check();
    const now = linkCount(ctx);
    if (now[0] > before[0] && now[1] > before[1] && (await subscribers()).every((n) => n === 2)) return;
    if (Date.now() > until) {
      assert.unreachable(`the daemons did not link again (subscribers ${await subscribers()}):\n${outputTail(ctx.a!)}\n${outputTail(ctx.b!)}`);
    }
    await sleep(100);
  }
}

/** Resolves just after node `node` renewed its hash (its TTL went up again): its next tick is TICK_MS away. */
async function afterTick(r: NonNullable<Ctx['r']>, node: string): Promise<void> {
  const until = Date.now() + 2 * TICK_MS;
  let last = await r.pTTL(MEMBERS_KEY(node));
  for (;;) {
    await sleep(10);
    const ttl = await r.pTTL(MEMBERS_KEY(node));
    if (ttl > last) return;
    last = ttl;
    if (Date.now() > until) assert.unreachable(`node ${node} did not renew its hash (PTTL ${ttl} ms)`);
  }
}

/** Waits until node `node`'s hash holds exactly `members`, at most `ms`. */
async function hashUntil(r: NonNullable<Ctx['r']>, node: string, members: Member[], what: string, ms: number): Promise<void> {
  const want = Object.fromEntries(members.map((m) => [String(m.id), m.name]));
  const until = Date.now() + ms;
  for (;;) {
    const h = await r.hGetAll(MEMBERS_KEY(node));
    if (JSON.stringify(Object.entries(h).sort()) === JSON.stringify(Object.entries(want).sort())) return;
    if (Date.now() > until) assert.unreachable(`${what}: not within ${ms} ms; node ${node}'s hash is ${JSON.stringify(h)}`);
    await sleep(50);
  }
}

function whisperTo(id: number, text: string): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 2;
  b.writeBigUInt64BE(BigInt(id), 1);
  return Buffer.concat([b, Buffer.from(text)]);
}

/** Nothing else arrives at `peers` (no notice was sent twice). */
async function quiet(peers: Peer[]): Promise<void> {
  await sleep(200);
  for (const p of peers) assert.is(p.pending, 0, `client ${p.id} got nothing else`);
}

const C = suite<Ctx>('chat across two nodes');

guardSetup(C, 'starting Redis and two daemons', async (ctx) => {
  ctx.redis = await startRedis();
  [ctx.a, ctx.b] = await Promise.all([startNode(ctx.redis, 'node-a'), startNode(ctx.redis, 'node-b')]);
  ctx.r = createClient({ url: ctx.redis.url, socket: { reconnectStrategy: false } });
  ctx.r.on('error', () => {});
  await ctx.r.connect();
});

C.after.each(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close().catch(() => null)));
});

C.after(async (ctx) => {
  ctx.r?.destroy();
  for (const d of [ctx.a, ctx.b]) if (d && d.proc.exitCode === null && d.proc.signalCode === null) await d.stop().catch(() => null);
  await ctx.redis?.kill();
});

C('a member of the other node is listed, gets a whisper across nodes, and its rename and leave show', async ({ a: dA, b: dB, r }) => {
  const a = await joinFirst(dA!, dB!);
  const b = await join(dB!, [a]);
  assert.is(nodeOfClient(a.id), nodeNumberOf('node-a'), 'the id carries its node');
  assert.is(nodeOfClient(b.id), nodeNumberOf('node-b'));

  // Both lists show both, whichever node asks.
  const both = byId([{ id: a.id, name: `guest-${a.id}` }, { id: b.id, name: `guest-${b.id}` }]);
  assert.equal(await listUntil(a, (l) => l.length === 2, 'node A lists node B\'s member'), both);
  assert.equal(await listUntil(b, (l) => l.length === 2, 'node B lists node A\'s member'), both);
  // Each node keeps its own members in its hash.
  assert.equal(await r!.hGetAll(MEMBERS_KEY('node-b')), { [b.id]: `guest-${b.id}` });
  assert.equal(await r!.hGetAll(MEMBERS_KEY('node-a')), { [a.id]: `guest-${a.id}` });

  // A whisper to a client of the other node, both ways.
  a.ws.send(whisperTo(b.id, 'psst'));
  assert.equal(await json(b), { type: 'whisper', id: a.id, name: `guest-${a.id}`, text: 'psst' });
  assert.equal(await json(a), { type: 'whispered', to: b.id });
  b.ws.send(whisperTo(a.id, 'back'));
  assert.equal(await json(a), { type: 'whisper', id: b.id, name: `guest-${b.id}`, text: 'back' });
  assert.equal(await json(b), { type: 'whispered', to: a.id });

  // Say and rename reach the other node once each; the new name shows in the other node's list.
  b.ws.send('\x00hi from b');
  assert.equal(await json(a), { type: 'say', id: b.id, name: `guest-${b.id}`, text: 'hi from b' });
  b.ws.send('\x01bob');
  for (const p of [a, b]) assert.equal(await json(p), { type: 'rename', id: b.id, old: `guest-${b.id}`, name: 'bob' });
  await listUntil(a, (l) => l.some((m) => m.id === b.id && m.name === 'bob'), 'node A lists the new name');
  await quiet([a, b]);

  // A leave on node B: the notice, then the list and whisper's check on node A.
  await b.close();
  assert.equal(await json(a), { type: 'leave', id: b.id, name: 'bob' });
  assert.equal(await listUntil(a, (l) => l.length === 1, 'node A drops the member that left'), [{ id: a.id, name: `guest-${a.id}` }]);
  a.ws.send(whisperTo(b.id, 'gone?'));
  assert.equal(await json(a), { type: 'error', message: `no client ${b.id}` });
  assert.is(await r!.exists(MEMBERS_KEY('node-b')), 0, 'node B has no members left');
  await quiet([a]);
  await a.close();
});

C('after Redis comes back empty, each node writes its members again, the others keep them meanwhile, and changes flow again', async (ctx) => {
  const a = await joinFirst(ctx.a!, ctx.b!);
  const b = await join(ctx.b!, [a]);
  await listUntil(a, (l) => l.length === 2, 'node A lists node B\'s member');
  const before = linkCount(ctx);

  await restartRedis(ctx);
  // Throughout, node A lists node B's member: its hash is missing only until node B writes it again.
  const bListed = async () => {
    a.ws.send(Buffer.from([3]));
    const m = await json(a);
    assert.ok(m.type === 'list' && m.clients!.some((c) => c.id === b.id), `node A lists node B's member: ${JSON.stringify(m)}`);
  };
  // Each node's hash is back within the reconnection back-off (at most 2 s) and a tick.
  const until = Date.now() + 2000 + 2 * TICK_MS + 3000;
  for (;;) {
    await bListed();
    const [ha, hb] = await Promise.all([ctx.r!.hGetAll(MEMBERS_KEY('node-a')), ctx.r!.hGetAll(MEMBERS_KEY('node-b'))]);
    if (ha[a.id] && hb[b.id]) break;
    if (Date.now() > until) assert.unreachable(`the hashes were not written again: ${JSON.stringify([ha, hb])}`);
    await sleep(100);
  }
  // The daemons' own links are back too before a notice can cross.
  await relinked(ctx, before, until, bListed);
  // A whisper across nodes finds its target, and a rename on B shows on A again.
  a.ws.send(whisperTo(b.id, 'still there?'));
  assert.equal(await json(b), { type: 'whisper', id: a.id, name: `guest-${a.id}`, text: 'still there?' });
  assert.equal(await json(a), { type: 'whispered', to: b.id });
  b.ws.send('\x01bea');
  for (const p of [a, b]) assert.equal(await json(p), { type: 'rename', id: b.id, old: `guest-${b.id}`, name: 'bea' });
  await listUntil(a, (l) => l.some((m) => m.id === b.id && m.name === 'bea'), 'node A lists the new name after the outage');
  await b.close();
  assert.equal(await json(a), { type: 'leave', id: b.id, name: 'bea' });
  await listUntil(a, (l) => l.length === 1, 'node A drops the member that left');
  await quiet([a]);
  await a.close();
});

C('a join after Redis lost a node\'s hash (evicted, or Redis restarted empty) writes all that node\'s members again', async (ctx) => {
  const a = await joinFirst(ctx.a!, ctx.b!);
  const b1 = await join(ctx.b!, [a]);
  await listUntil(a, (l) => l.length === 2, 'node A lists node B\'s member');

  // Evicted right after node B's tick, so that the next join comes before its next tick: that join
  // finds the hash gone, and node B writes it whole.
  await afterTick(ctx.r!, 'node-b');
  await ctx.r!.del(MEMBERS_KEY('node-b'));
  const b2 = await join(ctx.b!, [a, b1]);
  await hashUntil(ctx.r!, 'node-b', [b1, b2].map(member), 'node B writes its hash whole after the eviction', 2 * TICK_MS + 1000);
  await listUntil(a, (l) => l.length === 3, 'node A lists both of node B\'s members', 2 * TICK_MS + 1000);

  // Redis restarts empty right after node B's tick, and a client opens on node B as soon as its
  // connections are back (every connection there was before): node B writes its hash whole.
  const connections = async () => (String(await ctx.r!.sendCommand(['CLIENT', 'LIST'])).match(/^id=/gm) ?? []).length - 1;
  const count = await connections();
  const before = linkCount(ctx);
  await afterTick(ctx.r!, 'node-b');
  await restartRedis(ctx);
  const until = Date.now() + 2000 + 2 * TICK_MS + 3000;
  while (await connections() < count) {
    if (Date.now() > until) assert.unreachable(`the ${count} connections to Redis are not back: ${await connections()}`);
    await sleep(20);
  }
  const b3 = await join(ctx.b!, [b1, b2]); // node A's client gets the notice only if node A's link is back: passed over below
  const all = [member(a), ...[b1, b2, b3].map(member)];
  await hashUntil(ctx.r!, 'node-b', [b1, b2, b3].map(member), 'node B writes its hash whole after Redis restarted', 2 * TICK_MS + 1000);
  assert.equal(await listUntil(a, (l) => l.length === 4, 'node A lists all of node B\'s members', 2 * TICK_MS + 1000, true), byId(all));

  // Once the links are back, node B's members leave; node A sees them go.
  await relinked(ctx, before, until);
  for (const p of [b1, b2, b3]) await p.close();
  await listUntil(a, (l) => l.length === 1, 'node A drops the members that left', 5000, true);
  await a.close();
});

C('another node\'s hash missing for a moment keeps its members listed; missing for longer than GONE_MS, they drop out', async (ctx) => {
  const a = await joinFirst(ctx.a!, ctx.b!);
  // Node C is the test's own: one member, in a hash as a node writes it.
  const carol = { id: 999, name: 'carol' };
  await ctx.r!.multi().hSet(MEMBERS_KEY('node-c'), { [carol.id]: carol.name }).pExpire(MEMBERS_KEY('node-c'), 60_000).sAdd(NODES_KEY, 'node-c').exec();
  await listUntil(a, (l) => l.some((m) => m.id === carol.id), 'node A reads node C\'s hash', 2 * TICK_MS + 1000);

  // The hash is gone (as after Redis restarted empty, before node C wrote it again): node A's next
  // tick finds it missing, and keeps the member listed.
  await ctx.r!.del(MEMBERS_KEY('node-c'));
  const gone = Date.now();
  while (Date.now() < gone + TICK_MS + 500) {
    await listUntil(a, (l) => l.some((m) => m.id === carol.id), 'node A still lists node C\'s member', 0);
    await sleep(100);
  }
  // Node C never writes it again: node A drops the member at its first tick more than GONE_MS after
  // it found the hash missing (the second), and forgets node C.
  await listUntil(a, (l) => l.length === 1, 'node A drops node C\'s member', 3 * TICK_MS + 1000 - (Date.now() - gone));
  assert.ok(Date.now() - gone > GONE_MS, `dropped ${Date.now() - gone} ms after the hash went`);
  assert.is(await ctx.r!.sIsMember(NODES_KEY, 'node-c'), 0, 'node C is no longer listed as a node');
  await a.close();
});

C('the members of a node that is killed drop out of the other node\'s list; a restarted node drops its previous run\'s', async (ctx) => {
  const a = await joinFirst(ctx.a!, ctx.b!);
  const b1 = await join(ctx.b!, [a]);
  const b2 = await join(ctx.b!, [a, b1]);
  await listUntil(a, (l) => l.length === 3, 'node A lists node B\'s two members');
  const ttl = await ctx.r!.pTTL(MEMBERS_KEY('node-b'));
  assert.ok(ttl > 0 && ttl <= TTL_MS, `node B's hash expires (PTTL ${ttl} ms)`);

  // A crash: no close callbacks run on node B, so nothing says its members left.
  const killedAt = Date.now();
  await ctx.b!.stop('SIGKILL');
  await Promise.all([b1.closed, b2.closed]);
  // Within the README's 12 s (CRASH_MS) of the kill, and a second for a loaded machine.
  const bound = CRASH_MS + 1000;
  await listUntil(a, (l) => l.length === 1, 'node A drops the killed node\'s members', bound - (Date.now() - killedAt));
  assert.is(await ctx.r!.exists(MEMBERS_KEY('node-b')), 0, 'its hash expired');

  // A previous run's members still in Redis (as after an app thread that died, or a crash less than
  // TTL_MS ago): the restarted node writes its hash whole, and node A drops them at once.
  await ctx.r!.multi().hSet(MEMBERS_KEY('node-b'), { [b1.id]: 'ghost' }).pExpire(MEMBERS_KEY('node-b'), 60_000).sAdd(NODES_KEY, 'node-b').exec();
  await listUntil(a, (l) => l.some((m) => m.id === b1.id), 'node A reads the planted hash', 2 * TICK_MS + 3000);
  // The daemon's own link may wait for its previous run's claim on the node number to lapse; the
  // chat's member list does not need it.
  ctx.b = await startNode(ctx.redis!, 'node-b', false);
  await listUntil(a, (l) => l.length === 1, 'node A drops the previous run\'s member', 2 * TICK_MS + 3000, true);
  const b3 = await Peer.open(ctx.b.url());
  peers.push(b3);
  const w = await json(b3);
  assert.is(w.type, 'welcome');
  b3.id = w.id!;
  assert.ok(b3.id !== b1.id && b3.id !== b2.id, 'a restarted node hands out new ids');
  assert.equal(
    await listUntil(a, (l) => l.length === 2, 'node A lists the restarted node\'s member', 5000, true),
    byId([{ id: a.id, name: `guest-${a.id}` }, { id: b3.id, name: `guest-${b3.id}` }]),
  );
  assert.equal(await ctx.r!.hGetAll(MEMBERS_KEY('node-b')), { [b3.id]: `guest-${b3.id}` });
  await b3.close();
  await listUntil(a, (l) => l.length === 1, 'node A drops the member that left', 5000, true);
  await a.close();
});

C('a node started while Redis is down says why, once, and shares its member list once Redis is there', async () => {
  const port = await freePort();
  const d = await startDaemon({
    apps: [{ name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'] }],
    config: { worker_c: 1, cluster: { redis_url: `redis://127.0.0.1:${port}`, node_id: 'node-late' } },
  });
  let redis: RedisServer | undefined;
  try {
    await d.waitFor(/warning .*member list: Redis: connect ECONNREFUSED/, 10_000);
    // The same cause is said once, not at every retry (from 100 ms, doubling).
    await sleep(1500);
    assert.is((d.output().match(/member list: Redis:/g) ?? []).length, 1, outputTail(d));
    redis = await startRedis({ port });
    await d.waitFor(/sharing the member list of the room through Redis as node "node-late"/, 10_000);
    assert.match(d.output(), /member list: Redis answers/);
  } finally {
    await d.stop('SIGKILL');
    await redis?.kill();
  }
});

C('both daemons stop cleanly, without an error in their logs', async (ctx) => {
  for (const d of [ctx.a!, ctx.b!]) {
    const code = await d.stop();
    assertExit(d, code);
    // The restarted node B may say that its previous run's claim on the node number holds it back.
    const errors = d.output().split('\n').filter((l) => / error /.test(l) && !/is held by another run of node_id/.test(l));
    assert.equal(errors, [], `no error logged; the output ends:\n${outputTail(d)}`);
  }
});

C.run();
