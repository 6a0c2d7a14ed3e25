// The conformance suite against the real daemon serving apps/echo (test/helpers/daemon.ts starts
// it with its default limits and one worker). Same cases as ws-reference.test.ts, plus one rule
// ws does not meet: invalid UTF-8 must fail the connection as soon as the bad byte arrives (the
// daemon's decoder validates as it goes), so Autobahn's NON-STRICT is not enough for 6.4.x here.
// And no NON-STRICT anywhere (issue 11): the echo of a valid message goes out before the close that
// a following invalid frame causes (src/daemon/worker/close-order.ts).
//
// There is no switch to turn this off: a missing file or a daemon that does not start fails the
// first test with the reason, and every case after it. The last test stops the daemon and checks
// that it exits 0 on SIGTERM.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerConformance } from './suite.ts';
import { daemonSuite } from '../helpers/daemon-exit.ts';
import type { RunningDaemon } from '../helpers/daemon.ts';

const need = ['../helpers/daemon.ts', '../../bin/ringsocket.mjs', '../../apps/echo/app.ts'];
const missing = need.filter((p) => !existsSync(fileURLToPath(new URL(p, import.meta.url))));

const Daemon = suite<{ d?: RunningDaemon }>('conformance: daemon with apps/echo');

let url = '';
// An error here fails every test of the suite with the reason (uvu would drop it without a word).
const life = daemonSuite(Daemon, async (ctx) => {
  if (missing.length) throw new Error(`missing: ${missing.map((p) => fileURLToPath(new URL(p, import.meta.url))).join(', ')}`);
  const { startDaemon } = await import('../helpers/daemon.ts');
  ctx.d = await startDaemon();
  url = ctx.d.url();
}, 'starting the daemon with apps/echo');
Daemon('starts the daemon with apps/echo', (ctx) => {
  assert.is(ctx.d?.proc.exitCode, null, 'the daemon is running');
});
registerConformance(Daemon, () => url, { requireFailFast: true, requireStrict: true });
life.stopTest({ name: 'the daemon exits 0 on SIGTERM after the suite' });

Daemon.run();
