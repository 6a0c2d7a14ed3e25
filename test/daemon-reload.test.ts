// SIGHUP (issue 12 part 3): the real daemon re-reads its config file and applies the live changes
// (log_level, allowed_origins, limits, certificates) without dropping a connection; a file with
// errors, or with a change that needs a restart, is refused as a whole and the running config
// stays. TLS certificates are made by openssl (as in daemon-tls.test.ts).
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type WebSocket from 'ws';
import { startDaemon, ECHO, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { selfSigned } from './helpers/certs.ts';
import { connectInbox, closed, upgradeRequest, type Inbox } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';

/** The config file the daemon logged at start ("config <path>"). */
function configPath(d: RunningDaemon): string {
  const m = d.output().match(/, config (\S+)/);
  if (!m) throw new Error(`no config path in the output:\n${d.output()}`);
  return m[1];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
/** Rewrites the daemon's config file with `edit`, sends SIGHUP, and waits for the reload's last line. */
async function reload(d: RunningDaemon, edit: (doc: Doc) => void | string): Promise<string> {
  const file = configPath(d);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Doc;
  const text = edit(doc);
  writeFileSync(file, typeof text === 'string' ? text : JSON.stringify(doc, null, 2));
  return hup(d);
}
/** SIGHUP, then the output it produced, up to its summary line. */
async function hup(d: RunningDaemon): Promise<string> {
  const from = d.output().length;
  d.proc.kill('SIGHUP');
  const end = /reload done[^\n]*\n|reload refused[^\n]*\n|reload: no change[^\n]*\n/;
  return withDeadline((async () => {
    for (;;) {
      const m = d.output().slice(from).match(end);
      if (m) return d.output().slice(from, from + m.index! + m[0].length);
      await new Promise((r) => setTimeout(r, 20));
    }
  })(), 10000, 'the reload\'s summary line');
}

/** The status code of a handshake (the connection is dropped after the response head). */
function handshakeStatus(port: number, extra: Record<string, string> = {}, head?: string): Promise<number> {
  return withDeadline(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(head ?? upgradeRequest(port, '/echo', extra)));
    s.on('data', (b) => {
      got += b.toString('latin1');
      const m = got.match(/^HTTP\/1\.1 (\d{3})/);
      if (m && got.includes('\r\n\r\n')) { s.destroy(); resolve(Number(m[1])); }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed without a status: ${JSON.stringify(got)}`)));
  }), 5000, 'handshake status');
}

/** Makes the worker log a debug line: a client that resets its connection mid-handshake. */
async function resetConnection(port: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write('GET /echo HTTP/1.1\r\n');
      setTimeout(() => { s.resetAndDestroy(); resolve(); }, 50);
    });
    s.on('error', () => {});
  });
  await new Promise((r) => setTimeout(r, 200));
}

async function echoes(ws: WebSocket, inbox: Inbox, text: string): Promise<void> {
  ws.send(text);
  assert.is((await inbox.next()).data.toString(), text, 'the open connection still echoes');
}

const OLD = 'https://old.example';
const NEW = 'https://new.example';

// ---------------------------------------------------------------------------------------------
const Live = suite<{ d: RunningDaemon; ws: WebSocket; inbox: Inbox }>('reload: live changes');

const live = daemonSuite(Live, async (ctx) => {
  ctx.d = await startDaemon({ apps: [{ ...ECHO, allowed_origins: [OLD] }], config: { worker_c: 2, log_level: 'notice' } });
  ({ ws: ctx.ws, inbox: ctx.inbox } = await connectInbox(ctx.d.url()));
}, 'starting the daemon and connecting a client');

Live('an unchanged file: "no change", the client keeps echoing', async ({ d, ws, inbox }) => {
  await echoes(ws, inbox, 'before');
  const out = await hup(d);
  assert.match(out, /notice main: SIGHUP: reloading the configuration/);
  assert.match(out, /notice main: reload: no change/);
  await echoes(ws, inbox, 'after');
});

Live('log_level: a debug line appears after the reload, not before', async ({ d, ws, inbox }) => {
  await resetConnection(d.port);
  assert.not.match(d.output(), / debug worker#/, 'no debug line at notice');
  const out = await reload(d, (doc) => { doc.log_level = 'debug'; });
  assert.match(out, /notice main: reload: applied \$\.log_level: "notice" -> "debug"\n/);
  assert.match(out, /notice main: reload done: 1 change applied \(3 of 3 threads answered\)\n/);
  const from = d.output().length;
  await resetConnection(d.port);
  await withDeadline((async () => {
    while (!/ debug worker#\d: socket [^\n]*ECONNRESET/.test(d.output().slice(from))) await new Promise((r) => setTimeout(r, 20));
  })(), 5000, 'a debug line from a worker');
  await echoes(ws, inbox, 'still here');
});

Live('allowed_origins: a newly allowed origin gets 101, a removed one 403; a limit changes too', async ({ d, ws, inbox }) => {
  assert.is(await handshakeStatus(d.port, { Origin: OLD }), 101);
  assert.is(await handshakeStatus(d.port, { Origin: NEW }), 403);
  const longHead = upgradeRequest(d.port, '/echo', { 'X-Pad': 'p'.repeat(400) });
  assert.is(await handshakeStatus(d.port, {}, longHead), 101);
  const out = await reload(d, (doc) => {
    doc.apps[0].endpoints[0].allowed_origins = [NEW];
    doc.max_http_head_size = 256;
  });
  assert.match(out, /reload: applied \$\.apps\[0\]\.endpoints\[0\]\.allowed_origins: \["https:\/\/old\.example"\] -> \["https:\/\/new\.example"\]/);
  assert.match(out, /reload: applied \$\.max_http_head_size: 8192 -> 256/);
  assert.match(out, /reload done: 2 changes applied \(3 of 3 threads answered\)/);
  // Both workers (SO_REUSEPORT spreads the connections): several tries each.
  for (let i = 0; i < 6; i++) {
    assert.is(await handshakeStatus(d.port, { Origin: NEW }), 101, 'newly allowed');
    assert.is(await handshakeStatus(d.port, { Origin: OLD }), 403, 'no longer allowed');
    assert.is(await handshakeStatus(d.port, {}, longHead), 431, 'the new max_http_head_size');
  }
  await echoes(ws, inbox, 'unaffected');
});

Live('a file with errors: every error logged with its path, the running config stays', async ({ d, ws, inbox }) => {
  const out = await reload(d, (doc) => {
    doc.idle_timout = 5;
    doc.ping_interval = 'often';
    doc.apps[0].endpoints[0].allowed_origins = [OLD];
  });
  assert.match(out, /error main: reload: \S+ringsocket\.json:\d+:\d+: \$\.idle_timout: unknown key "idle_timout"; did you mean "idle_timeout"\?/);
  assert.match(out, /error main: reload: \S+ringsocket\.json:\d+:\d+: \$\.ping_interval: /);
  assert.match(out, /error main: reload refused: 2 configuration errors; the running config stays\n/);
  assert.not.match(out, /applied/);
  for (let i = 0; i < 4; i++) {
    assert.is(await handshakeStatus(d.port, { Origin: NEW }), 101, 'the running origins');
    assert.is(await handshakeStatus(d.port, { Origin: OLD }), 403);
  }
  await echoes(ws, inbox, 'unaffected');
  // A file that cannot be parsed at all (then the one before it is put back, not reloaded).
  const before = readFileSync(configPath(d), 'utf8');
  const out2 = await reload(d, () => '{ "ports": [');
  writeFileSync(configPath(d), before);
  assert.match(out2, /error main: reload: \S+: \$[^\n]*: syntax error/);
  assert.match(out2, /reload refused: \d+ configuration errors?; the running config stays/);
  await echoes(ws, inbox, 'still unaffected');
});

Live('a change that needs a restart: logged, and nothing of the file applied', async ({ d, ws, inbox }) => {
  const out = await reload(d, (doc) => {
    delete doc.idle_timout;
    doc.ping_interval = 30;
    doc.apps[0].endpoints[0].allowed_origins = [NEW];
    doc.worker_c = 3;
    doc.log_level = 'notice';
    doc.max_http_head_size = 8192;
  });
  assert.match(out, /warning main: reload: \$\.worker_c: 2 -> 3 \(needs a restart: worker threads are started once; it sizes the shared memory, laid out once at start\)\n/);
  assert.match(out, /notice main: reload: not applied \(the reload is refused as a whole\): \$\.log_level: "debug" -> "notice"\n/);
  assert.match(out, /notice main: reload: not applied \(the reload is refused as a whole\): \$\.max_http_head_size: 256 -> 8192\n/);
  assert.match(out, /warning main: reload refused: 1 change needs a restart \(2 live changes held back with it\); the running config stays/);
  // Still debug, still 256.
  const from = d.output().length;
  await resetConnection(d.port);
  await withDeadline((async () => {
    while (!/ debug worker#/.test(d.output().slice(from))) await new Promise((r) => setTimeout(r, 20));
  })(), 5000, 'debug lines still on');
  assert.is(await handshakeStatus(d.port, {}, upgradeRequest(d.port, '/echo', { 'X-Pad': 'p'.repeat(400) })), 431);
  await echoes(ws, inbox, 'unaffected');
  // Undone, the file reloads.
  const out2 = await reload(d, (doc) => { doc.worker_c = 2; });
  assert.match(out2, /reload done: 2 changes applied/);
  assert.is(await handshakeStatus(d.port, {}, upgradeRequest(d.port, '/echo', { 'X-Pad': 'p'.repeat(400) })), 101);
});

Live('the client opened before the first SIGHUP kept its connection through all of them', async ({ d, ws, inbox }) => {
  for (let i = 0; i < 3; i++) {
    await hup(d);
    await echoes(ws, inbox, `hup ${i}`);
  }
  assert.not.match(d.output(), /closing with|1001|1011/);
  ws.close(1000);
  assert.is((await closed(ws)).code, 1000);
});

live.stopTest();

// ---------------------------------------------------------------------------------------------
const fingerprint = (pemFile: string) => new X509Certificate(readFileSync(pemFile)).fingerprint256;

/** The fingerprint of the certificate a new TLS connection is served (with SNI, or without). */
function servedFingerprint(port: number, servername?: string): Promise<string> {
  return withDeadline(new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
    s.once('secureConnect', () => { const f = s.getPeerCertificate().fingerprint256; s.destroy(); resolve(f); });
    s.once('error', reject);
  }), 5000, 'tls connect');
}

const Tls = suite<{ d: RunningDaemon; dir: string; key: string; cert: string; a: string; b: string }>('reload: certificates');

const tlsLife = daemonSuite(Tls, async (ctx) => {
  ctx.dir = tempDir('rs-reload-tls-');
  const a = selfSigned(ctx.dir, 'a', 'localhost');
  selfSigned(ctx.dir, 'b', 'localhost');
  // The files the config names: a's now, b's after the "renewal".
  ctx.key = join(ctx.dir, 'live.key');
  ctx.cert = join(ctx.dir, 'live.pem');
  copyFileSync(a.key, ctx.key);
  copyFileSync(a.cert, ctx.cert);
  ctx.a = fingerprint(join(ctx.dir, 'a.pem'));
  ctx.b = fingerprint(join(ctx.dir, 'b.pem'));
  ctx.d = await startDaemon({ tls: { key: ctx.key, cert: ctx.cert, host: 'localhost' }, config: { worker_c: 2 } });
}, 'making certificates with openssl and starting the daemon');

Tls('renewed files: new TLS connections get the new certificate, an old connection keeps working', async ({ d, dir, key, cert, a, b }) => {
  assert.is.not(a, b);
  assert.is(await servedFingerprint(d.port, 'localhost'), a);
  const { ws, inbox } = await connectInbox(d.url(), { rejectUnauthorized: false, servername: 'localhost' } as object);
  await echoes(ws, inbox, 'over the old certificate');
  copyFileSync(join(dir, 'b.key'), key);
  copyFileSync(join(dir, 'b.pem'), cert);
  const out = await hup(d);
  assert.match(out, /reload: applied \$\.certs\[0\]: the files loaded before -> new contents of \S+live\.pem or its key/);
  assert.match(out, /reload done: 1 change applied \(3 of 3 threads answered\)/);
  for (let i = 0; i < 4; i++) {
    assert.is(await servedFingerprint(d.port, 'localhost'), b, 'SNI: the new certificate');
    assert.is(await servedFingerprint(d.port), b, 'no SNI: the new default certificate');
  }
  await echoes(ws, inbox, 'the old connection keeps its session');
  const fresh = await connectInbox(d.url(), { rejectUnauthorized: false, servername: 'localhost' } as object);
  await echoes(fresh.ws, fresh.inbox, 'a new connection');
  fresh.ws.close(1000);
  ws.close(1000);
  assert.is((await closed(ws)).code, 1000);
});

Tls('a key that does not match its chain: refused, the running certificate stays', async ({ d, dir, key, b }) => {
  copyFileSync(join(dir, 'a.key'), key); // b's chain, a's key
  const out = await hup(d);
  assert.match(out, /error main: reload: [^\n]*\$\.certs\[0\]: [^\n]*do not make a TLS context/);
  assert.match(out, /reload refused: 1 configuration error; the running config stays/);
  assert.is(await servedFingerprint(d.port, 'localhost'), b);
  copyFileSync(join(dir, 'b.key'), key);
  assert.match(await hup(d), /reload: no change/, 'the files as they were loaded: no change');
});

tlsLife.stopTest();

const Early = suite('reload: a SIGHUP while the daemon starts');

Early('is kept and done once the daemon is ready, and the daemon is not ended by it', async () => {
  const d = await startDaemon({ apps: [{ name: 'slow', app_path: 'test/fixtures/apps/slow-init/app.ts', paths: ['/echo'] }], waitReady: false });
  try {
    // Logged by startDaemon, after the signal handlers are in place and before the app's init
    // (1.5 s) is done: a SIGHUP then is early.
    await d.waitFor(/info main: shared memory: /, 10_000);
    d.proc.kill('SIGHUP');
    await d.waitFor(/SIGHUP: the daemon is still starting; it reloads once it is ready/, 5_000);
    await d.waitFor(/ready: .*listening on/, 10_000);
    await d.waitFor(/reload: no change/, 5_000);
    const out = d.output();
    assert.ok(out.indexOf('reload: no change') > out.search(/ready: .*listening on/), 'the reload ran after the ready line');
    assert.is(d.proc.exitCode, null, 'still running');
  } finally {
    assert.is(await d.stop(), 0);
  }
});

Tls.run();
Live.run();
Early.run();
