// The daemon's threads and lifecycle: several workers, start-up, graceful shutdown, bad configs.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { startDaemon, root, type AppSpec } from './helpers/daemon.ts';
import { withDaemon, stopDaemon, assertExit } from './helpers/daemon-exit.ts';
import { connect, connectInbox, closed, upgradeRequest } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';
import { CloseCode } from '../src/core/codes.ts';
import { workerOfClient } from '../src/daemon/records.ts';

const WHOAMI: AppSpec = { name: 'whoami', app_path: 'test/fixtures/apps/whoami/app.ts', paths: ['/who'] };

const Workers = suite('daemon workers');

Workers('spreads connections over every worker, each with a unique non-zero id, and serves them all', async () => {
  const d = await startDaemon({ apps: [WHOAMI], config: { worker_c: 3 } });
  await withDaemon(d, async () => {
    const clients = [];
    for (let i = 0; i < 48; i++) {
      const { ws, inbox } = await connectInbox(d.url());
      const id = Number((await inbox.next()).data.toString());
      clients.push({ ws, inbox, id });
    }
    const ids = new Set(clients.map((c) => c.id));
    assert.is(ids.size, clients.length, 'ids are unique');
    assert.ok(clients.every((c) => Number.isSafeInteger(c.id) && c.id > 0), 'ids are non-zero safe integers');
    const perWorker = [0, 0, 0];
    for (const c of clients) perWorker[workerOfClient(c.id)]++;
    assert.ok(perWorker.every((n) => n > 0), `every worker got connections: ${perWorker.join('/')}`);
    for (const c of clients) c.ws.send(`from ${c.id}`);
    for (const c of clients) assert.is((await c.inbox.next()).data.toString(), `from ${c.id}`);
    for (const c of clients) c.ws.close();
    await Promise.all(clients.map((c) => closed(c.ws)));
  });
});

Workers('never reuses a client id while the daemon runs', async () => {
  const d = await startDaemon({ apps: [WHOAMI], config: { worker_c: 1 } });
  await withDaemon(d, async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const { ws, inbox } = await connectInbox(d.url());
      const id = Number((await inbox.next()).data.toString());
      assert.not.ok(seen.has(id), `id ${id} reused`);
      seen.add(id);
      ws.close();
      await closed(ws);
    }
  });
});

Workers('starts with several workers on the same ports again and again without EADDRINUSE', async () => {
  for (let i = 0; i < 4; i++) {
    const d = await startDaemon({ config: { worker_c: 4 } });
    const ws = await connect(d.url());
    ws.close();
    await closed(ws);
    await stopDaemon(d);
    assert.not.match(d.output(), /EADDRINUSE/);
  }
});

Workers.run();

const Shutdown = suite('daemon shutdown');

Shutdown('SIGTERM closes every client with 1001 and exits 0', async () => {
  const d = await startDaemon({ config: { worker_c: 2 } });
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect(d.url())));
  const codes = Promise.all(clients.map((ws) => closed(ws, 10000)));
  const exit = d.stop('SIGTERM');
  for (const c of await codes) assert.is(c.code, CloseCode.GOING_AWAY);
  assertExit(d, await exit, 0, 'after SIGTERM');
  assert.match(d.output(), /stopped/);
});

Shutdown('SIGINT does the same', async () => {
  const d = await startDaemon();
  const ws = await connect(d.url());
  const c = closed(ws, 10000);
  const exit = d.stop('SIGINT');
  assert.is((await c).code, CloseCode.GOING_AWAY);
  assertExit(d, await exit, 0, 'after SIGINT');
});

Shutdown('waits at most shutdown_wait_ws for a client that never answers the close', async () => {
  const d = await startDaemon({ config: { shutdown_wait_ws: 1 } });
  const s = net.connect(d.port, '127.0.0.1');
  s.on('error', () => {});
  await withDeadline(new Promise<void>((r) => s.once('connect', () => r())), 3000, 'connect');
  s.write(upgradeRequest(d.port));
  await withDeadline(new Promise<void>((r) => s.once('data', () => r())), 3000, '101');
  const started = Date.now();
  await stopDaemon(d, { signal: 'SIGTERM', ms: 10000 });
  const took = Date.now() - started;
  assert.ok(took < 6000, `stopped in ${took} ms`);
  s.destroy();
});

Shutdown('refuses new connections while stopping', async () => {
  const d = await startDaemon({ config: { shutdown_wait_ws: 2 } });
  const ws = await connect(d.url(), { autoPong: true });
  // Keep this client from answering the close so that the daemon stays in its stopping phase.
  (ws as unknown as { _socket: net.Socket })._socket.pause();
  const exit = d.stop('SIGTERM');
  await d.waitFor(/stopping/);
  await new Promise((r) => setTimeout(r, 200));
  let refused = false;
  try {
    const late = await connect(d.url());
    late.terminate();
  } catch {
    refused = true;
  }
  assert.ok(refused, 'a connection during shutdown is refused');
  assertExit(d, await exit, 0, 'after SIGTERM');
  ws.terminate();
});

Shutdown.run();

const Start = suite('daemon start-up');

function runCli(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'ringsocket.mjs'), ...args], { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

Start('exits 1 with every config error before opening any port', () => {
  const dir = tempDir('rs-bad-');
  const f = join(dir, 'bad.json');
  writeFileSync(f, JSON.stringify({
    ports: [{ port_number: 70000, is_unencrypted: true }],
    apps: [{ name: 'x', app_path: join(root, 'apps/echo/app.ts'), endpoints: [{ endpoint_id: 1, url: 'ws://127.0.0.1:70000/x' }] }],
    max_ws_msg_sise: 5,
  }));
  const r = runCli([f]);
  assert.is(r.status, 1, `exit status; output:\n${r.out}`);
  assert.match(r.out, /\$\.ports\[0\]\.port_number/);
  assert.match(r.out, /max_ws_msg_sise/);
  assert.match(r.out, /max_ws_msg_size/, 'suggests the close key');
  assert.not.match(r.out, /ready:/);
});

Start('exits 1 with a clear error when an app module cannot be loaded', () => {
  const dir = tempDir('rs-badapp-');
  const app = join(dir, 'app.mjs');
  writeFileSync(app, 'export default 42;\n');
  const f = join(dir, 'rs.json');
  writeFileSync(f, JSON.stringify({
    ports: [{ port_number: 18999, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
    apps: [{ name: 'broken', app_path: app, endpoints: [{ endpoint_id: 1, url: 'ws://127.0.0.1:18999/x' }] }],
  }));
  const r = runCli([f]);
  assert.is(r.status, 1, `exit status; output:\n${r.out}`);
  assert.match(r.out, /broken/);
  assert.not.match(r.out, /ready:/);
});

Start('exits 1 when a port is already taken by another process', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = tempDir('rs-busy-');
  const f = join(dir, 'rs.json');
  writeFileSync(f, JSON.stringify({
    worker_c: 2,
    ports: [{ port_number: port, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
    apps: [{ name: 'echo', app_path: join(root, 'apps/echo/app.ts'), endpoints: [{ endpoint_id: 1, url: `ws://127.0.0.1:${port}/echo` }] }],
  }));
  const r = runCli([f]);
  blocker.close();
  assert.is(r.status, 1, `exit status; output:\n${r.out}`);
  assert.match(r.out, /EADDRINUSE|in use/);
});

Start.run();
