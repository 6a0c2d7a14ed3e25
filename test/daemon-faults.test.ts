// Faults are contained and reported honestly (issue: hardening). Faults are injected through the
// test-only switch RINGSOCKET_TEST_FAULT (src/daemon/worker/faults.ts): an error while handling
// one client's input costs only that client (1011); a worker thread that dies stops the daemon
// with exit status 70, never 0. And a stop reaches an app thread that blocks waiting for outbound
// room, without terminate().
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { connect, closed } from './helpers/client.ts';
import { sleep } from './helpers/deadline.ts';
import { FAULT_TRIGGER, FAULT_ENV } from '../src/daemon/worker/faults.ts';
import { EXIT_WORKER_DIED } from '../src/daemon/main.ts';
import { CloseCode } from '../src/core/codes.ts';
import type WebSocket from 'ws';

const Faults = suite<{ d?: RunningDaemon }>('daemon faults');

Faults.after.each(async (ctx) => {
  if (ctx.d && ctx.d.proc.exitCode === null) await ctx.d.stop('SIGKILL');
  ctx.d = undefined;
});

const echo = (ws: WebSocket, text: string) => new Promise<string>((resolve) => {
  ws.once('message', (m: Buffer) => resolve(m.toString()));
  ws.send(text);
});

Faults('an error while handling one client closes that client with 1011; the others are served', async (ctx) => {
  const d = ctx.d = await startDaemon({ env: { [FAULT_ENV]: 'client' } });
  const good = await connect(d.url());
  const bad = await connect(d.url());
  assert.is(await echo(good, 'before'), 'before');
  const badClosed = closed(bad);
  bad.send(FAULT_TRIGGER);
  assert.is((await badClosed).code, CloseCode.INTERNAL_ERROR);
  assert.match(d.output(), /internal error while handling its input \(closing it with 1011\): Error: injected fault/);
  assert.is(await echo(good, 'after'), 'after');
  const again = await connect(d.url());
  assert.is(await echo(again, 'new client'), 'new client');
  good.close();
  again.close();
  assert.is(await d.stop(), 0, d.output());
});

Faults('a worker thread that dies stops the daemon with exit status 70', async (ctx) => {
  const d = ctx.d = await startDaemon({ env: { [FAULT_ENV]: 'worker' }, config: { worker_c: 2 } });
  const ws = await connect(d.url());
  assert.is(await echo(ws, 'x'), 'x');
  const gone = closed(ws, 10_000);
  ws.send(FAULT_TRIGGER);
  const code = await new Promise<number | null>((resolve) => d.proc.once('exit', resolve));
  assert.is(code, EXIT_WORKER_DIED, d.output());
  assert.match(d.output(), /worker#\d died \(thread exit code 1\): stopping the daemon with exit status 70/);
  assert.match(d.output(), /injected crash/);
  assert.match(d.output(), /stopped \(exit status 70\)/);
  assert.ok([CloseCode.ABNORMAL, CloseCode.GOING_AWAY].includes((await gone).code as 1006), 'the client is gone');
});

Faults('a stop reaches an app blocked waiting for outbound room, without terminate()', async (ctx) => {
  const d = ctx.d = await startDaemon({
    apps: [{ name: 'flood', app_path: 'test/fixtures/apps/flood/app.ts', paths: ['/flood'] }],
    config: { max_ws_msg_size: 4096, outbound_ring_buf_size: 16384, inbound_ring_buf_size: 16384, shutdown_wait_ws: 1 },
  });
  await sleep(300);
  const started = Date.now();
  const code = await d.stop();
  const took = Date.now() - started;
  assert.is(code, 0, d.output());
  assert.not.match(d.output(), /did not stop within/);
  assert.ok(took < 4000, `stopped in ${took} ms`);
});

Faults.run();
