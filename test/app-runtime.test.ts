// The app runtime (src/app/runtime.ts) with a recording host: senders and their recipients,
// where each helper may be used, return values, thrown errors, the close callback's guarantees,
// read switches, timers, logging, config and app data.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  defineApp, readBin, readAny, readSwitch, caseBin, caseUtf8, caseAny, timerSleep, timerWake, bytes, str, ntoh,
  CloseCode, DataKind, RS_BIN, RS_UTF8, RingSocketAppError, type AppDefinition, type Rs,
} from '../src/app/index.ts';
import { createAppRuntime } from '../src/app/runtime.ts';
import { createRecordingHost, testConfig } from '../src/app/testing.ts';

const A = 257, B = 513, C = 769, D = 1025; // client ids as the daemon makes them: serial * 256 + worker + 1
const ADDR4 = { family: 4 as const, address: '10.1.2.3', port: 5555 };
const ADDR6 = { family: 6 as const, address: '::1', port: 6666 };

function start(def: AppDefinition, config = testConfig()) {
  const host = createRecordingHost(config);
  const rt = createAppRuntime(defineApp(def), host);
  assert.is(rt.init(), true);
  return { host, rt };
}

/** Calls fn and returns the RingSocketAppError it throws, as { code, message }. */
function appError(fn: () => unknown): { code: string; message: string } | null {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RingSocketAppError)) throw err;
    return { code: err.code, message: err.message };
  }
  return null;
}

/** The first line of every log event. */
function logHeads(host: ReturnType<typeof createRecordingHost>): string[] {
  return host.logs().map((l) => l.split('\n')[0]);
}

const text = (s: string) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------------
const Senders = suite('app senders');

function sendCase(body: (rs: Rs) => void) {
  const { host, rt } = start({ read: readAny([bytes()], (rs) => { body(rs); }) });
  for (const id of [A, B, C]) rt.open(id, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array([1]));
  return host;
}

Senders('toCur sends to the current client', () => {
  const host = sendCase((rs) => rs.wU8(1).toCur(RS_BIN));
  assert.equal(host.events, [{ type: 'send', kind: RS_BIN, bytes: new Uint8Array([1]), to: { kind: 'single', id: A } }]);
});

Senders('toSingle sends to one client, given as a number or a bigint', () => {
  const host = sendCase((rs) => { rs.wU8(2).toSingle(RS_UTF8, B); rs.wU8(3).toSingle(RS_BIN, BigInt(C)); });
  assert.equal(host.events, [
    { type: 'send', kind: RS_UTF8, bytes: new Uint8Array([2]), to: { kind: 'single', id: B } },
    { type: 'send', kind: RS_BIN, bytes: new Uint8Array([3]), to: { kind: 'single', id: C } },
  ]);
});

Senders('toMulti sends once per distinct id, in the order given', () => {
  const host = sendCase((rs) => rs.wU8(4).toMulti(RS_BIN, [C, A, C, 5n * 256n + 1n, A]));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'multi', ids: [C, A, 1281] }]);
});

Senders('toMulti deduplicates long lists too', () => {
  const ids = Array.from({ length: 40 }, (_, i) => 1 + (i % 20) * 256);
  const host = sendCase((rs) => rs.toMulti(RS_BIN, ids));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'multi', ids: ids.slice(0, 20) }]);
});

Senders('toMulti with no ids sends nothing and empties the write buffer', () => {
  const host = sendCase((rs) => { rs.wU8(9).toMulti(RS_BIN, []); rs.wU8(8).toCur(RS_BIN); });
  assert.equal(host.sends().map((s) => [...s.bytes]), [[8]]);
});

Senders('toEvery sends to every client', () => {
  const host = sendCase((rs) => rs.wStr('hi').toEvery(RS_UTF8));
  assert.equal(host.events, [{ type: 'send', kind: RS_UTF8, bytes: text('hi'), to: { kind: 'every' } }]);
});

Senders('toEveryExceptSingle excludes exactly the given client', () => {
  const host = sendCase((rs) => rs.toEveryExceptSingle(RS_BIN, C));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'every_except_single', id: C }]);
});

Senders('toEveryExceptMulti passes the deduplicated exclusion list', () => {
  const host = sendCase((rs) => rs.toEveryExceptMulti(RS_BIN, [B, A, B]));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'every_except_multi', ids: [B, A] }]);
});

Senders('toEveryExceptMulti with no ids sends to every client', () => {
  const host = sendCase((rs) => rs.toEveryExceptMulti(RS_BIN, []));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'every' }]);
});

Senders('toEveryExceptCur excludes the current client', () => {
  const host = sendCase((rs) => rs.wU8(7).toEveryExceptCur(RS_BIN));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'every_except_single', id: A }]);
});

