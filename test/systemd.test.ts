// The systemd unit shipped in the package (systemd/ringsocket.service, issue 12 part 2): checked by
// `systemd-analyze verify` (.ci/run installs systemd when it is missing; without it this test fails
// and says so), its settings against the config's defaults, and the daemon's answer to SIGHUP
// (ExecReload) and its open-file limit check.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, startDaemon } from './helpers/daemon.ts';
import { assertExit } from './helpers/daemon-exit.ts';
import { GLOBAL_NUMBERS } from '../src/config/schema.ts';
import { FD_HEADROOM, fdLimitWarning, openFileLimit } from '../src/daemon/limits.ts';

const UNIT = join(root, 'systemd', 'ringsocket.service');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
/** Where the unit expects the command (npm's global prefix /usr). */
const INSTALLED_BIN = '/usr/bin/ringsocket';
const text = readFileSync(UNIT, 'utf8');

/** The unit's settings: key -> values in order (comments and sections left out). */
function settings(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('[')) continue;
    const i = t.indexOf('=');
    const k = t.slice(0, i), v = t.slice(i + 1);
    m.set(k, [...(m.get(k) ?? []), v]);
  }
  return m;
}

/**
 * `systemd-analyze verify` on a copy whose commands point at this checkout's bin (the installed
 * path does not exist here, and verify checks that commands are executable). Returns its output.
 */
function verify(unit: string): { status: number | null; output: string } {
  const dir = tempDir('rs-unit-');
  const file = join(dir, 'ringsocket.service');
  writeFileSync(file, unit.replaceAll(INSTALLED_BIN, join(root, 'bin', 'ringsocket.mjs')));
  const r = spawnSync(SYSTEMD_ANALYZE, ['verify', file], { encoding: 'utf8', timeout: 30000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${SYSTEMD_ANALYZE} is missing: install the systemd package (apt-get install systemd; .ci/run does)`);
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const Unit = suite('systemd unit');

Unit('systemd-analyze verify passes without a word', () => {
  const r = verify(text);
  assert.is(r.output, '');
  assert.is(r.status, 0);
});

Unit('the check bites: a misspelt key and a bad value are reported', () => {
  const r = verify(text.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes').replace('PrivateTmp=yes', 'PrivateTmp=maybe'));
  // (its exit status stays 0: the output is what tells)
  assert.match(r.output, /Unknown key '?NoNewPrivilege'? in section \[Service\]/);
  assert.match(r.output, /Failed to parse boolean value, ignoring: maybe/);
});

Unit('runs the installed command on /etc/ringsocket.json, reloads with SIGHUP, stops in time', () => {
  const s = settings(text);
  assert.equal(s.get('ExecStart'), [`${INSTALLED_BIN} /etc/ringsocket.json`]);
  assert.equal(s.get('ExecStartPre'), [`${INSTALLED_BIN} --check /etc/ringsocket.json`]);
  assert.equal(s.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  assert.equal(s.get('KillSignal'), ['SIGTERM']);
  assert.ok(Number(s.get('TimeoutStopSec')![0]) > GLOBAL_NUMBERS.shutdown_wait_ws.default, 'TimeoutStopSec > shutdown_wait_ws');
  assert.equal(s.get('Restart'), ['on-failure']);
  assert.equal(s.get('WantedBy'), ['multi-user.target']);
});

Unit('LimitNOFILE covers the default fd_alloc_c and the headroom', () => {
  const limit = Number(settings(text).get('LimitNOFILE')![0]);
  assert.ok(limit >= GLOBAL_NUMBERS.fd_alloc_c.default + FD_HEADROOM, `LimitNOFILE ${limit}`);
  assert.match(text, new RegExp(`covers fd_alloc_c up to ${limit - FD_HEADROOM}\\b`));
});

Unit('starts as root and lets the daemon drop it (no User=), hardened', () => {
  const s = settings(text);
  assert.not.ok(s.has('User'), 'root + "user" in the config, not User=');
  assert.not.ok(s.has('AmbientCapabilities'));
  for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes'],
    ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID']] as const) {
    assert.equal(s.get(k), [v], k);
  }
  assert.not.ok(s.has('MemoryDenyWriteExecute'), 'V8 needs writable executable memory');
});

Unit('is in the package', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('systemd/'), pkg.files.join(', '));
});

Unit('the open-file limit check', () => {
  const limits = (n: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${n}                 524288               files\n`;
  assert.is(openFileLimit(limits('1024')), 1024);
  assert.is(openFileLimit(limits('unlimited')), Infinity);
  assert.is(openFileLimit('nothing'), null);
  assert.ok((openFileLimit() ?? 0) > 0, 'reads /proc/self/limits');
  assert.is(fdLimitWarning(10000, 11024), null);
  assert.is(fdLimitWarning(10000, null), null);
  assert.is(fdLimitWarning(10000, 1024),
    'the open-file limit is 1024, below fd_alloc_c (10000) + 1024: connections past about 0 will fail to be accepted; ' +
    'raise it (ulimit -n 11024, or LimitNOFILE=11024 in the systemd unit)');
});

Unit('SIGHUP (ExecReload) re-reads the config and leaves the daemon serving (daemon-reload.test.ts has the rest)', async () => {
  const d = await startDaemon({});
  d.proc.kill('SIGHUP');
  await d.waitFor(/notice main: reload: no change/);
  assert.is(d.proc.exitCode, null, 'still running');
  assertExit(d, await d.stop(), 0);
});

Unit.run();
