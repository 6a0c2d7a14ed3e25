// The conformance suite against the real daemon serving apps/echo (test/helpers/daemon.ts starts
// it with its default limits and one worker). Same cases as ws-reference.test.ts, plus one rule
// ws does not meet: invalid UTF-8 must fail the connection as soon as the bad byte arrives (the
// daemon's decoder validates as it goes), so Autobahn's NON-STRICT is not enough for 6.4.x here.
//
// There is no switch to turn this off: a missing file or a daemon that does not start fails the
// first test with the reason, and every case after it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerConformance } from './suite.ts';
import type { RunningDaemon } from '../helpers/daemon.ts';

const need = ['../helpers/daemon.ts', '../../bin/ringsocket.mjs', '../../apps/echo/app.ts'];
const missing = need.filter((p) => !existsSync(fileURLToPath(new URL(p, import.meta.url))));

const Daemon = suite<{ d?: RunningDaemon }>('conformance: daemon with apps/echo');

let url = '';
let startError: Error | null = null;
Daemon.before(async (ctx) => {
  // uvu drops an error thrown by a before hook without a word, so it is kept for the first test.
  if (missing.length) {
    startError = new Error(`missing: ${missing.map((p) => fileURLToPath(new URL(p, import.meta.url))).join(', ')}`);
    return;
  }
  try {
    const { startDaemon } = await import('../helpers/daemon.ts');
    ctx.d = await startDaemon();
    url = ctx.d.url();
  } catch (err) {
    startError = err as Error;
  }
});
Daemon('starts the daemon with apps/echo', () => {
  if (startError) assert.unreachable(`the daemon did not start: ${startError.message}`);
});
registerConformance(Daemon, () => {
  if (startError) throw new Error(`the daemon did not start (see "starts the daemon with apps/echo"): ${startError.message}`);
  return url;
}, { requireFailFast: true });
Daemon.after(async (ctx) => {
  if (!ctx.d) return;
  const code = await ctx.d.stop();
  assert.is(code, 0, `the daemon exits 0 on SIGTERM after the suite; output:\n${ctx.d.output().slice(-4000)}`);
});

Daemon.run();
