// The upgrade hook end to end (issue 11 part 3): real ws clients against the daemon, an app whose
// hook is steered by the query string (test/fixtures/apps/upgrade/app.ts). Accepting (sync and
// async, client data read back later), refusing (401), failing (throw, reject, a bad return: 500),
// never settling (503 after upgrade_timeout), the reply's latency while the app is idle, a slow
// hook beside a busy client of the same app, a client that leaves while its hook runs, and an app
// that goes down with handshakes pending.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { Inbox, closed, upgradeRequest } from './helpers/client.ts';
import { withDeadline, sleep } from './helpers/deadline.ts';
import { EventEmitter } from 'node:events';
import { PendingUpgrades, KEEP_MAX, KEEP_TOTAL_MAX } from '../src/daemon/worker/upgrades.ts';
import { Conn, Phase } from '../src/daemon/worker/conn.ts';
import type { InboundProducer } from '../src/daemon/worker/inbound.ts';
import type { Clients } from '../src/daemon/worker/clients.ts';
import type { EndpointSpec, EndpointTable } from '../src/http/upgrade.ts';
import { Inbound } from '../src/daemon/records.ts';
import { createLogger } from '../src/log.ts';

// ---- PendingUpgrades (src/daemon/worker/upgrades.ts) on its own: fake sockets and ring.

class FakeSocket extends EventEmitter {
  paused = false;
  destroyed = false;
  pause() { this.paused = true; return this; }
  resume() { this.paused = false; return this; }
  end() {}
}

function pendingUpgrades(open: (c: Conn, rest: Uint8Array) => void) {
  const records: { kind: number; id: number }[] = [];
  const scratch = Buffer.alloc(64 * 1024);
  const inbound = {
    maxRecord: () => scratch.length,
    isPaused: () => false,
    reserve: (_app: number, size: number) => ({ ptr: 0, size, u8: scratch, dv: new DataView(scratch.buffer), pending: null }),
    writeHeader: (_rec: unknown, kind: number, _dk: number, _ep: number, id: number) => { records.push({ kind, id }); },
    commit: () => {},
  } as unknown as InboundProducer;
  let serial = 0;
  const pu = new PendingUpgrades({
    clients: { reserveId: () => ++serial * 256 + 1 } as unknown as Clients,
    inbound, hookFlags: [new Int32Array([1])], appDown: [false], timeoutS: 60, log: createLogger('test', 'error'),
    peer: () => ({ address: '127.0.0.1', port: 1 }),
    open: (c, _ep, _response, rest) => { c.phase = Phase.WS; open(c, rest); },
    refuse: (c) => { c.phase = Phase.DEAD; },
  });
  const connect = () => {
    const socket = new FakeSocket();
    const c = new Conn(0, socket as never, null as unknown as EndpointTable<EndpointSpec>);
    const head = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    pu.start(c, { endpoint: { appIndex: 0, endpointId: 1 } as EndpointSpec, response: Buffer.alloc(0), headLength: head.length }, head, new Uint8Array(0));
    return { c, socket, id: serial * 256 + 1 };
  };
  return { pu, records, connect };
}

const Parts = suite('PendingUpgrades');

Parts('bytes before the 101, up to KEEP_MAX, all reach open in order; one byte more is refused with 400 before it is copied', () => {
  const got: Uint8Array[] = [];
  const { pu, records, connect } = pendingUpgrades((_c, rest) => got.push(rest));
  const { c, id } = connect();
  assert.equal(records, [{ kind: Inbound.UPGRADE, id }]);
  pu.keep(c, new Uint8Array(KEEP_MAX - 10).fill(1));
  pu.keep(c, new Uint8Array(10).fill(2));
  assert.is(pu.keptBytes, KEEP_MAX);
  pu.reply(0, id, 0);
  assert.is(got.length, 1);
  assert.is(got[0].length, KEEP_MAX);
  assert.ok(got[0][0] === 1 && got[0][KEEP_MAX - 11] === 1 && got[0][KEEP_MAX - 10] === 2 && got[0][KEEP_MAX - 1] === 2);
  assert.is(pu.size, 0);
  assert.is(pu.keptBytes, 0, 'the kept bytes are no longer counted once the client opened');

  const b = connect();
  pu.keep(b.c, new Uint8Array(KEEP_MAX));
  pu.keep(b.c, new Uint8Array(1));
  assert.is(b.c.phase, Phase.DEAD, 'refused');
  assert.equal(records.at(-1), { kind: Inbound.CLOSE, id: b.id }, 'the app drops it');
  assert.is(pu.size, 0);
  assert.is(pu.keptBytes, 0);
  pu.reply(0, b.id, 0);
  assert.is(got.length, 1, 'a late accept opens nothing');
});

