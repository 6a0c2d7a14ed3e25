// npm run bench:cluster [-- options]: broadcast across a RingSocket cluster (issue 13). The two
// broadcast scenarios of bench:compare (closed loop; fixed 20,000 deliveries/s) against apps/broadcast,
//   one node:  one daemon with a cluster config (node-a) and redis-server, every client on it;
//   two nodes: node-a and node-b on the same redis-server, the senders on node-a and the clients
//              spread so that each node has half of them;
// a fresh redis-server and fresh daemons per run. Prints (and on full runs writes into the
// "Scale-out: one node and two" section of docs/benchmarks.md) deliveries/s, p50/p99 latency
// (each node's too), the CPU of the daemons and of redis-server, and the ratio two nodes / one node.
//   --quick             2 s windows and 200 clients (a smoke run; does not write the docs unless
//                       --write is given)
//   --duration S        seconds per measured window (default 10; quick: 2)
//   --scenarios a,b     only these scenarios (ids: broadcast, broadcast-rate; default: both)
//   --write / --no-write  write docs/benchmarks.md (default: full runs only)
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { ServerCpu } from '../src/bench/driver.ts';
import { freePort } from '../src/bench/ports.ts';
import {
  broadcastScenarios, CLIENT_BOUND_CORES, cores, cpuInfo, hasTaskset, int, lat, launcher, rateKept, root, run,
  runBenchProcess, sleep, startProcess, startRingSocket, versions as readVersions, writeDocsBlock,
  commandLine,
} from './harness.ts';
import type { Outcome, RunningServer } from './harness.ts';
import { REDIS_SERVER, REDIS_READY, redisServerArgs } from '../test/helpers/redis.ts';

const NODE_IDS = ['node-a', 'node-b'] as const;
/** The heading of the docs section the figures go into (its first write puts them at its end). */
const DOCS_SECTION = '## Scale-out: one node and two';
const BLOCK = 'bench:cluster';

// ---------------------------------------------------------------------------------------------
// Command line

const { flags, quick, duration, write, usageError } = commandLine('bench:cluster', import.meta.url, 13);

interface Scenario {
  id: 'broadcast' | 'broadcast-rate';
  title: string;
  clients: number;
  /** ringsocket-bench options after the URLs (without --threads and --pid). */
  args: string[];
  /** Fixed rate: the offered deliveries per second. */
  offered?: number;
}
const B = broadcastScenarios(quick, duration);
const ALL: Scenario[] = [
  { id: 'broadcast', title: `broadcast: ${B.closedLoop.clients} clients, 64 B binary, closed loop (10 senders, 2 outstanding each)`, clients: B.closedLoop.clients, args: B.closedLoop.args },
  {
    id: 'broadcast-rate',
    title: `broadcast: ${B.fixedRate.clients} clients, 64 B binary, fixed ${int(B.fixedRate.offered)} deliveries/s (${B.fixedRate.rate} messages/s from 10 senders)`,
    clients: B.fixedRate.clients, args: B.fixedRate.args, offered: B.fixedRate.offered,
  },
];
const wanted = flags.scenarios?.split(',').map((s) => s.trim()).filter(Boolean);
for (const id of wanted ?? []) if (!ALL.some((s) => s.id === id)) usageError(`unknown scenario "${id}": use ${ALL.map((s) => s.id).join(', ')}`);
const SCENARIOS = wanted ? ALL.filter((s) => wanted.includes(s.id)) : ALL;

