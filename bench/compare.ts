// npm run bench:compare [-- options]: six scenarios (three echoes, a closed-loop broadcast, a broadcast
// at a fixed 20,000 deliveries/s, idle memory) against RingSocket, `ws` on this Node, and Bun, one
// server at a time, each pinned to core 0 with the load generator (ringsocket-bench, one thread) on
// core 1. Writes the comparison section of docs/benchmarks.md and docs/benchmarks.svg.
//   --quick             shorter runs and fewer connections (a smoke run; does not write the docs
//                       unless --write is given)
//   --servers a,b       which servers: ringsocket, ws, bun (default: all three)
//   --duration S        seconds per measured window (default 10; quick: 2)
//   --scenarios a,b     only these scenarios (ids: echo-text, echo-1000, echo-64k, broadcast,
//                       broadcast-rate, idle, echo-deflate; default: all)
//   --write / --no-write  write docs/benchmarks.md and docs/benchmarks.svg (default: full runs only)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from '../src/bench/driver.ts';
import { freePort } from '../src/bench/ports.ts';
import {
  broadcastScenarios, CLIENT_BOUND_CORES, cores, cpuInfo, fdLimit, hardFdLimit, hasTaskset, int, lat, launcher,
  rateKept as rateShortfall, root, run, runBenchProcess, sleep, startProcess, startRingSocket, startWsServer, versions as readVersions, writeDocsBlock,
  commandLine,
} from './harness.ts';
import type { Outcome, RunningServer } from './harness.ts';

const SERVERS = ['ringsocket', 'ws', 'bun'] as const;
type ServerName = (typeof SERVERS)[number];
const LABEL: Record<ServerName, string> = { ringsocket: 'RingSocket', ws: 'ws', bun: 'Bun' };

// ---------------------------------------------------------------------------------------------
// Command line

const { flags, quick, duration, write, usageError } = commandLine('bench:compare', import.meta.url, 11, ['servers']);
const chosen = (flags.servers ?? SERVERS.join(',')).split(',').map((s) => s.trim()) as ServerName[];
for (const s of chosen) if (!SERVERS.includes(s)) usageError(`unknown server "${s}": use ${SERVERS.join(', ')}`);

// ---------------------------------------------------------------------------------------------
// Scenarios

type Kind = 'throughput' | 'fixed-rate' | 'idle';

interface Scenario {
  id: string;
  title: string;
  /**
   * throughput: closed loop, compared per server CPU-second (higher is better); fixed-rate: the
   * same offered load for every server, compared by p99 latency and server CPU (lower is better);
   * idle: server memory per idle connection (lower is better).
   */
  kind: Kind;
  app: 'echo' | 'broadcast';
  args: string[];
  /** Every server runs with permessage-deflate on (the load generator gets --deflate in `args`). */
  deflate?: boolean;
  /** What one counted message is, for the table. */
  unit: string;
  /** fixed-rate: the offered deliveries per second (messages/s × clients). */
  offered?: number;
  /** fixed-rate: clients that receive every message. */
  clients?: number;
  /**
   * The aims of issue 10: vsWs, at least that ratio to ws per server CPU-second; maxBytes, at most
   * that many bytes of server memory per idle connection; p99VsWs and cpuVsWs (fixed rate), at
   * most that ratio of ws's p99 latency and of ws's server CPU.
   */
  aim: { vsWs?: number; maxBytes?: number; p99VsWs?: number; cpuVsWs?: number };
}

const d = String(duration);
/** The two broadcast scenarios, shared with bench:cluster (the fixed rate: 20,000 deliveries/s in both run lengths). */
const BROADCAST = broadcastScenarios(quick, duration);
const FIXED = BROADCAST.fixedRate;
const fixedRate: Scenario = {
  id: 'broadcast-rate',
  title: `broadcast: ${FIXED.clients} clients, 64 B binary, fixed ${(FIXED.clients * FIXED.rate).toLocaleString('en-US')} deliveries/s (${FIXED.rate} messages/s)`,
  kind: 'fixed-rate',
  app: 'broadcast',
  args: ['broadcast', ...FIXED.args],
  unit: 'deliveries',
  offered: FIXED.offered,
  clients: FIXED.clients,
  aim: { p99VsWs: 1, cpuVsWs: 0.75 },
};
/** Connections per scenario: a quick run is smaller, everything else is the same. */
const N = quick
  ? { text: 50, echo: 200, big: 10, idle: 2000, idleS: '1', deflate: 20 }
  : { text: 100, echo: 1000, big: 50, idle: 10000, idleS: '3', deflate: 100 };