Parts(`a worker keeps at most KEEP_TOTAL_MAX bytes for all its waiting clients: the client that would pass it is refused`, () => {
  const { pu, connect } = pendingUpgrades(() => {});
  const n = KEEP_TOTAL_MAX / KEEP_MAX;
  const waiting = Array.from({ length: n }, () => connect());
  for (const w of waiting) pu.keep(w.c, new Uint8Array(KEEP_MAX));
  assert.is(pu.keptBytes, KEEP_TOTAL_MAX);
  const last = connect();
  pu.keep(last.c, new Uint8Array(1));
  assert.is(last.c.phase, Phase.DEAD, 'over the worker total: refused');
  assert.is(pu.size, n, 'the others still wait');
  waiting[0].socket.emit('close');
  assert.is(pu.keptBytes, KEEP_TOTAL_MAX - KEEP_MAX, 'a client that leaves frees its bytes');
  const next = connect();
  pu.keep(next.c, new Uint8Array(KEEP_MAX));
  assert.is(next.c.phase, Phase.HTTP, 'room again');
});

Parts('a reply for a client that left, or for another app, changes nothing', () => {
  let opens = 0;
  const { pu, records, connect } = pendingUpgrades(() => { opens++; });
  const a = connect();
  const b = connect();
  pu.reply(1, b.id, 0); // not b's app
  assert.is(pu.size, 2);
  a.socket.emit('close');
  assert.equal(records.at(-1), { kind: Inbound.CLOSE, id: a.id }, 'the app drops the one that left');
  pu.reply(0, a.id, 0);
  assert.is(opens, 0);
  assert.is(records.length, 3, 'no second CLOSE');
  pu.reply(0, b.id, 0);
  assert.is(opens, 1);
});

const UPGRADE_TIMEOUT_S = 1.5;
const APP = { name: 'gate', app_path: 'test/fixtures/apps/upgrade/app.ts', paths: ['/gate'], endpoint: { subprotocols: ['v1', 'v2'] } };

const Hook = suite<{ d: RunningDaemon }>('the upgrade hook through the daemon');
const lifecycle = daemonSuite(Hook, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [APP, { ...APP, name: 'gatez', paths: ['/gatez'], endpoint: { permessage_deflate: true } }],
    config: { upgrade_timeout: UPGRADE_TIMEOUT_S, log_level: 'debug' },
  });
});

type Outcome = { ws: WebSocket; inbox: Inbox; ms: number } | { status: number; body: string; ms: number };

/** Connects; resolves with the open socket, or with the HTTP status of a refusal. */
function attempt(url: string, opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<Outcome> {
  const t0 = performance.now();
  return withDeadline(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers });
    const inbox = new Inbox(ws);
    ws.once('open', () => resolve({ ws, inbox, ms: performance.now() - t0 }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
    });
    ws.once('error', reject);
  }), 10_000, `connect ${url}`);
}

async function opened(url: string, opts?: Parameters<typeof attempt>[1]) {
  const o = await attempt(url, opts);
  if (!('ws' in o)) throw new Error(`refused with ${o.status}: ${o.body}`);
  return o;
}

async function refused(url: string) {
  const o = await attempt(url);
  if ('ws' in o) { o.ws.close(); throw new Error('opened, expected a refusal'); }
  return o;
}

const text = (m: { data: Buffer }) => m.data.toString();

async function report(d: RunningDaemon): Promise<{ hooks: number; settled: number; opens: number; closes: number }> {
  const { ws, inbox } = await opened(d.url('/gate?mode=accept&user=reporter'));
  await inbox.next();
  ws.send('report');
  const r = JSON.parse(text(await inbox.next()).slice('report '.length));
  ws.close();
  await closed(ws);
  return r;
}