if (!existsSync(REDIS_SERVER)) {
  process.stderr.write(`bench:cluster: ${REDIS_SERVER} is not installed: the cluster needs a Redis server (apt-get install redis-server)\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Where each process runs

interface Layout {
  /** CPUs (taskset lists, null: unpinned) of node-a and node-b, redis-server and the load generator. */
  nodes: [string | null, string | null];
  redis: string | null;
  client: string | null;
  /** The load generator's threads. */
  threads: number;
  text: string;
}

function layout(): Layout {
  if (!hasTaskset || cores < 2) {
    return {
      nodes: [null, null], redis: null, client: null, threads: 1,
      text: `Nothing is pinned (${hasTaskset ? `only ${cores} core` : 'taskset (util-linux) was not found'}); the load generator has one thread.`,
    };
  }
  if (cores >= 4) {
    // A core per daemon: two nodes have twice the daemon CPU of one, which is what scale-out adds.
    const threads = Math.min(cores - 3, 4);
    const client = threads === 1 ? '3' : `3-${2 + threads}`;
    return {
      nodes: ['0', '1'], redis: '2', client, threads,
      text: `node-a on core 0, node-b on core 1, redis-server on core 2, the load generator (${threads} thread${threads > 1 ? 's' : ''}) on cores ${client} ` +
        '(`taskset`). One node leaves core 1 idle: two nodes have twice the daemon CPU of one.',
    };
  }
  // Two or three cores: bench:compare's layout, every server on core 0 and the load generator on
  // core 1. Two nodes then share the core one node had, so the ratio is what splitting the clients
  // over two daemons and the cross-node path cost at equal CPU, not what a second machine adds.
  const redis = cores >= 3 ? '2' : '0';
  return {
    nodes: ['0', '0'], redis, client: '1', threads: 1,
    text: `${cores >= 3 ? 'Both daemons on core 0, redis-server on core 2' : 'Both daemons and redis-server on core 0'}, the load generator (one thread) on core 1 (\`taskset\`), ` +
      'as in bench:compare. With two nodes both daemons share the core one node had: the ratio two nodes / one node measures what the cross-node path costs at equal CPU, not added capacity (that needs a core per daemon: 4 or more cores).',
  };
}
const L = layout();

// ---------------------------------------------------------------------------------------------
// Runs

/** redis-server on a free loopback port: no persistence, its working directory a temporary one. */
async function startRedisServer(cpus: string | null): Promise<RunningServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'rs-bench-redis-'));
  const argv = launcher(cpus, [REDIS_SERVER, ...redisServerArgs(port, dir)]);
  return startProcess(argv, REDIS_READY, `redis://127.0.0.1:${port}`, () => rmSync(dir, { recursive: true, force: true }));
}

interface Run extends Outcome {
  nodes: 1 | 2;
  /** The daemons' pids (node-a, node-b) and redis-server's. */
  daemonPids: number[];
  redisPid: number | null;
  /** No result, errors in it, or a server that did not start or stop cleanly. */
  failed: boolean;
}

async function runOne(sc: Scenario, nodes: 1 | 2): Promise<Run> {
  const out: Run = { nodes, daemonPids: [], redisPid: null, failed: false };
  const started: RunningServer[] = [];
  let redis: RunningServer | null = null;
  const problems: string[] = [];
  try {
    redis = await startRedisServer(L.redis);
    out.redisPid = redis.pid;
    const daemons = await Promise.allSettled(NODE_IDS.slice(0, nodes).map((node_id, i) =>
      startRingSocket({ app: 'broadcast', cpus: L.nodes[i], cluster: { redis_url: redis!.url, node_id } })));
    for (const d of daemons) if (d.status === 'fulfilled') started.push(d.value);
    for (const d of daemons) if (d.status === 'rejected') throw d.reason;
    out.daemonPids = started.map((d) => d.pid);
    await sleep(300);
    const o = await runBenchProcess(['broadcast', ...started.map((d) => d.url), ...sc.args, '--threads', String(L.threads),
      '--pid', [...out.daemonPids, redis.pid].join(',')], L.client, duration + 120);
    out.result = o.result;
    if (o.note) problems.push(o.note);
  } catch (err) {
    problems.push(`not run: ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 300)}`);
  } finally {
    // The daemons first: redis-server going away under them is not what is measured.
    for (const bad of await Promise.all(started.map((d) => d.stop()))) if (bad) problems.push(bad);
    if (redis) { const bad = await redis.stop(); if (bad) problems.push(`redis-server: ${bad}`); }
  }
  // A fixed-rate run that did not keep its rate failed too (checked before `failed` is set).
  if (out.result && sc.offered !== undefined) {
    const kept = rateKept(out.result, sc.offered);
    if (kept) problems.push(kept);
  }
  out.failed = problems.length > 0 || !out.result?.ok;
  if (problems.length) out.note = problems.join('; ');
  return out;
}

