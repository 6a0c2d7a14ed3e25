// Runs the project's own tsc (node_modules/.bin/tsc) for the type tests. Two outcomes must never be
// confused: tsc ran and exited with some code (its output says why), and tsc could not be run at
// all (missing, not executable, killed, too much output). The second rejects, so a test that
// awaits it fails with a message that says so instead of reading an empty output as "no errors".
import { execFile } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TSC = join(root, 'node_modules', '.bin', 'tsc');

export interface TscRun {
  /** tsc's exit code: 0 when it found no error. */
  code: number;
  /** stdout and stderr together. */
  out: string;
}

export function runTsc(args: string[], tsc: string = TSC): Promise<TscRun> {
  return new Promise((resolve, reject) => {
    execFile(tsc, args, { cwd: root, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const out = stdout + stderr;
      if (!err) return resolve({ code: 0, out });
      // A number is tsc's own exit code; anything else (ENOENT, EACCES, a signal, the buffer limit)
      // means it did not run to the end.
      if (typeof err.code === 'number') return resolve({ code: err.code, out });
      const how = err.signal ? `was killed by ${err.signal}` : `could not run (${err.code ?? 'no code'}: ${err.message})`;
      reject(new Error(`tsc ${how}: ${tsc} ${args.join(' ')}${out ? `\noutput:\n${out}` : ''}`));
    });
  });
}