Hook('a synchronous hook accepts; the client data follows the client, and rs.setClientData replaces it', async ({ d }) => {
  const { ws, inbox } = await opened(d.url('/gate?mode=accept&user=ann'), { protocols: ['v2', 'v1'], headers: { Cookie: 'a=1' } });
  assert.is(ws.protocol, 'v2');
  const open = JSON.parse(text(await inbox.next()).slice('open '.length));
  assert.equal(open, { user: 'ann', cookie: 'a=1', path: '/gate', subprotocol: 'v2', address: '127.0.0.1' });
  ws.send('data');
  assert.is(JSON.parse(text(await inbox.next()).slice('data '.length)).user, 'ann', 'in a later read callback');
  ws.send('set bob');
  ws.send('data');
  assert.equal(JSON.parse(text(await inbox.next()).slice('data '.length)), { user: 'bob' });
  ws.close();
  await closed(ws);
  await d.waitFor(/closed \d+ of user bob/);
});

Hook('an async hook accepts after its delay; the reply is published at once while the app is idle', async ({ d }) => {
  const DELAY = 300;
  const { ws, inbox, ms } = await opened(d.url(`/gate?mode=accept&user=cy&delay=${DELAY}`));
  // Without a prompt publish the reply would wait for the idle app's next loop turn (up to 1 s).
  assert.ok(ms >= DELAY - 10, `opened after ${ms.toFixed(0)} ms, not before the hook settled`);
  assert.ok(ms < DELAY + 250, `opened ${ms.toFixed(0)} ms after the request: ${(ms - DELAY).toFixed(0)} ms after the hook settled`);
  assert.is(JSON.parse(text(await inbox.next()).slice('open '.length)).user, 'cy');
  ws.close();
  await closed(ws);
});

Hook('an async hook refuses with 401: the client gets a complete 401 response', async ({ d }) => {
  const o = await refused(d.url('/gate?mode=refuse&status=401&delay=50'));
  assert.is(o.status, 401);
  assert.match(o.body, /^401 Unauthorized/);
  const sync = await refused(d.url('/gate?mode=refuse&status=451'));
  assert.is(sync.status, 451);
});

Hook('a hook that throws, rejects or returns nonsense: 500, and a log line naming the app', async ({ d }) => {
  for (const [mode, line] of [
    ['throw', /gate: upgrade hook of client \d+ failed \(it threw, or its promise rejected\); refusing it with 500: .*the hook broke/],
    ['reject', /gate: upgrade hook of client \d+ failed .*the lookup failed/],
    ['bad', /gate: upgrade hook of client \d+ returned 200, which means nothing there/],
  ] as const) {
    const o = await refused(d.url(`/gate?mode=${mode}`));
    assert.is(o.status, 500, mode);
    await d.waitFor(line);
  }
});

Hook('a hook that never settles: 503 after upgrade_timeout, and the app drops the handshake', async ({ d }) => {
  const before = await report(d);
  const o = await refused(d.url('/gate?mode=never'));
  assert.is(o.status, 503);
  assert.ok(o.ms >= UPGRADE_TIMEOUT_S * 1000 - 50 && o.ms < UPGRADE_TIMEOUT_S * 1000 + 1000, `503 after ${o.ms.toFixed(0)} ms`);
  await d.waitFor(/the upgrade hook did not answer within 1.5s: refusing it with 503/);
  const after = await report(d);
  assert.is(after.opens - before.opens, 1, 'only the reporter opened');
  assert.is(after.closes - before.closes, 1, 'no close callback for the refused handshake');
});

