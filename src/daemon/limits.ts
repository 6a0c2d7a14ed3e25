// The open-file limit against fd_alloc_c: every connection is a file descriptor, and the daemon
// needs some more of its own (listeners, threads' event loops, Node itself). Node cannot raise the
// limit, so the daemon only warns at start when it is too low (systemd: LimitNOFILE in the unit).
import { readFileSync } from 'node:fs';

/** Descriptors beyond fd_alloc_c: listeners, event loops, the WebAssembly module, logs, Node's own. */
export const FD_HEADROOM = 1024;

/** The soft RLIMIT_NOFILE from /proc/self/limits ("unlimited" = Infinity); null when unreadable. */
export function openFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m) return null;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** A warning when the limit is below fd_alloc_c + FD_HEADROOM, else null. */
export function fdLimitWarning(fdAllocC: number, limit: number | null): string | null {
  const need = fdAllocC + FD_HEADROOM;
  if (limit === null || limit >= need) return null;
  return `the open-file limit is ${limit}, below fd_alloc_c (${fdAllocC}) + ${FD_HEADROOM}: connections past about ` +
    `${Math.max(0, limit - FD_HEADROOM)} will fail to be accepted; raise it (ulimit -n ${need}, or LimitNOFILE=${need} in the systemd unit)`;
}
