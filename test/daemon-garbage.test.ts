// Bad input over real sockets: random bytes before and after the handshake, on many connections
// at once. The daemon answers or closes each, keeps serving well-behaved clients, and stops cleanly.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from './helpers/random.ts';
import net from 'node:net';
import { startDaemon } from './helpers/daemon.ts';
import { withDaemon } from './helpers/daemon-exit.ts';
import { connectInbox, closed, upgradeRequest, clientFrame } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 7);


function bytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** Sends the chunks and waits until the server closes (or the deadline kills the socket). */
function garbage(port: number, chunks: Buffer[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); resolve(); }, ms);
    s.on('connect', () => { for (const c of chunks) if (!s.destroyed) s.write(c); });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve(); });
  });
}

const Garbage = suite('daemon garbage');

Garbage('survives random bytes before and after the handshake on 300 connections, and serves on', async () => {
  const d = await startDaemon({ config: { worker_c: 2, max_ws_msg_size: 65536, shutdown_wait_http: 2, shutdown_wait_ws: 2 } });
  await withDaemon(d, async () => {
    const good = await connectInbox(d.url());
    const r = rng(SEED);
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const chunks: Buffer[] = [];
      switch (i % 3) {
        case 0: chunks.push(bytes(r, 1 + Math.floor(r() * 2000))); break; // not HTTP at all
        case 1: { // a valid handshake, then random bytes as "frames"
          chunks.push(Buffer.from(upgradeRequest(d.port)));
          chunks.push(bytes(r, 1 + Math.floor(r() * 4000)));
          break;
        }
        default: { // a valid handshake and frames, with random bytes flipped
          const f = Buffer.concat([clientFrame(1, 'hello'), clientFrame(2, bytes(r, 300)), clientFrame(9, 'p')]);
          for (let k = 0; k < 3; k++) f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
          chunks.push(Buffer.from(upgradeRequest(d.port)), f);
        }
      }
      runs.push(garbage(d.port, chunks, 6000));
      if (i % 50 === 49) {
        // Well-behaved traffic goes on in between.
        good.ws.send(`still fine ${i}`);
        assert.is((await good.inbox.next()).data.toString(), `still fine ${i}`);
      }
    }
    await withDeadline(Promise.all(runs), 20000, 'garbage connections closed');
    const late = await connectInbox(d.url());
    late.ws.send('after the storm');
    assert.is((await late.inbox.next()).data.toString(), 'after the storm');
    late.ws.close();
    good.ws.close();
    await Promise.all([closed(late.ws), closed(good.ws)]);
    assert.not.match(d.output(), / error (main|worker#\d|echo):/, 'no error was logged');
  });
});

Garbage.run();
