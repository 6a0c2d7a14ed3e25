// The typed client (ringsocket/client) against the real daemon, over Node's own WebSocket (the
// platform's, as in a browser): silly-calc and chat through their protocol modules, the 49xx closes
// reported by name, and values outside a schema refused before anything is sent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { withDeadline, sleep } from './helpers/deadline.ts';
import {
  connect, decode, CloseCode, RingSocketSchemaError, RingSocketClientError, type Client, type CloseInfo,
} from '../src/client/index.ts';
import { calcRequest, calcSum, CALC_REPLY } from '../apps/silly-calc/protocol.ts';
import { say, rename, whisper, list, CLOSE_BAD_NAME, type ChatEvent } from '../apps/chat/protocol.ts';

const MS = 5000;

const Typed = suite<{ d: RunningDaemon }>('typed client over the daemon');

const typed = daemonSuite(Typed, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [
      { name: 'silly-calc', app_path: 'apps/silly-calc/app.ts', paths: ['/silly-calc'] },
      { name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'] },
    ],
    config: { worker_c: 2 },
  });
});

function open(d: RunningDaemon, path: string): Promise<Client> {
  return withDeadline(connect(d.url(path)), MS, `connect ${path}`);
}

function next(c: Client): Promise<string | Uint8Array> {
  return withDeadline(c.receive(), MS, 'a message');
}

function closed(c: Client): Promise<CloseInfo> {
  return withDeadline(c.closed, MS, 'the close');
}

async function nextText(c: Client): Promise<string> {
  const m = await next(c);
  assert.type(m, 'string', 'a text message');
  return m as string;
}

async function nextSum(c: Client): Promise<bigint> {
  const m = await next(c);
  assert.instance(m, Uint8Array, 'a binary message');
  return decode(calcSum, m as Uint8Array)[0];
}

async function event(c: Client): Promise<ChatEvent> {
  return JSON.parse(await nextText(c)) as ChatEvent;
}

/** A silly-calc client the app has seen open: its first request was answered. */
async function calcClient(d: RunningDaemon): Promise<Client> {
  const c = await open(d, '/silly-calc');
  c.send(calcRequest, 0, [0]);
  assert.is(await nextText(c), CALC_REPLY);
  return c;
}

Typed('silly-calc: the sum of a typed request reaches the other client, decoded as a bigint', async ({ d }) => {
  const a = await calcClient(d);
  const b = await calcClient(d);
  assert.is(await nextSum(a), 0n, "b's first request");
  const cases: [number, number[] | Uint16Array, bigint][] = [
    [-5, [1, 65535, 3], 65534n],
    [2147483647, new Uint16Array(10).fill(65535), 2147483647n + 655350n],
    [-2147483648, [0], -2147483648n],
  ];
  for (const [i32, u16s, sum] of cases) {
    a.send(calcRequest, i32, u16s);
    assert.is(await nextText(a), CALC_REPLY);
    assert.is(await nextSum(b), sum, `${i32} + ${[...u16s]}`);
  }
  a.close(CloseCode.NORMAL, 'done');
  assert.equal(await closed(a), { code: CloseCode.NORMAL, name: 'NORMAL', reason: 'done', wasClean: true });
  // Without a code, as WebSocket.close(): an empty close frame, which the server echoes.
  b.close();
  assert.equal(await closed(b), { code: CloseCode.NO_STATUS, name: 'NO_STATUS', reason: '', wasClean: true });
});

Typed('chat: two clients say, whisper, rename and list through the protocol module', async ({ d }) => {
  const a = await open(d, '/chat');
  const wa = await event(a);
  assert.is(wa.type, 'welcome');
  const idA = (wa as { id: number }).id;
  const b = await open(d, '/chat');
  const wb = await event(b);
  const idB = (wb as { id: number }).id;
  assert.equal(await event(a), { type: 'join', id: idB, name: `guest-${idB}` });

  a.send(say, 'hello 笑');
  assert.equal(await event(b), { type: 'say', id: idA, name: `guest-${idA}`, text: 'hello 笑' });

  b.send(rename, 'bob');
  for (const c of [a, b]) assert.equal(await event(c), { type: 'rename', id: idB, old: `guest-${idB}`, name: 'bob' });

  b.send(whisper, BigInt(idA), 'psst');
  assert.equal(await event(a), { type: 'whisper', id: idB, name: 'bob', text: 'psst' });
  assert.equal(await event(b), { type: 'whispered', to: idA });

  a.send(list);
  assert.equal(await event(a), { type: 'list', clients: [{ id: idA, name: `guest-${idA}` }, { id: idB, name: 'bob' }].sort((x, y) => x.id - y.id) });

  b.close();
  assert.equal(await event(a), { type: 'leave', id: idB, name: 'bob' });
  a.close(CloseCode.NORMAL);
  await Promise.all([closed(a), closed(b)]);
});