/** What one run's figures are, from its result. */
function figures(run: Run) {
  const r = run.result!;
  const cpuOf = (pid: number | null) => r.cpu.servers.find((x) => x.pid === pid);
  const daemons = run.daemonPids.map(cpuOf).filter((x): x is ServerCpu => x !== undefined);
  const daemonCores = daemons.length === run.daemonPids.length ? daemons.reduce((n, x) => n + x.cores, 0) : null;
  const daemonSeconds = daemons.reduce((n, x) => n + x.seconds, 0);
  const redis = cpuOf(run.redisPid);
  return {
    perSecond: r.messages.perSecond,
    p50: r.latencyUs.p50,
    p99: r.latencyUs.p99,
    daemonCores,
    /** Each daemon's cores, node-a first. */
    perDaemon: daemons.map((x) => x.cores),
    redisCores: redis?.cores ?? null,
    clientCores: r.cpu.client.cores,
    perDaemonCpuSecond: daemonCores !== null && daemonSeconds > 0 ? r.messages.received / daemonSeconds : null,
    perServerCpuSecond: r.perServerCpuSecond,
  };
}

const c2 = (c: number | null | undefined) => (c === null || c === undefined ? '?' : c.toFixed(2));
/** redis-server's CPU is small: one more digit (/proc counts 10 ms ticks, 0.001 cores over 10 s). */
const c3 = (c: number | null | undefined) => (c === null || c === undefined ? '?' : c.toFixed(3));

