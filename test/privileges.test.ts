// Privilege drop (src/daemon/privileges.ts, issue 12 part 1). The daemon tests run as root, as CI
// does: started as root with `user`, the daemon binds a port below 1024 and reads a TLS key only
// root can read, then every thread of the process runs as that user, with its groups and no
// capabilities. Not root: these tests fail and say why (they never skip).
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { startDaemon, root, type RunningDaemon } from './helpers/daemon.ts';
import { selfSigned } from './helpers/certs.ts';
import { daemonSuite, guardSetup, assertExit } from './helpers/daemon-exit.ts';
import { connectInbox, closed, connect } from './helpers/client.ts';
import { withDeadline } from './helpers/deadline.ts';
import {
  resolveRunAs, planPrivileges, switchUser, parseStatus, credentialProblems, threadCredentials, noCapabilities,
  type AccountLookup, type CredentialCalls,
} from '../src/daemon/privileges.ts';

// ----------------------------------------------------------------------------------------------
// The parts, without root

const fakeAccounts: AccountLookup = {
  user: (ref) => (ref === 'alice' || ref === 1001 ? { name: 'alice', uid: 1001, gid: 1001 } : null),
  group: (ref) => (ref === 'alice' || ref === 1001 ? { name: 'alice', gid: 1001 } : ref === 'web' || ref === 33 ? { name: 'web', gid: 33 } : null),
};

const Parts = suite('privileges: planning and checking');

Parts('resolves a user by name or uid, with its primary group or the one given', () => {
  assert.equal(resolveRunAs('alice', null, fakeAccounts), { user: 'alice (uid 1001)', group: 'alice (gid 1001)', uid: 1001, gid: 1001, initgroupsName: 'alice' });
  assert.equal(resolveRunAs(1001, 'web', fakeAccounts), { user: 'alice (uid 1001)', group: 'web (gid 33)', uid: 1001, gid: 33, initgroupsName: 'alice' });
  // A uid without an entry: only with a group, and only that group (no initgroups).
  assert.equal(resolveRunAs(2000, 33, fakeAccounts), { user: 'uid 2000', group: 'web (gid 33)', uid: 2000, gid: 33, initgroupsName: null });
  assert.equal(resolveRunAs(2000, 4000, fakeAccounts), { user: 'uid 2000', group: '4000 (gid 4000)', uid: 2000, gid: 4000, initgroupsName: null });
});

Parts('a user or group that does not exist is an error naming it', () => {
  assert.equal(resolveRunAs('bob', null, fakeAccounts), {
    key: 'user', error: 'user "bob" does not exist on this machine (create it, e.g. useradd --system --no-create-home --shell /usr/sbin/nologin bob)',
  });
  assert.equal(resolveRunAs('alice', 'staff', fakeAccounts), { key: 'group', error: 'group "staff" does not exist on this machine' });
  assert.equal(resolveRunAs(2000, null, fakeAccounts), { key: 'group', error: 'uid 2000 has no passwd entry, so it has no primary group: set "group" too' });
});

Parts('plans: switch as root with a user; warn as root without; a notice when not root', () => {
  assert.equal(planPrivileges({ user: 'alice', group: null }, 0, fakeAccounts).kind, 'switch');
  assert.equal(planPrivileges({ user: 'bob', group: null }, 0, fakeAccounts).kind, 'error');
  const rootNoUser = planPrivileges({ user: null, group: null }, 0, fakeAccounts);
  assert.equal(rootNoUser.kind === 'keep' && rootNoUser.level, 'warning');
  assert.match((rootNoUser as { message: string }).message, /^running as root: set "user"/);
  const notRoot = planPrivileges({ user: 'alice', group: null }, 1001, fakeAccounts);
  assert.equal(notRoot, { kind: 'keep', level: 'notice', message: '"user" is ignored: not started as root (uid 1001), so the daemon keeps running as uid 1001' });
  // Not root: the user is not even looked up (a missing one does not stop the start).
  assert.equal(planPrivileges({ user: 'bob', group: null }, 1001, fakeAccounts).kind, 'keep');
  const rootUser = planPrivileges({ user: 0, group: null }, 0, { user: () => ({ name: 'root', uid: 0, gid: 0 }), group: () => ({ name: 'root', gid: 0 }) });
  assert.equal(rootUser, { kind: 'keep', level: 'warning', message: '"user" is root: the daemon keeps every privilege' });
});

