// CPU and memory accounting of the bench (src/bench/cpu.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { clientWindow, clockTicksPerSecond, parseProcStat, parseStatusKb, sampleServer, serverWindow } from '../src/bench/cpu.ts';

const C = suite('bench cpu');

C('reads utime and stime from a stat line whose command holds spaces and parentheses', () => {
  const hz = clockTicksPerSecond();
  const line = '4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 1000000 2000 18446744073709551615';
  assert.equal(parseProcStat(line), { user: 250 / hz, system: 75 / hz });
});

C('rejects an unreadable stat line', () => {
  assert.throws(() => parseProcStat('garbage'), /unreadable \/proc stat line/);
  assert.throws(() => parseProcStat('1 (x) S 1'), /unreadable \/proc stat line/);
});

C('reads kB fields of /proc/<pid>/status in bytes', () => {
  const status = 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n';
  assert.is(parseStatusKb(status, 'VmRSS'), 12345 * 1024);
  assert.is(parseStatusKb(status, 'VmHWM'), null);
});

C('samples a live process: its CPU time agrees with process.cpuUsage', () => {
  const a = sampleServer(process.pid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // Burn 200 ms of CPU (not wall time: the machine may be busy), within 5 s at most.
  const used = () => { const u = process.cpuUsage(c0); return (u.user + u.system) / 1e6; };
  while (used() < 0.2 && performance.now() - t0 < 5000) { /* burn */ }
  const cpu = used();
  const b = sampleServer(process.pid);
  const w = serverWindow(a, b);
  // /proc counts in clock ticks (10 ms at 100 Hz): allow a few ticks either way.
  assert.ok(Math.abs(w.seconds - cpu) <= 0.05, `/proc says ${w.seconds} s, cpuUsage ${cpu} s`);
  assert.ok(w.cores > 0 && w.cores <= 1.2, `${w.cores} cores`);
  assert.ok(b.rss > 10 * 1024 * 1024);
  const cw = clientWindow(c0, process.cpuUsage(), performance.now() - t0);
  assert.ok(cw.seconds >= cpu && cw.cores > 0, `client window ${JSON.stringify(cw)}`);
});

C('throws for a process that does not exist', () => {
  assert.throws(() => sampleServer(2 ** 22 + 12345), /ENOENT/);
});

C.run();
