// A slow client (a raw socket that stops reading) being sent a lot: it does not hold up delivery
// to a normal client on the same worker, and it is closed with 1008 once more than
// max_client_outbound_size bytes are queued for it (RingSocket instead pinned its outbound ring
// and grew memory until it died: behaviour report §2.7).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { withDeadline } from './helpers/deadline.ts';
import { upgradeRequest } from './helpers/client.ts';
import { Peer } from './fixtures/apps/peers.ts';
import { CloseCode, Opcode } from '../src/core/codes.ts';

const MAX_OUT = 1024 * 1024;
const MSG = 32 * 1024;
const N = 1600; // 50 MiB to every client: far beyond what loopback socket buffers absorb
const BATCH = 8; // 256 KiB

const Slow = suite<{ d: RunningDaemon }>('a slow client over the daemon');

const life = daemonSuite(Slow, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [{ name: 'commands', app_path: 'test/fixtures/apps/commands/app.ts', paths: ['/commands'] }],
    // One worker: the slow and the normal client share it.
    config: { worker_c: 1, max_ws_msg_size: 65536, max_client_outbound_size: MAX_OUT, shutdown_wait_ws: 15 },
  });
});

/** Completes the handshake on a raw socket, then stops reading (socket.pause()). */
function stalledClient(d: RunningDaemon): Promise<{ s: net.Socket; rest: Buffer }> {
  return withDeadline(new Promise((resolve, reject) => {
    const s = net.connect(d.port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      s.pause();
      assert.match(got.subarray(0, end).toString(), /^HTTP\/1\.1 101 /);
      resolve({ s, rest: got.subarray(end + 4) });
    };
    s.on('data', onData);
    s.on('error', reject);
    s.on('connect', () => s.write(upgradeRequest(d.port, '/commands')));
  }), 5000, 'stalled client handshake');
}

/** Server frames (unmasked) from a byte stream: [opcode, payload][]; a partial tail is ignored. */
function parseFrames(b: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let p = 0;
  while (p + 2 <= b.length) {
    let len = b[p + 1] & 0x7f;
    let h = 2;
    if (len === 126) { if (p + 4 > b.length) break; len = b.readUInt16BE(p + 2); h = 4; }
    else if (len === 127) { if (p + 10 > b.length) break; len = Number(b.readBigUInt64BE(p + 2)); h = 10; }
    if (p + h + len > b.length) break;
    out.push([b[p] & 0x0f, b.subarray(p + h, p + h + len)]);
    p += h + len;
  }
  return out;
}

Slow('does not delay a normal client on the same worker, and is closed with 1008 past max_client_outbound_size', async ({ d }) => {
  const slow = await stalledClient(d);
  const normal = await (await Peer.open(d.url())).learnId();
  // The normal client paces the app: a batch of BATCH messages (well under the limit), the next
  // one once it has them all. The slow client's queue grows by a batch each time.
  const started = Date.now();
  for (let from = 0; from < N; from += BATCH) {
    normal.cmd({ cmd: 'blast', n: BATCH, size: MSG, from });
    for (let i = from; i < from + BATCH; i++) {
      const m = await normal.next(5000);
      if (!m.isBinary || m.data.length !== MSG || m.data.readUInt32BE(0) !== i) {
        assert.unreachable(`message ${i}: ${m.isBinary ? 'binary' : 'text'}, ${m.data.length} bytes, seq ${m.data.length >= 4 ? m.data.readUInt32BE(0) : '-'}`);
      }
    }
  }
  const ms = Date.now() - started;
  console.log(`  the normal client received ${N} × ${MSG} bytes in order in ${ms} ms`);
  assert.not.match(d.output(), new RegExp(`client ${normal.id}: .*closing with 1008`), 'the normal client is not closed');
  const line = await d.waitFor(/client \d+: \d+ bytes queued \(max_client_outbound_size 1048576\): closing with 1008/, 5000);

  // Now read what the slow client was sent: messages in order, then a close frame with 1008.
  const tail = await withDeadline(new Promise<Buffer>((resolve) => {
    const parts = [slow.rest];
    slow.s.on('data', (b: Buffer) => parts.push(b));
    slow.s.on('end', () => resolve(Buffer.concat(parts)));
    slow.s.on('close', () => resolve(Buffer.concat(parts)));
    slow.s.resume();
  }), 15000, 'the slow client\'s data');
  const frames = parseFrames(tail);
  const last = frames[frames.length - 1];
  assert.ok(last && last[0] === Opcode.CLOSE, `the last frame is a close frame (${frames.length} frames, ${line})`);
  assert.is(last[1].readUInt16BE(0), CloseCode.POLICY_VIOLATION);
  const data = frames.slice(0, -1);
  assert.ok(data.length > 0 && data.length < N, `${data.length} messages reached the slow client before its close`);
  data.forEach(([op, payload], i) => {
    if (op !== Opcode.BINARY || payload.readUInt32BE(0) !== i) assert.unreachable(`slow client's frame ${i}: opcode ${op}`);
  });
  slow.s.destroy();

  // The normal client is still served.
  normal.ws.send(Buffer.from('still here'));
  assert.is((await normal.next()).data.toString(), 'still here');
  await normal.close();
});

life.stopTest();

Slow.run();
