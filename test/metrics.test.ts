// The metrics parts without a daemon: the exposition format, the block layout and its buckets, the
// `metrics` config key, and the listener's routes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import net from 'node:net';
import { render, escapeLabelValue, escapeHelp, formatValue, CONTENT_TYPE } from '../src/metrics/exposition.ts';
import { blockLayout, closeCodeSlot, statusSlot, CLOSE_OTHER, STATUS_OTHER, Slot } from '../src/metrics/layout.ts';
import { MetricsBlock } from '../src/metrics/block.ts';
import { collect } from '../src/metrics/collect.ts';
import { startMetricsServer } from '../src/metrics/server.ts';
import { parseConfig, systemEnv } from '../src/config/index.ts';
import { buildErrorResponse } from '../src/http/response.ts';
import { planDaemonMemory } from '../src/daemon/layout.ts';
import { parseExposition, sampleValue } from './helpers/prom.ts';
import { freePort } from './helpers/ports.ts';
import { root } from './helpers/daemon.ts';

const Format = suite('metrics exposition');

Format('escapes label values and help text as the 0.0.4 format says', () => {
  assert.is(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.is(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
  assert.is(formatValue(NaN), 'NaN');
  assert.is(formatValue(Infinity), '+Inf');
  assert.is(formatValue(-Infinity), '-Inf');
  assert.is(formatValue(2 ** 53), '9007199254740992');
  assert.is(formatValue(0.25), '0.25');
});

Format('renders families that the strict parser reads back exactly', () => {
  const text = render([
    { name: 'x_total', type: 'counter', help: 'with "quotes" \\ and\nnewline', samples: [{ labels: { app: 'a"b\\c\nd' }, value: 3 }, { labels: { app: 'e' }, value: 0 }] },
    { name: 'y', type: 'gauge', help: 'plain', samples: [{ value: 1.5 }] },
    { name: 'z_total', type: 'counter', help: 'no samples', samples: [] },
  ]);
  assert.is(text, '# HELP x_total with "quotes" \\\\ and\\nnewline\n# TYPE x_total counter\nx_total{app="a\\"b\\\\c\\nd"} 3\nx_total{app="e"} 0\n' +
    '# HELP y plain\n# TYPE y gauge\ny 1.5\n# HELP z_total no samples\n# TYPE z_total counter\n');
  const p = parseExposition(text);
  assert.is(sampleValue(p, 'x_total', { app: 'a"b\\c\nd' }), 3);
  assert.is(sampleValue(p, 'y'), 1.5);
  assert.equal([...p.families.keys()], ['x_total', 'y', 'z_total']);
  assert.throws(() => render([{ name: 'bad-name', type: 'gauge', help: '', samples: [] }]));
  assert.throws(() => render([{ name: 'ok', type: 'gauge', help: '', samples: [{ labels: { '__x': 'v' }, value: 1 }] }]));
});

Format('the test parser refuses what the format does not allow', () => {
  assert.throws(() => parseExposition('x 1\n'), /without a # TYPE/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1'), /line feed/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="\\t"} 1\n'), /bad escape/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1\nx 2\n'), /repeated/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx one\n'), /bad value/);
  assert.throws(() => parseExposition('# TYPE x gauge\nx 1\n'), /without # HELP/);
});

const Layout = suite('metrics layout');

Layout('close codes and statuses fall into bounded buckets', () => {
  assert.is(closeCodeSlot(1000), 0);
  assert.is(closeCodeSlot(1015), 15);
  assert.is(closeCodeSlot(3000), CLOSE_OTHER);
  assert.is(closeCodeSlot(4999), CLOSE_OTHER);
  assert.is(closeCodeSlot(65535), CLOSE_OTHER);
  assert.is(statusSlot(400), 0);
  assert.is(statusSlot(599), 199);
  assert.is(statusSlot(101), STATUS_OTHER);
  assert.is(statusSlot(999), STATUS_OTHER);
});

Layout('every thread has its own block of whole cache lines, and the blocks do not overlap', () => {
  const sizes = { worker_c: 3, slotsPerWorker: 10, worker_rbuf_size: 65536, inbound_ring_buf_size: 4096, outbound_ring_buf_size: 4096, apps: [{ wbuf_size: 64 }, { wbuf_size: 64 }] };
  const l = planDaemonMemory(sizes, 65536);
  const b = l.metrics.layout;
  assert.is(b.bytes % 64, 0);
  assert.ok(b.slots * 8 <= b.bytes);
  const starts = [l.metrics.main, ...l.metrics.workers, ...l.metrics.apps];
  assert.is(starts.length, 1 + 3 + 2);
  starts.forEach((s) => assert.is(s % 64, 0));
  const sorted = [...starts].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i] - sorted[i - 1] >= b.bytes);
  assert.is(l.parts.metrics, 6 * b.bytes);
  assert.ok(sorted[sorted.length - 1] + b.bytes <= l.bytes);
  assert.is(blockLayout(2).refused + STATUS_OTHER + 1, blockLayout(2).slots);
});

Layout('a refusal is counted by the status of its response, with its bytes', () => {
  const m = MetricsBlock.detached(1);
  const r = buildErrorResponse(404);
  m.refused(r);
  m.refused(buildErrorResponse(503));
  m.refused(buildErrorResponse(503));
  assert.is(m.f[m.l.refused + statusSlot(404)], 1);
  assert.is(m.f[m.l.refused + statusSlot(503)], 2);
  assert.is(m.f[Slot.BYTES_OUT], r.length + 2 * buildErrorResponse(503).length);
});

Layout('the cluster families: each app thread\'s link counts in its own block, and only a cluster node shows them', () => {
  const sizes = { worker_c: 1, slotsPerWorker: 4, worker_rbuf_size: 65536, inbound_ring_buf_size: 4096, outbound_ring_buf_size: 4096, apps: [{ wbuf_size: 64 }, { wbuf_size: 64 }] };
  const layout = planDaemonMemory(sizes, 65536);
  const buffer = new ArrayBuffer(layout.bytes);
  const appNames = ['chat', 'feed'];
  const chat = new MetricsBlock(buffer, layout.metrics.apps[0], layout.metrics.layout);
  const feed = new MetricsBlock(buffer, layout.metrics.apps[1], layout.metrics.layout);
  chat.clusterUp(true);
  chat.clusterPublished(100);
  chat.clusterPublished(50);
  chat.clusterReceived(30);
  feed.clusterDropped(70);
  feed.clusterRefused();
  const scrape = (cluster: boolean) => parseExposition(render(collect({ buffer, layout, appNames, appUp: [true, true], startTime: 0, cluster })));
  const p = scrape(true);
  assert.is(sampleValue(p, 'ringsocket_cluster_up', { app: 'chat' }), 1);
  assert.is(sampleValue(p, 'ringsocket_cluster_up', { app: 'feed' }), 0);
  assert.is(sampleValue(p, 'ringsocket_cluster_published_total', { app: 'chat' }), 2);
  assert.is(sampleValue(p, 'ringsocket_cluster_published_bytes_total', { app: 'chat' }), 150);
  assert.is(sampleValue(p, 'ringsocket_cluster_received_total', { app: 'chat' }), 1);
  assert.is(sampleValue(p, 'ringsocket_cluster_received_bytes_total', { app: 'chat' }), 30);
  assert.is(sampleValue(p, 'ringsocket_cluster_dropped_total', { app: 'feed' }), 1);
  assert.is(sampleValue(p, 'ringsocket_cluster_dropped_bytes_total', { app: 'feed' }), 70);
  assert.is(sampleValue(p, 'ringsocket_cluster_refused_total', { app: 'feed' }), 1);
  assert.is(sampleValue(p, 'ringsocket_cluster_dropped_total', { app: 'chat' }), 0);
  const alone = render(collect({ buffer, layout, appNames, appUp: [true, true], startTime: 0, cluster: false }));
  assert.not.match(alone, /ringsocket_cluster_/);
  chat.clusterUp(false);
  assert.is(sampleValue(scrape(true), 'ringsocket_cluster_up', { app: 'chat' }), 0);
});

const Config = suite('metrics config');
const app = join(root, 'apps/echo/app.ts');
const doc = (metrics: unknown) => JSON.stringify({
  ports: [{ port_number: 8080, is_unencrypted: true }, { port_number: 8081, is_unencrypted: true }],
  apps: [{ name: 'echo', app_path: app, endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/echo' }, { endpoint_id: 2, url: 'ws://localhost:8081/echo' }] }],
  ...(metrics === undefined ? {} : { metrics }),
});
const errors = (metrics: unknown) => parseConfig(doc(metrics), join(root, 'x.json'), systemEnv).errors.map((e) => `${e.path}: ${e.message}`);

Config('absent: no listener; present: loopback by default, or the given addresses', () => {
  assert.is(parseConfig(doc(undefined), join(root, 'x.json'), systemEnv).config!.metrics, null);
  const m = parseConfig(doc({ port_number: 9090 }), join(root, 'x.json'), systemEnv).config!.metrics!;
  assert.equal(m, { port_number: 9090, ip_addrs: ['127.0.0.1'], listen: [{ host: '127.0.0.1', ipv6Only: false }] });
  const m2 = parseConfig(doc({ port_number: 9090, ip_addrs: ['0.0.0.0', '::1'] }), join(root, 'x.json'), systemEnv).config!.metrics!;
  assert.equal(m2.listen, [{ host: '0.0.0.0', ipv6Only: false }, { host: '::1', ipv6Only: true }]);
});

Config('errors: an endpoint port, a bad address, a missing or bad port, an unknown key, not an object', () => {
  assert.equal(errors({ port_number: 8081 }), ['$.metrics.port_number: must not be a WebSocket port: 8081 is configured at $.ports[1]']);
  assert.equal(errors({ port_number: 9090, ip_addrs: ['127.0.0.1', 'localhost'] }),
    ['$.metrics.ip_addrs[1]: must be an IPv4 or IPv6 address such as "127.0.0.1" or "::1", found "localhost"']);
  assert.equal(errors({ port_number: 9090, ip_addrs: ['::1', '::1'] }), ['$.metrics.ip_addrs[1]: the address "::1" is listed twice']);
  assert.equal(errors({ port_number: 9090, ip_addrs: [] }).length, 1);
  assert.match(errors({})[0], /^\$\.metrics\.port_number: is required/);
  assert.match(errors({ port_number: 70000 })[0], /^\$\.metrics\.port_number: must be an integer from 1 to 65535/);
  assert.match(errors({ port_number: 9090, path: '/m' })[0], /^\$\.metrics\.path: unknown key "path"/);
  assert.match(errors(9090)[0], /^\$\.metrics: must be the metrics listener object/);
});

const Server = suite('metrics listener');

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | null; body: string; allow: string | null }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text(), allow: r.headers.get('allow') };
}

Server('routes: /metrics, /livez, /readyz; 404 elsewhere, 405 for other methods; a busy port is an error', async () => {
  const port = await freePort();
  let why: string | null = 'starting';
  const s = await startMetricsServer({ port_number: port, ip_addrs: ['127.0.0.1'], listen: [{ host: '127.0.0.1', ipv6Only: false }] }, {
    notReady: () => why,
    scrape: () => render([{ name: 'up_total', type: 'counter', help: 'h', samples: [{ value: 1 }] }]),
  });
  try {
    assert.equal(s.where, [`http://127.0.0.1:${port}/metrics`]);
    const m = await get(port, '/metrics');
    assert.is(m.status, 200);
    assert.is(m.type, CONTENT_TYPE);
    assert.is(sampleValue(parseExposition(m.body), 'up_total'), 1);
    assert.is((await get(port, '/metrics?name[]=x')).status, 200);
    assert.is((await get(port, '/livez')).status, 200);
    assert.equal(await get(port, '/readyz'), { status: 503, type: 'text/plain; charset=utf-8', body: 'not ready: starting\n', allow: null });
    why = null;
    assert.is((await get(port, '/readyz')).status, 200);
    assert.is((await get(port, '/')).status, 404);
    assert.is((await get(port, '/metricsx')).status, 404);
    const post = await get(port, '/metrics', 'POST');
    assert.is(post.status, 405);
    assert.is(post.allow, 'GET, HEAD');
    assert.is((await get(port, '/livez', 'DELETE')).status, 405);
    const head = await get(port, '/metrics', 'HEAD');
    assert.is(head.status, 200);
    assert.is(head.body, '');
    // The port is taken now.
    const busy = await startMetricsServer({ port_number: port, ip_addrs: ['127.0.0.1'], listen: [{ host: '127.0.0.1', ipv6Only: false }] }, { notReady: () => null, scrape: () => '' })
      .then(() => 'listened', (e: Error) => e.message);
    assert.match(busy, /^metrics listener on port \d+: the port is in use$/);
  } finally {
    await s.close();
  }
  // Closed: nothing listens any more.
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); reject(new Error('still listening')); });
    c.on('error', () => resolve());
  });
});

