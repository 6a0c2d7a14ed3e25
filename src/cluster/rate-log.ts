// A log line that anyone outside can cause (a batch from Redis that does not decode, one that cannot
// be delivered) is written at most once per RATE_LOG_INTERVAL_MS, with a count of those held back:
// whoever can publish on the daemon's channels cannot flood its log.
import type { Logger } from '../log.ts';

export const RATE_LOG_INTERVAL_MS = 10_000;

export class RateLimitedLog {
  readonly #log: Logger;
  readonly #level: 'error' | 'warning';
  readonly #now: () => number;
  #last = -Infinity;
  #held = 0;

  constructor(log: Logger, level: 'error' | 'warning', now: () => number = Date.now) {
    this.#log = log;
    this.#level = level;
    this.#now = now;
  }

  /** Writes `line` unless a line was written less than RATE_LOG_INTERVAL_MS ago (then counts it). */
  say(line: string): void {
    const t = this.#now();
    if (t - this.#last < RATE_LOG_INTERVAL_MS) {
      this.#held++;
      return;
    }
    this.#last = t;
    const held = this.#held;
    this.#held = 0;
    this.#log[this.#level](held ? `${line} (and ${held} more like it in the last ${RATE_LOG_INTERVAL_MS / 1000}s)` : line);
  }
}
