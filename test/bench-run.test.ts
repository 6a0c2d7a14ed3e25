// Short real runs of ringsocket-bench (src/bench/driver.ts and its workers on the WebAssembly
// codec) against `ws` servers started here: every mode counts right with zero errors, and servers
// that corrupt, break the protocol, close early or are absent are caught and fail the run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { BenchResult } from '../src/bench/driver.ts';
import { bench, assertClean } from './helpers/bench.ts';
import { withDeadline } from './helpers/deadline.ts';
import { freePort } from './helpers/ports.ts';

type Behaviour = (wss: WebSocketServer, ws: WebSocket, data: RawData, isBinary: boolean, n: number) => void;

const echo: Behaviour = (_wss, ws, data, isBinary) => ws.send(data, { binary: isBinary });
const broadcast: Behaviour = (wss, _ws, data, isBinary) => { for (const c of wss.clients) c.send(data, { binary: isBinary }); };

async function server(behaviour: Behaviour): Promise<{ url: string; closeCodes: number[]; close(): Promise<void> }> {
  const closeCodes: number[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 1024 });
  await new Promise<void>((r) => wss.on('listening', () => r()));
  wss.on('connection', (ws) => {
    let n = 0;
    ws.on('error', () => {});
    ws.on('close', (code) => closeCodes.push(code));
    ws.on('message', (data, isBinary) => behaviour(wss, ws, data, isBinary, ++n));
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/bench`,
    closeCodes,
    close: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }),
  };
}


const Run = suite('ringsocket-bench runs');

Run('echo: counts verified echoes, one latency sample each, and the server CPU of --pid', async () => {
  const s = await server(echo);
  try {
    const r = await bench(['echo', s.url, '-c', '20', '-p', '2', '-s', '32', '-d', '0.5', '--pid', String(process.pid)]);
    assertClean(r);
    assert.equal(r.connections, { requested: 20, opened: 20, failed: 0 });
    assert.ok(r.messages.received > 100, `only ${r.messages.received} echoes`);
    assert.is(r.latencyUs.count, r.messages.received);
    assert.ok(r.latencyUs.p50 > 0 && r.latencyUs.p50 <= r.latencyUs.p99 && r.latencyUs.p99 <= r.latencyUs.max);
    assert.ok(Math.abs(r.messages.perSecond - r.messages.received / r.windowSeconds) < 1e-6);
    assert.ok(Math.abs(r.mbPerSecond - (r.messages.received * 32) / r.windowSeconds / 1e6) < 1e-6);
    // With 2 in flight per connection, echoes received lag messages sent by at most 40.
    assert.ok(r.messages.sent - r.messages.received <= 40 && r.messages.received - r.messages.sent <= 40);
    assert.ok(r.cpu.server !== null && r.cpu.server.seconds > 0);
    assert.equal(r.cpu.server!.pids, [process.pid]);
    assert.equal(r.cpu.servers.map((x) => [x.pid, x.seconds]), [[process.pid, r.cpu.server!.seconds]]);
    assert.ok(r.cpu.client.seconds > 0);
    assert.is(r.perServerCpuSecond, r.messages.received / r.cpu.server!.seconds);
  } finally {
    await s.close();
  }
});

Run('echo: 64 KiB binary payloads over two client threads', async () => {
  const s = await server(echo);
  try {
    const r = await bench(['echo', s.url, '-c', '4', '-s', '65536', '--binary', '--threads', '2', '-d', '0.4']);
    assertClean(r);
    assert.is(r.connections.opened, 4);
    assert.ok(r.messages.received > 10);
    assert.is(r.latencyUs.count, r.messages.received);
    assert.is(r.cpu.server, null);
    assert.is(r.perServerCpuSecond, null);
  } finally {
    await s.close();
  }
});

Run('echo over two servers: the connections dealt round-robin, each server\'s share reported', async () => {
  const a = await server(echo), b = await server(echo);
  try {
    const r = await bench(['echo', a.url, b.url, '-c', '5', '-d', '0.4', '--threads', '2']);
    assertClean(r);
    assert.equal(r.targets.map((t) => [t.url, t.connections]), [
      [a.url, { requested: 3, opened: 3, failed: 0 }],
      [b.url, { requested: 2, opened: 2, failed: 0 }],
    ]);
    for (const t of r.targets) {
      assert.ok(t.messages.received > 10, `${t.url}: ${t.messages.received} echoes`);
      assert.is(t.latencyUs.count, t.messages.received);
      // Every echo comes back to the connection that sent it: over the run, as many as were sent.
      assert.is(t.total.received, t.total.sent);
    }
    assert.is(r.targets[0].messages.received + r.targets[1].messages.received, r.messages.received);
  } finally {
    await a.close();
    await b.close();
  }
});

Run('broadcast: counts deliveries to every client and completed messages, closed loop', async () => {
  const s = await server(broadcast);
  try {
    const N = 30, senders = 3, window = 2;
    const r = await bench(['broadcast', s.url, '-c', String(N), '--senders', String(senders), '-p', String(window), '-s', '64', '--binary', '-d', '0.5']);
    assertClean(r);
    assert.is(r.connections.opened, N);
    assert.ok(r.completed !== null && r.completed.count > 10, `completed ${r.completed?.count}`);
    // Deliveries in the window are N per completed message, give or take the messages outstanding
    // at its edges (at most senders x window, each delivered to at most N clients).
    const slack = senders * window * N;
    assert.ok(Math.abs(r.messages.received - r.completed!.count * N) <= slack,
      `${r.messages.received} deliveries vs ${r.completed!.count} messages x ${N} clients`);
    assert.is(r.latencyUs.count, r.messages.received);
  } finally {
    await s.close();
  }
});

Run('broadcast: holds senders to their window across two client threads', async () => {
  const s = await server(broadcast);
  try {
    const r = await bench(['broadcast', s.url, '-c', '20', '--senders', '4', '-p', '1', '-s', '32', '-d', '0.5', '--threads', '2']);
    assertClean(r);
    assert.is(r.connections.opened, 20);
    assert.ok(r.completed !== null && r.completed.count > 10, `completed ${r.completed?.count}`);
    // Closed loop: a sender never has more than its window outstanding, so messages sent and
    // messages completed in the window differ by at most 4 senders x 1, plus what the other thread
    // sends between the two threads' end-of-window snapshots.
    assert.ok(Math.abs(r.messages.sent - r.completed!.count) <= 4 + 50, `sent ${r.messages.sent}, completed ${r.completed!.count}`);
    assert.is(r.latencyUs.count, r.messages.received);
  } finally {
    await s.close();
  }
});

Run('broadcast: keeps a fixed rate', async () => {
  const s = await server(broadcast);
  try {
    const r = await bench(['broadcast', s.url, '-c', '10', '--senders', '2', '--rate', '400', '-d', '1']);
    assertClean(r);
    const expected = 400 * r.windowSeconds;
    assert.ok(Math.abs(r.messages.sent - expected) <= expected * 0.25 + 10, `sent ${r.messages.sent}, expected about ${expected}`);
    assert.is(r.skipped, 0);
  } finally {
    await s.close();
  }
});

Run('connect: measures handshakes, then holds idle connections and reads the server memory', async () => {
  const s = await server(echo);
  try {
    const r = await bench(['connect', s.url, '-c', '300', '-p', '4', '-d', '0.4', '--pid', String(process.pid)]);
    assertClean(r);
    assert.ok(r.connect !== null);
    assert.ok(r.connect!.handshakes > 20, `only ${r.connect!.handshakes} handshakes`);
    assert.is(r.latencyUs.count, r.connect!.handshakes);
    assert.is(r.connect!.idle.connections, 300);
    assert.is(r.connections.opened, 300);
    assert.ok(r.connect!.idle.rssAfterBytes! > 0 && r.connect!.idle.bytesPerConnection !== null);
  } finally {
    await s.close();
  }
});

Run('counts a server that corrupts a payload byte as mismatches and fails the run', async () => {
  const s = await server((_w, ws, data, isBinary, n) => {
    const b = Buffer.from(data as Buffer);
    if (n % 10 === 0) b[b.length - 1] ^= 1;
    ws.send(b, { binary: isBinary });
  });
  try {
    const r = await bench(['echo', s.url, '-c', '5', '--binary', '-d', '0.4']);
    assert.ok(r.errors.mismatches > 0);
    await withDeadline((async () => { while (s.closeCodes.length < 5) await new Promise((w) => setTimeout(w, 10)); })(), 5000, 'server sees every close');
    assert.equal(s.closeCodes, [1000, 1000, 1000, 1000, 1000], 'the bench closes every connection cleanly at the end');
    assert.is(r.errors.total, r.errors.mismatches);
    assert.is(r.ok, false);
    assert.match(r.errorSamples[0], /^connection \d: echo \d+: byte pattern differs \(32 bytes\)$/);
  } finally {
    await s.close();
  }
});

Run('counts an echo that comes back with the wrong data kind as a mismatch', async () => {
  const s = await server((_w, ws, data, isBinary, n) => {
    if (n === 3) ws.send(data, { binary: !isBinary });
    else ws.send(data, { binary: isBinary });
  });
  try {
    const r = await bench(['echo', s.url, '-c', '1', '-d', '0.3']);
    assert.is(r.errors.mismatches, 1);
    assert.equal(r.errorSamples, ['connection 0: echo 2 came back as binary']);
    assert.is(r.ok, false);
  } finally {
    await s.close();
  }
});

Run('counts a protocol error when the server sends invalid UTF-8 in a text frame', async () => {
  const s = await server((_w, ws, data, isBinary, n) => {
    if (n === 5) {
      // A raw text frame with an invalid UTF-8 byte, straight on the socket.
      (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x81, 0x02, 0xc3, 0x28]));
      return;
    }
    ws.send(data, { binary: isBinary });
  });
  try {
    const r = await bench(['echo', s.url, '-c', '2', '-d', '0.3']);
    assert.is(r.errors.protocolErrors, 2);
    assert.is(r.errors.total, 2, 'the connection we drop after the error is not counted again');
    await withDeadline((async () => { while (s.closeCodes.length < 2) await new Promise((w) => setTimeout(w, 10)); })(), 5000, 'server sees both closes');
    assert.equal(s.closeCodes, [1007, 1007], 'the client closes with the close code of the error');
    assert.ok(r.errorSamples.some((e) => /protocol error RS_ERR_\w+ \(1007\)/.test(e)), r.errorSamples.join('\n'));
    assert.is(r.ok, false);
  } finally {
    await s.close();
  }
});

Run('counts connections the server closes early as unexpected closes, and their echoes as not lost', async () => {
  const s = await server((_w, ws, data, isBinary, n) => {
    if (n === 20) { ws.close(1001, 'bye'); return; }
    ws.send(data, { binary: isBinary });
  });
  try {
    const r = await bench(['echo', s.url, '-c', '3', '-d', '0.3']);
    assert.is(r.errors.unexpectedCloses, 3);
    assert.is(r.errors.lost, 0);
    assert.ok(r.errorSamples.includes('connection 1: unexpected close: server sent Close 1001 "bye"'), r.errorSamples.join('\n'));
    assert.is(r.ok, false);
  } finally {
    await s.close();
  }
});

Run('counts failed connects when nothing listens', async () => {
  const port = await freePort();
  const r = await bench(['echo', `ws://127.0.0.1:${port}/`, '-c', '3', '-d', '0.2']);
  assert.equal(r.connections, { requested: 3, opened: 0, failed: 3 });
  assert.is(r.errors.connectFailed, 3);
  assert.is(r.errorSamples[0], 'connection 0: connect failed: socket error: ECONNREFUSED');
  assert.is(r.ok, false);
});

