// The metrics and health listener of a real daemon: exact counters after known traffic, the
// format, /readyz while an app is down and during a graceful stop.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { startDaemon, type AppSpec, type RunningDaemon } from './helpers/daemon.ts';
import { withDaemon, assertExit } from './helpers/daemon-exit.ts';
import { connectInbox, closed, rawExchange, upgradeRequest } from './helpers/client.ts';
import { text, close as closeFrame } from './helpers/frames.ts';
import { freePort } from './helpers/ports.ts';
import { parseExposition, sampleValue, type Parsed } from './helpers/prom.ts';
import { CloseCode } from '../src/core/codes.ts';

const ECHO: AppSpec = { name: 'echo', app_path: 'apps/echo/app.ts', paths: ['/echo'] };
const BC: AppSpec = { name: 'bc', app_path: 'apps/broadcast/app.ts', paths: ['/bc'] };
const DIES: AppSpec = { name: 'dies', app_path: 'test/fixtures/apps/dies/app.ts', paths: ['/dies'] };

async function get(port: number, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}

async function scrape(port: number): Promise<Parsed> {
  const r = await get(port, '/metrics');
  assert.is(r.status, 200);
  assert.is(r.type, 'text/plain; version=0.0.4; charset=utf-8');
  const p = parseExposition(r.body);
  // Prometheus conventions: counters end in _total, every family has a help text.
  for (const [name, f] of p.families) {
    assert.is(f.type === 'counter', name.endsWith('_total'), `${name} is a ${f.type}`);
    assert.ok(f.help.length > 0, `${name} has a help text`);
  }
  return p;
}

