// What the benchmark scripts (bench/compare.ts, bench/cluster.ts) share: pinning to cores and the
// open-file limit, starting a server process and waiting for its ready line, starting the
// RingSocket daemon for a bench (one config, alone or as a cluster node), running ringsocket-bench
// in a child process, the versions and machine a report names, and writing a report's block into
// docs/benchmarks.md.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchResult } from '../src/bench/driver.ts';
import { freePort } from '../src/bench/ports.ts';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const node = process.execPath;

export function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Environment: cores, taskset, file descriptors

export const cores = os.availableParallelism();
/** taskset (util-linux) is there: processes can be pinned to cores. */
export const hasTaskset = run('taskset', ['-V']).ok;
/** File descriptors wanted by a server and by the load generator (10,000 idle connections + slack). */
const WANTED_FDS = 16384;
export const hardFdLimit = Number(run('sh', ['-c', 'ulimit -Hn']).out) || 1024;
/** The open-file limit every process started here gets. */
export const fdLimit = Math.min(WANTED_FDS, hardFdLimit);

/**
 * argv that runs `cmd` with the raised open-file limit, pinned with taskset to `cpus` (a CPU list
 * such as "0" or "2,3") unless it is null.
 */
export function launcher(cpus: string | null, cmd: string[]): string[] {
  const pinned = cpus !== null ? ['taskset', '-c', cpus, ...cmd] : cmd;
  return ['sh', '-c', 'ulimit -n "$0" 2>/dev/null; exec "$@"', String(fdLimit), ...pinned];
}

export function cpuInfo(): string {
  const model = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return `${model}, ${cores} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Linux ${os.release()}`;
}

/** Node, ws and RingSocket versions; RingSocket's with the commit and whether its code had changes. */
export function versions(): Record<string, string> {
  const v: Record<string, string> = {
    node: process.version,
    ws: JSON.parse(readFileSync(join(root, 'node_modules/ws/package.json'), 'utf8')).version,
    ringsocket: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
  };
  const head = run('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  const dirty = run('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'apps', 'assembly', 'bin']);
  if (head.ok) v.ringsocket += ` (commit ${head.out}${dirty.ok && dirty.out ? ' plus uncommitted changes' : ''})`;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Server processes

export interface RunningServer {
  pid: number;
  url: string;
  /**
   * SIGTERM (SIGKILL 10 s later); resolves with null when the server exited 0, else with what
   * went wrong (every server here exits 0 on SIGTERM) and the end of its output.
   */
  stop(): Promise<string | null>;
}

/**
 * Spawns `argv` and resolves once its output (stdout and stderr) has matched every one of
 * `ready`, in any order; fails after 30 s, or when it exits first, with the end of its output.
 */