Typed('reports the 49xx closes by name: wrong size, wrong data kind, unknown case', async ({ d }) => {
  const cases: [string, string | Uint8Array, number, string][] = [
    ['/silly-calc', new Uint8Array(5), CloseCode.WRONG_SIZE, 'WRONG_SIZE'],
    ['/silly-calc', 'not binary', CloseCode.WRONG_DATA_KIND, 'WRONG_DATA_KIND'],
    ['/chat', new Uint8Array([9]), CloseCode.UNKNOWN_CASE, 'UNKNOWN_CASE'],
  ];
  for (const [path, raw, code, name] of cases) {
    const c = await open(d, path);
    c.sendRaw(raw);
    const info = await closed(c);
    assert.equal([info.code, info.name], [code, name], `${path} ${typeof raw}`);
    // What arrived before the close is still there to read (chat's welcome), then the close.
    const left: unknown[] = [];
    for await (const m of c) left.push(m);
    assert.is(left.length, path === '/chat' ? 1 : 0);
    try {
      await c.receive();
      assert.unreachable('a message after the close');
    } catch (err) {
      assert.instance(err, RingSocketClientError);
      assert.equal([(err as RingSocketClientError).code, (err as RingSocketClientError).close], ['RS_CLIENT_CLOSED', info]);
    }
  }
});

Typed("an app's own close code has no name", async ({ d }) => {
  const c = await open(d, '/chat');
  await event(c);
  c.send(rename, 'a\u0007b');
  const info = await closed(c);
  assert.equal(info, { code: CLOSE_BAD_NAME, reason: '', wasClean: true });
});

Typed('refuses values outside the schema before sending: the connection stays open', async ({ d }) => {
  const c = await calcClient(d);
  const refused: [() => void, string][] = [
    [() => c.send(calcRequest, 1, []), 'RS_SCHEMA_WRONG_SIZE'],
    [() => c.send(calcRequest, 1, new Array(11).fill(1)), 'RS_SCHEMA_WRONG_SIZE'],
    [() => c.send(calcRequest, 2 ** 31, [1]), 'RS_SCHEMA_BAD_VALUE'],
    [() => c.send(calcRequest, 1, [65536]), 'RS_SCHEMA_BAD_VALUE'],
    [() => (c.send as (...a: unknown[]) => void)(calcRequest, '1', [1]), 'RS_SCHEMA_BAD_VALUE'],
  ];
  for (const [send, code] of refused) {
    try {
      send();
      assert.unreachable(`${code}: nothing thrown`);
    } catch (err) {
      assert.instance(err, RingSocketSchemaError);
      assert.is((err as RingSocketSchemaError).code, code);
    }
  }
  assert.is(c.bufferedAmount, 0, 'nothing was queued');
  // Had any of them gone out, the daemon would have closed the client (4900): it answers instead.
  c.send(calcRequest, 40, [2]);
  assert.is(await nextText(c), CALC_REPLY);
  await sleep(50);
  c.close(CloseCode.NORMAL);
  assert.is((await closed(c)).code, CloseCode.NORMAL);
});

Typed('rejects connect() when the handshake is refused', async ({ d }) => {
  try {
    await withDeadline(connect(d.url('/nowhere')), MS, 'connect /nowhere');
    assert.unreachable('connected');
  } catch (err) {
    assert.instance(err, RingSocketClientError);
    const e = err as RingSocketClientError;
    assert.is(e.code, 'RS_CLIENT_CONNECT_FAILED');
    assert.equal([e.close?.code, e.close?.name], [CloseCode.ABNORMAL, 'ABNORMAL']);
  }
});

typed.stopTest({ after: (ctx) => { assert.not.match(ctx.d.output(), / error /); } });

Typed.run();