Hook('a slow hook beside a busy client of the same app: the echoes keep flowing while it waits', async ({ d }) => {
  const busy = await opened(d.url('/gate?mode=accept&user=busy'));
  await busy.inbox.next();
  const HOOK_MS = 800;
  let waiting = true;
  const slow = attempt(d.url(`/gate?mode=accept&user=slow&delay=${HOOK_MS}`)).finally(() => { waiting = false; });
  // Echo round trips, one at a time, for as long as the slow handshake waits.
  const rtts: number[] = [];
  while (waiting) {
    const t = performance.now();
    busy.ws.send(`echo ${rtts.length}`);
    assert.is(text(await busy.inbox.next()), `echo ${rtts.length}`);
    rtts.push(performance.now() - t);
  }
  const s = await slow;
  assert.ok('ws' in s, 'the slow client opened');
  if ('ws' in s) {
    assert.ok(s.ms >= HOOK_MS - 10, `it waited for its hook (${s.ms.toFixed(0)} ms)`);
    s.ws.close();
    await closed(s.ws);
  }
  const worst = Math.max(...rtts);
  assert.ok(rtts.length >= 20, `${rtts.length} echoes while the hook waited ${HOOK_MS} ms`);
  assert.ok(worst < 200, `slowest echo ${worst.toFixed(1)} ms while the hook waited`);
  busy.ws.close();
  await closed(busy.ws);
});

Hook('a client that leaves while its hook runs: dropped on both sides, no open and no close callback', async ({ d }) => {
  const before = await report(d);
  const s = net.connect(d.port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(upgradeRequest(d.port, '/gate?mode=accept&user=gone&delay=400'));
  await sleep(100);
  s.destroy();
  await d.waitFor(/left while its upgrade hook ran/);
  await sleep(500); // the hook settles meanwhile: its answer goes nowhere
  const after = await report(d);
  assert.is(after.hooks - before.hooks, 2, 'the hook ran for it (and for the reporter)');
  assert.is(after.settled - before.settled, 2, 'and settled');
  assert.is(after.opens - before.opens, 1, 'only the reporter opened');
  assert.is(after.closes - before.closes, 1, 'only the reporter closed');
});

Hook('bytes sent right behind the request are kept while the hook runs', async ({ d }) => {
  const s = net.connect(d.port, '127.0.0.1');
  const got: Buffer[] = [];
  s.on('data', (b) => got.push(b));
  await new Promise<void>((r) => s.once('connect', () => r()));
  const frame = Buffer.from([0x81, 0x84, 1, 2, 3, 4, ...Buffer.from('data').map((b, i) => b ^ [1, 2, 3, 4][i])]);
  s.write(Buffer.concat([Buffer.from(upgradeRequest(d.port, '/gate?mode=accept&user=eager&delay=100')), frame]));
  await withDeadline((async () => {
    while (!/data \{"user":"eager"/.test(Buffer.concat(got).toString('latin1'))) await sleep(10);
  })(), 3000, 'the kept frame answered');
  s.destroy();
});

Hook('an app that goes down with a handshake pending: 503', async ({ d }) => {
  const pending = attempt(d.url('/gate?mode=never'));
  await sleep(100);
  const killer = await opened(d.url('/gate?mode=accept&user=killer'));
  await killer.inbox.next();
  killer.ws.send('die');
  const o = await pending;
  assert.ok(!('ws' in o) && o.status === 503, 'refused with 503');
  await d.waitFor(/app gate: restarted/, 10_000);
  const back = await opened(d.url('/gate?mode=accept&user=back'));
  assert.is(JSON.parse(text(await back.inbox.next()).slice('open '.length)).user, 'back', 'the restarted app has its hook');
  back.ws.close();
  await closed(back.ws);
});

Hook('after an async hook, the 101 carries the negotiated permessage-deflate too', async ({ d }) => {
  const o = await withDeadline(new Promise<{ ws: WebSocket; inbox: Inbox }>((resolve, reject) => {
    const ws = new WebSocket(d.url('/gatez?mode=accept&user=zed&delay=50'), { perMessageDeflate: true });
    const inbox = new Inbox(ws);
    ws.once('open', () => resolve({ ws, inbox }));
    ws.once('error', reject);
  }), 5000, 'connect /gatez');
  assert.match(o.ws.extensions, /permessage-deflate/);
  assert.is(JSON.parse(text(await o.inbox.next()).slice('open '.length)).user, 'zed');
  const big = 'x'.repeat(900);
  o.ws.send(big);
  assert.is(text(await o.inbox.next()), big, 'a message both ways through the extension');
  o.ws.close();
  await closed(o.ws);
});

lifecycle.stopTest();
Parts.run();
Hook.run();