const started = new Date();
const loadBefore = os.loadavg()[0];
const versions = readVersions();
versions.redis = run(REDIS_SERVER, ['--version']).out.match(/v=(\S+)/)?.[1] ?? '?';
const runs = new Map<string, Run>(); // `${scenario}/${nodes}`
for (const sc of SCENARIOS) {
  for (const nodes of [1, 2] as const) {
    process.stderr.write(`bench:cluster: ${nodes === 1 ? 'one node' : 'two nodes'}: ${sc.title} ... `);
    const r = await runOne(sc, nodes);
    runs.set(`${sc.id}/${nodes}`, r);
    if (r.result) {
      const f = figures(r);
      process.stderr.write(`${int(f.perSecond)} deliveries/s, p99 ${lat(f.p99)}, daemons ${f.daemonCores?.toFixed(2) ?? '?'} cores, ` +
        `redis-server ${c3(f.redisCores)} cores, load generator ${f.clientCores.toFixed(2)} cores${r.note ? `  [${r.note}]` : ''}\n`);
    } else {
      process.stderr.write(`failed: ${r.note}\n`);
    }
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : '–');
const esc = (s: string) => s.replace(/\|/g, '/');
const commandArgs = [...(quick ? ['--quick'] : []), ...(flags.duration ? ['--duration', String(duration)] : []), ...(wanted ? ['--scenarios', SCENARIOS.map((s) => s.id).join(',')] : [])];
const command = `npm run bench:cluster${commandArgs.length ? ` -- ${commandArgs.join(' ')}` : ''}`;

function markdown(): string {
  const M: string[] = [];
  M.push(`<!-- ${BLOCK}:start (written by npm run bench:cluster; edits inside are overwritten) -->`);
  M.push('### Figures');
  M.push('');
  M.push(`Measured ${started.toISOString().slice(0, 10)} with \`${command}\`${quick ? ' (quick smoke run: short windows, fewer clients)' : ''}.`);
  M.push('');
  const loadAfter = os.loadavg()[0];
  M.push(`- Machine: ${cpuInfo()}. One-minute load average ${loadBefore.toFixed(1)} at the start and ${loadAfter.toFixed(1)} at the end${Math.max(loadBefore, loadAfter) > 1.5 ? ' (other work was running: absolute rates are noisy, the per-CPU-second figures less so)' : ''}.`);
  M.push(`- Versions: RingSocket ${versions.ringsocket} on Node ${versions.node}; Redis ${versions.redis}.`);
  M.push(`- ${L.text} Each daemon runs \`worker_c: 1\` (one I/O worker thread and the app thread).`);
  M.push(`- Windows of ${duration} s after a short warm-up. CPU is user + system time from \`/proc/<pid>/stat\` over the window, per process; "daemons" adds up node-a and node-b.`);
  M.push('');
  for (const sc of SCENARIOS) {
    M.push(`#### ${sc.title}`);
    M.push('');
    M.push('| run | deliveries/s | p50 | p99 | daemons CPU (cores) | redis-server CPU (cores) | load generator CPU (cores) | deliveries per daemon CPU-s |');
    M.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const one = runs.get(`${sc.id}/1`), two = runs.get(`${sc.id}/2`);
    const f1 = one?.result ? figures(one) : null, f2 = two?.result ? figures(two) : null;
    for (const [label, run, f] of [['one node', one, f1], ['two nodes', two, f2]] as const) {
      if (!run || !f) { M.push(`| ${label} | ${esc(run?.note ?? 'not run')} | | | | | | |`); continue; }
      const bound = f.clientCores >= CLIENT_BOUND_CORES * L.threads ? ' †' : '';
      const note = run.note ? ` (${esc(run.note)})` : '';
      M.push(`| ${label}${note} | ${int(f.perSecond)}${bound} | ${lat(f.p50)} | ${lat(f.p99)} | ${c2(f.daemonCores)}${f.perDaemon.length > 1 ? ` (${f.perDaemon.map(c2).join(' + ')})` : ''} | ${c3(f.redisCores)} | ${c2(f.clientCores)} | ${f.perDaemonCpuSecond === null ? '?' : int(f.perDaemonCpuSecond)} |`);
    }
    if (f1 && f2) {
      M.push(`| two / one | ${ratio(f2.perSecond, f1.perSecond)} | ${ratio(f2.p50, f1.p50)} | ${ratio(f2.p99, f1.p99)} | ${ratio(f2.daemonCores, f1.daemonCores)} | ${ratio(f2.redisCores, f1.redisCores)} | ${ratio(f2.clientCores, f1.clientCores)} | ${ratio(f2.perDaemonCpuSecond, f1.perDaemonCpuSecond)} |`);
    }
    M.push('');
    // Each node's share: on node-b every delivery crossed Redis, on node-a none did.
    const rows = [['one node', one], ['two nodes', two]] as const;
    M.push('| run | node | clients (senders) | deliveries/s | p50 | p99 | daemon CPU (cores) |');
    M.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [label, run] of rows) {
      const r = run?.result;
      if (!r) continue;
      const f = figures(run!);
      r.targets.forEach((t, k) => {
        M.push(`| ${label} | ${NODE_IDS[k]} | ${int(t.connections.requested)} (${t.senders}) | ${int(t.messages.perSecond)} | ${t.latencyUs.count ? lat(t.latencyUs.p50) : '–'} | ${t.latencyUs.count ? lat(t.latencyUs.p99) : '–'} | ${c2(f.perDaemon[k])} |`);
      });
    }
    M.push('');
  }
  M.push(`† the load generator used ${CLIENT_BOUND_CORES} cores per thread or more: that throughput is bounded by the client, not by the servers; compare the per-daemon-CPU-second column instead.`);
  M.push(`<!-- ${BLOCK}:end -->`);
  return M.join('\n') + '\n';
}

const md = markdown();
const cacheDir = join(root, 'node_modules', '.cache', 'bench-cluster');
mkdirSync(cacheDir, { recursive: true });
writeFileSync(join(cacheDir, 'last.json'), JSON.stringify({ started, quick, duration, versions, layout: L, runs: Object.fromEntries(runs) }, null, 2));
writeFileSync(join(cacheDir, 'last.md'), md);
process.stdout.write('\n' + md);
if (write) {
  writeDocsBlock(BLOCK, md, DOCS_SECTION);
  process.stderr.write(`bench:cluster: wrote the ${BLOCK} block of docs/benchmarks.md\n`);
} else {
  process.stderr.write(`bench:cluster: docs not written (${quick ? 'quick run; add --write' : '--no-write'}); a copy in node_modules/.cache/bench-cluster/last.md\n`);
}
const failed = [...runs.values()].some((r) => r.failed);
process.exitCode = failed ? 1 : 0;
