// CPU per message, thread by thread: the measurement behind the per-thread figures in
// docs/performance.md. One server (the RingSocket daemon as bench:compare runs it, or the ws
// baseline) is pinned to SERVER_CPUS, ringsocket-bench to BENCH_CPUS; after WARM seconds the
// server's threads' utime + stime are read from /proc/<pid>/task/*/stat, and again WINDOW seconds
// later. Threads with the same name (V8's helpers) are added up.
//
//   node bench/thread-cpu.ts <ringsocket|ws> <echo|broadcast> [ringsocket-bench options]
//   node bench/thread-cpu.ts ringsocket echo -c 1000 -p 4 -s 32 --binary -d 10
//
// Environment: SERVER_CPUS (default 0), BENCH_CPUS (default 1), WARM (s, default 3), WINDOW (s,
// default 6; -d must cover WARM + WINDOW). The daemon inherits the environment. Prints one line:
// µs of CPU per message (per echo, or per broadcast delivery) for each thread and in total, and
// the load generator's messages per second.
import { readdirSync, readFileSync } from 'node:fs';
import { parseBenchArgs } from '../src/bench/args.ts';
import { runBenchProcess, sleep, startRingSocket, startWsServer, type RunningServer } from './harness.ts';

const [server, app, ...options] = process.argv.slice(2);
if ((server !== 'ringsocket' && server !== 'ws') || (app !== 'echo' && app !== 'broadcast')) {
  process.stderr.write('usage: node bench/thread-cpu.ts <ringsocket|ws> <echo|broadcast> [ringsocket-bench options]\n');
  process.exit(2);
}
const SERVER_CPUS = process.env.SERVER_CPUS ?? '0';
const BENCH_CPUS = process.env.BENCH_CPUS ?? '1';
const WARM = Number(process.env.WARM ?? 3);
const WINDOW = Number(process.env.WINDOW ?? 6);
// The bench's own parser: its default duration and both spellings of the option.
const parsed = parseBenchArgs([app, 'ws://127.0.0.1:1/', ...options]);
if (parsed.kind !== 'run') {
  process.stderr.write(`thread-cpu: ${parsed.kind === 'error' ? parsed.message : 'give ringsocket-bench options, not --help'}\n`);
  process.exit(2);
}
const duration = parsed.options.duration;
if (!(duration >= WARM + WINDOW)) {
  process.stderr.write(`thread-cpu: -d ${duration} does not cover WARM ${WARM} + WINDOW ${WINDOW} seconds\n`);
  process.exit(2);
}

/** CPU ticks (utime + stime) of every thread of `pid`, added up by thread name. */
function ticksByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new Error(`the server (pid ${pid}) ended during the run`);
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // "tid (comm) state ...": comm may hold spaces, so the fields are counted after its ')'.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
  }
  return out;
}

const srv: RunningServer = server === 'ringsocket'
  ? await startRingSocket({ app, cpus: SERVER_CPUS })
  : await startWsServer(app, SERVER_CPUS);
let failed: string | null = null;
try {
  // Started first and awaited last: the samples are taken while it runs.
  const bench = runBenchProcess([app, srv.url, ...options, '--pid', String(srv.pid)], BENCH_CPUS, duration + 60);
  await sleep(WARM * 1000);
  const a = ticksByThread(srv.pid);
  const t0 = performance.now();
  await sleep(WINDOW * 1000);
  const b = ticksByThread(srv.pid);
  const seconds = (performance.now() - t0) / 1000;
  const { result, note } = await bench;
  if (!result || note) failed = note ?? 'no result';
  else {
    const rate = result.messages.perSecond;
    // A tick is 10 ms (USER_HZ 100): µs per message = ticks × 10,000 / messages.
    const perMsg = (ticks: number) => (ticks * 10_000) / (rate * seconds);
    const parts: string[] = [];
    let total = 0;
    for (const [name, after] of [...b].sort()) {
      const ticks = after - (a.get(name) ?? 0);
      total += ticks;
      if (ticks > 0) parts.push(`${name.replace(/ /g, '_')} ${perMsg(ticks).toFixed(2)}`);
    }
    console.log(`${server} ${app}: ${parts.join(', ')}; total ${perMsg(total).toFixed(2)} µs/msg at ${Math.round(rate)} msgs/s`);
  }
} catch (err) {
  failed = (err as Error).message;
} finally {
  const stopped = await srv.stop();
  if (stopped) failed ??= stopped;
}
if (failed) {
  process.stderr.write(`thread-cpu: ${failed}\n`);
  process.exit(1);
}