Server('a hostile client cannot hold the listener: idle and trickling connections are closed, the cap drops the rest', async () => {
  const port = await freePort();
  const listen = [{ host: '127.0.0.1', ipv6Only: false }];
  const s = await startMetricsServer({ port_number: port, ip_addrs: ['127.0.0.1'], listen }, { notReady: () => null, scrape: () => '' },
    { maxConnections: 3, timeoutMs: 500 });
  /** Opens a connection that sends `trickle` (a head that never ends) or nothing; resolves when the server closes it. */
  const hold = (trickle: boolean) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    let timer: NodeJS.Timeout | undefined;
    if (trickle) c.on('connect', () => { c.write('GET /metrics HTTP/1.1\r\n'); timer = setInterval(() => c.write('X-Slow: 1\r\n'), 100); });
    const t0 = Date.now();
    return { c, closedAfter: new Promise<number>((resolve) => c.on('close', () => { clearInterval(timer); resolve(Date.now() - t0); })) };
  };
  try {
    const held = [hold(false), hold(false), hold(true)];
    await new Promise((r) => setTimeout(r, 150));
    // The cap: a fourth connection is dropped at once.
    const extra = hold(false);
    assert.ok(await Promise.race([extra.closedAfter, new Promise<number>((r) => setTimeout(() => r(-1), 400))]) >= 0, 'a connection over maxConnections is dropped');
    // The idle ones and the trickling one are closed soon after the timeout, not held for good.
    const after = await Promise.race([
      Promise.all(held.map((h) => h.closedAfter)),
      new Promise<null>((r) => setTimeout(() => r(null), 3000)),
    ]);
    for (const h of held) h.c.destroy();
    assert.ok(after !== null, 'idle and trickling connections are still open 3 s after a 0.5 s timeout');
    for (const ms of after!) assert.ok(ms < 2000, `closed after ${ms} ms`);
    // And a scraper gets in again.
    assert.is((await get(port, '/livez')).status, 200);
  } finally {
    await s.close();
  }
});

Format.run();
Layout.run();
Config.run();
Server.run();