Senders('sends in the order called, each with its own bytes', () => {
  const host = sendCase((rs) => {
    rs.wU8(1).toCur(RS_BIN);
    rs.wU8(2).wU8(3).toEvery(RS_BIN);
    rs.toSingle(RS_BIN, B);
    rs.wU8(4).toEveryExceptCur(RS_BIN);
  });
  assert.equal(host.sends().map((s) => [s.to.kind, [...s.bytes]]), [
    ['single', [1]], ['every', [2, 3]], ['single', []], ['every_except_single', [4]],
  ]);
});

Senders('rejects a data kind other than RS_BIN and RS_UTF8', () => {
  let err: unknown;
  const host = sendCase((rs) => { err = appError(() => rs.wU8(1).toCur(2 as DataKind)); });
  assert.equal(err, {
    code: 'RS_APP_BAD_DATA_KIND',
    message: 'rs.toCur(): the data kind is DataKind.BIN (RS_BIN, 0) or DataKind.UTF8 (RS_UTF8, 1), got 2',
  });
  assert.equal(host.sends(), []);
});

Senders('rejects client ids that are not positive safe integers', () => {
  const errs: unknown[] = [];
  sendCase((rs) => {
    for (const id of [0, -1, 1.5, 2 ** 53, NaN, 0n, 2n ** 53n]) errs.push(appError(() => rs.toSingle(RS_BIN, id))?.message);
    errs.push(appError(() => rs.toMulti(RS_BIN, [A, 'x' as never]))?.message);
    errs.push(appError(() => rs.toEveryExceptMulti(RS_BIN, 7 as never))?.message);
  });
  assert.equal(errs, [
    'rs.toSingle(): a client id is a positive safe integer, got 0',
    'rs.toSingle(): a client id is a positive safe integer, got -1',
    'rs.toSingle(): a client id is a positive safe integer, got 1.5',
    'rs.toSingle(): a client id is a positive safe integer, got 9007199254740992',
    'rs.toSingle(): a client id is a positive safe integer, got NaN',
    'rs.toSingle(): a client id is a positive safe integer, got 0n',
    'rs.toSingle(): a client id is a positive safe integer, got 9007199254740992n',
    'rs.toMulti(): a client id is a positive safe integer, got a string',
    'rs.toEveryExceptMulti(): expected an array of client ids',
  ]);
});

Senders('rejects a text message that is not valid UTF-8, and keeps it for another send', () => {
  let err: unknown;
  const host = sendCase((rs) => {
    rs.wBytes(new Uint8Array([0x61, 0xff]));
    err = appError(() => rs.toCur(RS_UTF8));
    rs.toCur(RS_BIN);
  });
  assert.equal(err, {
    code: 'RS_APP_INVALID_UTF8',
    message: 'rs.toCur(RS_UTF8): the 2-byte message is not valid UTF-8 (send it as RS_BIN, or write text with wStr)',
  });
  assert.equal(host.sends().map((s) => [s.kind, [...s.bytes]]), [[RS_BIN, [0x61, 0xff]]]);
});

Senders('accepts text built from strings, ASCII bytes and valid UTF-8 bytes', () => {
  const host = sendCase((rs) => {
    rs.wStr('笑').wU8(0x3f).wBytes(text('é')).toCur(RS_UTF8);
    rs.wStr('\ud800').toCur(RS_UTF8); // a lone surrogate is written as U+FFFD
  });
  assert.equal(host.sends().map((s) => new TextDecoder().decode(s.bytes)), ['笑?é', '\ufffd']);
});

Senders('rejects a message larger than max_ws_msg_size and discards it', () => {
  let err: unknown;
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => {
      rs.wBytes(new Uint8Array(100));
      err = appError(() => rs.wU8(1));
      rs.wU8(5).toCur(RS_BIN);
      rs.wBytes(new Uint8Array(100)).toCur(RS_BIN);
    }),
  }, testConfig({ max_ws_msg_size: 100 }));
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(err, {
    code: 'RS_APP_MESSAGE_TOO_BIG',
    message: 'rs.wU8(): the message would be 101 bytes, more than max_ws_msg_size (100); the unsent message was discarded',
  });
  assert.equal(host.sends().map((s) => s.bytes.length), [1, 100]);
});

Senders('grows the write buffer from wbuf_size up to max_ws_msg_size', () => {
  const big = new Uint8Array(300_000).map((_, i) => i & 0xff);
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => { rs.wBytes(big.subarray(0, 1000)).wBytes(big.subarray(1000)).wStr('end').toCur(RS_BIN); }),
  }, testConfig({ max_ws_msg_size: 300_003 }));
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  const sent = host.sends()[0].bytes;
  assert.is(sent.length, 300_003);
  assert.equal(sent.subarray(0, 300_000), big);
  assert.equal([...sent.subarray(300_000)], [0x65, 0x6e, 0x64]);
});