Parts('switches groups, then gid, then uid', () => {
  const calls: string[] = [];
  const rec: CredentialCalls = {
    initgroups: (u, g) => calls.push(`initgroups ${u} ${g}`),
    setgroups: (g) => calls.push(`setgroups ${g.join(',')}`),
    setgid: (g) => calls.push(`setgid ${g}`),
    setuid: (u) => calls.push(`setuid ${u}`),
  };
  switchUser({ user: 'alice', group: 'web', uid: 1001, gid: 33, initgroupsName: 'alice' }, rec);
  switchUser({ user: 'uid 2000', group: 'web', uid: 2000, gid: 33, initgroupsName: null }, rec);
  assert.equal(calls, ['initgroups alice 33', 'setgid 33', 'setuid 1001', 'setgroups 33', 'setgid 33', 'setuid 2000']);
});

Parts('reads a status file and finds every thread that kept another id, group or a capability', () => {
  const status = (uid: number, caps = '0000000000000000', groups = '33 1001') =>
    `Name:\tnode\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t33\t33\t33\t33\nGroups:\t${groups} \nCapPrm:\t${caps}\nCapEff:\t${caps}\nCapAmb:\t0000000000000000\n`;
  const ok = parseStatus(7, status(1001));
  assert.equal(ok, { tid: 7, name: 'node', uids: [1001, 1001, 1001, 1001], gids: [33, 33, 33, 33], groups: [33, 1001], capPrm: '0000000000000000', capEff: '0000000000000000', capAmb: '0000000000000000' });
  assert.equal(credentialProblems([ok], { uid: 1001, gid: 33 }, [1001, 33]), []);
  const bad = [parseStatus(8, status(0)), parseStatus(9, status(1001, '0000000000000400')), parseStatus(10, status(1001, '0000000000000000', '33'))];
  assert.equal(credentialProblems(bad, { uid: 1001, gid: 33 }, [33, 1001]), [
    'thread 8 (node): uids 0 0 0 0, expected 1001',
    'thread 9 (node): CapPrm 0000000000000400, expected none',
    'thread 9 (node): CapEff 0000000000000400, expected none',
    'thread 10 (node): groups 33, expected 33 1001',
  ]);
  assert.ok(noCapabilities('0000000000000000'));
  assert.not.ok(noCapabilities(''));
  assert.ok(threadCredentials().length >= 1, 'reads this process');
});

Parts.run();

// ----------------------------------------------------------------------------------------------
// The real daemon, as root

const isRoot = process.geteuid?.() === 0;
const NOT_ROOT = 'these tests must run as root (as CI does): they bind a port below 1024 and switch users; ' +
  `this process runs as uid ${process.geteuid?.()}`;
/** Ports tried for a listener below 1024. */
const LOW_PORT_FIRST = 900, LOW_PORT_LAST = 1000;
const LOW_PORT_LIMIT = 1024;

function requireRoot(): void {
  if (!isRoot) throw new Error(NOT_ROOT);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freeLowPort(): Promise<number> {
  for (let p = LOW_PORT_FIRST; p <= LOW_PORT_LAST; p++) if (await canListen(p)) return p;
  throw new Error(`no free port in ${LOW_PORT_FIRST}-${LOW_PORT_LAST}`);
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (e.code === 'ENOENT') throw new Error(`this test needs ${cmd}, and there is none on the PATH`);
    throw new Error(`${cmd} ${args.join(' ')} failed (exit status ${e.status ?? e.code}): ${e.stderr?.trim() || e.message}`);
  }
}

/** A throwaway system user with a throwaway supplementary group; removed when the tests end. */
interface TestAccount { user: string; group: string; uid: number; gid: number; extraGid: number }
const suffix = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const TEST_USER = `rs-test-${suffix}`;
const TEST_GROUP = `rs-tgrp-${suffix}`;
let accountMade = false;

