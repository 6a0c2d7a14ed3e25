// Bounded memory and back-pressure: full rings pause and resume, nothing is lost or reordered.
import { suite } from 'uvu';
import net from 'node:net';
import * as assert from 'uvu/assert';
import { startDaemon, type AppSpec } from './helpers/daemon.ts';
import { withDaemon } from './helpers/daemon-exit.ts';
import { connectInbox, closed, upgradeRequest } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';

const SLOW: AppSpec = { name: 'slow', app_path: 'test/fixtures/apps/slow/app.ts', paths: ['/slow'] };
const BURST: AppSpec = { name: 'burst', app_path: 'test/fixtures/apps/burst/app.ts', paths: ['/burst'] };
const ECHO: AppSpec = { name: 'echo', app_path: 'apps/echo/app.ts', paths: ['/echo'] };

// The smallest rings the config allows for 1 KiB messages: 2 x (1024 + 46) -> a 4 KiB ring.
const SMALL = { max_ws_msg_size: 1024, inbound_ring_buf_size: 2140, outbound_ring_buf_size: 2140, log_level: 'debug' };

const Bp = suite('daemon back-pressure');

Bp('a full inbound ring pauses the clients of that app only; every message arrives, in order', async () => {
  const d = await startDaemon({ apps: [SLOW, ECHO], config: SMALL });
  await withDaemon(d, async () => {
    const slow = await connectInbox(d.url('/slow'));
    const other = await connectInbox(d.url('/echo'));
    const N = 600;
    const payload = (i: number) => `${i}:`.padEnd(900, 'x');
    for (let i = 0; i < N; i++) slow.ws.send(payload(i));
    // While the slow app is behind, the other app's client is served without waiting for it.
    const t0 = Date.now();
    other.ws.send('quick');
    assert.is((await other.inbox.next(3000)).data.toString(), 'quick');
    const quick = Date.now() - t0;
    for (let i = 0; i < N; i++) assert.is((await slow.inbox.next(10000)).data.toString(), payload(i), `message ${i}`);
    assert.match(d.output(), /inbound ring of app slow full: pausing reads/);
    assert.match(d.output(), /inbound ring of app slow has room: resuming reads/);
    assert.ok(quick < 1000, `the other app answered in ${quick} ms`);
    slow.ws.close();
    other.ws.close();
    await Promise.all([closed(slow.ws), closed(other.ws)]);
  });
});

Bp('a full outbound ring makes the app wait; every message arrives, in order', async () => {
  const d = await startDaemon({ apps: [BURST], config: SMALL });
  await withDaemon(d, async () => {
    const { ws, inbox } = await connectInbox(d.url('/burst'));
    const req = Buffer.alloc(8);
    const N = 3000, SIZE = 1000;
    req.writeUInt32BE(N, 0);
    req.writeUInt32BE(SIZE, 4);
    ws.send(req);
    for (let i = 0; i < N; i++) {
      const m = await inbox.next(10000);
      assert.is(m.data.length, SIZE);
      assert.is(m.data.readUInt32BE(0), i);
      assert.is(m.data[SIZE - 1], i & 255);
    }
    ws.close();
    await closed(ws);
  });
});

Bp.run();

const Limit = suite('daemon per-client send limit');

Limit('a burst larger than max_client_outbound_size reaches a client that reads it', async () => {
  // The limit is about bytes a client leaves unread, not about how much an app sends at once.
  const d = await startDaemon({ apps: [BURST], config: { max_ws_msg_size: 65536, max_client_outbound_size: 1048576 } });
  await withDaemon(d, async () => {
    const { ws, inbox } = await connectInbox(d.url('/burst'));
    const N = 48, SIZE = 65536; // 3 MiB in one callback
    const req = Buffer.alloc(8);
    req.writeUInt32BE(N, 0);
    req.writeUInt32BE(SIZE, 4);
    ws.send(req);
    for (let i = 0; i < N; i++) {
      const m = await inbox.next(10000);
      assert.is(m.data.readUInt32BE(0), i);
    }
    assert.not.match(d.output(), /closing with 1008/);
    ws.close();
    await closed(ws);
  });
});

Limit.run();

const Budget = suite('daemon worker send budget');

Budget('drops the slowest readers when all unsent bytes pass max_worker_outbound_size; a reading client gets everything', async () => {
  const BROADCAST: AppSpec = { name: 'broadcast', app_path: 'apps/broadcast/app.ts', paths: ['/b'] };
  const d = await startDaemon({
    apps: [BROADCAST],
    config: { worker_c: 1, max_ws_msg_size: 65536, max_client_outbound_size: 256 * 1048576, max_worker_outbound_size: 4 * 1048576 },
  });
  await withDaemon(d, async () => {
    // Readers that never read after their handshake.
    const slow = await Promise.all(Array.from({ length: 4 }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(d.port, '127.0.0.1', () => s.write(upgradeRequest(d.port, '/b')));
      s.once('data', () => { s.pause(); resolve(s); });
      s.on('error', reject);
    })));
    const slowClosed = slow.map((s) => new Promise<void>((r) => s.once('close', () => r())));
    const reader = await connectInbox(d.url('/b'));
    const N = 400;
    const body = Buffer.alloc(65536, 1);
    for (let i = 0; i < N; i++) {
      body.writeUInt32BE(i, 0);
      reader.ws.send(body);
    }
    for (let i = 0; i < N; i++) assert.is((await reader.inbox.next(10000)).data.readUInt32BE(0), i);
    await d.waitFor(/passed max_worker_outbound_size \(4194304\): dropped the \d+ client/);
    // The dropped sockets were destroyed by the server: once they read what reached them, they close.
    for (const s of slow) s.resume();
    await withDeadline(Promise.all(slowClosed), 10000, 'slow readers dropped');
    assert.not.match(d.output(), /closing with 1008/, 'the per-client limit was not what closed them');
    reader.ws.close();
    await closed(reader.ws);
  });
});

Budget.run();