Senders('an app without an open callback still sends to its clients', () => {
  const { host, rt } = start({ read: readAny([bytes()], (rs, d) => { rs.wBytes(d).toCur(rs.readDataKind()); }) });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.UTF8, text('x'));
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'single', id: A }]);
});

// ---------------------------------------------------------------------------------------------
const Where = suite('app helpers per callback kind');

type Kind = 'init' | 'open' | 'read' | 'close' | 'timer';
const HELPERS: [string, (rs: Rs) => unknown, Kind[]][] = [
  ['config', (rs) => rs.config(), ['init', 'open', 'read', 'close', 'timer']],
  ['appData', (rs) => rs.appData(), ['init', 'open', 'read', 'close', 'timer']],
  ['log', (rs) => rs.log('debug', 'x'), ['init', 'open', 'read', 'close', 'timer']],
  ['clientId', (rs) => rs.clientId(), ['open', 'read', 'close']],
  ['endpointId', (rs) => rs.endpointId(), ['open', 'read', 'close']],
  ['clientAddr', (rs) => rs.clientAddr(), ['open', 'read']],
  ['readDataKind', (rs) => rs.readDataKind(), ['read']],
  ['wBytes', (rs) => rs.wBytes(new Uint8Array(0)), ['open', 'read', 'close', 'timer']],
  ['wStr', (rs) => rs.wStr(''), ['open', 'read', 'close', 'timer']],
  ['wU8', (rs) => rs.wU8(0), ['open', 'read', 'close', 'timer']],
  ['wI64Hton', (rs) => rs.wI64Hton(0), ['open', 'read', 'close', 'timer']],
  ['toSingle', (rs) => rs.toSingle(RS_BIN, B), ['open', 'read', 'close', 'timer']],
  ['toMulti', (rs) => rs.toMulti(RS_BIN, [B]), ['open', 'read', 'close', 'timer']],
  ['toEvery', (rs) => rs.toEvery(RS_BIN), ['open', 'read', 'close', 'timer']],
  ['toEveryExceptSingle', (rs) => rs.toEveryExceptSingle(RS_BIN, B), ['open', 'read', 'close', 'timer']],
  ['toEveryExceptMulti', (rs) => rs.toEveryExceptMulti(RS_BIN, [B]), ['open', 'read', 'close', 'timer']],
  ['toCur', (rs) => rs.toCur(RS_BIN), ['open', 'read']],
  ['toEveryExceptCur', (rs) => rs.toEveryExceptCur(RS_BIN), ['open', 'read']],
  ['close', (rs) => rs.close(C, 4000), ['open', 'read', 'close', 'timer']],
  ['closeCur', (rs) => rs.closeCur(4000), ['open', 'read']],
];
const ALLOWED_TEXT: Record<string, string> = {
  'open,read,close': 'open, read and close',
  'open,read': 'open and read',
  read: 'read',
  'open,read,close,timer': 'open, read, close and timer',
};

for (const [name, call, allowed] of HELPERS) {
  Where(`rs.${name}() works in ${allowed.join(', ')} callbacks only`, () => {
    const results: Record<string, string> = {};
    const attempt = (kind: Kind) => (rs: Rs) => {
      const err = appError(() => call(rs));
      results[kind] = err ? `${err.code}: ${err.message}` : 'ok';
    };
    const host = createRecordingHost();
    const rt = createAppRuntime(defineApp({
      init: attempt('init') as never,
      open: (rs) => { if (rs.clientId() === D) attempt('open')(rs as Rs); },
      read: readAny([bytes()], attempt('read')),
      close: (rs) => { if (rs.clientId() === A) attempt('close')(rs as Rs); },
      timer: timerWake(attempt('timer') as never, 1000),
    }), host);
    rt.init();
    rt.open(C, 1, ADDR4);
    rt.open(A, 1, ADDR4);
    rt.open(D, 1, ADDR4); // the open callback tries the helper here (closeCur would close D, not A)
    rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
    rt.close(A, 1);
    rt.timer();
    const where = ALLOWED_TEXT[allowed.join(',')];
    const expected: Record<string, string> = {};
    for (const kind of ['init', 'open', 'read', 'close', 'timer'] as Kind[]) {
      const article = kind === 'init' || kind === 'open' ? 'an' : 'a';
      expected[kind] = allowed.includes(kind)
        ? 'ok'
        : `RS_APP_NOT_HERE: rs.${name}() is not available in ${article} ${kind} callback (only in ${where} callbacks)`;
    }
    assert.equal(results, expected);
  });
}

