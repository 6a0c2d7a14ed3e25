// The whole code base type-checks under strict TypeScript (`npm run typecheck`): Node runs the .ts
// files by stripping types, so nothing else would notice a type error. A tsc that cannot start
// (missing from node_modules, not executable) fails this test; it never counts as "no errors".
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDeadline } from './helpers/deadline.ts';
import { runTsc } from './helpers/tsc.ts';

const Typecheck = suite('typecheck');

Typecheck('tsc finds no error in src/, apps/, test/ and bench/', async () => {
  const { code, out } = await withDeadline(runTsc(['--noEmit', '--pretty', 'false', '-p', 'tsconfig.json']), 180_000, 'tsc');
  assert.is(out.trim(), '', `tsc reported type errors (exit ${code}):\n${out}`);
  assert.is(code, 0, 'tsc exit code with no output');
});

Typecheck.run();
