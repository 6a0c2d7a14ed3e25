// CPU time and memory accounting: the client's own (process.cpuUsage covers every thread of the
// process) and, on Linux, a server process's from /proc/<pid>/stat and /proc/<pid>/status.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks = 0;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 on Linux if unknown). */
export function clockTicksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** user + system CPU seconds from the text of /proc/<pid>/stat. */
export function parseProcStat(text: string): { user: number; system: number } {
  // Field 2 (comm) is in parentheses and may hold spaces or ')': split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('unreadable /proc stat line');
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unreadable /proc stat line');
  const hz = clockTicksPerSecond();
  return { user: utime / hz, system: stime / hz };
}

/** A field of /proc/<pid>/status given in kB, in bytes (VmRSS, VmHWM, ...), or null if absent. */
export function parseStatusKb(text: string, field: string): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

export interface ServerSample {
  /** user + system CPU seconds since the process started. */
  cpu: number;
  user: number;
  system: number;
  /** Resident set size in bytes. */
  rss: number;
  /** Wall time of the sample, ms (performance.now()). */
  at: number;
}

/** Reads a server process's CPU time and RSS; throws if the process is gone. */
export function sampleServer(pid: number): ServerSample {
  const at = performance.now();
  const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const rss = parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') ?? 0;
  return { cpu: stat.user + stat.system, user: stat.user, system: stat.system, rss, at };
}

export interface CpuWindow {
  /** CPU seconds used in the window. */
  seconds: number;
  /** Average cores busy: CPU seconds per wall second. */
  cores: number;
}

/** The client process's CPU use between two process.cpuUsage() readings over `wallMs`. */
export function clientWindow(start: NodeJS.CpuUsage, end: NodeJS.CpuUsage, wallMs: number): CpuWindow {
  const seconds = (end.user - start.user + end.system - start.system) / 1e6;
  return { seconds, cores: wallMs > 0 ? seconds / (wallMs / 1000) : 0 };
}

export function serverWindow(start: ServerSample, end: ServerSample): CpuWindow {
  const seconds = end.cpu - start.cpu;
  const wall = (end.at - start.at) / 1000;
  return { seconds, cores: wall > 0 ? seconds / wall : 0 };
}
