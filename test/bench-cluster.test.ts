// ringsocket-bench over several URLs (issue 13's scale-out): two daemons running apps/broadcast share
// their clients through one Redis server, the bench puts its senders on node-a and spreads the
// clients over both nodes. Every client on both nodes must get every broadcast, payloads verified
// and in order (the bench counts anything else as an error), and each URL's share is reported.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClean, bench } from './helpers/bench.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { startRedis, type RedisServer } from './helpers/redis.ts';

const B = suite('ringsocket-bench across two cluster nodes');

const BROADCAST = { name: 'broadcast', app_path: 'apps/broadcast/app.ts', paths: ['/broadcast'] };
let redis: RedisServer | null = null;
const nodes: RunningDaemon[] = [];
/** A daemon without "cluster": node-a's broadcasts never reach its clients. */
let solo: RunningDaemon | null = null;

B.before(async () => {
  redis = await startRedis();
  const started = await Promise.allSettled([
    ...['node-a', 'node-b'].map((node_id) => startDaemon({
      apps: [BROADCAST],
      config: { worker_c: 1, log_level: 'notice', cluster: { redis_url: redis!.url, node_id } },
    })),
    startDaemon({ apps: [BROADCAST], config: { worker_c: 1, log_level: 'notice' } }),
  ]);
  started.forEach((r, i) => {
    if (r.status !== 'fulfilled') return;
    if (i < 2) nodes.push(r.value);
    else solo = r.value;
  });
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  // Traffic only once both are subscribed: a broadcast published before would not reach the other.
  await Promise.all(nodes.map((d, i) => d.waitFor(new RegExp(`cluster: node "node-${'ab'[i]}" \\(\\d+\\) linked through`), 10_000)));
});

B.after(async () => {
  await Promise.all([...nodes, ...(solo ? [solo] : [])].map((d) => d.stop().catch(() => null)));
  await redis?.stop().catch(() => {});
});

B('closed loop: the senders on node-a, the clients on both; every client gets every broadcast', async () => {
  const N = 40, senders = 4;
  const urls = nodes.map((d) => d.url());
  const r = await bench(['broadcast', ...urls, '-c', String(N), '--senders', String(senders), '-p', '2', '-s', '64', '--binary',
    '-d', '1', '--threads', '2', '--pid', nodes.map((d) => d.proc.pid).join(',')]);
  assertClean(r);
  assert.is(r.connections.opened, N);
  assert.equal(r.targets.map((t) => [t.url, t.connections, t.senders]), [
    [urls[0], { requested: 20, opened: 20, failed: 0 }, senders],
    [urls[1], { requested: 20, opened: 20, failed: 0 }, 0],
  ]);
  // Over the whole run, each URL's clients received every message sent, once each: the per-URL
  // totals are exact (no error means no gap, duplicate or corruption at any client).
  const sent = r.targets[0].total.sent;
  assert.ok(sent > 50, `only ${sent} broadcasts sent`);
  assert.is(r.targets[1].total.sent, 0, 'nobody sends on node-b');
  for (const t of r.targets) {
    assert.is(t.total.received, sent * t.connections.requested, `${t.url}: ${t.total.received} deliveries of ${sent} broadcasts`);
    assert.ok(t.messages.received > 0 && t.messages.perSecond > 0, `${t.url} received in the window`);
    assert.is(t.latencyUs.count, t.messages.received);
    assert.ok(t.latencyUs.p50 > 0 && t.latencyUs.p50 <= t.latencyUs.p99);
  }
  assert.is(r.targets[0].messages.received + r.targets[1].messages.received, r.messages.received);
  assert.is(r.latencyUs.count, r.messages.received);
  assert.ok(r.completed !== null && r.completed.count > 10, `completed ${r.completed?.count}`);
  // Both daemons' CPU, each and summed.
  assert.equal(r.cpu.servers.map((x) => x.pid), nodes.map((d) => d.proc.pid));
  assert.ok(r.cpu.server !== null && r.cpu.servers.every((x) => x.seconds >= 0));
});

B('fixed rate: both nodes deliver every message', async () => {
  const r = await bench(['broadcast', ...nodes.map((d) => d.url()), '-c', '21', '--senders', '3', '--rate', '200', '-d', '1']);
  assertClean(r);
  assert.is(r.skipped, 0);
  assert.equal(r.targets.map((t) => t.connections.requested), [11, 10]);
  const sent = r.targets[0].total.sent;
  assert.ok(sent > 100, `only ${sent} broadcasts sent`);
  for (const t of r.targets) assert.is(t.total.received, sent * t.connections.requested);
});

B('a second URL whose clients miss the broadcasts fails the run: the closed loop waits for them, then counts them lost', async () => {
  // node-a and a daemon outside the cluster: clients 1 and 3 (on the solo daemon) never get
  // sender 0's first message, so the window never opens for a second one.
  const r = await bench(['broadcast', nodes[0].url(), solo!.url(), '-c', '4', '--senders', '1', '-p', '1', '-d', '0.3']);
  assert.is(r.ok, false);
  assert.is(r.errors.total, 2);
  assert.is(r.errors.lost, 2);
  assert.ok(r.errorSamples.includes('2 broadcast deliveries missing 5000 ms after the end'), r.errorSamples.join('\n'));
  assert.equal(r.targets.map((t) => t.total), [{ sent: 1, received: 2 }, { sent: 0, received: 0 }]);
  assert.is(r.completed!.count, 0);
});

B.run();
