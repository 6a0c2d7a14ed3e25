// The logger: level filtering, line format, thread names, worker threads.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { createLogger, isLogLevel, LOG_LEVELS, describeCause } from '../src/log.ts';
import { withDeadline } from './helpers/deadline.ts';

const Log = suite('logger');

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

function capture(thread: string, level: (typeof LOG_LEVELS)[number]) {
  const lines: string[] = [];
  const log = createLogger(thread, level, { write: (l) => lines.push(l), now: () => T0 });
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

Log.run();