Run.run();

const Cli = suite('ringsocket-bench exit status');
const bin = new URL('../bin/ringsocket-bench.mjs', import.meta.url).pathname;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return withDeadline(new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (b) => { stdout += b; });
    p.stderr.on('data', (b) => { stderr += b; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  }), 30000, `ringsocket-bench ${args.join(' ')}`);
}

Cli('exits 0 and prints one JSON object after a clean run', async () => {
  const s = await server(echo);
  try {
    const r = await cli(['echo', s.url, '-c', '3', '-d', '0.3', '--json']);
    assert.is(r.stderr, '');
    assert.is(r.code, 0);
    const j = JSON.parse(r.stdout) as BenchResult;
    assert.is(j.tool, 'ringsocket-bench');
    assert.is(j.ok, true);
    assert.is(j.connections.opened, 3);
  } finally {
    await s.close();
  }
});

Cli('exits 1 and shows the errors in the table when a payload comes back corrupted', async () => {
  const s = await server((_w, ws, data, isBinary, n) => {
    const b = Buffer.from(data as Buffer);
    if (n === 4) b[20] = 0x41;
    ws.send(b, { binary: isBinary });
  });
  try {
    const r = await cli(['echo', s.url, '-c', '1', '-d', '0.3']);
    assert.is(r.code, 1);
    assert.match(r.stdout, /ERRORS: 1: 1 mismatches, 0 protocol errors/);
    assert.match(r.stdout, /connection 0: echo 3: byte pattern differs \(32 bytes\)/);
  } finally {
    await s.close();
  }
});

Cli.run();