/** The deflate scenario's message: JSON-like text (ringsocket-bench --deflate), compressible like app traffic. */
const DEFLATE_SIZE = 2048;
const ALL_SCENARIOS: Scenario[] = [
  { id: 'echo-text', title: `echo: ${N.text} connections, 32 B text, 1 in flight`, kind: 'throughput', app: 'echo', args: ['echo', '-c', String(N.text), '-p', '1', '-s', '32', '-d', d], unit: 'echoes', aim: { vsWs: 1.3 } },
  { id: 'echo-1000', title: `echo: ${N.echo} connections, 32 B binary, 4 in flight`, kind: 'throughput', app: 'echo', args: ['echo', '-c', String(N.echo), '-p', '4', '-s', '32', '--binary', '-d', d], unit: 'echoes', aim: { vsWs: 3 } },
  { id: 'echo-64k', title: `echo: ${N.big} connections, 64 KiB binary, 1 in flight`, kind: 'throughput', app: 'echo', args: ['echo', '-c', String(N.big), '-p', '1', '-s', '65536', '--binary', '-d', d], unit: 'echoes', aim: { vsWs: 2 } },
  { id: 'broadcast', title: `broadcast: ${BROADCAST.closedLoop.clients} clients, 64 B binary, closed loop`, kind: 'throughput', app: 'broadcast', args: ['broadcast', ...BROADCAST.closedLoop.args], unit: 'deliveries', aim: { vsWs: 4.5 } },
  fixedRate,
  { id: 'echo-deflate', title: `echo with permessage-deflate: ${N.deflate} connections, 2 KiB JSON-like text, 1 in flight`, kind: 'throughput', app: 'echo', deflate: true, args: ['echo', '-c', String(N.deflate), '-p', '1', '-s', String(DEFLATE_SIZE), '--deflate', '-d', d], unit: 'echoes', aim: {} },
  { id: 'idle', title: `${N.idle.toLocaleString('en-US')} idle connections: server memory per connection`, kind: 'idle', app: 'echo', args: ['connect', '-c', String(N.idle), '-p', '32', '-d', N.idleS], unit: 'handshakes', aim: { maxBytes: 3500 } },
];

const wanted = flags.scenarios?.split(',').map((s) => s.trim()).filter(Boolean);
for (const id of wanted ?? []) if (!ALL_SCENARIOS.some((s) => s.id === id)) usageError(`unknown scenario "${id}": use ${ALL_SCENARIOS.map((s) => s.id).join(', ')}`);
const SCENARIOS = wanted ? ALL_SCENARIOS.filter((s) => wanted.includes(s.id)) : ALL_SCENARIOS;
/**
 * A run of some scenarios only writes its own block of docs/benchmarks.md (and its own SVG), so it
 * never replaces the full comparison with a part of it.
 */
const partial = wanted !== undefined && SCENARIOS.length < ALL_SCENARIOS.length;
const BLOCK = partial ? `bench:compare:${SCENARIOS.map((s) => s.id).join('+')}` : 'bench:compare';
const SVG_NAME = partial ? `benchmarks-${SCENARIOS.map((s) => s.id).join('+')}.svg` : 'benchmarks.svg';

// ---------------------------------------------------------------------------------------------
// Environment: pinning, file descriptor limit, Bun

const notes: string[] = [];
const pin = hasTaskset && cores >= 2;
if (!hasTaskset) notes.push('taskset (util-linux) was not found: servers and load generator were not pinned to cores.');
else if (!pin) notes.push(`only ${cores} core available: servers and load generator were not pinned.`);

if (fdLimit < 10000 + 100) {
  notes.push(`the open-file hard limit is ${hardFdLimit}: 10,000 idle connections need more (raise it with ulimit -Hn as root); the idle scenario may fail its connects.`);
}
/** The servers' core and the load generator's. */
const SERVER_CPUS = pin ? '0' : null;
const CLIENT_CPUS = pin ? '1' : null;

const BUN_DIR = join(root, 'node_modules', '.cache', 'bench-bun');

