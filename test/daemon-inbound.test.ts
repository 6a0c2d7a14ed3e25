// The daemon's inbound memory under hostile clients (issue: hardening), scaled to the test
// machine: attackers that start big messages and never finish them, attackers that send one
// message as tens of thousands of one-byte fragments, and a client that trickles a message. The
// daemon's RSS must stay bounded, the attackers are closed (1013 / 1008), and a well-behaved
// client of the same app gets every echo throughout. `npm run attack` is the full-size version.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { connect, upgradeRequest, clientFrame, closed } from './helpers/client.ts';
import { sleep, withDeadline } from './helpers/deadline.ts';
import { withDaemon } from './helpers/daemon-exit.ts';
import { Opcode, CloseCode } from '../src/core/codes.ts';
import type WebSocket from 'ws';

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** A raw client after its handshake: what the server sent after the 101, and whether it closed. */
interface Raw {
  socket: net.Socket;
  /** The close code of the server's close frame, once it came. */
  closeCode: number | null;
  ended: boolean;
}

async function rawClient(port: number): Promise<Raw> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const raw: Raw = { socket, closeCode: null, ended: false };
  let buf = Buffer.alloc(0);
  let open = false;
  await withDeadline(new Promise<void>((resolve, reject) => {
    socket.on('connect', () => socket.write(upgradeRequest(port)));
    socket.on('data', (b) => {
      buf = Buffer.concat([buf, b]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString().includes('101')) return reject(new Error(buf.toString()));
        open = true;
        buf = buf.subarray(end + 4);
        resolve();
      }
      // Server frames are unmasked; a close frame is 0x88, length, code.
      if (buf.length >= 4 && buf[0] === 0x88) raw.closeCode = buf.readUInt16BE(2);
    });
    socket.on('close', () => { raw.ended = true; if (!open) reject(new Error('closed before 101')); });
  }), 5000, 'handshake');
  return raw;
}

/** Writes with back-pressure; gives up (returns false) when the server stops reading for `stallMs`. */
async function writeAll(s: net.Socket, chunks: Iterable<Uint8Array>, stallMs = 1500): Promise<boolean> {
  for (const c of chunks) {
    if (s.destroyed) return false;
    if (!s.write(c)) {
      const drained = await Promise.race([
        new Promise<boolean>((r) => s.once('drain', () => r(true))),
        sleep(stallMs).then(() => false),
        new Promise<boolean>((r) => s.once('close', () => r(false))),
      ]);
      if (!drained) return false;
    }
  }
  return true;
}

/** A client sending a 16-byte message every 50 ms and counting the echoes that come back right. */
function echoProbe(ws: WebSocket) {
  let sent = 0, echoed = 0, wrong = 0, n = 0;
  ws.on('message', (data: Buffer) => {
    if (data.readUInt32BE(0) === echoed) echoed++;
    else wrong++;
  });
  const t = setInterval(() => {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(n++, 0);
    ws.send(b);
    sent++;
  }, 50);
  return {
    async stop() {
      clearInterval(t);
      const until = Date.now() + 3000;
      while (echoed + wrong < sent && Date.now() < until) await sleep(20);
      return { sent, echoed, wrong };
    },
  };
}

const Inbound = suite('daemon inbound memory');

/**
 * Starts the daemon, runs `body` with a list to put raw sockets in, destroys them, then stops the
 * daemon and asserts exit status 0 (helpers/daemon-exit.ts).
 */
