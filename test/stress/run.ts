// The long-form stress test: npm run stress -- --clients N --seconds S [--workers W] [--budget-mib B]
//   [--max-size BYTES] [--churn PER_SECOND] [--seed N]
// Prints what was verified and exits non-zero on any violation. docs/stress.md describes it.
import { parseArgs } from 'node:util';
import { runStress, failures, report, type StressOptions } from './driver.ts';

const USAGE = 'usage: npm run stress -- --clients N --seconds S [--workers W] [--budget-mib B] [--max-size BYTES] [--churn PER_SECOND] [--seed N]';

function int(name: string, value: string | undefined, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number in ${min}...${max}, got ${JSON.stringify(value)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      clients: { type: 'string' }, seconds: { type: 'string' }, workers: { type: 'string' },
      'budget-mib': { type: 'string' }, 'max-size': { type: 'string' }, churn: { type: 'string' },
      seed: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const v = values as Record<string, string | undefined>;
const clients = int('clients', v.clients, 50, 2, 5000);
const opts: StressOptions = {
  clients,
  seconds: int('seconds', v.seconds, 30, 1, 86400),
  workers: int('workers', v.workers, 2, 1, 255),
  budget: int('budget-mib', v['budget-mib'], 64, 1, 4096) * 1048576,
  maxSize: int('max-size', v['max-size'], 1048576, 0, 64 * 1048576),
  churnPerSecond: int('churn', v.churn, Math.max(1, Math.round(clients / 10)), 0, 1000),
  seed: int('seed', v.seed, Math.floor(Math.random() * 2 ** 31), 1, 2 ** 31 - 1),
  progress: (line) => console.log(line),
};
console.log(`starting: ${opts.clients} clients, ${opts.workers} workers, ${opts.seconds} s (seed ${opts.seed})`);
const result = await runStress(opts);
console.log(report(result, opts));
const f = failures(result);
if (f.length) {
  console.log(`FAILED:\n- ${f.join('\n- ')}`);
  process.exitCode = 1;
} else {
  console.log('PASSED: no violation');
}
