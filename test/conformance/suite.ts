// Registers the conformance cases as uvu tests against a server URL, one test per case, so a
// failure names the Autobahn case number and says what happened.
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { selectCases } from './cases.ts';
import { runCase, type RunOptions } from './runner.ts';
import { withDeadline } from '../helpers/deadline.ts';

export interface ConformanceOptions extends RunOptions {
  /** Run the heavy section 9 cases too (default: CONFORMANCE_FULL=1). */
  full?: boolean;
  /** Only cases whose id starts with one of these (default: CONFORMANCE_CASES, comma separated). */
  only?: string[];
}

/** Is the full set requested by the environment? */
export const FULL = process.env.CONFORMANCE_FULL === '1';

function envOnly(): string[] | undefined {
  const v = process.env.CONFORMANCE_CASES;
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

/**
 * Adds one test per case to `test`. `url()` is read when each test runs, so the server can be
 * started in a `before` hook.
 */
export function registerConformance(test: Test, url: () => string, opts: ConformanceOptions = {}): void {
  const only = opts.only ?? envOnly();
  const cases = selectCases(opts.full ?? FULL).filter((c) => !only || only.some((p) => c.id === p || c.id.startsWith(`${p}.`)));
  const tally = new Map<string, number>();
  for (const c of cases) {
    test(`${c.id} ${c.title}`, async () => {
      const budget = (c.timeoutMs ?? 1000) + 15000;
      const r = await withDeadline(runCase(url(), c, opts), budget, `conformance case ${c.id}`);
      const key = `${r.behavior}/${r.behaviorClose}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      if (process.env.CONFORMANCE_VERBOSE === '1') console.log(`${r.passed ? 'pass' : 'FAIL'} ${r.report} (${r.ms} ms)`);
      assert.ok(r.passed, r.report);
    });
  }
  test.after(() => {
    const parts = [...tally].sort().map(([k, n]) => `${n} ${k}`);
    console.log(`conformance outcomes (behaviour/close, as Autobahn names them): ${parts.join(', ')}`);
  });
}

const FIXTURE = fileURLToPath(new URL('../fixtures/ws-echo-server.ts', import.meta.url));

export interface ReferenceServer {
  port: number;
  url: string;
  /** SIGTERM; resolves when the process has exited. */
  stop(): Promise<void>;
  /** Has the process exited (it never should while tests run)? */
  exited(): boolean;
}

/**
 * Starts test/fixtures/ws-echo-server.ts in a child process and waits for its port; `deflate`:
 * with ws's permessage-deflate (the reference for sections 12 and 13).
 */
export function startWsEchoServer({ deflate = false } = {}): Promise<ReferenceServer> {
  const proc: ChildProcess = spawn(process.execPath, deflate ? [FIXTURE, '--deflate'] : [FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let gone = false;
  const exit = new Promise<void>((resolve) => proc.on('exit', () => { gone = true; resolve(); }));
  proc.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const ready = new Promise<ReferenceServer>((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const port = (JSON.parse(line) as { port: number }).port;
      resolve({
        port,
        url: `ws://127.0.0.1:${port}/`,
        exited: () => gone,
        async stop() {
          if (!gone) proc.kill('SIGTERM');
          await withDeadline(exit, 5000, 'ws echo server exit').catch(() => { proc.kill('SIGKILL'); });
        },
      });
    });
    void exit.then(() => reject(new Error(`ws echo server exited before it was ready: ${err}`)));
  });
  return withDeadline(ready, 10000, 'ws echo server start').catch((e) => { proc.kill('SIGKILL'); throw e; });
}