Where('helpers that need a callback throw after it returned; config, appData and log still work', () => {
  let kept: Rs | null = null;
  const { host, rt } = start({ read: readAny([bytes()], (rs) => { kept = rs; }) });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(appError(() => kept!.wU8(1)), {
    code: 'RS_APP_OUTSIDE_CALLBACK',
    message: 'rs.wU8() was called while no callback runs: rs may only be used until the callback returns (not after an await or from a timer of your own)',
  });
  assert.equal(appError(() => kept!.clientId())?.code, 'RS_APP_OUTSIDE_CALLBACK');
  kept!.log('notice', 'later');
  assert.is(kept!.config().max_ws_msg_size, 16 * 1024 * 1024);
  assert.equal(host.logs(), ['notice: later']);
});

Where('clientId, endpointId, clientAddr and readDataKind describe the current event', () => {
  const seen: unknown[] = [];
  const { rt } = start({
    open: (rs) => { seen.push(['open', rs.clientId(), rs.endpointId(), rs.clientAddr()]); },
    read: readAny([bytes()], (rs) => { seen.push(['read', rs.clientId(), rs.endpointId(), rs.clientAddr(), rs.readDataKind()]); }),
    close: (rs) => { seen.push(['close', rs.clientId(), rs.endpointId()]); },
  });
  rt.open(A, 3, ADDR4);
  rt.open(B, 9, ADDR6);
  rt.read(B, 9, DataKind.UTF8, text('x'));
  rt.read(A, 3, DataKind.BIN, text('y'));
  rt.close(A, 3);
  assert.equal(seen, [
    ['open', A, 3, ADDR4],
    ['open', B, 9, ADDR6],
    ['read', B, 9, ADDR6, DataKind.UTF8],
    ['read', A, 3, ADDR4, DataKind.BIN],
    ['close', A, 3],
  ]);
});

// ---------------------------------------------------------------------------------------------
const Returns = suite('app callback return values');

function returning(value: unknown, where: 'open' | 'read') {
  const closed: number[] = [];
  const cb = () => value as number;
  const { host, rt } = start({
    open: where === 'open' ? cb : undefined,
    read: readAny([bytes()], where === 'read' ? cb : () => 0),
    close: (rs) => { closed.push(rs.clientId()); },
  });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  return { host, closed, rt };
}

Returns('0 and undefined mean success', () => {
  for (const v of [0, undefined]) {
    for (const where of ['open', 'read'] as const) {
      const { host, closed } = returning(v, where);
      assert.equal(host.events, []);
      assert.equal(closed, []);
    }
  }
});

Returns('4000-4899 from read closes the current client with that code, then runs its close callback', () => {
  for (const code of [4000, 4321, 4899]) {
    const { host, closed } = returning(code, 'read');
    assert.equal(host.events, [{ type: 'close', id: A, code }]);
    assert.equal(closed, [A]);
  }
});

Returns('4000-4899 from open closes the new client', () => {
  const { host, closed, rt } = returning(4004, 'open');
  assert.equal(host.events, [{ type: 'close', id: A, code: 4004 }]);
  assert.equal(closed, [A]);
  assert.is(rt.clientCount, 0);
});

Returns('-1 is logged as a fatal app error and closes the current client with 1011', () => {
  const { host, closed } = returning(-1, 'read');
  assert.equal(host.events, [
    { type: 'log', level: 'error', message: `read callback of client ${A} returned -1 (fatal app error); closing the client with 1011` },
    { type: 'close', id: A, code: CloseCode.INTERNAL_ERROR },
  ]);
  assert.equal(closed, [A]);
});

Returns('other values are logged as misuse and change nothing', () => {
  const cases: [unknown, string][] = [
    [4900, '4900'], [3999, '3999'], [1, '1'], [-2, '-2'], [4000.5, '4000.5'], ['4000', 'a string'],
    [Promise.resolve(0), 'a Promise: app callbacks must be synchronous (rs is only usable until the callback returns)'],
  ];
  for (const [value, shown] of cases) {
    const { host, closed } = returning(value, 'read');
    assert.equal(host.events, [
      { type: 'log', level: 'error', message: `read callback of client ${A} returned ${shown}, which means nothing there (allowed: 0, -1, 4000-4899)` },
    ]);
    assert.equal(closed, []);
  }
});

Returns('a close callback returning -1 or a close code is logged', () => {
  for (const [value, message] of [
    [-1, `close callback of client ${A} returned -1 (fatal app error)`],
    [4000, `close callback of client ${A} returned 4000, which means nothing there (allowed: 0, -1)`],
  ] as const) {
    const { host, rt } = start({ read: readAny([bytes()], () => 0), close: () => value });
    rt.open(A, 1, ADDR4);
    rt.close(A, 1);
    assert.equal(host.events, [{ type: 'log', level: 'error', message }]);
  }
});

