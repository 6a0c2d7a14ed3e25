// The logger: level filtering, line format, thread names, worker threads.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { logProcessWarnings, createLogger, isLogLevel, isLogFormat, LOG_LEVELS, LOG_FORMATS, JSON_LOG_KEYS, describeCause, type LogFormat } from '../src/log.ts';
import { withDeadline } from './helpers/deadline.ts';
import { startDaemon, ECHO, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { connectInbox, rawExchange, upgradeRequest, clientFrame } from './helpers/client.ts';

const Log = suite('logger');

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

function capture(thread: string, level: (typeof LOG_LEVELS)[number], format?: LogFormat, app?: string) {
  const lines: string[] = [];
  const log = createLogger(thread, level, { write: (l) => lines.push(l), now: () => T0, format, app });
  return { log, lines };
}

Log('writes "<ISO time> <level> <thread>: <message>" lines', () => {
  const { log, lines } = capture('worker#2', 'debug');
  log.error('e');
  log.warning('w');
  log.notice('n');
  log.info('i');
  log.debug('d');
  assert.equal(lines, [
    '2025-01-02T03:04:05.678Z error worker#2: e\n',
    '2025-01-02T03:04:05.678Z warning worker#2: w\n',
    '2025-01-02T03:04:05.678Z notice worker#2: n\n',
    '2025-01-02T03:04:05.678Z info worker#2: i\n',
    '2025-01-02T03:04:05.678Z debug worker#2: d\n',
  ]);
});

Log('drops messages less important than its level (syslog order)', () => {
  for (const [i, level] of LOG_LEVELS.entries()) {
    const { log, lines } = capture('main', level);
    for (const l of LOG_LEVELS) log[l](l);
    assert.equal(lines.map((s) => s.split(' ')[1]), LOG_LEVELS.slice(0, i + 1), level);
    assert.is(log.level, level);
    assert.equal(LOG_LEVELS.map((l) => log.enabled(l)), LOG_LEVELS.map((_, j) => j <= i));
  }
});

Log('appends a cause and indents continuation lines', () => {
  const { log, lines } = capture('chat', 'notice');
  const err = new Error('boom');
  err.stack = 'Error: boom\n    at f (x.ts:1:1)';
  log.error('read callback threw', err);
  log.warning('two\nlines');
  log.log('notice', 'value', { a: 1 });
  assert.equal(lines, [
    '2025-01-02T03:04:05.678Z error chat: read callback threw: Error: boom\n      at f (x.ts:1:1)\n',
    '2025-01-02T03:04:05.678Z warning chat: two\n  lines\n',
    '2025-01-02T03:04:05.678Z notice chat: value: {"a":1}\n',
  ]);
  assert.is(describeCause('text'), 'text');
  assert.is(describeCause(undefined), 'undefined');
});

Log('recognizes log levels and refuses unknown ones', () => {
  assert.ok(isLogLevel('warning'));
  assert.not.ok(isLogLevel('warn'));
  assert.not.ok(isLogLevel(3));
  assert.throws(() => createLogger('main', 'loud' as never), (e: Error) => e instanceof TypeError && e.message === 'unknown log level "loud"');
});

Log('writes to stderr from a worker thread', async () => {
  const src = `
    const { createLogger } = await import(${JSON.stringify(new URL('../src/log.ts', import.meta.url).href)});
    const log = createLogger('worker#1', 'info');
    log.info('hello from a worker');
    log.debug('hidden');`;
  const w = new Worker(src, { eval: true, stderr: true });
  let err = '';
  w.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  await withDeadline(new Promise<void>((resolve, reject) => { w.on('exit', () => resolve()); w.on('error', reject); }), 5000, 'logger worker');
  await withDeadline(new Promise<void>((r) => (w.stderr.readableEnded ? r() : w.stderr.on('end', () => r()))), 5000, 'worker stderr end');
  assert.match(err, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info worker#1: hello from a worker\n$/);
});

Log('text lines leave structured fields out (the message says it)', () => {
  const { log, lines } = capture('worker#0', 'info');
  log.info('client 513: idle for 120s: closing with 1001', undefined, { client: 513 });
  assert.equal(lines, ['2025-01-02T03:04:05.678Z info worker#0: client 513: idle for 120s: closing with 1001\n']);
  assert.is(log.format, 'text');
});

Log('json: one object per line with time, level, thread, message and the fields', () => {
  const { log, lines } = capture('worker#2', 'debug', 'json');
  log.notice('client 770: 17 bytes queued', undefined, { client: 770 });
  log.debug('plain');
  assert.equal(lines, [
    '{"time":"2025-01-02T03:04:05.678Z","level":"notice","thread":"worker#2","message":"client 770: 17 bytes queued","client":770}\n',
    '{"time":"2025-01-02T03:04:05.678Z","level":"debug","thread":"worker#2","message":"plain"}\n',
  ]);
  for (const l of lines) {
    assert.ok(l.endsWith('\n') && !l.slice(0, -1).includes('\n'));
    const o = JSON.parse(l) as Record<string, unknown>;
    for (const k of JSON_LOG_KEYS) assert.type(o[k], 'string', k);
  }
});

Log('json: an app thread has thread "app" and its name in "app"; a cause goes to "error"; reserved keys win over fields', () => {
  const { log, lines } = capture('chat', 'notice', 'json', 'chat');
  const err = new Error('boom');
  err.stack = 'Error: boom\n    at f (x.ts:1:1)';
  log.error('read callback threw\nsecond line', err, { client: 1, time: 'x', message: 'y', level: 'z', thread: 't', app: 'a', error: 'e' });
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]), {
    time: '2025-01-02T03:04:05.678Z', level: 'error', thread: 'app', app: 'chat',
    message: 'read callback threw\nsecond line', error: 'Error: boom\n    at f (x.ts:1:1)', client: 1,
  });
  assert.equal(lines[0].split('\n').length, 2, 'one line');
});

