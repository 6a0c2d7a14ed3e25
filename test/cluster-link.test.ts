// The cluster link's states against a real redis-server: Redis down when a node starts, two daemons
// with one node_id (the later one stays unlinked until the first gives its number up), and one
// publication larger than max_pending_size (it goes out when nothing else is pending).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type WebSocket from 'ws';
import { createClient } from '@redis/client';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { startRedis, type RedisServer } from './helpers/redis.ts';
import { CLUSTER_APP, fixtureClient } from './helpers/cluster-fixture.ts';
import { freePort } from './helpers/ports.ts';

const T = suite('cluster link');
const APP = CLUSTER_APP;
const LINKED = /cluster: node "[\w-]+" \(\d+\) linked through/;

const daemons: RunningDaemon[] = [];
const redises: RedisServer[] = [];
const sockets: WebSocket[] = [];

const client = (d: RunningDaemon) => fixtureClient(d, sockets);

async function node(redisUrl: string, nodeId: string, extra: Record<string, unknown> = {}): Promise<RunningDaemon> {
  const d = await startDaemon({ apps: [APP], config: { cluster: { redis_url: redisUrl, node_id: nodeId, ...extra } } });
  daemons.push(d);
  return d;
}

T.after(async () => {
  for (const ws of sockets) ws.terminate();
  await Promise.all(daemons.map((d) => d.stop()));
  await Promise.all(redises.map((r) => r.stop()));
});

T('Redis down when a node starts: it serves its own clients, says why it cannot link, and links once Redis is there', async () => {
  const port = await freePort();
  const d = await node(`redis://127.0.0.1:${port}`, 'late-a');
  await d.waitFor(/cluster: cannot link through redis:\/\/127\.0\.0\.1:\d+ \(.*\): cross-node messages are dropped until it can; retrying/);
  const c = await client(d);
  c.ws.send(JSON.stringify({ op: 'every', seq: 1, text: 'local' }));
  assert.is(JSON.parse((await c.inbox.next()).data.toString()).text, 'local');
  // The same cause is said once, not at every retry.
  await new Promise((r) => setTimeout(r, 1500));
  assert.is((d.output().match(/cannot link through/g) ?? []).length, 1, d.output());
  const redis = await startRedis({ port });
  redises.push(redis);
  await d.waitFor(LINKED, 5000);
  // And it really is linked: a second node's broadcast reaches this one's client.
  const e = await node(redis.url, 'late-b');
  await e.waitFor(LINKED);
  const other = await client(e);
  other.ws.send(JSON.stringify({ op: 'every', seq: 2, text: 'from b' }));
  assert.is(JSON.parse((await c.inbox.next()).data.toString()).text, 'from b');
});

T('two daemons with one node_id: the later one does not link (and says why) until the first has stopped', async () => {
  const redis = await startRedis();
  redises.push(redis);
  const first = await node(redis.url, 'twin');
  await first.waitFor(LINKED);
  const second = await node(redis.url, 'twin');
  await second.waitFor(/cluster: node number \d+ is held by another run of node_id "twin": .*not linking until it is gone/);
  assert.not.match(second.output(), LINKED);
  const a = await client(first);
  const b = await client(second);
  // Unlinked, the second takes no part: the first's broadcast does not reach it, and its own stays local.
  a.ws.send(JSON.stringify({ op: 'every', seq: 1, text: 'first' }));
  b.ws.send(JSON.stringify({ op: 'every', seq: 2, text: 'second' }));
  assert.is(JSON.parse((await a.inbox.next()).data.toString()).text, 'first');
  assert.is(JSON.parse((await b.inbox.next()).data.toString()).text, 'second');
  await new Promise((r) => setTimeout(r, 300));
  assert.is(a.inbox.pending + b.inbox.pending, 0, 'nothing crossed between the two');
  // A stopping daemon gives its number up: the second links within a claim retry (2 s), not the 30 s a crash leaves.
  const t0 = Date.now();
  assert.is(await first.stop(), 0);
  await second.waitFor(LINKED, 5000);
  assert.ok(Date.now() - t0 < 5000);
});

T('a user that may not claim the node number (an ACL without SET) is told why, and the link stays down', async () => {
  const redis = await startRedis();
  redises.push(redis);
  const admin = createClient({ url: redis.url });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.sendCommand(['ACL', 'SETUSER', 'noset', 'on', '>pw', '~*', '&*', '+@all', '-set']);
  } finally {
    await admin.close();
  }
  const d = await node(redis.url.replace('redis://', 'redis://noset:pw@'), 'noset-a');
  await d.waitFor(/cluster: cannot claim node number \d+ \(.*NOPERM.*\); not linking until it can/);
  assert.not.match(d.output(), LINKED);
  assert.not.match(d.output(), /pw@/, 'the password is not logged');
});

T('one publication larger than max_pending_size goes out when nothing else is pending', async () => {
  const redis = await startRedis();
  redises.push(redis);
  const a = await node(redis.url, 'big-a', { max_pending_size: 65536 });
  const b = await node(redis.url, 'big-b', { max_pending_size: 65536 });
  await Promise.all([a.waitFor(LINKED), b.waitFor(LINKED)]);
  const ca = await client(a);
  const cb = await client(b);
  const text = 'x'.repeat(200_000);
  ca.ws.send(JSON.stringify({ op: 'single', to: [cb.id], seq: 1, text }));
  const got = JSON.parse((await cb.inbox.next()).data.toString());
  assert.is(got.text.length, text.length);
});

T.run();
