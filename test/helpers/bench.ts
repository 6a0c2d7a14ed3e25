// Running ringsocket-bench in a test process, as the CLI would (its argument parser, then the
// driver), with a deadline; and the check that a run had no errors.
import * as assert from 'uvu/assert';
import { parseBenchArgs } from '../../src/bench/args.ts';
import { runBench, type BenchResult } from '../../src/bench/driver.ts';
import { withDeadline } from './deadline.ts';

export async function bench(argv: string[]): Promise<BenchResult> {
  const p = parseBenchArgs(argv);
  if (p.kind !== 'run') throw new Error(`bad test arguments: ${JSON.stringify(p)}`);
  return withDeadline(runBench(p.options), 30000, `bench ${argv.join(' ')}`);
}

export function assertClean(r: BenchResult): void {
  assert.equal(r.errorSamples, []);
  assert.is(r.errors.total, 0);
  assert.is(r.ok, true);
}