Returns('init returning -1 or throwing reports failure; other values are logged', () => {
  const make = (init: () => unknown) => {
    const host = createRecordingHost();
    const rt = createAppRuntime(defineApp({ init: init as never, read: readAny([bytes()], () => 0) }), host);
    return { ok: rt.init(), logs: logHeads(host) };
  };
  assert.equal(make(() => -1), { ok: false, logs: ['error: init callback returned -1 (fatal app error)'] });
  assert.equal(make(() => { throw new Error('no db'); }), { ok: false, logs: ['error: init callback threw: Error: no db'] });
  assert.equal(make(() => 7), { ok: true, logs: ['error: init callback returned 7, which means nothing there (allowed: 0, -1)'] });
  assert.equal(make(() => undefined), { ok: true, logs: [] });
});

// ---------------------------------------------------------------------------------------------
const Throws = suite('app errors');

Throws('a throwing read callback is logged, its client closed with 1011, and the app keeps serving', () => {
  const closed: number[] = [];
  const { host, rt } = start({
    read: readAny([str()], (rs, s) => {
      if (s === 'boom') throw new TypeError('bad input');
      rs.wStr(s).toCur(RS_UTF8);
    }),
    close: (rs) => { closed.push(rs.clientId()); },
  });
  rt.open(A, 1, ADDR4);
  rt.open(B, 1, ADDR4);
  rt.read(A, 1, DataKind.UTF8, text('boom'));
  rt.read(B, 1, DataKind.UTF8, text('ok'));
  assert.equal(logHeads(host), [`error: read callback of client ${A} threw; closing the client with 1011: TypeError: bad input`]);
  assert.ok(host.logs()[0].includes('app-runtime.test.ts'), 'the log has the stack');
  assert.equal(host.closes(), [[A, 1011]]);
  assert.equal(closed, [A]);
  assert.equal(host.sends().map((s) => [s.to, new TextDecoder().decode(s.bytes)]), [[{ kind: 'single', id: B }, 'ok']]);
});

Throws('a misuse error names its code in the log', () => {
  const { host, rt } = start({ read: readAny([bytes()], (rs) => { rs.close(A, 1000); }) });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(logHeads(host), [
    `error: read callback of client ${A} threw; closing the client with 1011: [RS_APP_BAD_CLOSE_CODE] RingSocketAppError: rs.close(): an app's close code is an integer in 4000...4899, got 1000`,
  ]);
  assert.equal(host.closes(), [[A, 1011]]);
});

Throws('a throwing open callback closes the new client with 1011', () => {
  const { host, rt } = start({ open: () => { throw new Error('x'); }, read: readAny([bytes()], () => 0) });
  rt.open(A, 1, ADDR4);
  assert.equal(host.closes(), [[A, 1011]]);
  assert.is(rt.clientCount, 0);
});

Throws('a callback that closed its client and then throws is logged without a second close', () => {
  const { host, rt } = start({ read: readAny([bytes()], (rs) => { rs.closeCur(4001); throw new Error('after'); }) });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(host.closes(), [[A, 4001]]);
  assert.equal(logHeads(host), [`error: read callback of client ${A} threw: Error: after`]);
});

Throws('a throwing close callback is logged and the next events are served', () => {
  let n = 0;
  const { host, rt } = start({ read: readAny([bytes()], () => { n++; }), close: () => { throw new Error('close failed'); } });
  rt.open(A, 1, ADDR4);
  rt.open(B, 1, ADDR4);
  rt.close(A, 1);
  rt.read(B, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(logHeads(host), [`error: close callback of client ${A} threw: Error: close failed`]);
  assert.is(n, 1);
});

Throws('writes left unsent are discarded with a warning, and never leak into the next message', () => {
  let first = true;
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => {
      if (first) { first = false; rs.wStr('lost'); return; }
      rs.wStr('kept').toCur(RS_UTF8);
    }),
  });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(host.logs(), ['warning: read callback wrote 4 bytes but sent none of them: discarded']);
  assert.equal(host.sends().map((s) => new TextDecoder().decode(s.bytes)), ['kept']);
});

Throws('createAppRuntime rejects a module without a defineApp() default export', () => {
  for (const [value, found] of [[undefined, 'undefined'], [null, 'null'], [{ read: 1 }, 'a object'], [() => 0, 'a function']] as const) {
    assert.equal(appError(() => createAppRuntime(value, createRecordingHost())), {
      code: 'RS_APP_BAD_DEFINITION',
      message: `the app module's default export must be defineApp({...}), found ${found}`,
    });
  }
});

