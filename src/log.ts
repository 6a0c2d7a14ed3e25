// The daemon's logger: one line per message on stderr, "<ISO time> <level> <thread>: <message>".
// Levels follow syslog order (error is the most important). Works unchanged in worker threads:
// process.stderr there is forwarded to the main thread's stderr by Node.

/** From most to least important, as syslog orders them. */
export const LOG_LEVELS = ['error', 'warning', 'notice', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** The rank of a level: 0 for error ... 4 for debug. */
export function logLevelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

export type LogFn = (message: string, cause?: unknown) => void;

export interface Logger {
  readonly thread: string;
  /** Messages less important than this level are dropped. */
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string, cause?: unknown): void;
  error: LogFn;
  warning: LogFn;
  notice: LogFn;
  info: LogFn;
  debug: LogFn;
}

export interface LoggerOptions {
  /** Where complete lines (with their "\n") go; default process.stderr. */
  write?: (line: string) => void;
  /** The clock; default Date.now. */
  now?: () => number;
}

/** Renders a thrown value: an Error's stack (or name: message), anything else as a string. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.stack ?? `${cause.name}: ${cause.message}`;
  if (typeof cause === 'string') return cause;
  try {
    return JSON.stringify(cause) ?? String(cause);
  } catch {
    return String(cause);
  }
}

/**
 * A logger for one thread ("main", "worker#3", or an app's name). A message with several lines
 * stays one record: continuation lines are indented by two spaces.
 */
export function createLogger(thread: string, level: LogLevel, options: LoggerOptions = {}): Logger {
  if (!isLogLevel(level)) throw new TypeError(`unknown log level ${JSON.stringify(level)}`);
  const write = options.write ?? ((line: string) => { process.stderr.write(line); });
  const now = options.now ?? Date.now;
  const maxRank = logLevelRank(level);
  const enabled = (l: LogLevel): boolean => logLevelRank(l) <= maxRank;
  const log = (l: LogLevel, message: string, cause?: unknown): void => {
    if (!enabled(l)) return;
    let text = cause === undefined ? message : `${message}: ${describeCause(cause)}`;
    if (text.includes('\n')) text = text.replace(/\r?\n/g, '\n  ');
    write(`${new Date(now()).toISOString()} ${l} ${thread}: ${text}\n`);
  };
  return {
    thread,
    level,
    enabled,
    log,
    error: (m, c) => log('error', m, c),
    warning: (m, c) => log('warning', m, c),
    notice: (m, c) => log('notice', m, c),
    info: (m, c) => log('info', m, c),
    debug: (m, c) => log('debug', m, c),
  };
}
