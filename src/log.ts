// The daemon's logger: one line per message on stderr. Two formats (config key log_format):
//   text  "<ISO time> <level> <thread>: <message>"   (the default)
//   json  {"time":"<ISO time>","level":"...","thread":"...","app":"...","message":"...",...fields}
// Levels follow syslog order (error is the most important). Works unchanged in worker threads:
// process.stderr there is forwarded to the main thread's stderr by Node.
//
// A thread's level and format live in its Logger and change only through `configure` (the one
// place a config reload would change them).

/** From most to least important, as syslog orders them. */
export const LOG_LEVELS = ['error', 'warning', 'notice', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How a line looks: today's text line, or one JSON object per line for log shippers. */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const DEFAULT_LOG_FORMAT: LogFormat = 'text';

/** The `thread` of an app thread's JSON lines (its name is in `app`). */
export const APP_THREAD = 'app';

/** The keys every JSON line has (`app` only on an app thread's lines, `error` only with a cause). */
export const JSON_LOG_KEYS = ['time', 'level', 'thread', 'message'] as const;
const RESERVED_KEYS: ReadonlySet<string> = new Set([...JSON_LOG_KEYS, 'app', 'error']);

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export function isLogFormat(value: unknown): value is LogFormat {
  return typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value);
}

/** The rank of a level: 0 for error ... 4 for debug. */
export function logLevelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

/**
 * Structured values of one line, such as `{ client: 4097 }`. JSON lines carry them as keys of their
 * own (a key that clashes with time, level, thread, app, message or error is dropped); text lines
 * leave them out (the message says it in words).
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

export type LogFn = (message: string, cause?: unknown, fields?: LogFields) => void;

export interface LoggerSettings {
  level?: LogLevel;
  format?: LogFormat;
}

export interface Logger {
  readonly thread: string;
  /** Messages less important than this level are dropped. */
  readonly level: LogLevel;
  readonly format: LogFormat;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string, cause?: unknown, fields?: LogFields): void;
  /** Changes the level and/or the format from the next line on. */
  configure(settings: LoggerSettings): void;
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
  /** Default "text". */
  format?: LogFormat;
  /** Set on an app thread: its JSON lines have thread "app" and this in `app`. */
  app?: string;
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

function checkSettings(s: LoggerSettings): void {
  if (s.level !== undefined && !isLogLevel(s.level)) throw new TypeError(`unknown log level ${JSON.stringify(s.level)}`);
  if (s.format !== undefined && !isLogFormat(s.format)) throw new TypeError(`unknown log format ${JSON.stringify(s.format)}`);
}

/**
 * A logger for one thread ("main", "worker#3", or an app's name). A text message with several lines
 * stays one record: continuation lines are indented by two spaces.
 */
export function createLogger(thread: string, level: LogLevel, options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => { process.stderr.write(line); });
  const now = options.now ?? Date.now;
  const app = options.app;
  const jsonThread = app === undefined ? thread : APP_THREAD;
  let format: LogFormat = options.format ?? DEFAULT_LOG_FORMAT;
  checkSettings({ level, format });
  let maxRank = logLevelRank(level);

  const enabled = (l: LogLevel): boolean => logLevelRank(l) <= maxRank;
  const text = (l: LogLevel, message: string, cause: unknown): string => {
    let t = cause === undefined ? message : `${message}: ${describeCause(cause)}`;
    if (t.includes('\n')) t = t.replace(/\r?\n/g, '\n  ');
    return `${new Date(now()).toISOString()} ${l} ${thread}: ${t}\n`;
  };
  const json = (l: LogLevel, message: string, cause: unknown, fields: LogFields | undefined): string => {
    const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level: l, thread: jsonThread };
    if (app !== undefined) record.app = app;
    record.message = message;
    if (cause !== undefined) record.error = describeCause(cause);
    if (fields) for (const k in fields) if (!RESERVED_KEYS.has(k)) record[k] = fields[k];
    return `${JSON.stringify(record)}\n`;
  };
  const log = (l: LogLevel, message: string, cause?: unknown, fields?: LogFields): void => {
    if (!enabled(l)) return;
    write(format === 'json' ? json(l, message, cause, fields) : text(l, message, cause));
  };
  return {
    thread,
    get level() { return LOG_LEVELS[maxRank]; },
    get format() { return format; },
    enabled,
    log,
    configure(s: LoggerSettings) {
      checkSettings(s);
      if (s.level !== undefined) maxRank = logLevelRank(s.level);
      if (s.format !== undefined) format = s.format;
    },
    error: (m, c, f) => log('error', m, c, f),
    warning: (m, c, f) => log('warning', m, c, f),
    notice: (m, c, f) => log('notice', m, c, f),
    info: (m, c, f) => log('info', m, c, f),
    debug: (m, c, f) => log('debug', m, c, f),
  };
}

/**
 * Node's own process warnings (a deprecation, an experimental feature, a module without "type")
 * go through `log` instead of Node's plain "(node:PID) Warning: ..." line on stderr, so that with
 * log_format "json" every line the daemon writes is JSON. Called once per thread.
 */
export function logProcessWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    log.warning(`${w.name}${w.code ? ` ${w.code}` : ''}: ${w.message}`);
  });
}