Throws('defineApp rejects what it cannot run', () => {
  const read = readAny([bytes()], () => 0);
  const cases: [unknown, string][] = [
    [{}, 'defineApp: read must be readBin(...), readUtf8(...), readAny(...) or readSwitch({...})'],
    [{ read, onRead: 1 }, 'defineApp: unknown key "onRead" (allowed: init, open, read, close, timer, upgrade)'],
    [{ read, open: 5 }, 'defineApp: open must be a function'],
    [{ read, init: 'x' }, 'defineApp: init must be a function or { callback, appDataSize }'],
    [{ read, init: { appDataSize: -1 } }, 'defineApp: init.appDataSize must be an integer >= 0, got -1'],
    [{ read, timer: () => 0 }, 'defineApp: timer must be timerSleep(cb, us) or timerWake(cb, us)'],
    [{ read: caseBin([], () => 0) }, 'defineApp: read must be readBin(...), readUtf8(...), readAny(...) or readSwitch({...})'],
  ];
  for (const [def, message] of cases) {
    assert.equal(appError(() => defineApp(def as AppDefinition)), { code: 'RS_APP_BAD_DEFINITION', message });
  }
  assert.equal(appError(() => timerWake(() => 0, 0)), {
    code: 'RS_APP_BAD_DEFINITION', message: 'timerWake: firstUs must be an integer number of microseconds > 0, got 0',
  });
});

// ---------------------------------------------------------------------------------------------
const Closing = suite('app close callback');

Closing('runs once when the daemon reports the close, and ignores a repeated report', () => {
  const closed: number[] = [];
  const { rt } = start({ read: readAny([bytes()], () => 0), close: (rs) => { closed.push(rs.clientId()); } });
  rt.open(A, 1, ADDR4);
  rt.close(A, 1);
  rt.close(A, 1);
  assert.equal(closed, [A]);
  assert.is(rt.clientCount, 0);
});

Closing('runs once when the app closed the client, and ignores the reads and close still in flight', () => {
  const closed: number[] = [];
  let reads = 0;
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => { reads++; rs.closeCur(4123); }),
    close: (rs) => { closed.push(rs.clientId()); },
  });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  rt.close(A, 1);
  assert.equal([reads, closed, host.closes()], [1, [A], [[A, 4123]]]);
});

Closing('runs after the callback that closed another client, in close order', () => {
  const order: string[] = [];
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => {
      rs.close(C, 4001);
      rs.close(B, 4002);
      rs.close(B, 4003); // already closed: ignored
      order.push('read done');
    }),
    close: (rs) => { order.push(`close ${rs.clientId()}`); },
  });
  for (const id of [A, B, C]) rt.open(id, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(order, ['read done', `close ${C}`, `close ${B}`]);
  assert.equal(host.closes(), [[C, 4001], [B, 4002]]);
});

Closing('a close callback may close further clients; each close callback runs once', () => {
  const order: number[] = [];
  const { rt } = start({
    read: readAny([bytes()], () => 0),
    close: (rs) => {
      order.push(rs.clientId());
      if (rs.clientId() === A) rs.close(B, 4000);
      if (rs.clientId() === B) { rs.close(C, 4000); rs.close(A, 4000); }
    },
  });
  for (const id of [A, B, C]) rt.open(id, 1, ADDR4);
  rt.close(A, 1);
  assert.equal(order, [A, B, C]);
  assert.is(rt.clientCount, 0);
});

Closing('in a close callback, the closed client cannot be sent to, but the others can', () => {
  let err: unknown;
  const { host, rt } = start({
    read: readAny([bytes()], () => 0),
    close: (rs) => {
      err = appError(() => (rs as Rs).toCur(RS_BIN));
      rs.wStr('left').toEvery(RS_UTF8);
    },
  });
  rt.open(A, 1, ADDR4);
  rt.close(A, 1);
  assert.equal(err, { code: 'RS_APP_NOT_HERE', message: 'rs.toCur() is not available in a close callback (only in open and read callbacks)' });
  assert.equal(host.sends().map((s) => s.to), [{ kind: 'every' }]);
});

Closing('after closeCur, the current client cannot be sent to', () => {
  let err: unknown;
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => { rs.closeCur(4000); rs.closeCur(4001); err = appError(() => rs.wU8(1).toCur(RS_BIN)); }),
  });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(err, { code: 'RS_APP_CUR_CLOSED', message: `rs.toCur(): the current client (${A}) was closed during this callback` });
  assert.equal(host.closes(), [[A, 4000]]);
});

Closing('rejects close codes outside 4000-4899', () => {
  const errs: unknown[] = [];
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => {
      for (const code of [3999, 4900, 1000, 4000.5]) errs.push(appError(() => rs.closeCur(code))?.message);
    }),
  });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(errs, [3999, 4900, 1000, 4000.5].map((c) => `rs.closeCur(): an app's close code is an integer in 4000...4899, got ${c}`));
  assert.equal(host.closes(), []);
});

Closing('a duplicate open is logged and ignored', () => {
  let opens = 0;
  const { host, rt } = start({ open: () => { opens++; }, read: readAny([bytes()], () => 0) });
  rt.open(A, 1, ADDR4);
  rt.open(A, 1, ADDR4);
  assert.is(opens, 1);
  assert.equal(host.logs(), [`error: open of client ${A}, which is already open: ignored`]);
});

