// The upgrade hook and client data in the app runtime (src/app/runtime.ts, src/app/upgrade.ts) with
// a recording host: the request object, what the hook's return, throw or rejection answers, client
// data from the hook through open, read and close, and every way a pending handshake is dropped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  defineApp, readUtf8, str, timerSleep, RS_UTF8, RingSocketAppError, type AppDefinition, type UpgradeRequest,
} from '../src/app/index.ts';
import { createAppRuntime } from '../src/app/runtime.ts';
import { createRecordingHost } from '../src/app/testing.ts';
import { headerObject, splitTarget, upgradeStatus } from '../src/app/upgrade.ts';
import { parseRequestHead, type RequestHead } from '../src/http/upgrade.ts';

const A = 257, B = 513;
const ADDR = { family: 4 as const, address: '10.1.2.3', port: 5555 };
const text = (s: string) => new TextEncoder().encode(s);
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

function head(target = '/chat?token=abc&x=1', extra = ''): RequestHead {
  const h = parseRequestHead(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: example.com\r\nCookie: a=1\r\nX-Multi: one\r\n` +
    `cookie: b=2\r\nX-Multi: two\r\nAuthorization: Bearer t0k\r\n${extra}\r\n`, 'latin1'));
  if (!h.ok) throw new Error(h.code);
  return h;
}

/** An app whose read callback reports rs.clientData() and rs.subprotocol() as text. */
function start(upgrade: AppDefinition['upgrade'], extra: Partial<AppDefinition> = {}) {
  const host = createRecordingHost();
  const def: AppDefinition = {
    upgrade,
    read: readUtf8([str(0, 100)], (rs, t) => {
      if (t.startsWith('set ')) rs.setClientData(t.slice(4));
      else rs.wStr(`${JSON.stringify(rs.clientData() ?? null)} ${rs.subprotocol()}`).toCur(RS_UTF8);
    }),
    ...extra,
  };
  const rt = createAppRuntime(defineApp(def), host);
  assert.is(rt.init(), true);
  return { host, rt };
}
const sent = (host: ReturnType<typeof createRecordingHost>) => host.sends().map((s) => new TextDecoder().decode(s.bytes));

const Req = suite('upgrade: the request object');

Req('path, query, headers (joined), address, port, endpoint and subprotocol', () => {
  let seen: UpgradeRequest | null = null;
  const { host, rt } = start((req) => { seen = req; });
  rt.upgrade(A, 7, ADDR, 'v2', head());
  assert.equal(host.upgradeReplies(), [[A, 0]]);
  const req = seen! as UpgradeRequest;
  assert.is(req.path, '/chat');
  assert.is(req.query.get('token'), 'abc');
  assert.is(req.query.get('x'), '1');
  assert.is(req.headers.cookie, 'a=1; b=2', 'cookie lines joined with "; "');
  assert.is(req.headers['x-multi'], 'one, two', 'other repeated headers with ", "');
  assert.is(req.headers.authorization, 'Bearer t0k');
  assert.is(req.headers.host, 'example.com');
  assert.is(req.address, '10.1.2.3');
  assert.is(req.port, 5555);
  assert.is(req.family, 4);
  assert.is(req.endpointId, 7);
  assert.is(req.subprotocol, 'v2');
  assert.ok(Object.isFrozen(req) && Object.isFrozen(req.headers));
});

Req('splitTarget: origin-form and absolute-form; headerObject has no prototype', () => {
  assert.equal(splitTarget('/a/b?c=1&d'), { path: '/a/b', search: 'c=1&d' });
  assert.equal(splitTarget('/'), { path: '/', search: '' });
  assert.equal(splitTarget('ws://h:1/p?q=2'), { path: '/p', search: 'q=2' });
  assert.equal(splitTarget('wss://h?q=2'), { path: '/', search: 'q=2' });
  assert.equal(splitTarget('http://h'), { path: '/', search: '' });
  const h = headerObject([{ name: '__proto__', value: 'x' }, { name: 'constructor', value: 'y' }]);
  assert.is(h['__proto__'], 'x');
  assert.is(h.constructor, 'y');
  assert.is(Object.getPrototypeOf(h), null);
});

Req('upgradeStatus: nothing or 0 accepts, 400-599 refuses, anything else is nonsense', () => {
  for (const v of [undefined, 0]) assert.is(upgradeStatus(v), 0);
  for (const v of [400, 401, 451, 503, 599]) assert.is(upgradeStatus(v), v);
  for (const v of [null, 200, 399, 600, 401.5, '401', NaN, -1, {}, true]) assert.is(upgradeStatus(v), null, String(v));
});

const Reply = suite('upgrade: the answer');

Reply('sync and async accept and refuse', async () => {
  const { host, rt } = start((req) => {
    const q = req.query.get('q');
    if (q === 'no') return 401;
    if (q === 'later') return tick().then(() => undefined);
    if (q === 'later-no') return tick().then(() => 403);
  });
  rt.upgrade(A, 1, ADDR, null, head('/?q=yes'));
  rt.upgrade(B, 1, ADDR, null, head('/?q=no'));
  rt.upgrade(769, 1, ADDR, null, head('/?q=later'));
  rt.upgrade(1025, 1, ADDR, null, head('/?q=later-no'));
  assert.equal(host.upgradeReplies(), [[A, 0], [B, 401]], 'sync answers at once');
  assert.is(rt.pendingUpgrades, 3, 'A (accepted, open due) and the two async ones');
  await tick();
  await tick();
  assert.equal(host.upgradeReplies(), [[A, 0], [B, 401], [769, 0], [1025, 403]]);
  assert.is(rt.pendingUpgrades, 2, 'the accepted ones wait for their open');
  rt.open(A, 1, ADDR, null);
  rt.open(769, 1, ADDR, null);
  assert.is(rt.pendingUpgrades, 0);
  assert.is(rt.clientCount, 2);
});

Reply('throw, rejection and a bad return: 500 and a log line', async () => {
  const { host, rt } = start((req) => {
    const q = req.query.get('q');
    if (q === 'throw') throw new Error('broken');
    if (q === 'reject') return Promise.reject(new Error('db down'));
    if (q === 'bad') return 'yes' as unknown as number;
    return 200;
  });
  rt.upgrade(A, 1, ADDR, null, head('/?q=throw'));
  rt.upgrade(B, 1, ADDR, null, head('/?q=reject'));
  rt.upgrade(769, 1, ADDR, null, head('/?q=bad'));
  rt.upgrade(1025, 1, ADDR, null, head('/?q=200'));
  await tick();
  assert.equal(host.upgradeReplies(), [[A, 500], [769, 500], [1025, 500], [B, 500]]);
  const logs = host.logs().map((l) => l.split('\n')[0]);
  assert.ok(logs.some((l) => /^error: upgrade hook of client 257 failed \(it threw, or its promise rejected\); refusing it with 500: .*broken/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /^error: upgrade hook of client 513 failed .*db down/.test(l)));
  assert.ok(logs.some((l) => /^error: upgrade hook of client 769 returned a string, which means nothing there/.test(l)));
  assert.ok(logs.some((l) => /^error: upgrade hook of client 1025 returned 200, which means nothing there/.test(l)));
  assert.is(rt.pendingUpgrades, 0);
});

Reply('a return value whose `then` throws when read: 500, nothing kept, nothing thrown at the caller', () => {
  const { host, rt } = start(() => ({ get then() { throw new Error('then getter'); } }) as unknown as number);
  rt.upgrade(A, 1, ADDR, null, head());
  assert.equal(host.upgradeReplies(), [[A, 500]]);
  assert.is(rt.pendingUpgrades, 0, 'a refused handshake gets no CLOSE record: nothing may stay pending');
  assert.ok(host.logs().some((l) => /^error: upgrade hook of client 257 failed .*then getter/.test(l)), host.logs().join('\n'));
});

const Data = suite('upgrade: client data');

Data('what the hook sets follows the client through open, read and close; setClientData replaces it', async () => {
  const closes: unknown[] = [];
  const opens: unknown[] = [];
  const { host, rt } = start(async (req) => {
    await tick();
    req.setClientData({ user: req.query.get('token') });
  }, {
    open: (rs) => { opens.push(rs.clientData()); },
    close: (rs) => { closes.push([rs.clientData<{ user: string }>(), rs.subprotocol()]); },
  });
  rt.upgrade(A, 1, ADDR, 'v1', head());
  await tick();
  await tick();
  assert.equal(host.upgradeReplies(), [[A, 0]]);
  rt.open(A, 1, ADDR, 'v1');
  assert.equal(opens, [{ user: 'abc' }]);
  rt.read(A, 1, 1, text('?'));
  rt.read(A, 1, 1, text('set bob'));
  rt.read(A, 1, 1, text('?'));
  assert.equal(sent(host), ['{"user":"abc"} v1', '"bob" v1']);
  rt.close(A, 1);
  assert.equal(closes, [['bob', 'v1']]);
  // Dropped after the close callback: a client without a hook's data reads undefined.
  rt.open(B, 1, ADDR, null);
  rt.read(B, 1, 1, text('?'));
  assert.equal(sent(host).at(-1), 'null null');
});

Data('req.setClientData after the hook settled throws RS_APP_OUTSIDE_CALLBACK', async () => {
  let late: UpgradeRequest | null = null;
  const { rt } = start((req) => { late = req; });
  rt.upgrade(A, 1, ADDR, null, head());
  try {
    (late! as UpgradeRequest).setClientData(1);
    assert.unreachable('it threw');
  } catch (err) {
    assert.ok(err instanceof RingSocketAppError);
    assert.is((err as RingSocketAppError).code, 'RS_APP_OUTSIDE_CALLBACK');
  }
});

Data('rs.clientData() and rs.setClientData() are client helpers: not in init or timer; setClientData not in close', () => {
  const host = createRecordingHost();
  const errs: string[] = [];
  const attempt = (where: string, f: () => unknown) => {
    try { f(); errs.push(`${where}: allowed`); } catch (e) { errs.push(`${where}: ${(e as RingSocketAppError).code}`); }
  };
  type Helpers = { clientData(): unknown; setClientData(v: unknown): void };
  const rt = createAppRuntime(defineApp({
    init: (rs) => {
      attempt('init clientData', () => (rs as unknown as Helpers).clientData());
      attempt('init setClientData', () => (rs as unknown as Helpers).setClientData(1));
    },
    timer: timerSleep((rs) => {
      attempt('timer clientData', () => (rs as unknown as Helpers).clientData());
      attempt('timer setClientData', () => (rs as unknown as Helpers).setClientData(1));
    }, 1000),
    close: (rs) => {
      attempt('close clientData', () => rs.clientData());
      attempt('close setClientData', () => (rs as unknown as Helpers).setClientData(1));
    },
    read: readUtf8([str(0, 10)], () => {}),
  }), host);
  assert.is(rt.init(), true);
  rt.timer();
  rt.open(A, 1, ADDR, null);
  rt.close(A, 1);
  assert.equal(errs, [
    'init clientData: RS_APP_NOT_HERE', 'init setClientData: RS_APP_NOT_HERE',
    'timer clientData: RS_APP_NOT_HERE', 'timer setClientData: RS_APP_NOT_HERE',
    'close clientData: allowed', 'close setClientData: RS_APP_NOT_HERE',
  ]);
});

const Drop = suite('upgrade: dropped handshakes');

Drop('a CLOSE while the hook runs: no answer, no open, no close callback, nothing kept', async () => {
  let closes = 0;
  const { host, rt } = start(async (req) => { await tick(); req.setClientData('x'); }, { close: () => { closes++; } });
  rt.upgrade(A, 1, ADDR, null, head());
  assert.is(rt.pendingUpgrades, 1);
  rt.close(A, 1);
  assert.is(rt.pendingUpgrades, 0);
  await tick();
  await tick();
  assert.equal(host.upgradeReplies(), [], 'no answer for a dropped handshake');
  assert.is(closes, 0);
  assert.is(rt.clientCount, 0);
});

Drop('a CLOSE after an accepting answer, before the open: dropped without a close callback', () => {
  let closes = 0;
  const { host, rt } = start((req) => { req.setClientData('x'); }, { close: () => { closes++; } });
  rt.upgrade(A, 1, ADDR, null, head());
  assert.equal(host.upgradeReplies(), [[A, 0]]);
  rt.close(A, 1);
  assert.is(rt.pendingUpgrades, 0);
  assert.is(closes, 0);
});

Drop('a slow hook holds nobody up: other clients are served while it waits', async () => {
  let release!: () => void;
  const { host, rt } = start((req) => (req.query.get('q') === 'slow' ? new Promise<void>((r) => { release = r; }) : undefined));
  rt.upgrade(A, 1, ADDR, null, head('/?q=slow'));
  rt.upgrade(B, 1, ADDR, null, head('/?q=fast'));
  rt.open(B, 1, ADDR, null);
  rt.read(B, 1, 1, text('?'));
  assert.equal(sent(host), ['null null']);
  assert.equal(host.upgradeReplies(), [[B, 0]]);
  release();
  await tick();
  assert.equal(host.upgradeReplies(), [[B, 0], [A, 0]]);
});

Drop('defineApp checks the hook; an app without one has no hook', () => {
  assert.throws(() => defineApp({ upgrade: 5 as never, read: readUtf8([str(0, 1)], () => {}) }), /defineApp: upgrade must be a function/);
  const { rt } = start(undefined);
  assert.is(rt.hasUpgradeHook, false);
  assert.is(start(() => {}).rt.hasUpgradeHook, true);
});

Req.run();
Reply.run();
Data.run();
Drop.run();
