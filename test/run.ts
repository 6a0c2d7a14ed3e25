// Test runner: runs every test/**/*.test.ts file (uvu suites) in its own Node process, with a
// deadline per file (uvu has none), and ends with the plain line "N passed, N failed" that CI reads.
//   node test/run.ts [substring...]   run only files whose path contains one of the substrings
// Environment: TEST_FILE_TIMEOUT_S (default 300), TEST_JOBS (default 1).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'test');
const timeoutMs = Number(process.env.TEST_FILE_TIMEOUT_S ?? 300) * 1000;
const jobs = Math.max(1, Number(process.env.TEST_JOBS ?? 1));
const filters = process.argv.slice(2);

function collect(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures' && name !== 'stress') collect(p, out);
    } else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = collect(testDir, []).filter(
  (f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)),
);

type Result = { file: string; passed: number; failed: number; ms: number; note?: string };
const ANSI = /\x1b\[[0-9;]*m/g;

function runFile(file: string): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const chunks: Buffer[] = [];
    const onData = (b: Buffer) => { chunks.push(b); };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      out = Buffer.concat(chunks).toString('utf8');
      process.stdout.write(`\n=== ${relative(root, file)}\n${out}`);
      const plain = out.replace(ANSI, '');
      let total = 0, passed = 0, skipped = 0, found = false;
      for (const m of plain.matchAll(/Total:\s+(\d+)\s+Passed:\s+(\d+)\s+Skipped:\s+(\d+)/g)) {
        found = true;
        total += Number(m[1]); passed += Number(m[2]); skipped += Number(m[3]);
      }
      // uvu's Total already leaves skipped tests out.
      let failed = total - passed;
      void skipped;
      let note: string | undefined;
      if (timedOut) { note = `killed after ${timeoutMs / 1000}s deadline`; failed = Math.max(1, failed); }
      else if (!found) { note = `no uvu summary (exit ${code ?? signal})`; failed = Math.max(1, failed); }
      else if (code !== 0 && failed === 0) { note = `exit ${code ?? signal} after its tests`; failed = 1; }
      resolve({ file, passed, failed, ms: Date.now() - started, note });
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

let passed = 0, failed = 0;
console.log('\n=== summary');
for (const r of results.sort((a, b) => a.file.localeCompare(b.file))) {
  passed += r.passed; failed += r.failed;
  const mark = r.failed ? 'FAIL' : 'ok  ';
  console.log(`${mark} ${relative(root, r.file)}  ${r.passed} passed, ${r.failed} failed  (${(r.ms / 1000).toFixed(1)}s)${r.note ? '  ' + r.note : ''}`);
}
if (files.length === 0) { console.log('no test files matched'); failed = 1; }
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