// ---------------------------------------------------------------------------------------------
const Switch = suite('app read switch');

function switchApp() {
  const calls: unknown[] = [];
  const closed: number[] = [];
  const { host, rt } = start({
    read: readSwitch({
      0: caseBin([ntoh.u16], (_rs, v) => { calls.push(['bin0', v]); }),
      7: caseUtf8([str(1, 5)], (_rs, s) => { calls.push(['utf7', s]); }),
      255: caseAny([bytes()], (rs, b) => { calls.push(['any255', rs.readDataKind(), [...b]]); }),
    }),
    close: (rs) => { closed.push(rs.clientId()); },
  });
  rt.open(A, 1, ADDR4);
  return { host, rt, calls, closed };
}

Switch('the first byte selects the case and is not part of its schema', () => {
  const { host, rt, calls } = switchApp();
  rt.read(A, 1, DataKind.BIN, new Uint8Array([0, 0x12, 0x34]));
  rt.read(A, 1, DataKind.UTF8, new Uint8Array([7, 0x68, 0x69]));
  rt.read(A, 1, DataKind.BIN, new Uint8Array([255, 1, 2]));
  rt.read(A, 1, DataKind.UTF8, new Uint8Array([255]));
  assert.equal(calls, [['bin0', 0x1234], ['utf7', 'hi'], ['any255', DataKind.BIN, [1, 2]], ['any255', DataKind.UTF8, []]]);
  assert.equal(host.events, []);
});

Switch('closes an unknown case with 4902', () => {
  const { host, rt, calls, closed } = switchApp();
  rt.read(A, 1, DataKind.BIN, new Uint8Array([1, 0, 0]));
  assert.equal([calls, host.closes(), closed], [[], [[A, 4902]], [A]]);
});

Switch('closes an empty message with 4900 (there is no case byte)', () => {
  const { host, rt } = switchApp();
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(host.closes(), [[A, 4900]]);
});

Switch('closes a case of the wrong data kind with 4901', () => {
  const { host, rt } = switchApp();
  rt.read(A, 1, DataKind.UTF8, new Uint8Array([0, 0, 0]));
  assert.equal(host.closes(), [[A, 4901]]);
});

Switch('closes a case whose rest does not fit its schema with 4900', () => {
  const { host, rt } = switchApp();
  rt.read(A, 1, DataKind.BIN, new Uint8Array([0, 1]));
  assert.equal(host.closes(), [[A, 4900]]);
});

Switch('readSwitch rejects bad case values and non-cases', () => {
  const c = caseBin([], () => 0);
  const cases: [unknown, string][] = [
    [{ 256: c }, 'readSwitch: case "256" is not an integer in 0...255'],
    [{ '-1': c }, 'readSwitch: case "-1" is not an integer in 0...255'],
    [{ '01': c }, 'readSwitch: case "01" is not an integer in 0...255'],
    [{ 3: readBin([], () => 0) }, 'readSwitch: case 3 is not a caseBin(), caseUtf8() or caseAny()'],
    [{}, 'readSwitch: at least one case is needed'],
  ];
  for (const [value, message] of cases) {
    assert.equal(appError(() => readSwitch(value as never)), { code: 'RS_APP_BAD_DEFINITION', message });
  }
});

// ---------------------------------------------------------------------------------------------
const Timer = suite('app timer');

Timer('reports its mode and first delay, and re-arms with what the callback returns', () => {
  const returns: unknown[] = [250, 1.2, 0];
  const { rt } = start({ read: readAny([bytes()], () => 0), timer: timerSleep(() => returns.shift() as number, 1500) });
  assert.equal(rt.timerSpec, { mode: 'sleep', firstUs: 1500 });
  assert.equal([rt.timer(), rt.timer(), rt.timer()], [250, 2, 0]);
});

Timer('timerWake reports the wake mode; no timer reports null and timer() returns 0', () => {
  assert.equal(start({ read: readAny([bytes()], () => 0), timer: timerWake(() => 0, 1) }).rt.timerSpec, { mode: 'wake', firstUs: 1 });
  const { rt } = start({ read: readAny([bytes()], () => 0) });
  assert.is(rt.timerSpec, null);
  assert.is(rt.timer(), 0);
});

Timer('undefined stops the timer silently; -1, a throw and nonsense stop it with a log', () => {
  const cases: [() => unknown, string[]][] = [
    [() => undefined, []],
    [() => -1, ['error: timer callback returned -1 (fatal app error); the timer stops']],
    [() => { throw new Error('tick'); }, ['error: timer callback threw; the timer stops: Error: tick']],
    [() => NaN, ['error: timer callback returned NaN, which means nothing there (allowed: 0, -1, > 0 microseconds); the timer stops']],
    [() => 'soon', ['error: timer callback returned a string, which means nothing there (allowed: 0, -1, > 0 microseconds); the timer stops']],
  ];
  for (const [cb, logs] of cases) {
    const { host, rt } = start({ read: readAny([bytes()], () => 0), timer: timerWake(cb as never, 10) });
    assert.is(rt.timer(), 0);
    assert.equal(logHeads(host), logs);
  }
});

