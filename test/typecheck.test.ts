// The whole code base type-checks under strict TypeScript (`npm run typecheck`): Node runs the .ts
// files by stripping types, so nothing else would notice a type error.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDeadline } from './helpers/deadline.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const Typecheck = suite('typecheck');

Typecheck('tsc finds no error in src/, apps/, test/ and bench/', async () => {
  const out = await withDeadline(new Promise<string>((resolve) => {
    execFile(join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--pretty', 'false', '-p', 'tsconfig.json'], { cwd: root, maxBuffer: 16 << 20 },
      (_err, stdout, stderr) => resolve(stdout + stderr));
  }), 180_000, 'tsc');
  assert.is(out.trim(), '', out);
});

Typecheck.run();
