// Stopping the real daemon in a test with its exit status asserted, and suite set-up whose errors
// uvu does not lose.
//
// What uvu 0.5.6 does with an error thrown by a hook (runner() in node_modules/uvu/dist/index.mjs,
// checked with scratch suites run through test/run.ts):
// - before: dropped without a word. None of the suite's tests runs, no FAIL is printed and the
//   file exits 0; test/run.ts sees only Total > Passed ("failed without a report").
// - before.each: reported as the failure of that test, like an error in the test itself.
// - after.each: dropped like a before error, and the suite's remaining tests do not run.
// - after: escapes uvu as an unhandled rejection. Node prints that one error and exits 1 before
//   uvu prints the failures of the suite's tests or its summary, and the file's later suites never
//   run; test/run.ts counts the whole file as one failure ("no uvu summary").
// So set-up goes through guardSetup (its error fails every test of the suite, with the reason),
// and the daemon's exit status is asserted in a test (stopTest, withDaemon), never in a hook.
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningDaemon } from './daemon.ts';

/** The end of the daemon's output, for failure messages. */
export function outputTail(d: RunningDaemon, chars = 4000): string {
  const out = d.output();
  return out.length > chars ? `...${out.slice(-chars)}` : out;
}

/**
 * Asserts that the daemon exited with `expected` (`code` from d.stop() or the exit event), with
 * the end of its output in the message. `when` says what ended it, e.g. "after SIGTERM".
 */
export function assertExit(d: RunningDaemon, code: number | null, expected = 0, when = 'after SIGTERM'): void {
  const signal = d.proc.signalCode ? ` (ended by ${d.proc.signalCode})` : '';
  assert.is(code, expected, `the daemon's exit status ${when}${signal}; its output ends:\n${outputTail(d)}`);
}

export interface StopOptions {
  /** Default SIGTERM. */
  signal?: NodeJS.Signals;
  /** The expected exit status (default 0). */
  code?: number;
  /** How long to wait before SIGKILL (RunningDaemon.stop's default when not given). */
  ms?: number;
}

/**
 * Stops the daemon with `signal` and asserts its exit status. A daemon that had exited already is
 * not signalled, and the message says it exited on its own.
 */
export async function stopDaemon(d: RunningDaemon, opts: StopOptions = {}): Promise<void> {
  const signal = opts.signal ?? 'SIGTERM';
  const gone = d.proc.exitCode !== null || d.proc.signalCode !== null;
  const code = await d.stop(signal, opts.ms);
  assertExit(d, code, opts.code ?? 0, gone ? 'before it was stopped (it exited on its own)' : `after ${signal}`);
}

/**
 * Runs `body`, then stops the daemon and asserts its exit status (stopDaemon). When `body` fails,
 * the daemon is stopped all the same and `body`'s error is the one thrown, with a wrong exit
 * status added to its message.
 */
export async function withDaemon(d: RunningDaemon, body: () => Promise<void>, opts: StopOptions = {}): Promise<void> {
  try {
    await body();
  } catch (err) {
    try {
      await stopDaemon(d, opts);
    } catch (stopErr) {
      if (err instanceof Error) err.message += `\n    and then: ${(stopErr as Error).message}`;
    }
    throw err;
  }
  await stopDaemon(d, opts);
}

/**
 * Runs `setup` in the suite's before hook without letting uvu drop its error: if it throws, every
 * test of the suite fails (through a before.each hook) with `what` and the error, the first in
 * full, the others pointing to it. Register it before the suite's own before.each hooks.
 */
export function guardSetup<C>(s: Test<C>, what: string, setup: (ctx: C) => Promise<void> | void): void {
  let failure: Error | null = null;
  let reported = false;
  s.before(async (ctx) => {
    try {
      await setup(ctx);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    }
  });
  s.before.each(() => {
    if (!failure) return;
    if (reported) throw new Error(`${what} failed (the suite's first test has the error)`);
    reported = true;
    throw new Error(`${what} failed: ${failure.message}`);
  });
}

export interface StopTestOptions<C> extends StopOptions {
  /** The test's name (default: "the daemon exits with <code> on <signal>"). */
  name?: string;
  /** Runs before the daemon is stopped (close the suite's clients ...). */
  before?: (ctx: C) => Promise<void> | void;
  /** More checks once it has stopped (its log ...). */
  after?: (ctx: C) => Promise<void> | void;
}

/**
 * A suite run against one daemon. `setup` starts it into ctx.d (and may do more); its error fails
 * every test (guardSetup). Call `stopTest` after the suite's other tests: it adds the last test,
 * which stops the daemon and asserts its exit status. An after hook also stops a daemon that is
 * still running then (set-up failed after starting it, or the last test failed before stopping
 * it), without asserting anything: an error there would cost the file its report.
 */
export function daemonSuite<C extends { d?: RunningDaemon }>(
  s: Test<C>,
  setup: (ctx: C) => Promise<void>,
  what = 'starting the daemon',
): { stopTest(opts?: StopTestOptions<C>): void } {
  guardSetup(s, what, setup);
  s.after(async (ctx) => {
    const d = ctx.d;
    if (d && d.proc.exitCode === null && d.proc.signalCode === null) await d.stop().catch(() => null);
  });
  return {
    stopTest(opts = {}) {
      const name = opts.name ?? `the daemon exits with ${opts.code ?? 0} on ${opts.signal ?? 'SIGTERM'}`;
      s(name, async (ctx) => {
        const d = ctx.d;
        if (!d) return assert.unreachable('there is no daemon to stop: the set-up did not start one');
        await withDaemon(d, async () => { await opts.before?.(ctx); }, opts);
        await opts.after?.(ctx);
      });
    },
  };
}