Timer('the timer can send and close, but has no current client', () => {
  const errs: unknown[] = [];
  const closed: number[] = [];
  const { host, rt } = start({
    read: readAny([bytes()], () => 0),
    close: (rs) => { closed.push(rs.clientId()); },
    timer: timerWake((rs) => {
      rs.wStr('tick').toEvery(RS_UTF8);
      rs.close(B, 4444);
      errs.push(appError(() => (rs as Rs).clientId())?.code);
      errs.push(appError(() => (rs as Rs).toCur(RS_BIN))?.code);
      return 100;
    }, 10),
  });
  rt.open(A, 1, ADDR4);
  rt.open(B, 1, ADDR4);
  assert.is(rt.timer(), 100);
  assert.equal(errs, ['RS_APP_NOT_HERE', 'RS_APP_NOT_HERE']);
  assert.equal(host.events.filter((e) => e.type !== 'log'), [
    { type: 'send', kind: RS_UTF8, bytes: text('tick'), to: { kind: 'every' } },
    { type: 'close', id: B, code: 4444 },
  ]);
  assert.equal(closed, [B]);
});

// ---------------------------------------------------------------------------------------------
const Misc = suite('app log, config and app data');

Misc('rs.log honours log_level and appends a cause', () => {
  const { host, rt } = start({
    read: readAny([bytes()], (rs) => {
      rs.log('debug', 'hidden');
      rs.log('info', 'hidden too');
      rs.log('notice', 'shown');
      rs.log('error', 'failed', new Error('ENOENT: no such file'));
      rs.log('warning', 'odd', 'value');
      return rs.logEnabled('info') ? 4000 : 0;
    }),
  }, testConfig({ log_level: 'notice' }));
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(logHeads(host), ['notice: shown', 'error: failed: Error: ENOENT: no such file', 'warning: odd: value']);
  assert.equal(host.closes(), []);
});

Misc('rs.log rejects an unknown level', () => {
  let err: unknown;
  const { rt } = start({ read: readAny([bytes()], (rs) => { err = appError(() => rs.log('fatal' as never, 'x')); }) });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.equal(err, { code: 'RS_APP_BAD_LOG_LEVEL', message: 'rs.log(): the level is one of error, warning, notice, info, debug, got "fatal"' });
});

Misc('rs.config() is the daemon config, deeply frozen, and the host\'s object stays unfrozen', () => {
  const config = testConfig({ max_ws_msg_size: 1234 });
  let seen: ReturnType<Rs['config']> | null = null;
  const host = createRecordingHost(config);
  const rt = createAppRuntime(defineApp({ init: (rs) => { seen = rs.config(); }, read: readAny([bytes()], () => 0) }), host);
  rt.init();
  assert.is(seen!.max_ws_msg_size, 1234);
  assert.is(seen!.apps[0].name, 'test');
  assert.ok(Object.isFrozen(seen) && Object.isFrozen(seen!.apps) && Object.isFrozen(seen!.apps[0]));
  assert.throws(() => { (seen as { max_ws_msg_size: number }).max_ws_msg_size = 1; }, TypeError);
  assert.not.ok(Object.isFrozen(config));
});

Misc('app data is zero-filled, sized by appDataSize, and the same array in every callback', () => {
  const seen: Uint8Array[] = [];
  const { rt } = start({
    init: { appDataSize: 16, callback: (rs) => { seen.push(rs.appData()); rs.appData()[0] = 42; } },
    read: readAny([bytes()], (rs) => { seen.push(rs.appData()); }),
  });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.is(seen[0], seen[1]);
  assert.is(seen[0].length, 16);
  assert.equal([...seen[1]], [42, ...new Array(15).fill(0)]);
});

Misc('app data is empty without appDataSize, and init may be just the size', () => {
  let size = -1;
  const { rt } = start({ init: { appDataSize: 3 }, read: readAny([bytes()], (rs) => { size = rs.appData().length; }) });
  rt.open(A, 1, ADDR4);
  rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.is(size, 3);
  const other = start({ read: readAny([bytes()], (rs) => { size = rs.appData().length; }) });
  other.rt.open(A, 1, ADDR4);
  other.rt.read(A, 1, DataKind.BIN, new Uint8Array(0));
  assert.is(size, 0);
});

Senders.run();
Where.run();
Returns.run();
Throws.run();
Closing.run();
Switch.run();
Timer.run();
Misc.run();