function makeAccount(): TestAccount {
  run('groupadd', ['--system', TEST_GROUP]);
  accountMade = true;
  run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', '--groups', TEST_GROUP, TEST_USER]);
  const id = (flag: string, name = TEST_USER) => Number(run('id', [flag, name]).trim());
  const extraGid = Number(run('getent', ['group', TEST_GROUP]).split(':')[2]);
  return { user: TEST_USER, group: TEST_USER, uid: id('-u'), gid: id('-g'), extraGid };
}

function removeAccount(): void {
  if (!accountMade) return;
  accountMade = false;
  for (const [cmd, name] of [['userdel', TEST_USER], ['groupdel', TEST_GROUP]] as const) {
    try {
      execFileSync(cmd, [name], { stdio: 'ignore' });
    } catch { /* already gone (userdel removes the user's own group) */ }
  }
}
process.on('exit', removeAccount);

/** A certificate whose key only root may read (mode 0600, the test runs as root). */
function rootOnlyCert(dir: string, cn: string): { key: string; cert: string } {
  const c = selfSigned(dir, cn);
  chmodSync(c.key, 0o600);
  return c;
}

interface Ctx { d?: RunningDaemon; account: TestAccount; ca: Buffer; port: number; key: string }

const Drop = suite<Ctx>('privileges: the daemon started as root');

const drop = daemonSuite(Drop, async (ctx) => {
  requireRoot();
  ctx.account = makeAccount();
  const dir = tempDir('rs-priv-');
  const { key, cert } = rootOnlyCert(dir, 'localhost');
  ctx.key = key;
  ctx.ca = readFileSync(cert);
  ctx.port = await freeLowPort();
  ctx.d = await startDaemon({
    port: ctx.port,
    tls: { key, cert, host: 'localhost' },
    config: { user: ctx.account.user, worker_c: 2 },
  });
}, 'creating a user, a root-only key and starting the daemon as root with "user"');

Drop('the set-up is what the test means: port below 1024, key readable by root only, a user with a supplementary group', ({ account, port, key }) => {
  assert.ok(port < LOW_PORT_LIMIT, `port ${port}`);
  const st = statSync(key);
  assert.is(st.mode & 0o777, 0o600, 'key mode');
  assert.is(st.uid, 0, 'key owner');
  assert.ok(account.uid > 0 && account.gid > 0 && account.extraGid !== account.gid, JSON.stringify(account));
});

Drop('a wss:// client on the low port echoes', async ({ d, ca }) => {
  const { ws, inbox } = await connectInbox(d!.url(), { ca, servername: 'localhost', host: 'localhost' } as object);
  ws.send('as an unprivileged user');
  assert.is((await inbox.next()).data.toString(), 'as an unprivileged user');
  ws.send(Buffer.alloc(100000, 3));
  assert.is((await inbox.next()).data.length, 100000);
  ws.close(1000);
  assert.is((await closed(ws)).code, 1000);
});

Drop('every thread runs as the user, with its groups and no capabilities', ({ d, account }) => {
  const threads = threadCredentials(d!.proc.pid!);
  // main, 2 workers, 1 app, and Node's and V8's own threads
  assert.ok(threads.length >= 4, `${threads.length} threads`);
  for (const t of threads) {
    assert.equal(t.uids, [account.uid, account.uid, account.uid, account.uid], `Uid of thread ${t.tid} (${t.name})`);
    assert.equal(t.gids, [account.gid, account.gid, account.gid, account.gid], `Gid of thread ${t.tid} (${t.name})`);
    assert.equal([...t.groups].sort((a, b) => a - b), [account.gid, account.extraGid].sort((a, b) => a - b), `Groups of thread ${t.tid} (${t.name})`);
    assert.ok(noCapabilities(t.capEff), `CapEff of thread ${t.tid}: ${t.capEff}`);
    assert.ok(noCapabilities(t.capPrm), `CapPrm of thread ${t.tid}: ${t.capPrm}`);
  }
  assert.equal(credentialProblems(threads, account, [account.gid, account.extraGid]), []);
});