function bunWorks(path: string): string | null {
  if (!existsSync(path)) return null;
  const r = run(path, ['--version']);
  return r.ok && /^\d+\.\d+/.test(r.out) ? r.out.split('\n')[0] : null;
}

/** The bun binary (installed on demand with npm into node_modules/.cache/bench-bun), or why not. */
function ensureBun(): { path: string; version: string } | { error: string } {
  const candidates = () => [
    join(BUN_DIR, 'node_modules', 'bun', 'bin', 'bun.exe'),
    join(BUN_DIR, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
    join(BUN_DIR, 'node_modules', '@oven', 'bun-linux-x64-baseline', 'bin', 'bun'),
    join(BUN_DIR, 'node_modules', '@oven', 'bun-linux-aarch64', 'bin', 'bun'),
  ];
  for (const p of candidates()) { const v = bunWorks(p); if (v) return { path: p, version: v }; }
  process.stderr.write('bench:compare: installing bun into node_modules/.cache/bench-bun (npm install --no-save bun)...\n');
  mkdirSync(BUN_DIR, { recursive: true });
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', BUN_DIR, 'bun'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  for (const p of candidates()) { const v = bunWorks(p); if (v) return { path: p, version: v }; }
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
  return { error: `npm install bun failed or gave no working binary (exit ${r.status}): ${tail}` };
}

// ---------------------------------------------------------------------------------------------
// Servers

async function startServer(name: ServerName, app: 'echo' | 'broadcast', bunPath: string | null, deflate = false): Promise<RunningServer> {
  // RingSocket: one worker thread and the one app thread, on the same core as the others.
  if (name === 'ringsocket') return startRingSocket({ app, cpus: SERVER_CPUS, deflate });
  if (name === 'ws') return startWsServer(app, SERVER_CPUS, deflate);
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/${app}`;
  const extra = deflate ? ['deflate'] : [];
  return startProcess(launcher(SERVER_CPUS, [bunPath!, join(root, 'bench/servers/bun-server.mjs'), app, String(port), ...extra]), /listening \d+/, url);
}

// ---------------------------------------------------------------------------------------------
// Runs

function runBench(args: string[], url: string, pid: number): Promise<Outcome> {
  return runBenchProcess([args[0], url, ...args.slice(1), '--pid', String(pid)], CLIENT_CPUS, duration + 120);
}

// Which RingSocket code ran: the commit, and whether the working tree had changes to the code.
const versions = readVersions();
let bunPath: string | null = null;
const skipped: Partial<Record<ServerName, string>> = {};
if (chosen.includes('bun')) {
  const b = ensureBun();
  if ('error' in b) {
    skipped.bun = b.error;
    process.stderr.write(`bench:compare: Bun skipped: ${b.error}\n`);
  } else {
    bunPath = b.path;
    versions.bun = b.version;
  }
}

/** Fixed rate: why the run did not offer the intended load (sends skipped, deliveries short), or null. */
const rateKept = (sc: Scenario, r: BenchResult) => rateShortfall(r, sc.offered!);

const outcomes = new Map<string, Outcome>(); // `${scenario}/${server}`
const started = new Date();
const loadBefore = os.loadavg()[0];
for (const name of chosen) {
  for (const sc of SCENARIOS) {
    const key = `${sc.id}/${name}`;
    if (skipped[name]) { outcomes.set(key, { note: `not run: ${skipped[name]}` }); continue; }
    process.stderr.write(`bench:compare: ${LABEL[name]}: ${sc.title} ... `);
    let server: RunningServer;
    try {
      server = await startServer(name, sc.app, bunPath, sc.deflate === true);
    } catch (err) {
      const msg = (err as Error).message.replace(/\s+/g, ' ').slice(0, 300);
      outcomes.set(key, { note: `not run: the server did not start: ${msg}` });
      process.stderr.write(`not run (${msg})\n`);
      continue;
    }
    await sleep(300);
    const o = await runBench(sc.args, server.url, server.pid);
    const badExit = await server.stop();
    if (badExit) o.note = o.note ? `${o.note}; ${badExit}` : badExit;
    outcomes.set(key, o);
    const r = o.result;
    if (r && sc.kind === 'fixed-rate') {
      const kept = rateKept(sc, r);
      if (kept) o.note = o.note ? `${o.note}; ${kept}` : kept;
    }
    const client = r ? `, load generator ${r.cpu.client.cores.toFixed(2)} cores` : '';
    const summary = !r ? ''
      : sc.kind === 'fixed-rate'
        ? `${Math.round(r.messages.perSecond).toLocaleString('en-US')} ${sc.unit}/s, p99 ${Math.round(r.latencyUs.p99).toLocaleString('en-US')} µs, server ${r.cpu.server?.cores.toFixed(2) ?? '?'} cores`
        : `${Math.round(r.perServerCpuSecond ?? 0).toLocaleString('en-US')} ${sc.unit}/server CPU-s${r.connect?.idle.bytesPerConnection != null ? `, ${r.connect.idle.bytesPerConnection} B/idle conn` : ''}`;
    process.stderr.write(r ? `${summary}${client}${o.note ? `  [${o.note}]` : ''}\n` : `failed: ${o.note}\n`);
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : '–');
const cores2 = (c: number | undefined) => (c === undefined ? '?' : c.toFixed(2));

/** The figure a throughput or idle scenario is compared by. */
function metric(sc: Scenario, r: BenchResult | undefined): number | null {
  if (!r) return null;
  if (sc.kind === 'idle') return r.connect?.idle.bytesPerConnection ?? null;
  return r.perServerCpuSecond;
}
/** Fixed rate: the two figures it is compared by (lower is better). */
const p99Of = (r: BenchResult | undefined) => (r && r.latencyUs.count > 0 ? r.latencyUs.p99 : null);
const serverCoresOf = (r: BenchResult | undefined) => r?.cpu.server?.cores ?? null;

const commandArgs = [...(quick ? ['--quick'] : []), ...(flags.duration ? ['--duration', String(duration)] : []), ...(flags.servers ? ['--servers', chosen.join(',')] : []), ...(partial ? ['--scenarios', SCENARIOS.map((s) => s.id).join(',')] : [])];
const command = `npm run bench:compare${commandArgs.length ? ` -- ${commandArgs.join(' ')}` : ''}`;

/** RingSocket's figure divided by ws's (same scenario, same run), or null when either is missing. */
function vsWsOf(sc: Scenario, pick: (r: BenchResult | undefined) => number | null): number | null {
  const a = pick(outcomes.get(`${sc.id}/ringsocket`)?.result);
  const b = pick(outcomes.get(`${sc.id}/ws`)?.result);
  return a !== null && b !== null && b > 0 ? a / b : null;
}

function markdown(): string {
  const L: string[] = [];
  L.push(`<!-- ${BLOCK}:start (written by npm run bench:compare; edits inside are overwritten) -->`);
  L.push(partial ? `## Comparison with ws and Bun: ${SCENARIOS.map((s) => s.title).join('; ')}` : '## Comparison with ws and Bun');
  L.push('');
  L.push(`Measured ${started.toISOString().slice(0, 10)} with \`${command}\`${quick ? ' (quick smoke run: short windows, fewer connections)' : ''}.`);
  L.push('');
  const loadAfter = os.loadavg()[0];
  L.push(`- Machine: ${cpuInfo()}. One-minute load average ${loadBefore.toFixed(1)} at the start and ${loadAfter.toFixed(1)} at the end${Math.max(loadBefore, loadAfter) > 1.5 ? ' (other work was running: absolute rates are noisy, the per-CPU-second figures less so)' : ''}.`);
  L.push(`- Versions: RingSocket ${versions.ringsocket} on Node ${versions.node}; ws ${versions.ws} on Node ${versions.node}; Bun ${versions.bun ?? '(not run)'}.`);
  L.push(`- Each server runs alone, ${pin ? 'pinned to core 0 (`taskset -c 0`)' : 'unpinned'}; the load generator, \`ringsocket-bench\` with one thread, ${pin ? 'is pinned to core 1' : 'runs unpinned'}, the same for all three servers. ` +
    'RingSocket runs with `worker_c: 1` (one I/O worker thread and the app thread, both on that core), `ws` and Bun with their defaults' +
    (SCENARIOS.some((s) => s.deflate) ? '; in the permessage-deflate scenario every server has it on with its defaults for it (RingSocket `permessage_deflate: true`: server_no_context_takeover, window bits 15, threshold 1024; ws `perMessageDeflate: true`: context takeover, threshold 1024; Bun `perMessageDeflate: true`), and the load generator compresses every message it sends (`--deflate`), the others no compression.' : ' and no compression.'));
  L.push(`- Every payload is verified by the client (content, order, and for broadcasts that every client gets every message once); windows of ${duration} s after a short warm-up. Server CPU is user + system time from \`/proc/<pid>/stat\` over the window; memory is \`VmRSS\` from \`/proc/<pid>/status\`; the load generator's CPU is its own user + system time over the same window.`);
  L.push('- "per server CPU-s" divides the messages by the CPU seconds the server used: it is what to compare on a shared machine, where throughput also depends on the client and on neighbours.');
  L.push('- The fixed-rate broadcast offers every server the same load, so it compares latency and the server CPU that load costs (lower is better for both); latency there is from the timestamp the sender writes into the payload to each client\'s receipt of it, over every delivery in the window.');
  for (const n of notes) L.push(`- Note: ${n}`);
  L.push('');
  for (const sc of SCENARIOS) {
    L.push(`### ${sc.title}`);
    L.push('');
    const get = (n: ServerName) => outcomes.get(`${sc.id}/${n}`);
    let cols: number;
    if (sc.kind === 'idle') {
      L.push('| server | handshakes/s | load generator CPU (cores) | server RSS before → after | bytes per idle connection | vs ws | vs Bun |');
      L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      cols = 7;
    } else if (sc.kind === 'fixed-rate') {
      L.push(`| server | ${sc.unit}/s | load generator CPU (cores) | server CPU (cores) | p50 | p99 | p99 vs ws | server CPU vs ws | p99 vs Bun | server CPU vs Bun |`);
      L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      cols = 10;
    } else {
      L.push(`| server | ${sc.unit}/s | load generator CPU (cores) | server CPU (cores) | ${sc.unit} per server CPU-s | p50 | p99 | vs ws | vs Bun |`);
      L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      cols = 9;
    }
    for (const n of chosen) {
      const o = get(n);
      const r = o?.result;
      if (!r) {
        L.push(`| ${LABEL[n]} | ${(o?.note ?? 'not run').replace(/\|/g, '/')} |${' |'.repeat(cols - 2)}`);
        continue;
      }
      const flag = o!.note ? ` (${o!.note.replace(/\|/g, '/')})` : '';
      const clientBound = r.cpu.client.cores >= CLIENT_BOUND_CORES ? ' †' : '';
      const clientCores = cores2(r.cpu.client.cores);
      const serverCores = cores2(r.cpu.server?.cores);
      if (sc.kind === 'idle') {
        const m = metric(sc, r);
        const i = r.connect!.idle;
        const mib = (b: number | null) => (b === null ? '?' : `${(b / 1024 ** 2).toFixed(1)} MiB`);
        L.push(`| ${LABEL[n]}${flag} | ${int(r.connect!.handshakesPerSecond)}${clientBound} | ${clientCores} | ${mib(i.rssBeforeBytes)} → ${mib(i.rssAfterBytes)} (${int(i.connections)} held) | ${m === null ? '?' : int(m)} | ${ratio(m, metric(sc, get('ws')?.result))} | ${ratio(m, metric(sc, get('bun')?.result))} |`);
      } else if (sc.kind === 'fixed-rate') {
        const p99 = p99Of(r), cpu = serverCoresOf(r);
        L.push(`| ${LABEL[n]}${flag} | ${int(r.messages.perSecond)}${clientBound} | ${clientCores} | ${serverCores} | ${lat(r.latencyUs.p50)} | ${lat(r.latencyUs.p99)} | ` +
          `${ratio(p99, p99Of(get('ws')?.result))} | ${ratio(cpu, serverCoresOf(get('ws')?.result))} | ${ratio(p99, p99Of(get('bun')?.result))} | ${ratio(cpu, serverCoresOf(get('bun')?.result))} |`);
      } else {
        const m = metric(sc, r);
        L.push(`| ${LABEL[n]}${flag} | ${int(r.messages.perSecond)}${clientBound} | ${clientCores} | ${serverCores} | ${m === null ? '?' : int(m)} | ${lat(r.latencyUs.p50)} | ${lat(r.latencyUs.p99)} | ${ratio(m, metric(sc, get('ws')?.result))} | ${ratio(m, metric(sc, get('bun')?.result))} |`);
      }
    }
    L.push('');
    if (sc.kind === 'fixed-rate') {
      // How much of the latency the one-threaded load generator's own queueing can explain: its CPU
      // per delivery (an upper bound: it includes the sends and the 1 ms send timer) times the
      // deliveries of one message, which it reads one after another.
      const per = chosen.flatMap((n) => {
        const r = get(n)?.result;
        return r && r.messages.received > 0 ? [{ n, us: (r.cpu.client.seconds / r.messages.received) * 1e6 }] : [];
      });
      if (per.length > 0) {
        const worst = Math.max(...per.map((p) => p.us));
        L.push(`The load generator's CPU per delivery in these runs: ${per.map((p) => `${LABEL[p.n]} ${p.us.toFixed(1)} µs`).join(', ')} ` +
          `(an upper bound: it includes the sends and the send timer). Its one thread reads the ${int(sc.clients!)} deliveries of a message one after another, ` +
          `so the last of them waits up to about ${lat(worst * sc.clients!)} on the client alone: latencies of that order are partly the load generator's, for every server alike.`);
        L.push('');
      }
    }
  }
  L.push('Ratios: for the closed-loop scenarios, the per-server-CPU-second figure (higher is better); for idle connections, the bytes; for the fixed-rate broadcast, the p99 latency and the server CPU (lower is better for those). ' +
    `† the load generator used ${CLIENT_BOUND_CORES} cores or more (its own column): that throughput is bounded by the client, not by the server.`);
  L.push('');
  const anyAim = SCENARIOS.some((sc) => Object.keys(sc.aim).length > 0);
  if (anyAim) {
    L.push('### Where the figures stand against the aims');
    L.push('');
    L.push('| scenario | aim | RingSocket measured | met |');
    L.push('| --- | --- | --- | --- |');
  }
  const met = (got: number | null, ok: (x: number) => boolean, why = '') => (got === null ? '–' : `${ok(got) ? 'yes' : 'no'}${why}`);
  for (const sc of SCENARIOS) {
    const rs = outcomes.get(`${sc.id}/ringsocket`);
    if (sc.aim.vsWs) {
      const got = vsWsOf(sc, (r) => metric(sc, r));
      L.push(`| ${sc.title} | ≥ ${sc.aim.vsWs}× ws per server CPU-s | ${got === null ? 'not measured' : `${got.toFixed(2)}× ws`} | ${met(got, (x) => x >= sc.aim.vsWs!)} |`);
    }
    if (sc.aim.maxBytes) {
      const m = metric(sc, rs?.result);
      L.push(`| ${sc.title} | ≤ ${int(sc.aim.maxBytes)} bytes per idle connection | ${m === null ? 'not measured' : `${int(m)} bytes`} | ${met(m, (x) => x <= sc.aim.maxBytes!)} |`);
    }
    if (sc.aim.p99VsWs || sc.aim.cpuVsWs) {
      // A server that did not keep the offered rate did less work: say so next to the verdict.
      const unkept = (['ringsocket', 'ws'] as const).filter((n) => {
        const r = outcomes.get(`${sc.id}/${n}`)?.result;
        return r !== undefined && rateKept(sc, r) !== null;
      });
      const why = unkept.length ? ` (${unkept.map((n) => LABEL[n]).join(' and ')} did not keep the rate)` : '';
      const ws = outcomes.get(`${sc.id}/ws`)?.result;
      if (sc.aim.p99VsWs) {
        const got = vsWsOf(sc, p99Of);
        const a = p99Of(rs?.result), b = p99Of(ws);
        L.push(`| ${sc.title} | p99 latency ≤ ${sc.aim.p99VsWs === 1 ? '' : `${sc.aim.p99VsWs}× `}ws's | ${got === null ? 'not measured' : `${lat(a!)} vs ${lat(b!)} (${got.toFixed(2)}× ws)`} | ${met(got, (x) => x <= sc.aim.p99VsWs!, why)} |`);
      }
      if (sc.aim.cpuVsWs) {
        const got = vsWsOf(sc, serverCoresOf);
        const a = serverCoresOf(rs?.result), b = serverCoresOf(ws);
        L.push(`| ${sc.title} | server CPU ≤ ${sc.aim.cpuVsWs}× ws's | ${got === null ? 'not measured' : `${a!.toFixed(2)} vs ${b!.toFixed(2)} cores (${got.toFixed(2)}× ws)`} | ${met(got, (x) => x <= sc.aim.cpuVsWs!, why)} |`);
      }
    }
  }
  L.push('');
  L.push(`![Messages per second of server CPU; for the fixed-rate broadcast, p99 latency and server CPU; server memory per idle connection](${SVG_NAME})`);
  L.push(`<!-- ${BLOCK}:end -->`);
  return L.join('\n') + '\n';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function svg(): string {
  const COLORS: Record<ServerName, string> = { ringsocket: '#1f77b4', ws: '#8c8c8c', bun: '#e377c2' };
  const W = 820, left = 250, barW = 420, barH = 18, gap = 4, groupGap = 26;
  // One group of bars per figure: a fixed-rate scenario gives two (p99 latency, server CPU).
  const groups: { heading: string; pick: (r: BenchResult | undefined) => number | null; show: (v: number) => string }[][] = SCENARIOS.map((sc) => {
    if (sc.kind === 'idle') return [{ heading: `${sc.title} (bytes, lower is better)`, pick: (r) => metric(sc, r), show: int }];
    if (sc.kind === 'fixed-rate') {
      return [
        { heading: `broadcast, ${sc.clients} clients at a fixed ${int(sc.offered!)} deliveries/s: p99 latency (lower is better)`, pick: p99Of, show: lat },
        { heading: `broadcast, ${sc.clients} clients at a fixed ${int(sc.offered!)} deliveries/s: server CPU, cores (lower is better)`, pick: serverCoresOf, show: (v) => v.toFixed(2) },
      ];
    }
    return [{ heading: `${sc.title} (${sc.unit} per server CPU-s)`, pick: (r) => metric(sc, r), show: int }];
  });
  const rows: string[] = [];
  let y = 64;
  SCENARIOS.forEach((sc, i) => {
    for (const g of groups[i]) {
      const values = chosen.map((n) => ({ n, v: g.pick(outcomes.get(`${sc.id}/${n}`)?.result) }));
      const max = Math.max(Number.MIN_VALUE, ...values.map((x) => x.v ?? 0));
      rows.push(`<text x="16" y="${y}" class="h">${esc(g.heading)}</text>`);
      y += 8;
      for (const { n, v } of values) {
        const w = v === null ? 0 : Math.max(1, Math.round((v / max) * barW));
        rows.push(`<text x="${left - 8}" y="${y + barH - 5}" class="l" text-anchor="end">${LABEL[n]}</text>`);
        if (v === null) {
          rows.push(`<text x="${left + 4}" y="${y + barH - 5}" class="v">not run</text>`);
        } else {
          rows.push(`<rect x="${left}" y="${y}" width="${w}" height="${barH}" fill="${COLORS[n]}"/>`);
          rows.push(`<text x="${left + w + 6}" y="${y + barH - 5}" class="v">${esc(g.show(v))}</text>`);
        }
        y += barH + gap;
      }
      y += groupGap;
    }
  });
  const H = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.t{font-size:16px;font-weight:bold}.s{font-size:11px;fill:#555}.h{font-size:13px;font-weight:bold;fill:#222}.l{font-size:12px;fill:#222}.v{font-size:12px;fill:#222}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="16" y="26" class="t">RingSocket vs ws vs Bun (higher is better unless marked otherwise)</text>`,
    `<text x="16" y="44" class="s">${esc(`${cpuInfo()}; server on core 0, load generator on core 1; ${started.toISOString().slice(0, 10)}; ${command}`)}</text>`,
    ...rows,
    '</svg>',
  ].join('\n') + '\n';
}

const md = markdown();
const cacheDir = join(root, 'node_modules', '.cache', 'bench-compare');
mkdirSync(cacheDir, { recursive: true });
writeFileSync(join(cacheDir, 'last.json'), JSON.stringify({ started, quick, duration, versions, notes, outcomes: Object.fromEntries(outcomes) }, null, 2));
writeFileSync(join(cacheDir, 'last.md'), md);
process.stdout.write('\n' + md);
if (write) {
  writeDocsBlock(BLOCK, md);
  writeFileSync(join(root, 'docs', SVG_NAME), svg());
  process.stderr.write(`bench:compare: wrote docs/benchmarks.md (${BLOCK} section) and docs/${SVG_NAME}\n`);
} else {
  writeFileSync(join(cacheDir, 'last.svg'), svg());
  process.stderr.write(`bench:compare: docs not written (${quick ? 'quick run; add --write' : '--no-write'}); copies in node_modules/.cache/bench-compare/\n`);
}
