// An app that tries to end its thread: the daemon stays up, other clients and apps are served.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type AppSpec } from './helpers/daemon.ts';
import { withDaemon } from './helpers/daemon-exit.ts';
import { connectInbox, closed, rawExchange, upgradeRequest } from './helpers/client.ts';
import { CloseCode } from '../src/core/codes.ts';

const DIES: AppSpec = { name: 'dies', app_path: 'test/fixtures/apps/dies/app.ts', paths: ['/dies'] };
const ECHO: AppSpec = { name: 'echo', app_path: 'apps/echo/app.ts', paths: ['/echo'] };

const Failure = suite('daemon app failure');

Failure('process.exit() in a callback is an app error: 1011 for that client, the app goes on', async () => {
  const d = await startDaemon({ apps: [DIES], config: { worker_c: 2 } });
  await withDaemon(d, async () => {
    const a = await connectInbox(d.url('/dies'));
    const b = await connectInbox(d.url('/dies'));
    const aClosed = closed(a.ws);
    a.ws.send('exit');
    assert.is((await aClosed).code, CloseCode.INTERNAL_ERROR);
    b.ws.send('still there?');
    assert.is((await b.inbox.next()).data.toString(), 'still there?');
    await d.waitFor(/dies.*may not end its thread/);
    b.ws.close();
    await closed(b.ws);
  });
});

Failure('an app thread that dies anyway: its clients get 1011, its endpoints 503 until it is restarted, other apps go on', async () => {
  const d = await startDaemon({ apps: [DIES, ECHO], config: { worker_c: 2 } });
  await withDaemon(d, async () => {
    const a = await connectInbox(d.url('/dies'));
    const b = await connectInbox(d.url('/dies'));
    const e = await connectInbox(d.url('/echo'));
    const aClosed = closed(a.ws);
    const bClosed = closed(b.ws);
    a.ws.send('die');
    assert.is((await aClosed).code, CloseCode.INTERNAL_ERROR);
    assert.is((await bClosed).code, CloseCode.INTERNAL_ERROR);
    await d.waitFor(/app dies: its thread exited unexpectedly/);
    const refused = (await rawExchange(d.port, [upgradeRequest(d.port, '/dies')])).toString('latin1');
    assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    e.ws.send('echo app unaffected');
    assert.is((await e.inbox.next()).data.toString(), 'echo app unaffected');
    // A new thread of the app serves its endpoint again, over fresh rings.
    await d.waitFor(/app dies: restarted/, 10000);
    const again = await connectInbox(d.url('/dies'));
    again.ws.send('back');
    assert.is((await again.inbox.next()).data.toString(), 'back');
    // And again: the restarted thread is watched like the first (the next delay is 2 s).
    const againClosed = closed(again.ws);
    again.ws.send('die');
    assert.is((await againClosed).code, CloseCode.INTERNAL_ERROR);
    await d.waitFor(/restarted in 2s/);
    await new Promise((r) => setTimeout(r, 2500));
    assert.is(d.output().match(/app dies: restarted/g)?.length, 2, 'restarted twice');
    const third = await connectInbox(d.url('/dies'));
    third.ws.send('once more');
    assert.is((await third.inbox.next()).data.toString(), 'once more');
    third.ws.close();
    e.ws.close();
    await Promise.all([closed(third.ws), closed(e.ws)]);
  });
});

Failure('a callback that never returns: after app_stall_timeout the app is restarted, its clients get 1011', async () => {
  const d = await startDaemon({ apps: [DIES, ECHO], config: { worker_c: 1, app_stall_timeout: 1 } });
  await withDaemon(d, async () => {
    const a = await connectInbox(d.url('/dies'));
    const e = await connectInbox(d.url('/echo'));
    const aClosed = closed(a.ws, 10000);
    a.ws.send('spin');
    e.ws.send('while it spins');
    assert.is((await e.inbox.next()).data.toString(), 'while it spins', 'the other app is served meanwhile');
    assert.is((await aClosed).code, CloseCode.INTERNAL_ERROR);
    await d.waitFor(/app dies: no progress for .*app_stall_timeout 1s/);
    await d.waitFor(/app dies: restarted/, 10000);
    const again = await connectInbox(d.url('/dies'));
    again.ws.send('back');
    assert.is((await again.inbox.next()).data.toString(), 'back');
    again.ws.close();
    e.ws.close();
    await Promise.all([closed(again.ws), closed(e.ws)]);
  });
});

Failure('an idle app is not taken for a stalled one', async () => {
  const d = await startDaemon({ apps: [DIES], config: { app_stall_timeout: 0.5 } });
  await withDaemon(d, async () => {
    await new Promise((r) => setTimeout(r, 2500));
    assert.not.match(d.output(), /no progress/);
    const a = await connectInbox(d.url('/dies'));
    a.ws.send('hi');
    assert.is((await a.inbox.next()).data.toString(), 'hi');
    a.ws.close();
    await closed(a.ws);
  });
});

Failure.run();
