// Test runner: runs every test/**/*.test.ts file (uvu suites) in its own Node process, with a
// deadline per file (uvu has none), and ends with the plain line "N passed, N failed, N skipped"
// that CI reads. That line counts this project's own tests only; the reference files below are
// summed on a line of their own just before it.
//   node test/run.ts [substring...]   run only files whose path contains one of the substrings
// Environment: TEST_FILE_TIMEOUT_S (default 300), TEST_JOBS (default 1).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'test');
const timeoutMs = Number(process.env.TEST_FILE_TIMEOUT_S ?? 300) * 1000;
const jobs = Math.max(1, Number(process.env.TEST_JOBS ?? 1));
const filters = process.argv.slice(2);

// The reference group: files that test the conformance harness and the `ws` library it is checked
// against (ws passes Autobahn, so the harness must pass ws), not this project's code. They run
// with everything else but are counted apart. If any of them fails, the harness cannot be trusted,
// so the project line gets one failure for the whole group (the group's own counts stay on its line).
const REFERENCE = [
  'test/conformance/ws-reference.test.ts', // the conformance cases against a ws echo server
  'test/conformance/harness.test.ts', // the harness's frames, case tables and faulty toy servers
  'test/conformance/deflate-ws-reference.test.ts', // the permessage-deflate cases (12, 13) against ws
  'test/conformance/deflate-harness.test.ts', // the deflate case table, response check, faulty servers
];
const REFERENCE_LABEL = 'reference (ws, harness)';

function collect(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures' && name !== 'stress') collect(p, out);
    } else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// One folder per run, shared by the test files (helpers/package.ts packs the project there once).
const runDir = mkdtempSync(join(tmpdir(), 'rs-test-run-'));
process.on('exit', () => rmSync(runDir, { recursive: true, force: true }));

const files = collect(testDir, []).filter(
  (f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)),
);

type Result = { file: string; passed: number; failed: number; skipped: number; ms: number; note?: string };
const ANSI = /\x1b\[[0-9;]*m/g;

/** SIGKILLs every process of a group; true if there was one. */
function killGroup(pgid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (pgid === undefined) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is empty
  }
}

/** Process groups of the test files running now (killed too if this runner is interrupted). */
const running = new Set<number>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const pgid of running) killGroup(pgid);
    process.exit(130);
  });
}

function runFile(file: string): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', RS_TEST_RUN_DIR: runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: whatever it started (daemons, servers) is killed with it.
      detached: true,
    });
    if (child.pid !== undefined) running.add(child.pid);
    let out = '';
    const chunks: Buffer[] = [];
    const onData = (b: Buffer) => { chunks.push(b); };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // SIGTERM first: a file's own handlers (Playwright closes its browsers) clean up; then SIGKILL.
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid), 5000).unref();
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // A daemon the file started and did not stop must not outlive it (nor hold its port).
      const leftovers = killGroup(child.pid);
      if (child.pid !== undefined) running.delete(child.pid);
      out = Buffer.concat(chunks).toString('utf8');
      process.stdout.write(`\n=== ${relative(root, file)}\n${out}`);
      const plain = out.replace(ANSI, '');
      let total = 0, passed = 0, skipped = 0, found = false;
      for (const m of plain.matchAll(/Total:\s+(\d+)\s+Passed:\s+(\d+)\s+Skipped:\s+(\d+)/g)) {
        found = true;
        total += Number(m[1]); passed += Number(m[2]); skipped += Number(m[3]);
      }
      // uvu's Total leaves skipped tests out (`.skip`, and the others when `.only` is used), so
      // Total - Passed is exactly the tests that ran and failed, and Skipped is reported on its own.
      let failed = total - passed;
      // uvu prints one " FAIL " block per failed test, except when a before hook throws: it then
      // drops the error without a word and the suite's tests just do not pass.
      const reports = [...plain.matchAll(/^ {3}FAIL {2}/gm)].length;
      let note: string | undefined;
      if (timedOut) { note = `killed after ${timeoutMs / 1000}s deadline`; failed = Math.max(1, failed); }
      else if (!found) { note = `no uvu summary (exit ${code ?? signal})`; failed = Math.max(1, failed); }
      else if (code !== 0 && failed === 0) { note = `exit ${code ?? signal} after its tests`; failed = 1; }
      else if (total === 0 && skipped === 0) { note = 'ran no tests'; failed = 1; }
      else if (failed > reports) { note = `${failed - reports} failed without a report (a before hook threw?)`; }
      if (leftovers) note = (note ? note + '; ' : '') + 'killed processes it left running';
      resolve({ file, passed, failed, skipped, ms: Date.now() - started, note });
    });
  });
}

const results: Result[] = [];
let next = 0;
async function lane() {
  while (next < files.length) {
    const f = files[next++];
    results.push(await runFile(f));
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, lane));

const counts = (n: { passed: number; failed: number; skipped: number }, alwaysSkipped: boolean) =>
  `${n.passed} passed, ${n.failed} failed${alwaysSkipped || n.skipped ? `, ${n.skipped} skipped` : ''}`;
const isReference = (r: Result) => REFERENCE.includes(relative(root, r.file));

function printGroup(rs: Result[]) {
  const sum = { passed: 0, failed: 0, skipped: 0 };
  for (const r of rs.sort((a, b) => a.file.localeCompare(b.file))) {
    sum.passed += r.passed; sum.failed += r.failed; sum.skipped += r.skipped;
    const mark = r.failed ? 'FAIL' : 'ok  ';
    console.log(`${mark} ${relative(root, r.file)}  ${counts(r, false)}  (${(r.ms / 1000).toFixed(1)}s)${r.note ? '  ' + r.note : ''}`);
  }
  return sum;
}

console.log('\n=== summary');
const own = printGroup(results.filter((r) => !isReference(r)));
const refResults = results.filter(isReference);
if (refResults.length) {
  console.log(`--- ${REFERENCE_LABEL}: the conformance harness and the ws library, not counted below`);
  const ref = printGroup(refResults);
  if (ref.failed) {
    console.log(`${REFERENCE_LABEL}: ${counts(ref, false)}  FAILED: the harness cannot be trusted; counted as 1 failure below`);
    own.failed += 1;
  } else {
    console.log(`${REFERENCE_LABEL}: ${counts(ref, false)}`);
  }
}
// A renamed reference file would silently join the project's count: the list must name real files.
for (const p of REFERENCE) {
  if (!existsSync(join(root, p))) { console.log(`FAIL test/run.ts: reference file ${p} does not exist (fix REFERENCE)`); own.failed += 1; }
}
if (files.length === 0) { console.log('no test files matched'); own.failed += 1; }
console.log(counts(own, true));
process.exitCode = own.failed ? 1 : 0;
