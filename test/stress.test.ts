// The short form of the stress test (the long form: npm run stress; docs/stress.md): the real
// daemon with 2 workers and the stress app, 20 echoing clients with churn, about 10 seconds.
// Every sender variant, random subsets, stale ids; the app checks every echo (id addressed to that
// client, FIFO order, size, every byte) and the clients check every message they receive.
//
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runStress, failures, report, type StressOptions, type StressResult } from './stress/driver.ts';
import { withDeadline } from './helpers/deadline.ts';
import { guardSetup } from './helpers/daemon-exit.ts';
import { VARIANTS } from './fixtures/apps/stress/app.ts';

const Stress = suite<{ r: StressResult; o: StressOptions }>('stress (short form)');

// runStress starts the daemon, runs the clients and stops it; an error fails every test with it.
guardSetup(Stress, 'the stress run', async (ctx) => {
  // A 2 MiB outstanding-byte budget: small enough that the app reaches its read-only phase (at 90%)
  // many times in 8 s however fast the daemon turns echoes around.
  ctx.o = { clients: 20, seconds: 8, workers: 2, budget: 2 * 1048576, maxSize: 64 * 1024, churnPerSecond: 4, seed: 12345 };
  ctx.r = await withDeadline(runStress(ctx.o), 45000, 'stress run');
  console.log(report(ctx.r, ctx.o));
});

Stress('finds no violation: no misdelivery, duplicate, reordering, wrong size or wrong byte; no error, no unexpected close', ({ r }) => {
  assert.equal(failures(r), []);
});

Stress('the daemon exits 0 on SIGTERM at the end', ({ r }) => {
  assert.is(r.daemonExit, 0, `the daemon's exit status after SIGTERM${r.daemonSignal ? ` (ended by ${r.daemonSignal})` : ''}; its output ends:\n${r.daemonOutputTail}`);
});

Stress('verifies thousands of echoes on both workers', ({ r }) => {
  assert.ok(r.app.verified > 5000, `${r.app.verified} echoes verified`);
  assert.ok((r.app.verifiedByWorker[0] ?? 0) > 500 && (r.app.verifiedByWorker[1] ?? 0) > 500,
    `per worker: ${r.app.verifiedByWorker.join(' / ')}`);
  assert.ok(r.clients.received >= r.app.verified, 'the clients checked every message the app verified');
});

Stress('uses every sender variant, stale ids, churn and the read-only phase', ({ r }) => {
  for (const v of VARIANTS) assert.ok(r.app.sent[v] > 20, `${v}: ${r.app.sent[v]} sends`);
  assert.ok(r.app.staleSends > 0, 'stale ids were addressed');
  assert.ok(r.clients.churned >= 20 && r.app.closes >= 20, `${r.clients.churned} clients churned, ${r.app.closes} closes seen by the app`);
  assert.ok(r.app.readOnlyPhases >= 1, `${r.app.readOnlyPhases} read-only phases`);
});

Stress.run();
