// Type-level tests of the app API: tsc must accept test/types/pass/** (inferred callback types are
// checked there with Equal<>), and must reject every line of test/types/fail/** marked
// "// @error TSxxxx: why" with exactly that error code, and no other line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { withDeadline } from './helpers/deadline.ts';
import { root, runTsc as tsc } from './helpers/tsc.ts';

/** tsc on one project; rejects (so the test fails saying so) when tsc cannot run at all. */
function runTsc(project: string) {
  return tsc(['--noEmit', '--pretty', 'false', '-p', project]);
}

const Types = suite('app API types');

Types('accepts callbacks that fit their schemas, with the inferred types', async () => {
  const { code, out } = await withDeadline(runTsc('test/types/tsconfig.json'), 60_000, 'tsc (pass)');
  assert.is(out, '');
  assert.is(code, 0);
});

Types('rejects every marked line of the fail files with its error code, and nothing else', async () => {
  const { code, out } = await withDeadline(runTsc('test/types/tsconfig.fail.json'), 60_000, 'tsc (fail)');
  assert.is.not(code, 0);
  const actual = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^(test\/types\/fail\/[^(]+)\((\d+),\d+\): error (TS\d+):/.exec(line);
    if (m) actual.set(`${m[1]}:${m[2]}`, m[3]);
  }
  const expected = new Map<string, string>();
  const dir = join(root, 'test', 'types', 'fail');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 2, 'fail files exist');
  for (const file of files) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    let marked = 0;
    lines.forEach((text, i) => {
      const m = /\/\/ @error (TS\d+):/.exec(text);
      if (m) { expected.set(`test/types/fail/${file}:${i + 1}`, m[1]); marked++; }
    });
    assert.ok(marked > 0, `${file} marks its errors`);
  }
  const sort = (m: Map<string, string>) => [...m].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  assert.equal(sort(actual), sort(expected));
});

Types.run();
