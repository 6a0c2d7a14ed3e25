// The `ringsocket` command: check a configuration, or run the daemon in the foreground until
// SIGTERM/SIGINT. bin/ringsocket.mjs checks the Node version and then calls main().
import { existsSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { formatConfigErrors, loadConfig, type Config } from '../config/index.ts';
import { createLogger, logProcessWarnings, type Logger } from '../log.ts';
import { initProject, INIT_PORT } from './init.ts';
import { planPrivileges, resolveRunAs, type AccountLookup, type PrivilegePlan } from '../daemon/privileges.ts';

/** What src/daemon/main.ts provides. */
export interface DaemonHandle {
  /** Begins the graceful shutdown (close 1001 to every client, wait up to shutdown_wait_ws). */
  stop(reason?: string): Promise<void>;
  /** Resolves to the process exit code once the daemon has stopped. */
  done: Promise<number>;
  /** SIGHUP: re-reads the config file and applies its live changes (src/daemon/reload.ts). */
  reload?(): Promise<unknown>;
}
export interface DaemonModule {
  startDaemon(config: Config, logger: Logger, options?: { privileges?: PrivilegePlan }): DaemonHandle | Promise<DaemonHandle>;
}

/** Seams for tests; the command itself uses the defaults. */
export interface MainDeps {
  importDaemon?: () => Promise<DaemonModule>;
  /** Config locations tried, in order, when no path is given. */
  defaultPaths?: readonly string[];
  exit?: (code: number) => void;
  /** The effective uid (default process.geteuid()) and the account lookup (privileges.ts). */
  euid?: number;
  accounts?: AccountLookup;
}

/** A second signal this soon after the first is the same request delivered twice (see onSignal). */
export const DUPLICATE_SIGNAL_MS = 1000;

export const DEFAULT_CONFIG_PATHS = ['./ringsocket.json', '/etc/ringsocket.json'] as const;

const USAGE = `Usage: ringsocket [options] [config-path]
       ringsocket init [dir]

Runs the RingSocket WebSocket server daemon in the foreground. Log lines go to stderr.

  config-path   the JSON (with comments) configuration file; default: ./ringsocket.json,
                then /etc/ringsocket.json
  --check       validate the configuration, print "config OK: <path>" or every error, and exit
                (0 = valid, 1 = invalid)
  --help, -h    print this help and exit
  --version, -v print the version and exit
  init [dir]    write a starter ringsocket.json and app.ts into dir (default: .), keeping any
                that exist; then "npx ringsocket" there serves the app

SIGTERM or SIGINT stops the daemon gracefully (every client gets close code 1001); another
signal at least a second later forces an immediate exit with status 1. Exit status: 0 after a clean stop, 1 on a bad
configuration or a start-up failure, 2 on a usage error, 70 when a worker thread died.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

interface Args { check: boolean; help: boolean; version: boolean; path?: string; error?: string }

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { check: false, help: false, version: false };
  let positional = false;
  for (const a of argv) {
    if (!positional && a === '--') { positional = true; continue; }
    if (!positional && a.startsWith('-') && a !== '-') {
      if (a === '--check') args.check = true;
      else if (a === '--help' || a === '-h') args.help = true;
      else if (a === '--version' || a === '-v' || a === '-V') args.version = true;
      else return { ...args, error: `unknown option ${a}` };
      continue;
    }
    if (args.path !== undefined) return { ...args, error: `more than one config path given (${args.path}, ${a})` };
    args.path = a;
  }
  return args;
}

export async function main(argv: string[], deps: MainDeps = {}): Promise<void> {
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const out = (s: string) => { process.stdout.write(s); };
  const err = (s: string) => { process.stderr.write(s); };

  if (argv[0] === 'init') {
    if (argv.length > 2 || (argv[1] ?? '').startsWith('-')) {
      err('ringsocket: usage: ringsocket init [dir]\n');
      return exit(2);
    }
    const r = initProject(argv[1] ?? '.');
    for (const p of r.written) out(`wrote ${p}\n`);
    for (const p of r.kept) out(`kept ${p} (it exists)\n`);
    out(`next: cd ${r.dir} && npx ringsocket   (then connect to ws://localhost:${INIT_PORT}/hello)\n`);
    return exit(0);
  }
  const args = parseArgs(argv);
  if (args.error) {
    err(`ringsocket: ${args.error}\nTry "ringsocket --help".\n`);
    return exit(2);
  }
  if (args.help) { out(USAGE); return exit(0); }
  if (args.version) { out(`ringsocket ${version()}\n`); return exit(0); }

  // Which file: the one given, or the first default location that exists.
  let path = args.path;
  let how = '';
  if (path === undefined) {
    const candidates = deps.defaultPaths ?? DEFAULT_CONFIG_PATHS;
    path = candidates.find((p) => existsSync(p));
    if (path === undefined) {
      err(`ringsocket: no config path given, and none of ${candidates.join(', ')} exists\n`);
      return exit(1);
    }
    how = ' (default location)';
  }
  const file = resolvePath(path);

  const result = loadConfig(file);
  if (!result.config) {
    const n = result.errors.length;
    err(`ringsocket: ${file}${how}: ${n} configuration error${n === 1 ? '' : 's'}:\n${formatConfigErrors(result.errors)}\n`);
    return exit(1);
  }
  const config = result.config;

  if (args.check) {
    // The user and group must exist on the machine the config is checked on, as certificate files must.
    const runAs = config.user === null ? null : resolveRunAs(config.user, config.group, deps.accounts);
    if (runAs !== null && 'error' in runAs) {
      err(`ringsocket: ${file}${how}: 1 configuration error:\n${file}: $.${runAs.key}: ${runAs.error}\n`);
      return exit(1);
    }
    if (result.warnings.length) err(formatConfigErrors(result.warnings).replace(/^/gm, 'warning: ') + '\n');
    out(`config OK: ${file}\n`);
    return exit(0);
  }

  const logger = createLogger('main', config.log_level, { format: config.log_format });
  logProcessWarnings(logger);
  logger.notice(`ringsocket ${version()}, config ${file}${how}`);
  for (const w of result.warnings) logger.warning(`config: ${formatConfigErrors([w])}`);
  logger.info(`${config.worker_c} worker${config.worker_c === 1 ? '' : 's'}${config.workerCAuto ? ' (automatic)' : ''}, ` +
    `${config.apps.length} app${config.apps.length === 1 ? '' : 's'}: ${config.apps.map((a) => a.name).join(', ')}`);

  // A user that does not exist stops the start before anything is loaded or bound.
  const privileges = planPrivileges(config, deps.euid ?? process.geteuid!(), deps.accounts);
  if (privileges.kind === 'error') {
    logger.error(`cannot start: ${privileges.message}`);
    return exit(1);
  }

  let mod: DaemonModule;
  try {
    mod = await (deps.importDaemon ?? (() => import('../daemon/main.ts') as Promise<DaemonModule>))();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && /daemon[\\/]main\.ts/.test(String((e as Error).message))) {
      logger.error('the daemon (src/daemon/main.ts) is missing from this installation; only --check, --help and --version work');
    } else {
      logger.error('cannot load the daemon module', e);
    }
    return exit(1);
  }
  if (typeof mod.startDaemon !== 'function') {
    logger.error('the daemon module does not export startDaemon()');
    return exit(1);
  }

  // Signals: the first one stops gracefully (also when it arrives during start-up), the second
  // forces the exit.
  let handle: DaemonHandle | undefined;
  let stopReason: string | undefined;
  let firstSignalAt = 0;
  const requestStop = (reason: string) => {
    handle!.stop(reason).catch((e) => logger.error('the graceful stop failed', e));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopReason !== undefined) {
      // One Ctrl-C under `npm start` (or a signal sent to the process group) arrives twice at
      // once: from the terminal and forwarded by npm. Only a later signal means "force it".
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) {
        logger.debug(`${signal} again within ${DUPLICATE_SIGNAL_MS} ms: taken as the same request`);
        return;
      }
      logger.error(`${signal} again: forcing exit`);
      exit(1);
      return;
    }
    stopReason = signal;
    firstSignalAt = Date.now();
    logger.notice(`${signal}: shutting down (send it again to force the exit)`);
    if (handle) requestStop(signal);
  };
  // SIGHUP (systemctl reload): re-reads the config file and applies what can change live
  // (src/daemon/reload.ts). It never ends the daemon (Node's default for SIGHUP would).
  // One that arrives while the daemon starts (systemd counts it started at exec: a certbot hook's
  // `systemctl reload` may come that early) is kept and done once it is ready.
  let hupPending = false;
  const onHangup = () => {
    if (!handle?.reload) {
      if (!hupPending) logger.notice('SIGHUP: the daemon is still starting; it reloads once it is ready');
      hupPending = true;
      return;
    }
    logger.notice('SIGHUP: reloading the configuration');
    handle.reload().catch((e) => logger.error('reload failed', e));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHangup);
  const removeSignals = () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
  };

  try {
    handle = await mod.startDaemon(config, logger, { privileges });
  } catch (e) {
    logger.error('start-up failed', e);
    removeSignals();
    return exit(1);
  }
  if (stopReason !== undefined) requestStop(stopReason);
  else if (hupPending) onHangup();

  let code: number;
  try {
    code = await handle.done;
  } catch (e) {
    logger.error('the daemon failed', e);
    code = 1;
  }
  removeSignals();
  logger.notice(`stopped (exit status ${code})`);
  return exit(code);
}