Drop('the log says so, after the listeners and before the ready line', ({ d, account }) => {
  const out = d!.output();
  const switched = out.indexOf(`now running as user ${account.user} (uid ${account.uid}), group ${account.group} (gid ${account.gid})`);
  assert.ok(switched > 0, out);
  assert.ok(switched < out.search(/ready: .*listening on wss:\/\//), 'before ready');
  assert.match(out, /threads checked, no capabilities left/);
  assert.not.match(out, /running as root/);
});

Drop('SIGHUP as the user: the root-only key and chain are kept as loaded (a warning each), the other changes apply, TLS still serves', async ({ d, ca }) => {
  // The config must be readable by the user (the helper writes it into a 0700 folder); the
  // certificate's folder stays root-only.
  chmodSync(dirname(d!.configPath), 0o755);
  chmodSync(d!.configPath, 0o644);
  const doc = JSON.parse(readFileSync(d!.configPath, 'utf8')) as { log_level?: string };
  doc.log_level = 'debug';
  writeFileSync(d!.configPath, JSON.stringify(doc, null, 2));
  d!.proc.kill('SIGHUP');
  await d!.waitFor(/reload done: 1 change applied/, 10_000);
  const out = d!.output();
  assert.match(out, /reload: applied \$\.log_level: "?info"? -> "?debug"?/);
  assert.match(out, /reload: \$\.certs\[0\]\.privkey_path: \S+ is not readable by this user: the contents loaded before stay in use/);
  assert.not.match(out, /reload refused/);
  const { ws, inbox } = await connectInbox(d!.url(), { ca, servername: 'localhost', host: 'localhost' } as object);
  ws.send('after the reload');
  assert.is((await inbox.next()).data.toString(), 'after the reload');
  ws.close(1000);
  await closed(ws);
});

Drop('SIGHUP as the user after a renewal whose chain the user may read but whose new key it may not: the old pair stays, the reload applies', async ({ d, ca, key }) => {
  // The chain is readable by the user now, the key (0600, root) still is not. Both are replaced by
  // a new pair: the new chain with the kept old key makes no TLS context, which refused every
  // reload (even of log_level) until a restart.
  const certPath = join(dirname(key), 'localhost.pem');
  const renewed = rootOnlyCert(tempDir('rs-priv-renew-'), 'localhost');
  writeFileSync(key, readFileSync(renewed.key));
  chmodSync(key, 0o600);
  writeFileSync(certPath, readFileSync(renewed.cert));
  chmodSync(certPath, 0o644);
  chmodSync(dirname(key), 0o755);
  assert.not.ok(readFileSync(certPath).equals(ca), 'the chain was renewed');
  const doc = JSON.parse(readFileSync(d!.configPath, 'utf8')) as { log_level?: string };
  doc.log_level = 'info';
  writeFileSync(d!.configPath, JSON.stringify(doc, null, 2));
  const from = d!.output().length;
  d!.proc.kill('SIGHUP');
  await withDeadline((async () => {
    while (!/reload done|reload refused/.test(d!.output().slice(from))) await new Promise((r) => setTimeout(r, 20));
  })(), 10_000, 'the reload\'s summary line');
  const out = d!.output().slice(from);
  assert.not.match(out, /reload refused/);
  assert.match(out, /reload done: 1 change applied/);
  assert.match(out, /reload: applied \$\.log_level: "?debug"? -> "?info"?/);
  assert.match(out, /reload: \$\.certs\[0\]: \S+ and \S+ no longer match \(one was renewed, the other is not readable by this user\): the key and chain loaded before stay in use/);
  // The old certificate (the client trusts only it) is still served.
  const { ws, inbox } = await connectInbox(d!.url(), { ca, servername: 'localhost', host: 'localhost' } as object);
  ws.send('old pair');
  assert.is((await inbox.next()).data.toString(), 'old pair');
  ws.close(1000);
  await closed(ws);
});

drop.stopTest({ after: () => removeAccount() });

Drop.run();

// ----------------------------------------------------------------------------------------------

const Refuse = suite<{ port: number }>('privileges: a user that does not exist');
guardSetup(Refuse, 'checking for root', () => requireRoot());

Refuse('exit status 1 with a clear message, and nothing listens', async (ctx) => {
  ctx.port = await freeLowPort();
  const d = await startDaemon({ port: ctx.port, config: { user: `rs-no-such-${suffix}` }, waitReady: false });
  const code = await withDeadline(new Promise<number | null>((resolve) => {
    if (d.proc.exitCode !== null) resolve(d.proc.exitCode);
    else d.proc.once('close', (c) => resolve(c));
  }), 20000, 'the daemon exits');
  assertExit(d, code, 1, 'with a user that does not exist');
  assert.match(d.output(), new RegExp(`error main: cannot start: user "rs-no-such-${suffix}" does not exist on this machine`));
  assert.not.match(d.output(), /ready:|shared memory/);
  assert.ok(await canListen(ctx.port), 'the port is free: nothing was bound');
});

Refuse('root without "user": a warning', async () => {
  const d = await startDaemon({});
  await d.stop();
  assert.match(d.output(), /warning main: running as root: set "user" in the config/);
});

Refuse('not root: "user" is ignored with a notice', async () => {
  // The daemon started as an unprivileged user (nobody) from a config it can read.
  const dir = tempDir('rs-priv-nonroot-');
  chmodSync(dir, 0o755);
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const file = join(dir, 'ringsocket.json');
  writeFileSync(file, JSON.stringify({
    user: 'root', worker_c: 1,
    ports: [{ port_number: port, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
    apps: [{ name: 'echo', app_path: join(root, 'apps/echo/app.ts'), endpoints: [{ endpoint_id: 1, url: `ws://127.0.0.1:${port}/echo` }] }],
  }));
  chmodSync(file, 0o644);
  const nobody = Number(run('id', ['-u', 'nobody']).trim());
  const nogroup = Number(run('id', ['-g', 'nobody']).trim());
  const proc = spawn(process.execPath, [join(root, 'bin', 'ringsocket.mjs'), file], { cwd: '/', uid: nobody, gid: nogroup, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', (b) => { out += b; });
  const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
  try {
    await withDeadline(new Promise<void>((resolve, reject) => {
      const t = setInterval(() => { if (/ready: /.test(out)) { clearInterval(t); resolve(); } }, 50);
      void exited.then(() => { clearInterval(t); reject(new Error(`exited early:\n${out}`)); });
    }), 20000, 'ready');
  } finally {
    proc.kill('SIGTERM');
  }
  assert.is(await exited, 0, out);
  assert.match(out, new RegExp(`notice main: "user" is ignored: not started as root \\(uid ${nobody}\\)`));
});

Refuse.run();

// ----------------------------------------------------------------------------------------------
// The start order: listeners first, apps next, clients last (docs/design.md, "Start order")

const Order = suite('start order: a client that connects before the apps are up waits');

function tcpReachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

Order('the client is served only after the ready line, and then normally', async () => {
  const d = await startDaemon({ apps: [{ name: 'slow', app_path: 'test/fixtures/apps/slow-init/app.ts', paths: ['/echo'] }], waitReady: false });
  try {
    await withDeadline((async () => { while (!(await tcpReachable(d.port))) await new Promise((r) => setTimeout(r, 20)); })(), 15000, 'the listener');
    assert.not.match(d.output(), /ready: /, 'the listener is up before the app');
    const ws = await connect(d.url());
    const openedAt = Date.now();
    // The ready line's time (written before the workers are told to serve) is not after the open.
    const ready = await d.waitFor(/\S+ notice main: ready: /, 5000);
    const readyAt = Date.parse(ready.split(' ')[0]);
    assert.ok(readyAt <= openedAt, `ready at ${new Date(readyAt).toISOString()}, the client was served at ${new Date(openedAt).toISOString()}`);
    const got = new Promise<string>((resolve) => ws.once('message', (b) => resolve(String(b))));
    ws.send('early bird');
    assert.is(await withDeadline(got, 5000, 'echo'), 'early bird');
    ws.close(1000);
    await closed(ws);
  } finally {
    assertExit(d, await d.stop(), 0);
  }
});

Order.run();
