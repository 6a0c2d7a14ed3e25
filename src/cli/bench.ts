// ringsocket-bench: the command-line entry (bin/ringsocket-bench.mjs calls main).
import { parseBenchArgs } from '../bench/args.ts';
import { runBench } from '../bench/driver.ts';
import type { RunHooks } from '../bench/driver.ts';
import { formatTable } from '../bench/report.ts';

/** Runs the bench; sets process.exitCode (0: ran with no error; 1: any error; 2: usage). */
export async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    process.exitCode = 0;
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`ringsocket-bench: ${parsed.message}\nTry ringsocket-bench --help\n`);
    process.exitCode = 2;
    return 2;
  }
  const o = parsed.options;
  const hooks: RunHooks = {};
  if (process.stderr.isTTY) {
    hooks.live = (line) => process.stderr.write(`\r\x1b[2K${line}`);
  }
  let code: number;
  try {
    const r = await runBench(o, hooks);
    if (hooks.live) process.stderr.write('\r\x1b[2K');
    process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatTable(r));
    code = r.ok ? 0 : 1;
  } catch (err) {
    if (hooks.live) process.stderr.write('\n');
    process.stderr.write(`ringsocket-bench: ${(err as Error).message}\n`);
    code = 1;
  }
  process.exitCode = code;
  return code;
}
