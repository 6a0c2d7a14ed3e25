// App errors and return values through the real daemon (2 workers): a callback that throws or
// returns -1 closes only its client with 1011, is logged with the app's name, and the daemon and
// the other clients carry on; 4000-4899 closes the client with that code; rs.close() closes
// another client.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { Peer, peersOnEveryWorker } from './fixtures/apps/peers.ts';
import { CloseCode } from '../src/core/codes.ts';

const Errors = suite<{ d: RunningDaemon; others: Peer[] }>('app errors and return values over the daemon');

const life = daemonSuite(Errors, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [{ name: 'commands', app_path: 'test/fixtures/apps/commands/app.ts', paths: ['/commands'] }],
    config: { worker_c: 2 },
  });
  // Bystanders on both workers: they must keep being served through every failure.
  ctx.others = await peersOnEveryWorker(ctx.d.url(), 2, 1);
});

async function stillServed(peers: Peer[], tag: string): Promise<void> {
  for (const p of peers) {
    const payload = Buffer.from(`${tag} ${p.id}`);
    p.ws.send(payload);
    const m = await p.next();
    assert.ok(m.isBinary && m.data.equals(payload), `client ${p.id} still gets its echo after ${tag}`);
  }
}

async function victim(d: RunningDaemon): Promise<Peer> {
  return (await Peer.open(d.url())).learnId();
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

Errors('a read callback that throws closes its client with 1011 and is logged with the app name', async ({ d, others }) => {
  const v = await victim(d);
  v.cmd({ cmd: 'throw' });
  assert.is((await v.closed).code, CloseCode.INTERNAL_ERROR);
  await d.waitFor(new RegExp(`error commands: read callback of client ${v.id} threw; closing the client with 1011: Error: boom on purpose`), 5000);
  await stillServed(others, 'throw');
  assert.is(d.proc.exitCode, null, 'the daemon is up');
});

Errors('a read callback returning -1 closes its client with 1011 and is logged', async ({ d, others }) => {
  const v = await victim(d);
  v.cmd({ cmd: 'fatal' });
  assert.is((await v.closed).code, CloseCode.INTERNAL_ERROR);
  await d.waitFor(new RegExp(`error commands: read callback of client ${v.id} returned -1 \\(fatal app error\\); closing the client with 1011`), 5000);
  await stillServed(others, 'fatal');
});

Errors('a return value in 4000...4899 closes the client with that code, nothing logged', async ({ d, others }) => {
  for (const code of [4000, 4321, 4899]) {
    const v = await victim(d);
    v.cmd({ cmd: 'code', code });
    assert.is((await v.closed).code, code);
    assert.not.match(d.output(), new RegExp(`client ${v.id}`), `nothing logged about client ${v.id}`);
  }
  await stillServed(others, 'codes');
});

Errors('a return value outside 4000...4899 (not 0 or -1) is logged and the client stays open', async ({ d }) => {
  const v = await victim(d);
  v.cmd({ cmd: 'code', code: 4900 });
  await d.waitFor(new RegExp(escape(`error commands: read callback of client ${v.id} returned 4900, which means nothing there (allowed: 0, -1, 4000-4899)`)), 5000);
  v.ws.send(Buffer.from('alive'));
  assert.is((await v.next()).data.toString(), 'alive');
  await v.close();
});

Errors('rs.close(id, code) from another client\'s read closes that client with the code', async ({ d, others }) => {
  const [a, b] = [await victim(d), await victim(d)];
  a.cmd({ cmd: 'close', id: b.id, code: 4100 });
  assert.is((await b.closed).code, 4100);
  // The requester is untouched; closing a client that is gone already is ignored.
  a.cmd({ cmd: 'close', id: b.id, code: 4101 });
  a.ws.send(Buffer.from('after'));
  assert.is((await a.next()).data.toString(), 'after');
  await a.close();
  await stillServed(others, 'rs.close');
});

Errors('rs.close with a code outside 4000...4899 throws inside the app: 1011 for the caller, logged', async ({ d, others }) => {
  const [a, b] = [await victim(d), await victim(d)];
  a.cmd({ cmd: 'close', id: b.id, code: 1000 });
  assert.is((await a.closed).code, CloseCode.INTERNAL_ERROR);
  await d.waitFor(new RegExp(escape(`read callback of client ${a.id} threw; closing the client with 1011: [RS_APP_BAD_CLOSE_CODE]`)), 5000);
  b.ws.send(Buffer.from('b is fine'));
  assert.is((await b.next()).data.toString(), 'b is fine');
  await b.close();
  await stillServed(others, 'bad close code');
});

Errors('rs.log writes a line prefixed with the app name', async ({ d }) => {
  const v = await victim(d);
  v.cmd({ cmd: 'log', text: 'hello from the app 笑' });
  await d.waitFor(/notice commands: hello from the app 笑/, 5000);
  await v.close();
});

life.stopTest({ before: async (ctx) => { await Promise.all(ctx.others.map((p) => p.close())); } });

Errors.run();
