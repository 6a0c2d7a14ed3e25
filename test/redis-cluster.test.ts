// The daemon against a Redis Cluster (three masters, every slot assigned): the link finds out from
// INFO that the server is a cluster and uses node-redis's cluster client with sharded pub/sub, each
// daemon seeded with a different master. Broadcasts and direct messages cross nodes, an app's two
// channels share one hash slot (so one shard orders them), and a burst of messages from one callback
// is one publication (the metrics count it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from '@redis/client';
import type WebSocket from 'ws';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { startRedisCluster, type RedisClusterServers } from './helpers/redis.ts';
import { CLUSTER_APP, fixtureClient, nextMessage } from './helpers/cluster-fixture.ts';
import { freePort } from './helpers/ports.ts';
import { parseExposition, sampleValue } from './helpers/prom.ts';
import { channelOf } from '../src/cluster/link.ts';
import { nodeOfClient, nodeNumberOf } from '../src/cluster/ids.ts';

const T = suite('redis cluster');
const APP = CLUSTER_APP;

let redis: RedisClusterServers;
const daemons: RunningDaemon[] = [];
const metricsPorts: number[] = [];
const sockets: WebSocket[] = [];

const client = (d: RunningDaemon) => fixtureClient(d, sockets);
const next = nextMessage;

async function scrape(i: number): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`http://127.0.0.1:${metricsPorts[i]}/metrics`);
  return parseExposition(await res.text());
}

T.before(async () => {
  redis = await startRedisCluster(3);
  for (const [i, node] of ['node-a', 'node-b'].entries()) {
    metricsPorts.push(await freePort());
    daemons.push(await startDaemon({
      apps: [APP],
      config: { worker_c: 2, cluster: { redis_url: redis.urls[i], node_id: node }, metrics: { port_number: metricsPorts[i] } },
    }));
  }
  for (const d of daemons) await d.waitFor(/cluster: node "node-\w" \(\d+\) linked through .*\(Redis \d+\.\d+ cluster, sharded pub\/sub\)/, 15000);
});

T.after(async () => {
  for (const ws of sockets) ws.terminate();
  await Promise.all(daemons.map((d) => d.stop()));
  await redis?.stop();
});

T('an app\'s channels share one hash slot', async () => {
  const c = createClient({ url: redis.urls[0] });
  c.on('error', () => {});
  await c.connect();
  try {
    const slots = await Promise.all([channelOf('ringsocket', 'cl', 'all'), channelOf('ringsocket', 'cl', nodeNumberOf('node-a')), channelOf('ringsocket', 'cl', nodeNumberOf('node-b'))]
      .map((ch) => c.sendCommand(['CLUSTER', 'KEYSLOT', ch])));
    assert.is(new Set(slots).size, 1, `slots ${slots.join(', ')}`);
  } finally {
    await c.close();
  }
});

T('a broadcast from node A reaches the clients of both nodes; a direct message from B reaches a client of A', async () => {
  const [a1, a2, b1, b2] = [await client(daemons[0]), await client(daemons[0]), await client(daemons[1]), await client(daemons[1])];
  assert.is(nodeOfClient(a1.id), nodeNumberOf('node-a'));
  assert.is(nodeOfClient(b1.id), nodeNumberOf('node-b'));
  a1.ws.send(JSON.stringify({ op: 'every', seq: 1, text: 'to all' }));
  for (const c of [a1, a2, b1, b2]) {
    const m = await next(c);
    assert.equal([m.op, m.seq, m.text, m.from], ['every', 1, 'to all', a1.id]);
  }
  b2.ws.send(JSON.stringify({ op: 'multi', to: [a2.id, b1.id], seq: 2, text: 'direct' }));
  for (const c of [a2, b1]) assert.equal(await next(c).then((m) => [m.seq, m.from]), [2, b2.id]);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(a1.inbox.pending + b2.inbox.pending, 0, 'no copy to anyone else');
});

T('1000 messages to a client of the other node from one callback: one publication, all delivered in order', async () => {
  const a = await client(daemons[0]);
  const b = await client(daemons[1]);
  const before = sampleValue(await scrape(0), 'ringsocket_cluster_published_total', { app: 'cl' }) ?? -1;
  a.ws.send(JSON.stringify({ op: 'burst', to: [b.id], n: 1000, text: 'x' }));
  for (let i = 0; i < 1000; i++) assert.is((await next(b)).seq, i);
  // The publish's acknowledgement is counted when Redis answers: give it a moment.
  let after = before;
  for (let i = 0; i < 50 && after === before; i++) {
    await new Promise((r) => setTimeout(r, 20));
    after = sampleValue(await scrape(0), 'ringsocket_cluster_published_total', { app: 'cl' }) ?? -1;
  }
  assert.is(after - before, 1, `published ${before} -> ${after}`);
  const p = await scrape(0);
  assert.is(sampleValue(p, 'ringsocket_cluster_up', { app: 'cl' }), 1);
  assert.is(sampleValue(p, 'ringsocket_cluster_dropped_total', { app: 'cl' }), 0);
});

T('a node_id whose number another node holds is reported, not silently shared', async () => {
  // Found by search: 'n5908' hashes to node-a's number.
  assert.is(nodeNumberOf('n5908'), nodeNumberOf('node-a'));
  const d = await startDaemon({ apps: [APP], config: { cluster: { redis_url: redis.urls[2], node_id: 'n5908' } } });
  daemons.push(d);
  await d.waitFor(/cluster: node number \d+ is held by node "node-a" too/, 15000);
});

T.run();
