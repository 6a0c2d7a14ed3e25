// Sections 12 and 13 (permessage-deflate) against the real daemon serving apps/echo with
// `permessage_deflate: true` (test/helpers/daemon.ts, one worker, default limits otherwise). Same
// cases as deflate-ws-reference.test.ts; a server that declines the offers (UNIMPLEMENTED in
// Autobahn's report) fails here. After the cases, one test checks every 101's
// Sec-WebSocket-Extensions as a whole: the daemon's defaults for `true` are
// server_no_context_takeover and window bits 15, so every response it gave must carry
// server_no_context_takeover (RFC 7692 lets a server add it to any offer).
//
// A daemon that does not start (e.g. one that does not know the key yet) fails every test with
// the reason. The last test stops the daemon and checks that it exits 0 on SIGTERM.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registerDeflateConformance, type DeflateResult } from './deflate-runner.ts';
import { daemonSuite } from '../helpers/daemon-exit.ts';
import type { RunningDaemon } from '../helpers/daemon.ts';

const Daemon = suite<{ d?: RunningDaemon }>('permessage-deflate conformance: daemon with apps/echo');

let url = '';
const life = daemonSuite(Daemon, async (ctx) => {
  const { startDaemon } = await import('../helpers/daemon.ts');
  ctx.d = await startDaemon({ config: { permessage_deflate: true } });
  url = ctx.d.url();
}, 'starting the daemon with apps/echo and permessage_deflate: true');
Daemon('starts the daemon with apps/echo and permessage_deflate: true', (ctx) => {
  assert.is(ctx.d?.proc.exitCode, null, 'the daemon is running');
});

const results: DeflateResult[] = [];
registerDeflateConformance(Daemon, () => url, { onResult: (r) => results.push(r) });

Daemon('every negotiation followed the daemon\'s defaults for permessage_deflate: true', () => {
  assert.ok(results.length > 0, 'no case negotiated anything');
  for (const r of results) {
    const n = r.negotiated;
    assert.ok(n, `${r.id}: nothing negotiated (response ${JSON.stringify(r.response)})`);
    assert.ok(n.serverNoContextTakeover, `${r.id}: the default server_no_context_takeover is not in the response ${JSON.stringify(r.response)}`);
  }
});
life.stopTest({ name: 'the daemon exits 0 on SIGTERM after the cases' });

Daemon.run();