Log('Node\'s process warnings go through the logger (json: still one object per line)', async () => {
  const lines: string[] = [];
  const log = createLogger('main', 'info', { format: 'json', write: (l) => { lines.push(l); } });
  logProcessWarnings(log);
  process.emitWarning('something is deprecated', { code: 'RS_TEST_WARNING' });
  await new Promise((r) => setImmediate(r));
  assert.is(lines.length, 1);
  const o = JSON.parse(lines[0]) as { level: string; message: string };
  assert.is(o.level, 'warning');
  assert.is(o.message, 'Warning RS_TEST_WARNING: something is deprecated');
});

Log('configure changes the level and the format from the next line on; bad values are refused', () => {
  const { log, lines } = capture('main', 'notice');
  log.info('hidden');
  log.configure({ level: 'info', format: 'json' });
  log.info('shown');
  assert.is(log.level, 'info');
  assert.is(log.format, 'json');
  log.configure({ format: 'text' });
  log.info('text again');
  assert.equal(lines, [
    '{"time":"2025-01-02T03:04:05.678Z","level":"info","thread":"main","message":"shown"}\n',
    '2025-01-02T03:04:05.678Z info main: text again\n',
  ]);
  assert.throws(() => log.configure({ format: 'xml' as never }), (e: Error) => e instanceof TypeError && e.message === 'unknown log format "xml"');
  assert.throws(() => createLogger('main', 'info', { format: 'yaml' as never }), /unknown log format "yaml"/);
  assert.is(log.format, 'text');
  assert.equal([...LOG_FORMATS], ['text', 'json']);
  assert.ok(isLogFormat('json'));
  assert.not.ok(isLogFormat('JSON'));
});

Log.run();

// A real daemon with log_format "json": every line it writes parses, with the keys of a record.
const Json = suite<{ d: RunningDaemon }>('log_format json (daemon)');
/** A reserved opcode: a protocol error the worker logs with the client's id as a field. */
const RESERVED_OPCODE = 3;

const json = daemonSuite(Json, async (ctx) => {
  ctx.d = await startDaemon({
    config: { log_format: 'json', log_level: 'debug' },
    apps: [ECHO, { name: 'commands', app_path: 'test/fixtures/apps/commands/app.ts', paths: ['/commands'] }],
  });
});

Json('echoes, and a protocol error is logged with the client id as a field', async ({ d }) => {
  const { ws, inbox } = await connectInbox(d.url());
  ws.send('hello');
  assert.is((await inbox.next()).data.toString(), 'hello');
  ws.close(1000);
  await rawExchange(d.port, [upgradeRequest(d.port), clientFrame(RESERVED_OPCODE, 'x')]);
  await d.waitFor(/"client":\d+/);
  const app = await connectInbox(d.url('/commands'));
  app.ws.send(JSON.stringify({ cmd: 'log', text: 'from the app' }));
  await d.waitFor(/from the app/);
  app.ws.close(1000);
});

json.stopTest({
  after: ({ d }) => {
    const lines = d.output().split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 5, `lines:\n${d.output()}`);
    const records = lines.map((l): Record<string, unknown> => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new assert.Assertion({ message: `not JSON: ${l}`, operator: 'JSON.parse', expects: 'JSON', actual: l, generated: false });
      }
    });
    for (const r of records) {
      for (const k of JSON_LOG_KEYS) assert.type(r[k], 'string', `${k} in ${JSON.stringify(r)}`);
      assert.ok(!Number.isNaN(Date.parse(r.time as string)), `ISO time: ${r.time}`);
      assert.ok(isLogLevel(r.level), String(r.level));
    }
    const threads = new Set(records.map((r) => r.thread));
    assert.ok(threads.has('main') && threads.has('worker#0'), [...threads].join(', '));
    assert.ok(records.some((r) => r.level === 'notice' && /^ready: /.test(r.message as string)), 'the ready line');
    const fromApp = records.find((r) => r.message === 'from the app');
    assert.ok(fromApp, 'the app\'s line');
    assert.is(fromApp!.thread, 'app');
    assert.is(fromApp!.app, 'commands');
    assert.is(fromApp!.level, 'notice');
    const protocolError = records.find((r) => typeof r.client === 'number' && /RS_ERR/.test(r.message as string));
    assert.ok(protocolError, 'the protocol error line has a client field');
    assert.is(protocolError!.thread, 'worker#0');
    assert.ok((protocolError!.message as string).startsWith(`client ${protocolError!.client}: `));
  },
});

Json.run();
