// Sections 12 and 13 (permessage-deflate) against the reference: a `ws` echo server with
// perMessageDeflate (test/fixtures/ws-echo-server.ts --deflate, in a child process). ws passes
// Autobahn's sections 12 and 13, so every case passing here shows the deflate cases, both of their
// clients (ws and the raw one of deflate-client.ts) and the negotiation check are right.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registerDeflateConformance } from './deflate-runner.ts';
import { startWsEchoServer, type ReferenceServer } from './suite.ts';
import { guardSetup } from '../helpers/daemon-exit.ts';

const Ws = suite<{ server?: ReferenceServer }>('permessage-deflate conformance: ws echo server (reference)');

let url = '';
guardSetup(Ws, 'starting the ws deflate echo server (test/fixtures/ws-echo-server.ts --deflate)', async (ctx) => {
  ctx.server = await startWsEchoServer({ deflate: true });
  url = ctx.server.url;
});
// Not an assertion in the after hook: uvu 0.5.6 would lose the suite's report (test/helpers/daemon-exit.ts).
Ws.after(async (ctx) => { await ctx.server?.stop(); });

registerDeflateConformance(Ws, () => url);
Ws('the ws deflate echo server is still running after the cases', (ctx) => {
  assert.not.ok(ctx.server?.exited(), 'the ws deflate echo server exited during the suite');
});

Ws.run();
