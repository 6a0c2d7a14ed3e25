// The conformance suite against the reference: an echo server on the `ws` package (which passes
// Autobahn's cases 1-10). Every case passing here shows the suite itself is right.
// If the ws echo server does not start, every case fails with the reason.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registerConformance, startWsEchoServer, type ReferenceServer } from './suite.ts';
import { guardSetup } from '../helpers/daemon-exit.ts';

const Ws = suite<{ server?: ReferenceServer }>('conformance: ws echo server (reference)');

let url = '';
guardSetup(Ws, 'starting the ws echo server (test/fixtures/ws-echo-server.ts)', async (ctx) => {
  ctx.server = await startWsEchoServer();
  url = ctx.server.url;
});
// Not an assertion in the after hook: uvu 0.5.6 would lose the suite's report (test/helpers/daemon-exit.ts).
Ws.after(async (ctx) => { await ctx.server?.stop(); });

registerConformance(Ws, () => url);
Ws('the ws echo server is still running after the cases', (ctx) => {
  assert.not.ok(ctx.server?.exited(), 'the ws echo server exited during the suite');
});

Ws.run();