async function withAttack(opts: Parameters<typeof startDaemon>[0], body: (d: RunningDaemon, sockets: net.Socket[]) => Promise<void>): Promise<void> {
  const d = await startDaemon(opts);
  const sockets: net.Socket[] = [];
  await withDaemon(d, async () => {
    try {
      await body(d, sockets);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
}

Inbound('unfinished large messages: RSS stays bounded, the largest are closed with 1013, echoes go on', () => withAttack(
  { config: { max_ws_msg_size: 4 * MiB, max_worker_inbound_size: 8 * MiB } }, async (d, sockets) => {
  // 64 attackers × 3.5 MiB of a 4 MiB frame = 224 MiB sent; the worker may hold 8 MiB (×1.25
  // between two checks). Reading and decoding that much at full speed also grows the threads' V8
  // heaps and leaves garbage not yet collected: 45-85 MiB here whatever the budget. So the bound
  // is 120 MiB; without the budget the daemon grew by more than what was sent.
  const ws = await connect(d.url());
  const base = rssMiB(d.proc.pid!);
  const probe = echoProbe(ws);
  const attackers = await Promise.all(Array.from({ length: 64 }, () => rawClient(d.port)));
  sockets.push(...attackers.map((a) => a.socket));
  const header = Buffer.alloc(14);
  header[0] = 0x80 | Opcode.BINARY;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(4 * MiB), 2); // mask key 0: the payload goes as it is
  const piece = Buffer.alloc(256 * 1024, 0x61);
  const payload = () => [header, ...Array.from({ length: 14 }, () => piece)];
  await Promise.all(attackers.map((a) => writeAll(a.socket, payload())));
  let peak = 0;
  for (let i = 0; i < 20; i++) { peak = Math.max(peak, rssMiB(d.proc.pid!)); await sleep(100); }
  const r = await probe.stop();
  const codes = attackers.map((a) => a.closeCode);
  const closed1013 = codes.filter((c) => c === CloseCode.TRY_AGAIN_LATER).length;
  console.log(`RSS ${base.toFixed(1)} -> peak ${peak.toFixed(1)} MiB; ${closed1013} of 64 attackers closed with 1013; echoes ${r.echoed}/${r.sent}`);
  // Each check closes only as many as it takes to get back under the budget, and the paused ones
  // cannot grow: how many are closed within the 2 s depends on the timing, not all of them are.
  assert.ok(closed1013 >= 8, `attackers closed with 1013: ${closed1013} of 64 (${codes.join(',')})`);
  assert.ok(codes.every((c) => c === null || c === CloseCode.TRY_AGAIN_LATER), `close codes: ${codes.join(',')}`);
  assert.ok(peak - base < 120, `RSS grew by ${(peak - base).toFixed(1)} MiB (224 MiB were sent)`);
  assert.is(r.wrong, 0);
  assert.ok(r.sent >= 20 && r.echoed === r.sent, `echoes: ${r.echoed} of ${r.sent}`);
  await d.waitFor(/max_worker_inbound_size/, 5000);
  ws.close();
}));

Inbound('one-byte fragments: RSS grows with the payload, not with the fragment count', () => withAttack({}, async (d, sockets) => {
  const ws = await connect(d.url());
  const base = rssMiB(d.proc.pid!);
  const probe = echoProbe(ws);
  // 20 attackers × 50,000 one-byte fragments (350 KB each on the wire), never finished.
  const frag = clientFrame(Opcode.CONTINUATION, Buffer.of(0x62), false);
  const run = Buffer.concat([clientFrame(Opcode.BINARY, Buffer.of(0x62), false), ...Array.from({ length: 49_999 }, () => frag)]);
  const attackers = await Promise.all(Array.from({ length: 20 }, () => rawClient(d.port)));
  sockets.push(...attackers.map((a) => a.socket));
  await Promise.all(attackers.map((a) => writeAll(a.socket, [run])));
  await sleep(1500);
  const grown = rssMiB(d.proc.pid!) - base;
  console.log(`RSS ${base.toFixed(1)} MiB, grown by ${grown.toFixed(1)} MiB`);
  const r = await probe.stop();
  // Before the assembler each fragment cost ~146 bytes: 20 × 50,000 fragments ≈ 140 MiB.
  assert.ok(grown < 40, `RSS grew by ${grown.toFixed(1)} MiB for 1 MB of payload`);
  assert.ok(attackers.every((a) => a.closeCode === null && !a.ended), 'nobody is over a limit');
  assert.ok(r.sent >= 20 && r.echoed === r.sent && r.wrong === 0, `echoes: ${r.echoed} of ${r.sent}, wrong ${r.wrong}`);
  // A whole message in fragments still arrives whole.
  const whole = await new Promise<Buffer>((resolve) => {
    const s = new (ws.constructor as typeof WebSocket)(d.url());
    s.on('open', () => {
      const parts = Array.from({ length: 1000 }, (_, i) => Buffer.of(i & 0xff));
      parts.forEach((p, i) => s.send(p, { fin: i === parts.length - 1, binary: true }));
    });
    s.on('message', (m: Buffer) => { resolve(m); s.close(); });
  });
  assert.is(whole.length, 1000);
  assert.is(whole[999], 999 & 0xff);
  ws.close();
}));

Inbound('a message trickled past ws_msg_timeout is dropped with 1008, though idle_timeout never fires', () => withAttack(
  { config: { ws_msg_timeout: 1, idle_timeout: 30, ping_interval: 10 } }, async (d, sockets) => {
  const a = await rawClient(d.port);
  sockets.push(a.socket);
  a.socket.write(clientFrame(Opcode.TEXT, 'a', false));
  const started = Date.now();
  while (!a.ended && Date.now() - started < 5000) {
    if (!a.socket.destroyed) a.socket.write(clientFrame(Opcode.CONTINUATION, 'b', false));
    await sleep(200);
  }
  assert.is(a.closeCode, CloseCode.POLICY_VIOLATION);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 3000, `closed after ${took} ms`);
  // A client that finishes its message in time is not touched.
  const ws = await connect(d.url());
  const echo = new Promise<Buffer>((r) => ws.once('message', (m: Buffer) => r(m)));
  ws.send('x'.repeat(10), { fin: false });
  await sleep(300);
  ws.send('y', { fin: true });
  assert.is((await echo).toString(), 'x'.repeat(10) + 'y');
  const c = closed(ws);
  ws.close(1000);
  assert.is((await c).code, 1000);
}));

Inbound.run();