export function startProcess(argv: string[], ready: RegExp | RegExp[], url: string, cleanup: () => void = () => {}): Promise<RunningServer> {
  const wanted = Array.isArray(ready) ? ready : [ready];
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const seen = wanted.map(() => false);
    const exited = new Promise<void>((r) => proc.on('exit', () => { cleanup(); r(); }));
    const timer = setTimeout(() => fail(new Error(`not ready within 30 s; output: ${out.slice(-500)}`)), 30000);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(err);
    };
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.length > 100000) out = out.slice(-50000);
      if (settled) return;
      wanted.forEach((re, i) => { if (!seen[i] && re.test(out)) seen[i] = true; });
      if (seen.every(Boolean)) {
        settled = true;
        clearTimeout(timer);
        resolve({
          pid: proc.pid!,
          url,
          async stop() {
            const early = proc.exitCode !== null || proc.signalCode !== null;
            if (!early) {
              proc.kill('SIGTERM');
              const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
              await exited;
              clearTimeout(t);
            }
            if (!early && proc.exitCode === 0) return null;
            const how = proc.exitCode !== null ? `exited with ${proc.exitCode}` : `was ended by ${proc.signalCode}`;
            const tail = out.slice(-800).replace(/\s+/g, ' ').trim();
            return `the server ${how} ${early ? 'during the run' : 'after SIGTERM (expected 0)'}; output: ${tail}`;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('error', (err) => fail(err));
    void exited.then(() => fail(new Error(`exited with ${proc.exitCode ?? proc.signalCode} before it was ready; output: ${out.slice(-800).trim()}`)));
  });
}

export interface RingSocketBench {
  app: 'echo' | 'broadcast';
  /** Pin to these CPUs (taskset list), or null. */
  cpus: string | null;
  deflate?: boolean;
  /** A cluster node: the Redis server and this daemon's node_id. Ready once it is linked, too. */
  cluster?: { redis_url: string; node_id: string };
}

/**
 * The RingSocket daemon as the benchmarks run it: apps/<app> on a free loopback port, one worker
 * thread and the app thread (`worker_c: 1`), room for 12,000 connections. Resolves once it
 * listens, and as a cluster node once it is linked through Redis (traffic before that would not
 * reach the other nodes).
 */
export async function startRingSocket(o: RingSocketBench): Promise<RunningServer> {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/${o.app}`;
  const dir = mkdtempSync(join(os.tmpdir(), 'rs-bench-'));
  const config = {
    log_level: 'notice',
    worker_c: 1,
    fd_alloc_c: 12000,
    ...(o.deflate ? { permessage_deflate: true } : {}),
    ...(o.cluster ? { cluster: o.cluster } : {}),
    shutdown_wait_http: 1,
    shutdown_wait_ws: 1,
    ports: [{ port_number: port, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
    apps: [{
      name: o.app,
      app_path: join(root, 'apps', o.app, 'app.ts'),
      endpoints: [{ endpoint_id: 1, url }],
    }],
  };
  const file = join(dir, 'ringsocket.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const ready = [/ready: .*listening on/];
  if (o.cluster) ready.push(new RegExp(`cluster: node "${o.cluster.node_id.replace(/[.]/g, '\\.')}" \\(\\d+\\) linked through`));
  return startProcess(launcher(o.cpus, [node, join(root, 'bin/ringsocket.mjs'), file]), ready, url,
    () => rmSync(dir, { recursive: true, force: true }));
}

/** bench/servers/ws-server.ts (the `ws` baseline) serving `app` on a free loopback port, pinned to `cpus`. */
export async function startWsServer(app: 'echo' | 'broadcast', cpus: string | null, deflate = false): Promise<RunningServer> {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/${app}`;
  return startProcess(launcher(cpus, [node, join(root, 'bench/servers/ws-server.ts'), app, String(port), ...(deflate ? ['deflate'] : [])]), /listening \d+/, url);
}

// ---------------------------------------------------------------------------------------------
// The load generator

/** Load generator CPU (cores per client thread) from which a throughput counts as bounded by the client. */
export const CLIENT_BOUND_CORES = 0.85;

/**
 * The two broadcast scenarios, the same in bench:compare and bench:cluster: ringsocket-bench
 * options after the mode and URL(s). Closed loop: `clients` clients, 10 senders with 2 messages
 * outstanding each, 64 B binary. Fixed rate: 10 senders, `rate` messages/s in total, i.e.
 * clients × rate deliveries/s (20,000 in both run lengths).
 */
export function broadcastScenarios(quick: boolean, duration: number): {
  closedLoop: { clients: number; args: string[] };
  fixedRate: { clients: number; rate: number; offered: number; args: string[] };
} {
  const d = String(duration);
  const clients = quick ? 200 : 1000;
  const fixed = quick ? { clients: 200, rate: 100 } : { clients: 1000, rate: 20 };
  return {
    closedLoop: { clients, args: ['-c', String(clients), '--senders', '10', '-p', '2', '-s', '64', '--binary', '-d', d] },
    fixedRate: {
      ...fixed,
      offered: fixed.clients * fixed.rate,
      args: ['-c', String(fixed.clients), '--senders', '10', '--rate', String(fixed.rate), '-s', '64', '--binary', '-d', d],
    },
  };
}

/** Fixed rate: why the run did not offer the intended load (sends skipped, deliveries short), or null. */
export function rateKept(r: BenchResult, offered: number): string | null {
  const short = r.messages.perSecond < 0.95 * offered;
  if (r.skipped === 0 && !short) return null;
  return `rate not kept: ${int(r.messages.perSecond)} of ${int(offered)} deliveries/s${r.skipped ? `, ${int(r.skipped)} sends skipped` : ''}`;
}

export interface Outcome {
  result?: BenchResult;
  /** Why there is no result, or what went wrong in it. */
  note?: string;
}

/**
 * Runs bin/ringsocket-bench.mjs with `args` (mode, URLs, options; --json is added), pinned to
 * `cpus`, killed after `limitSeconds`; a run with errors gives its result and a note.
 */
export function runBenchProcess(args: string[], cpus: string | null, limitSeconds: number): Promise<Outcome> {
  const argv = launcher(cpus, [node, join(root, 'bin/ringsocket-bench.mjs'), ...args, '--json']);
  return new Promise((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (b) => { stdout += b; });
    p.stderr.on('data', (b) => { stderr += b; });
    const limit = setTimeout(() => p.kill('SIGKILL'), limitSeconds * 1000);
    p.on('close', (code) => {
      clearTimeout(limit);
      let result: BenchResult | undefined;
      try { result = JSON.parse(stdout) as BenchResult; } catch { /* below */ }
      if (!result) { resolve({ note: `bench exited ${code}: ${stderr.trim().split('\n').slice(-2).join(' / ')}` }); return; }
      const note = result.ok ? undefined : `${result.errors.total} errors: ${result.errorSamples.slice(0, 2).join('; ')}`;
      resolve({ result, note });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Reports

export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const lat = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);

/**
 * Puts `md` (which starts with `<!-- BLOCK:start` and ends with `<!-- BLOCK:end -->`) into
 * docs/benchmarks.md: in place of the block of that name; when there is none, at the end of the
 * `## ` section whose heading line is `section` (if given and found), else at the end of the file.
 */
export function writeDocsBlock(block: string, md: string, section?: string): void {
  const docPath = join(root, 'docs', 'benchmarks.md');
  const existing = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n';
  const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`<!-- ${reEsc(block)}:start[\\s\\S]*?<!-- ${reEsc(block)}:end -->\\n?`);
  let next: string;
  if (re.test(existing)) next = existing.replace(re, () => md);
  else {
    const lines = existing.split('\n');
    const at = section === undefined ? -1 : lines.indexOf(section);
    let end = at < 0 ? -1 : lines.findIndex((l, i) => i > at && l.startsWith('## '));
    // A generated block's heading: the section ends before the block's start marker.
    if (end > 0 && /^<!-- \S+:start/.test(lines[end - 1])) end--;
    if (end < 0) next = `${existing.replace(/\n*$/, '\n\n')}${md}`;
    else {
      const before = lines.slice(0, end).join('\n').replace(/\n*$/, '\n\n');
      next = `${before}${md}\n${lines.slice(end).join('\n')}`;
    }
  }
  writeFileSync(docPath, next);
}

// ---------------------------------------------------------------------------------------------
// The command line both scripts share

/** The options of bench:compare and bench:cluster, parsed once: --quick, --duration, --scenarios, --write / --no-write, --help. */
export interface CommandLine {
  /** The string options as given (undefined when absent): duration, scenarios and the script's own. */
  flags: Record<string, string | undefined>;
  quick: boolean;
  /** Seconds per measured window (default 10; quick: 2). */
  duration: number;
  /** Whether the docs are written (default: full runs only). */
  write: boolean;
  /** Prints `message` and the --help hint, and exits with 2. */
  usageError(message: string): never;
}

/**
 * Parses the command line of the script `name` (for messages) at `fileUrl`, whose first
 * `helpLines` comment lines are its --help text; `extra` are its own string options.
 */
export function commandLine(name: string, fileUrl: string, helpLines: number, extra: readonly string[] = []): CommandLine {
  const usageError = (message: string): never => {
    process.stderr.write(`${name}: ${message}\nTry npm run ${name} -- --help\n`);
    process.exit(2);
  };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    values = parseArgs({
      options: {
        quick: { type: 'boolean' },
        duration: { type: 'string' },
        scenarios: { type: 'string' },
        write: { type: 'boolean' },
        'no-write': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(extra.map((o) => [o, { type: 'string' as const }])),
      },
    }).values;
  } catch (err) {
    usageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(fileUrl), 'utf8').split('\n').slice(0, helpLines).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  }
  const flags: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') flags[k] = v;
  const quick = values.quick === true;
  const duration = flags.duration !== undefined ? Number(flags.duration) : quick ? 2 : 10;
  if (!(duration > 0)) usageError(`--duration must be a positive number, got ${flags.duration}`);
  const write = values['no-write'] ? false : values.write ? true : !quick;
  return { flags, quick, duration, write, usageError };
}
