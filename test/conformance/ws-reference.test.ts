// The conformance suite against the reference: an echo server on the `ws` package (which passes
// Autobahn's cases 1-10). Every case passing here shows the suite itself is right.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { registerConformance, startWsEchoServer, type ReferenceServer } from './suite.ts';

const Ws = suite<{ server?: ReferenceServer }>('conformance: ws echo server (reference)');

Ws.before(async (ctx) => {
  ctx.server = await startWsEchoServer();
});
Ws.after(async (ctx) => {
  assert.not.ok(ctx.server?.exited(), 'the ws echo server is still running after the suite');
  await ctx.server?.stop();
});

let url = '';
Ws.before.each((ctx) => { url = ctx.server!.url; });
registerConformance(Ws, () => url);

Ws.run();
