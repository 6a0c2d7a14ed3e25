// ringsocket/client in headless Chromium, from the INSTALLED package, against the real daemon:
// two pages chat through apps/chat, silly-calc's sum through the typed client (the apps' own
// protocol modules), and values outside a schema refused in the page before anything is sent
// (while the same bytes sent raw are refused by the daemon, with the close code the page named).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { browserFixture, openTestPage, evaluate, type BrowserFixture } from './helpers/browser.ts';

type ClientModule = typeof import('../src/client/index.ts');
type ChatProtocol = typeof import('../apps/chat/protocol.ts');
type CalcProtocol = typeof import('../apps/silly-calc/protocol.ts');

interface Ctx { fx?: BrowserFixture; d?: RunningDaemon; pages: { page: Page; problems: string[] }[] }
const Client = suite<Ctx>('browser: ringsocket/client in Chromium against the daemon (installed package)', { pages: [] });

const { stopTest } = daemonSuite(Client, async (ctx) => {
  ctx.fx = await browserFixture();
  const origin = ctx.fx.server.origin;
  ctx.d = await startDaemon({
    apps: [
      { name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'], allowed_origins: [origin] },
      { name: 'silly-calc', app_path: 'apps/silly-calc/app.ts', paths: ['/silly-calc'], allowed_origins: [origin] },
      {
        name: 'hooked', app_path: 'test/fixtures/apps/upgrade/app.ts', paths: ['/hooked'], allowed_origins: [origin],
        endpoint: { subprotocols: ['v2', 'v1'] },
      },
    ],
    // Chromium offers permessage-deflate on every connection: every test here runs compressed,
    // from 16 bytes on (the default threshold, 1024, would leave the apps' small messages plain).
    config: { permessage_deflate: { threshold: 16 } },
  });
  for (let i = 0; i < 2; i++) ctx.pages.push(await openTestPage(ctx.fx.browser, origin));
}, 'installing the package, starting Chromium and the daemon');
Client.after(async (ctx) => { await ctx.fx?.dispose(); });

/** Runs in a page: joins the chat as `name`; the page keeps what it receives in window.chat. */
async function joinChat({ url, name }: { url: string; name: string }): Promise<number> {
  const { connect } = (await import('ringsocket/client' as string)) as ClientModule;
  const protocol = (await import('/protocol/chat.js' as string)) as ChatProtocol;
  type Ev = import('../apps/chat/protocol.ts').ChatEvent;
  const events: Ev[] = [];
  const until = async <T>(find: () => T | undefined, what: string): Promise<T> => {
    for (let t = 0; t < 250; t++) {
      const v = find();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`waited 5 s for ${what}; got ${JSON.stringify(events)}`);
  };
  const client = await connect(url, { onMessage: (m) => events.push(JSON.parse(m as string) as Ev) });
  (globalThis as unknown as { chat: unknown }).chat = { client, events, protocol, until };
  const welcome = await until(() => events.find((e) => e.type === 'welcome'), 'the welcome');
  client.send(protocol.rename, name);
  await until(() => events.find((e) => e.type === 'rename' && e.id === welcome.id), 'our rename');
  return welcome.id;
}

interface PageChat {
  client: import('../src/client/index.ts').Client;
  events: import('../apps/chat/protocol.ts').ChatEvent[];
  protocol: ChatProtocol;
  until<T>(find: () => T | undefined, what: string): Promise<T>;
}

Client('two pages chat through the daemon', async (ctx) => {
  const [a, b] = ctx.pages;
  const url = ctx.d!.url('/chat');
  const annId = await evaluate(a.page, a.problems, 'ann joins', joinChat, { url, name: 'ann' });
  const bobId = await evaluate(b.page, b.problems, 'bob joins', joinChat, { url, name: 'bob' });
  assert.is.not(annId, bobId);

  // ann speaks, bob hears it (the app sends "say" to everyone but the sender)
  await evaluate(a.page, a.problems, 'ann says hello', async (text: string) => {
    const chat = (globalThis as unknown as { chat: PageChat }).chat;
    chat.client.send(chat.protocol.say, text);
  }, 'hello from ann ✓ 笑');
  const got = await evaluate(b.page, b.problems, 'bob hears ann', async (from: number) => {
    const chat = (globalThis as unknown as { chat: PageChat }).chat;
    return chat.until(() => chat.events.find((e) => e.type === 'say' && e.id === from), 'ann\'s message');
  }, annId);
  assert.equal(got, { type: 'say', id: annId, name: 'ann', text: 'hello from ann ✓ 笑' });

  // bob answers; ann hears it and asks who is here
  await evaluate(b.page, b.problems, 'bob answers', async () => {
    const chat = (globalThis as unknown as { chat: PageChat }).chat;
    chat.client.send(chat.protocol.say, 'hi ann');
  }, null);
  const seen = await evaluate(a.page, a.problems, 'ann hears bob, lists the room', async (from: number) => {
    const chat = (globalThis as unknown as { chat: PageChat }).chat;
    const said = await chat.until(() => chat.events.find((e) => e.type === 'say' && e.id === from), 'bob\'s answer');
    chat.client.send(chat.protocol.list);
    const list = await chat.until(() => chat.events.find((e) => e.type === 'list'), 'the list');
    return { said, list };
  }, bobId);
  assert.equal(seen.said, { type: 'say', id: bobId, name: 'bob', text: 'hi ann' });
  assert.equal(seen.list, { type: 'list', clients: [{ id: annId, name: 'ann' }, { id: bobId, name: 'bob' }].sort((x, y) => x.id - y.id) });

  // ann leaves; bob sees it
  const closed = await evaluate(a.page, a.problems, 'ann leaves', async () => {
    const chat = (globalThis as unknown as { chat: PageChat }).chat;
    chat.client.close(1000, 'bye');
    return chat.client.closed;
  }, null);
  assert.is(closed.code, 1000);
  const left = await evaluate(b.page, b.problems, 'bob sees ann leave', async (from: number) => {
    const chat = (globalThis as unknown as { chat: PageChat }).chat;
    return chat.until(() => chat.events.find((e) => e.type === 'leave' && e.id === from), 'the leave');
  }, annId);
  assert.equal(left, { type: 'leave', id: annId, name: 'ann' });
  assert.equal([...a.problems, ...b.problems], []);
});

/** Runs in a page: silly-calc requests through the typed client; a second connection hears the sums. */
async function calcRun({ url, requests }: { url: string; requests: [number, number[]][] }) {
  const { connect, decode } = (await import('ringsocket/client' as string)) as ClientModule;
  const { calcRequest, calcSum, CALC_REPLY } = (await import('/protocol/silly-calc.js' as string)) as CalcProtocol;
  const sums: string[] = [];
  const replies: string[] = [];
  const watch = await connect(url, { onMessage: (m) => { if (typeof m !== 'string') sums.push(String(decode(calcSum, m)[0])); } });
  const calc = await connect(url, { onMessage: (m) => { replies.push(String(m)); } });
  for (const [i32, u16s] of requests) {
    const before = sums.length;
    calc.send(calcRequest, i32, u16s);
    for (let t = 0; t < 250 && sums.length === before; t++) await new Promise((r) => setTimeout(r, 20));
  }
  for (let t = 0; t < 250 && replies.length < requests.length; t++) await new Promise((r) => setTimeout(r, 20));
  calc.close();
  watch.close();
  return { sums, replies, expectedReply: CALC_REPLY };
}

Client('silly-calc through the typed client gives the right sum', async (ctx) => {
  const [a] = ctx.pages;
  const r = await evaluate(a.page, a.problems, 'silly-calc', calcRun, {
    url: ctx.d!.url('/silly-calc'),
    requests: [[-5, [1, 2, 3]], [-5, [1, 2, 65535]], [2147483647, Array(10).fill(65535)], [-2147483648, [0]]],
  });
  assert.equal(r.sums, ['1', '65533', String(2147483647 + 10 * 65535), '-2147483648']);
  assert.equal(r.replies, Array(4).fill(r.expectedReply));
  assert.is(r.expectedReply, '笑笑?');
  assert.equal(a.problems, []);
});

Client('a value outside the schema is refused in the page, and nothing is sent; the same bytes sent raw close the connection', async (ctx) => {
  const [, b] = ctx.pages;
  const r = await evaluate(b.page, b.problems, 'refusals', async ({ calcUrl, chatUrl }: { calcUrl: string; chatUrl: string }) => {
    const { connect, RingSocketSchemaError } = (await import('ringsocket/client' as string)) as ClientModule;
    const { calcRequest } = (await import('/protocol/silly-calc.js' as string)) as CalcProtocol;
    const { say, rename } = (await import('/protocol/chat.js' as string)) as ChatProtocol;
    const calc = await connect(calcUrl);
    const chat = await connect(chatUrl);
    const out: string[] = [];
    const attempt = (what: string, send: () => void) => {
      try {
        send();
        out.push(`${what}: SENT`);
      } catch (e) {
        out.push(`${what}: ${e instanceof RingSocketSchemaError ? `${e.code} ${e.closeCode}` : String(e)}`);
      }
    };
    const anyCalc = calc.send as (form: unknown, ...values: unknown[]) => void;
    attempt('u16 70000', () => anyCalc.call(calc, calcRequest, 1, [70000]));
    attempt('u16 -1', () => anyCalc.call(calc, calcRequest, 1, [-1]));
    attempt('no u16', () => calc.send(calcRequest, 1, []));
    attempt('11 u16', () => calc.send(calcRequest, 1, Array(11).fill(1)));
    attempt('i32 2^31', () => anyCalc.call(calc, calcRequest, 2 ** 31, [1]));
    attempt('i32 1.5', () => anyCalc.call(calc, calcRequest, 1.5, [1]));
    attempt('i32 "1"', () => anyCalc.call(calc, calcRequest, '1', [1]));
    attempt('empty say', () => chat.send(say, ''));
    attempt('say of 1001 bytes', () => chat.send(say, 'x'.repeat(1001)));
    attempt('name of 33 bytes', () => chat.send(rename, 'é'.repeat(16) + 'x'));
    out.push(`buffered ${calc.bufferedAmount + chat.bufferedAmount}`);
    // still open: a valid request is answered
    calc.send(calcRequest, 1, [2]);
    out.push(`reply ${String(await calc.receive())}`);
    // the refused values' bytes sent raw: the daemon closes with the code the page named (4900)
    calc.sendRaw(Uint8Array.of(0, 0, 0, 1));
    const closed = await calc.closed;
    out.push(`raw: closed ${closed.code} ${closed.name}`);
    chat.close();
    await chat.closed;
    return out;
  }, { calcUrl: ctx.d!.url('/silly-calc'), chatUrl: ctx.d!.url('/chat') });
  assert.equal(r, [
    'u16 70000: RS_SCHEMA_BAD_VALUE null',
    'u16 -1: RS_SCHEMA_BAD_VALUE null',
    'no u16: RS_SCHEMA_WRONG_SIZE 4900',
    '11 u16: RS_SCHEMA_WRONG_SIZE 4900',
    'i32 2^31: RS_SCHEMA_BAD_VALUE null',
    'i32 1.5: RS_SCHEMA_BAD_VALUE null',
    'i32 "1": RS_SCHEMA_BAD_VALUE null',
    'empty say: RS_SCHEMA_WRONG_SIZE 4900',
    'say of 1001 bytes: RS_SCHEMA_WRONG_SIZE 4900',
    'name of 33 bytes: RS_SCHEMA_WRONG_SIZE 4900',
    'buffered 0',
    'reply 笑笑?',
    'raw: closed 4900 WRONG_SIZE',
  ]);
});

Client('Chromium negotiates permessage-deflate and a subprotocol, passes the upgrade hook, and echoes compressed text', async (ctx) => {
  const [a] = ctx.pages;
  const r = await evaluate(a.page, a.problems, 'hooked', async ({ url }: { url: string }) => {
    const { connect, RingSocketClientError } = (await import('ringsocket/client' as string)) as ClientModule;
    const client = await connect(`${url}?mode=accept&user=ann&delay=50`, { protocols: ['v3', 'v2'] });
    const opened = String(await client.receive());
    const text = 'compressible ✓ '.repeat(50); // 850 bytes: the app reads at most 1000
    client.sendRaw(text);
    const echo = String(await client.receive());
    client.close();
    await client.closed;
    let refused = '';
    try {
      await connect(`${url}?mode=refuse&status=401`, { protocols: 'v1' });
    } catch (e) {
      refused = e instanceof RingSocketClientError ? `${e.code} ${e.close?.code}` : String(e);
    }
    return {
      protocol: client.protocol,
      extensions: (client.socket as unknown as WebSocket).extensions,
      opened: JSON.parse(opened.slice('open '.length)) as Record<string, unknown>,
      echoed: echo === text,
      length: text.length,
      refused,
    };
  }, { url: ctx.d!.url('/hooked') });
  assert.is(r.protocol, 'v2', 'the endpoint\'s first supported protocol in the browser\'s order');
  assert.match(r.extensions, /^permessage-deflate/, 'the daemon accepted Chromium\'s offer');
  assert.is(r.opened.user, 'ann', 'the hook\'s client data reached the open callback');
  assert.is(r.opened.subprotocol, 'v2');
  assert.is(r.opened.path, '/hooked');
  assert.ok(r.echoed, `the ${r.length}-character text came back intact`);
  assert.is(r.refused, 'RS_CLIENT_CONNECT_FAILED 1006', 'a refusing hook fails connect (browsers tell no status)');
  // Chromium logs the refusal (401) on the console, and nothing else went wrong in the page.
  assert.equal(a.problems.length, 1, a.problems.join('\n'));
  assert.match(a.problems[0], /hooked\?mode=refuse&status=401' failed: HTTP Authentication failed/);
  a.problems.length = 0;
});

stopTest({
  before: async (ctx) => {
    for (const p of ctx.pages) await p.page.context().close();
  },
});

Client.run();
