// The `ringsocket` command: --help, --version, --check, config lookup, errors, signals, and the
// Node version gate. Runs bin/ringsocket.mjs (and, for the daemon lifecycle, main() with a fake
// daemon module) in child processes.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDeadline, sleep } from './helpers/deadline.ts';
import { DUPLICATE_SIGNAL_MS } from '../src/cli/main.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'ringsocket.mjs');
const node = join(root, 'node_modules', '.bin', 'node');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

const dir = tempDir('rs-cli-');
writeFileSync(join(dir, 'app.ts'), 'export default {};\n');
const good = join(dir, 'good.json');
writeFileSync(good, JSON.stringify({
  log_level: 'info',
  worker_c: 1,
  ports: [{ port_number: 8080, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
  apps: [{ name: 'echo', app_path: 'app.ts', endpoints: [{ endpoint_id: 1, url: 'ws://127.0.0.1:8080/echo' }] }],
}));
const bad = join(dir, 'bad.json');
writeFileSync(bad, '{\n  "worker_c": "many",\n  "ports": [{ "port_number": 8080, "is_unencrypted": true }],\n' +
  '  "apps": [{ "name": "echo", "app_path": "app.ts", "endpoints": [{ "endpoint_id": 1, "url": "ws://127.0.0.1:9999/" }] }],\n  "ping_intervall": 1\n}\n');

interface Run { code: number | null; stdout: string; stderr: string }

function run(args: string[], opts: { cwd?: string; exe?: string; script?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return withDeadline(new Promise<Run>((resolve) => {
    const p = spawn(opts.exe ?? node, [opts.script ?? bin, ...args], { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b; });
    p.stderr.on('data', (b: Buffer) => { stderr += b; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  }), 15000, `ringsocket ${args.join(' ')}`);
}

const Cli = suite('ringsocket command');

Cli('prints the version from package.json', async () => {
  assert.equal(await run(['--version']), { code: 0, stdout: `ringsocket ${version}\n`, stderr: '' });
  assert.equal((await run(['-v'])).stdout, `ringsocket ${version}\n`);
});

Cli('prints the usage with --help', async () => {
  const r = await run(['--help']);
  assert.is(r.code, 0, `exit status; stderr:\n${r.stderr}`);
  assert.is(r.stderr, '');
  assert.match(r.stdout, /^Usage: ringsocket \[options\] \[config-path\]\n/);
  for (const opt of ['--check', '--help', '--version', './ringsocket.json', '/etc/ringsocket.json', 'SIGTERM']) assert.ok(r.stdout.includes(opt), opt);
});

Cli('refuses an unknown option and a second path with status 2', async () => {
  assert.equal(await run(['--frobnicate']), { code: 2, stdout: '', stderr: 'ringsocket: unknown option --frobnicate\nTry "ringsocket --help".\n' });
  assert.equal(await run([good, bad]), { code: 2, stdout: '', stderr: `ringsocket: more than one config path given (${good}, ${bad})\nTry "ringsocket --help".\n` });
});

Cli('--check prints "config OK: <path>" and exits 0 for a valid config', async () => {
  assert.equal(await run(['--check', good]), { code: 0, stdout: `config OK: ${good}\n`, stderr: '' });
});

Cli('--check prints every error with its position and exits 1', async () => {
  const r = await run([bad, '--check']);
  assert.is(r.code, 1, `exit status; stderr:\n${r.stderr}`);
  assert.is(r.stdout, '');
  assert.is(r.stderr, [
    `ringsocket: ${bad}: 3 configuration errors:`,
    `${bad}:2:15: $.worker_c: must be an integer from 0 to 255, found "many"`,
    `${bad}:4:93: $.apps[0].endpoints[0].url: the port 9999 is not configured in $.ports (configured: 8080), found "ws://127.0.0.1:9999/"`,
    `${bad}:5:3: $.ping_intervall: unknown key "ping_intervall"; did you mean "ping_interval"?`,
    '',
  ].join('\n'));
});

Cli('--check prints warnings on stderr and still passes', async () => {
  const warn = join(dir, 'warn.json');
  writeFileSync(warn, readFileSync(good, 'utf8').replace('{', '{"epoll_buf_elem_c": 50,'));
  const r = await run(['--check', warn]);
  assert.equal(r, {
    code: 0, stdout: `config OK: ${warn}\n`,
    stderr: `warning: ${warn}:1:22: $.epoll_buf_elem_c: has no effect: libuv runs the event loop; there is no epoll event buffer to size\n`,
  });
});

Cli('exits 1 with every error when started with an invalid config', async () => {
  const r = await run([bad]);
  assert.is(r.code, 1, `exit status; stderr:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^ringsocket: ${bad}: 3 configuration errors:\n`));
  assert.is(r.stderr.split('\n').length, 5);
});

Cli('reports a config file that does not exist', async () => {
  const missing = join(dir, 'nope.json');
  assert.equal(await run(['--check', missing]), {
    code: 1, stdout: '',
    stderr: `ringsocket: ${missing}: 1 configuration error:\n${missing}: $: cannot read the configuration file: no such file\n`,
  });
});

Cli('uses ./ringsocket.json when no path is given', async () => {
  const cwd = tempDir('rs-cli-cwd-');
  writeFileSync(join(cwd, 'app.ts'), 'export default {};\n');
  writeFileSync(join(cwd, 'ringsocket.json'), readFileSync(good, 'utf8'));
  assert.equal(await run(['--check'], { cwd }), { code: 0, stdout: `config OK: ${join(cwd, 'ringsocket.json')}\n`, stderr: '' });
});

// Tests that only some machines can run are registered with uvu's skip (decided here, before the
// run), so test/run.ts counts them as skipped; a note says why.
function onlyIf(why: string | null): (name: string, test: () => Promise<void>) => void {
  if (why === null) return Cli;
  console.log(`  note: skipped: ${why}`);
  return Cli.skip;
}

onlyIf(existsSync('/etc/ringsocket.json') ? '/etc/ringsocket.json exists here, so the "no config found" case cannot happen' : null)(
  'says which paths it tried when no path is given and no config exists', async () => {
    const empty = tempDir('rs-cli-empty-');
    assert.equal(await run(['--check'], { cwd: empty }), {
      code: 1, stdout: '', stderr: 'ringsocket: no config path given, and none of ./ringsocket.json, /etc/ringsocket.json exists\n',
    });
  });

const sysNode = '/usr/bin/node';
const sysVersion = existsSync(sysNode) ? spawnSync(sysNode, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
const [sysMajor, sysMinor] = sysVersion.replace(/^v/, '').split('.').map(Number);
const sysTooOld = sysVersion !== '' && (sysMajor < 22 || (sysMajor === 22 && sysMinor < 12));

onlyIf(sysTooOld ? null : `${sysNode} is ${sysVersion || 'missing'}, not a Node older than 22.12 to try the version gate with`)(
  'prints one clear line and exits 1 on the system Node when it is older than 22.12', async () => {
    const r = await run(['--version'], { exe: sysNode });
    assert.is(r.code, 1, `exit status; stderr:\n${r.stderr}`);
    assert.is(r.stdout, '');
    assert.is(r.stderr.split('\n').filter(Boolean).length, 1, 'exactly one line');
    assert.is(r.stderr, `ringsocket: Node ${sysVersion.slice(1)} is too old; Node >= 22.12 is required (SO_REUSEPORT in worker threads). ` +
      'Run it through npm (npm start / npx ringsocket), which uses the bundled node@24, or install Node 24.\n');
  });

// ---------------------------------------------------------------------------------------------
// The daemon lifecycle, with a fake daemon module injected through main()'s deps.

const wrapper = join(dir, 'fake-daemon-cli.mjs');
writeFileSync(wrapper, `
import { main } from ${JSON.stringify(new URL('../src/cli/main.ts', import.meta.url).href)};
const mode = process.env.FAKE_DAEMON;
const keepAlive = setInterval(() => {}, 1000);
const fake = {
  async startDaemon(config, logger) {
    logger.notice('fake: starting with ' + config.worker_c + ' worker(s), level ' + logger.level);
    if (mode === 'throw') throw new Error('listen EADDRINUSE 127.0.0.1:8080');
    if (mode === 'slow') await new Promise((r) => setTimeout(r, 700));
    let finish;
    const done = new Promise((r) => { finish = r; });
    logger.notice('fake: started');
    return {
      async stop(reason) {
        logger.notice('fake: stop(' + reason + ')');
        if (mode !== 'hang') setTimeout(() => { clearInterval(keepAlive); finish(mode === 'exit3' ? 3 : 0); }, 50);
      },
      done,
    };
  },
};
const importDaemon = mode === 'missing'
  ? async () => { const e = new Error("Cannot find module '/x/src/daemon/main.ts' imported from /x/src/cli/main.ts"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }
  : async () => fake;
await main(process.argv.slice(2), { importDaemon });
clearInterval(keepAlive);
`);

interface Live { proc: ReturnType<typeof spawn>; err(): string; waitFor(re: RegExp): Promise<void>; exit: Promise<number | null> }

function start(mode: string, args: string[] = [good]): Live {
  const proc = spawn(node, [wrapper, ...args], { cwd: root, env: { ...process.env, FAKE_DAEMON: mode } });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  proc.stderr!.on('data', (b: Buffer) => {
    err += b;
    for (const w of [...waiters]) if (w.re.test(err)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  });
  const exit = withDeadline(new Promise<number | null>((r) => proc.on('close', (code) => r(code))), 10000, `fake daemon (${mode}) exit`);
  return {
    proc, exit,
    err: () => err,
    waitFor: (re) => withDeadline(new Promise<void>((resolve) => { if (re.test(err)) resolve(); else waiters.push({ re, resolve }); }), 10000, `stderr ${re}`),
  };
}

const lines = (s: string) => s.split('\n').filter(Boolean).map((l) => l.replace(/^\S+ /, ''));

const Life = suite('ringsocket daemon lifecycle');

Life('starts the daemon with the config and logger, stops it on SIGTERM, exits with its code', async () => {
  const d = start('ok');
  await d.waitFor(/fake: started/);
  d.proc.kill('SIGTERM');
  assert.is(await d.exit, 0, `exit status; stderr:\n${d.err()}`);
  assert.equal(lines(d.err()), [
    `notice main: ringsocket ${version}, config ${good}`,
    'info main: 1 worker, 1 app: echo',
    'notice main: fake: starting with 1 worker(s), level info',
    'notice main: fake: started',
    'notice main: SIGTERM: shutting down (send it again to force the exit)',
    'notice main: fake: stop(SIGTERM)',
    'notice main: stopped (exit status 0)',
  ]);
  assert.match(d.err(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice main: /);
});

Life('exits with the code the daemon resolves to (SIGINT)', async () => {
  const d = start('exit3');
  await d.waitFor(/fake: started/);
  d.proc.kill('SIGINT');
  assert.is(await d.exit, 3, `exit status; stderr:\n${d.err()}`);
  assert.ok(d.err().includes('notice main: fake: stop(SIGINT)'));
});

Life('a second signal a second later forces exit 1', async () => {
  const d = start('hang');
  await d.waitFor(/fake: started/);
  d.proc.kill('SIGTERM');
  await d.waitFor(/fake: stop\(SIGTERM\)/);
  await sleep(DUPLICATE_SIGNAL_MS + 100);
  d.proc.kill('SIGINT');
  assert.is(await d.exit, 1, `exit status; stderr:\n${d.err()}`);
  assert.equal(lines(d.err()).slice(-3), [
    'notice main: SIGTERM: shutting down (send it again to force the exit)',
    'notice main: fake: stop(SIGTERM)',
    'error main: SIGINT again: forcing exit',
  ]);
});

Life('takes a signal delivered twice at once (Ctrl-C under npm) as one stop request', async () => {
  const d = start('ok', [good]);
  await d.waitFor(/fake: started/);
  // Two different signals, because the kernel merges a pending signal with its own repeat.
  d.proc.kill('SIGINT');
  d.proc.kill('SIGTERM');
  assert.is(await d.exit, 0, `exit status; stderr:\n${d.err()}`);
  // Which of the two the process sees first is up to the kernel and libuv (seen both ways on a
  // loaded machine); what matters is that there is one stop request.
  const l = lines(d.err()).filter((x) => /SIG|stop/.test(x));
  const first = /^notice main: (SIGINT|SIGTERM): shutting down/.exec(l[0] ?? '')?.[1];
  assert.ok(first, `a shutdown line first: ${l.join(' | ')}`);
  assert.equal(l, [
    `notice main: ${first}: shutting down (send it again to force the exit)`,
    `notice main: fake: stop(${first})`,
    'notice main: stopped (exit status 0)',
  ]);
});

Life('a signal during start-up stops the daemon as soon as it has started', async () => {
  const d = start('slow');
  await d.waitFor(/fake: starting/);
  d.proc.kill('SIGTERM');
  assert.is(await d.exit, 0, `exit status; stderr:\n${d.err()}`);
  const l = lines(d.err());
  assert.equal(l.slice(-4), [
    'notice main: SIGTERM: shutting down (send it again to force the exit)',
    'notice main: fake: started',
    'notice main: fake: stop(SIGTERM)',
    'notice main: stopped (exit status 0)',
  ]);
});

Life('exits 1 when the daemon fails to start', async () => {
  const d = start('throw');
  assert.is(await d.exit, 1, `exit status; stderr:\n${d.err()}`);
  assert.match(d.err(), /error main: start-up failed: Error: listen EADDRINUSE 127\.0\.0\.1:8080\n/);
});

Life('exits 1 with a clear message when the daemon module is missing', async () => {
  const d = start('missing');
  assert.is(await d.exit, 1, `exit status; stderr:\n${d.err()}`);
  assert.equal(lines(d.err()).slice(-1), ['error main: the daemon (src/daemon/main.ts) is missing from this installation; only --check, --help and --version work']);
});

Cli.run();
Life.run();
