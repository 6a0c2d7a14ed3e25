// The operations keys: who the daemon runs as (user, group) and how it logs (log_format).
// Only types are checked here; whether the user and group exist is asked of the machine when the
// daemon starts (src/daemon/privileges.ts), and by `ringsocket --check`.
import { LOG_FORMATS, DEFAULT_LOG_FORMAT, isLogFormat, type LogFormat } from '../log.ts';
import { describe, type Collector } from './collector.ts';
import type { Props } from './readers.ts';
import { closest } from './suggest.ts';

/** A user or group: a name, or a numeric id (uid/gid 0 - 2^32 - 2; 2^32 - 1 is the kernel's "no id"). */
export type AccountRef = string | number;
export const MAX_ACCOUNT_ID = 2 ** 32 - 2;

export interface OpsKeys {
  /** null when absent; undefined (with an error recorded) when invalid. */
  user: AccountRef | null | undefined;
  group: AccountRef | null | undefined;
  log_format: LogFormat | undefined;
}

function readAccount(c: Collector, g: Props, key: 'user' | 'group'): AccountRef | null | undefined {
  const node = g.get(key);
  if (!node) return null;
  if (node.type === 'string' && node.value !== '' && !/[:\s\0]/.test(node.value as string)) return node.value as string;
  if (node.type === 'number' && Number.isInteger(node.value) && node.value >= 0 && node.value <= MAX_ACCOUNT_ID) return node.value as number;
  c.error(`$.${key}`, `must be a ${key} name (a non-empty string without ":" or white space) or a numeric ${key === 'user' ? 'uid' : 'gid'} ` +
    `from 0 to ${MAX_ACCOUNT_ID}, found ${describe(node)}`, node);
  return undefined;
}

export function readOps(c: Collector, g: Props): OpsKeys {
  const user = readAccount(c, g, 'user');
  const group = readAccount(c, g, 'group');
  if (user === null && group !== null && group !== undefined) {
    c.warn('$.group', 'has no effect without "user"', g.get('group'));
  }
  let log_format: LogFormat | undefined = DEFAULT_LOG_FORMAT;
  const lf = g.get('log_format');
  if (lf) {
    if (lf.type === 'string' && isLogFormat(lf.value)) log_format = lf.value;
    else {
      const guess = lf.type === 'string' ? closest(lf.value, LOG_FORMATS) : undefined;
      c.error('$.log_format', `must be one of ${LOG_FORMATS.map((f) => `"${f}"`).join(', ')}` +
        (guess ? ` (did you mean "${guess}"?)` : '') + `, found ${describe(lf)}`, lf);
      log_format = undefined;
    }
  }
  return { user, group, log_format };
}
