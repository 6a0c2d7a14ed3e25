// A child process's output as a test reads it: stdout and stderr collected as they arrive, its
// exit, and waiting for a line of its output (its "ready" line ...) with a deadline, failing at
// once, with the output, if it exits first.
import type { ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

export class ChildOutput {
  private all = '';
  private ended = '';
  private readonly onChange = new Set<() => void>();
  /** Its exit status (null when a signal ended it), once it has exited and its output has ended. */
  readonly exited: Promise<number | null>;

  /** Starts collecting `proc`'s output: call it right after spawn (stdout and stderr 'pipe'). */
  constructor(proc: ChildProcess) {
    for (const stream of [proc.stdout, proc.stderr]) {
      const utf8 = new StringDecoder('utf8'); // a character split across two chunks stays whole
      stream?.on('data', (b: Buffer) => { this.all += utf8.write(b); this.changed(); });
    }
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => {
      this.ended = code === null ? `signal ${signal}` : `status ${code}`;
      resolve(code);
      this.changed();
    }));
  }

  /** Everything it has written so far, stdout and stderr interleaved as they arrived. */
  text(): string {
    return this.all;
  }

  private changed(): void {
    for (const f of [...this.onChange]) f();
  }

  /** See waitForLine. */
  waitForLine(re: RegExp, ms: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const stop = () => { clearTimeout(timer); this.onChange.delete(check); };
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`deadline: no line matching ${re} within ${ms} ms; output so far:\n${this.all}`));
      }, ms);
      const check = (): void => {
        const line = this.all.split('\n').find((l) => re.test(l));
        if (line !== undefined) {
          stop();
          resolve(line);
        } else if (this.ended) {
          stop();
          reject(new Error(`the process exited (${this.ended}) without a line matching ${re}; its output:\n${this.all}`));
        }
      };
      this.onChange.add(check);
      check();
    });
  }
}

/** Starts collecting `proc`'s output (call it right after spawn). */
export function collectOutput(proc: ChildProcess): ChildOutput {
  return new ChildOutput(proc);
}

/**
 * Resolves with the first line of the output that matches `re` (the last, unfinished line counts
 * too). Rejects, with the output so far, when the process exits without one, or after `ms`.
 */
export function waitForLine(out: ChildOutput, re: RegExp, ms: number): Promise<string> {
  return out.waitForLine(re, ms);
}