/** Scrapes until `ok` holds (counters of closes land when the sockets have closed). */
async function scrapeUntil(port: number, ok: (p: Parsed) => boolean, ms = 5000): Promise<Parsed> {
  const until = Date.now() + ms;
  for (;;) {
    const p = await scrape(port);
    if (ok(p) || Date.now() > until) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function withMetrics(apps: AppSpec[], config: Record<string, unknown> = {}): Promise<{ d: RunningDaemon; mport: number }> {
  const mport = await freePort();
  const d = await startDaemon({ apps, config: { worker_c: 2, metrics: { port_number: mport }, ...config } });
  await d.waitFor(/metrics and health on http:\/\/127\.0\.0\.1:\d+\/metrics/);
  return { d, mport };
}

const M = suite('daemon metrics');

M('exact counters after echoes, a broadcast, a 1002, a 404, and closes with 1000 and 4001', async () => {
  const { d, mport } = await withMetrics([ECHO, BC]);
  await withDaemon(d, async () => {
    assert.is((await get(mport, '/livez')).status, 200);
    assert.equal(await get(mport, '/readyz'), { status: 200, body: 'ready\n', type: 'text/plain; charset=utf-8' });
    const before = await scrape(mport);
    assert.is(sampleValue(before, 'ringsocket_connections', { app: 'echo' }), 0);
    assert.is(sampleValue(before, 'ringsocket_bytes_received_total'), 0);

    const N = 10;
    const e = await connectInbox(d.url('/echo'));
    for (let i = 0; i < N; i++) {
      e.ws.send(`echo ${i}`);
      assert.is((await e.inbox.next()).data.toString(), `echo ${i}`);
    }
    const M_ = 5;
    const bcs = [];
    for (let i = 0; i < M_; i++) bcs.push(await connectInbox(d.url('/bc')));
    const open = await scrape(mport);
    assert.is(sampleValue(open, 'ringsocket_connections', { app: 'echo' }), 1);
    assert.is(sampleValue(open, 'ringsocket_connections', { app: 'bc' }), M_);
    bcs[0].ws.send('to everyone');
    for (const b of bcs) assert.is((await b.inbox.next()).data.toString(), 'to everyone');

    // An unmasked frame is a protocol error: our close frame with 1002.
    const raw = await rawExchange(d.port, [upgradeRequest(d.port, '/echo'), 50, Buffer.from(text('x', { mask: null }))]);
    assert.match(raw.toString('latin1'), /^HTTP\/1\.1 101 /);
    assert.ok(raw.includes(Buffer.from(closeFrame(CloseCode.PROTOCOL_ERROR, '', { mask: null }).subarray(0, 4))), 'a close frame with 1002');
    // A path nobody serves: 404.
    assert.match((await rawExchange(d.port, [upgradeRequest(d.port, '/nope')])).toString('latin1'), /^HTTP\/1\.1 404 /);

    const eClosed = closed(e.ws);
    e.ws.close(1000);
    await eClosed;
    for (const b of bcs) {
      const c = closed(b.ws);
      b.ws.close(4001);
      await c;
    }
    const p = await scrapeUntil(mport, (x) => sampleValue(x, 'ringsocket_connections', { app: 'bc' }) === 0 && sampleValue(x, 'ringsocket_connections', { app: 'echo' }) === 0);
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(p, name, labels);
    assert.is(v('ringsocket_connections', { app: 'echo' }), 0);
    assert.is(v('ringsocket_connections', { app: 'bc' }), 0);
    assert.is(v('ringsocket_connections_opened_total', { app: 'echo' }), 2);
    assert.is(v('ringsocket_connections_opened_total', { app: 'bc' }), M_);
    assert.equal(p.samples.filter((s) => s.name === 'ringsocket_closes_total').map((s) => [s.labels.code, s.value]),
      [['1000', 1], ['1002', 1], ['other', M_]]);
    assert.equal(p.samples.filter((s) => s.name === 'ringsocket_upgrades_refused_total').map((s) => [s.labels.status, s.value]), [['404', 1]]);
    assert.is(v('ringsocket_messages_received_total', { app: 'echo' }), N);
    assert.is(v('ringsocket_messages_sent_total', { app: 'echo' }), N);
    assert.is(v('ringsocket_messages_received_total', { app: 'bc' }), 1);
    assert.is(v('ringsocket_messages_sent_total', { app: 'bc' }), M_);
    // Frames of N echoes each way, at least (plus handshakes, the broadcast, closes).
    const echoBytes = N * ('echo 0'.length + 2);
    assert.ok(v('ringsocket_bytes_received_total')! > echoBytes + N * 4, 'bytes received');
    assert.ok(v('ringsocket_bytes_sent_total')! > echoBytes + M_ * 13, 'bytes sent');
    assert.is(v('ringsocket_slow_clients_closed_total', { limit: 'max_client_outbound_size' }), 0);
    assert.is(v('ringsocket_slow_clients_closed_total', { limit: 'max_worker_outbound_size' }), 0);
    assert.is(v('ringsocket_app_restarts_total', { app: 'echo' }), 0);
    assert.is(v('ringsocket_app_up', { app: 'bc' }), 1);
    assert.is(v('ringsocket_worker_restarts_total'), 0);
    const fill = p.samples.filter((s) => s.name === 'ringsocket_ring_fill_ratio');
    assert.is(fill.length, 2 * 2 * 2, 'inbound and outbound, per worker and app');
    for (const f of fill) assert.ok(f.value >= 0 && f.value <= 1);
    assert.ok(v('process_resident_memory_bytes')! > 1e6);
    // Every thread writes its event-loop delay within a second of its start.
    const eld = await scrapeUntil(mport, (x) => x.samples.filter((s) => s.name === 'ringsocket_event_loop_delay_p99_seconds').length === 5);
    const threads = eld.samples.filter((s) => s.name === 'ringsocket_event_loop_delay_p99_seconds').map((s) => s.labels.thread).sort();
    assert.equal(threads, ['app:bc', 'app:echo', 'main', 'worker#0', 'worker#1']);
    for (const s of eld.samples.filter((x) => x.name.startsWith('ringsocket_event_loop_delay'))) assert.ok(s.value >= 0 && s.value < 5, `${s.name} ${s.value}`);
  });
});

M('an app that dies: /readyz 503 until it is restarted, the restart and its 1011 counted', async () => {
  const { d, mport } = await withMetrics([DIES, ECHO]);
  await withDaemon(d, async () => {
    const a = await connectInbox(d.url('/dies'));
    const aClosed = closed(a.ws);
    a.ws.send('die');
    assert.is((await aClosed).code, CloseCode.INTERNAL_ERROR);
    await d.waitFor(/app dies: its thread exited unexpectedly/);
    assert.equal(await get(mport, '/readyz'), { status: 503, body: 'not ready: app dies down\n', type: 'text/plain; charset=utf-8' });
    assert.is(sampleValue(await scrape(mport), 'ringsocket_app_up', { app: 'dies' }), 0);
    assert.is((await get(mport, '/livez')).status, 200);
    await d.waitFor(/app dies: restarted/, 10000);
    assert.is((await get(mport, '/readyz')).status, 200);
    const p = await scrape(mport);
    assert.is(sampleValue(p, 'ringsocket_app_restarts_total', { app: 'dies' }), 1);
    assert.is(sampleValue(p, 'ringsocket_app_restarts_total', { app: 'echo' }), 0);
    assert.is(sampleValue(p, 'ringsocket_app_up', { app: 'dies' }), 1);
    assert.is(sampleValue(p, 'ringsocket_closes_total', { code: '1011' }), 1);
    assert.is(sampleValue(p, 'ringsocket_messages_received_total', { app: 'dies' }), 1);
    // A new thread serves: its messages count on.
    const b = await connectInbox(d.url('/dies'));
    b.ws.send('back');
    assert.is((await b.inbox.next()).data.toString(), 'back');
    const q = await scrape(mport);
    assert.is(sampleValue(q, 'ringsocket_messages_received_total', { app: 'dies' }), 2);
    assert.is(sampleValue(q, 'ringsocket_messages_sent_total', { app: 'dies' }), 1);
    b.ws.close();
    await closed(b.ws);
  });
});

M('SIGTERM with a client that does not answer our close: /readyz 503 (and /livez 200) while the daemon waits', async () => {
  const { d, mport } = await withMetrics([ECHO], { shutdown_wait_ws: 3 });
  // A raw client that never answers the close frame: the stop waits shutdown_wait_ws for it.
  const s = net.connect(d.port, '127.0.0.1');
  const got: Buffer[] = [];
  s.on('data', (b) => got.push(b));
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  s.write(upgradeRequest(d.port, '/echo'));
  for (let i = 0; i < 100 && !Buffer.concat(got).toString('latin1').includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.is((await get(mport, '/readyz')).status, 200);
  const started = Date.now();
  const stopped = d.stop('SIGTERM');
  await d.waitFor(/stopping \(SIGTERM\)/);
  const r = await get(mport, '/readyz');
  assert.equal(r, { status: 503, body: 'not ready: stopping\n', type: 'text/plain; charset=utf-8' });
  assert.is((await get(mport, '/livez')).status, 200);
  assert.is(sampleValue(await scrape(mport), 'ringsocket_connections', { app: 'echo' }), 1, 'the client is still connected');
  assertExit(d, await stopped, 0);
  assert.ok(Date.now() - started >= 2000, 'the daemon waited for the client');
  s.destroy();
  // The listener is gone with the daemon.
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(mport, '127.0.0.1');
    c.on('connect', () => { c.destroy(); reject(new Error('the metrics port still listens')); });
    c.on('error', () => resolve());
  });
});

M('a metrics port that is taken: the daemon does not start (exit 1), with a clear message', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const mport = (taken.address() as net.AddressInfo).port;
  try {
    const d = await startDaemon({ apps: [ECHO], config: { metrics: { port_number: mport } }, waitReady: false });
    const code = await new Promise<number | null>((r) => d.proc.on('close', r));
    assert.is(code, 1, d.output());
    assert.match(d.output(), new RegExp(`metrics listener on port ${mport}: the port is in use`));
  } finally {
    taken.close();
  }
});

M('without the key no listener is started (and the counters cost the same)', async () => {
  const d = await startDaemon({ apps: [ECHO] });
  await withDaemon(d, async () => {
    assert.not.match(d.output(), /metrics and health/);
  });
});

M.run();
