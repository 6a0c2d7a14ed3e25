// SIGHUP: re-read the config file and apply what can change live (issue 12 part 3).
//
// The rule: a reload is applied whole or not at all. The file is loaded with the same loader as at
// start; a file with errors is refused (every error logged with its path), and so is a file with
// any change that needs a restart (config/diff.ts): each such change is logged, and so are the
// live changes held back with it. The running config then stays as it was, so it is always a file
// that was checked whole (no mix of two files whose limits were only checked apart). Otherwise
// every thread gets the new config ('reconfigure'), applies its live parts and answers; main logs
// one line per change and a summary.
//
// Certificates are re-read on every reload (a renewal changes the files, not the config); the main
// thread reads them and builds a TLS context of each before anything is sent, so a bad key is a
// refused reload, not a half-applied one. Apps keep the config they started with. After the switch
// to `user` the daemon may no longer read a key it read as root at start: a file under the same
// path that it cannot read is kept as it was loaded (a warning says so), so the reload goes on; a
// renewal of such a file needs a restart (or a file the user may read).
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { Config, ConfigError, ParseResult } from '../config/types.ts';
import { formatConfigErrors, loadConfig } from '../config/index.ts';
import { systemEnv } from '../config/env.ts';
import { diffConfig, describeChange, type Change, type ConfigDiff } from '../config/diff.ts';
import type { Logger } from '../log.ts';
import type { CertFile } from './worker/tls-contexts.ts';

export type ReloadPlan = (
  | { kind: 'errors'; errors: ConfigError[] }
  | { kind: 'restart'; diff: ConfigDiff }
  | { kind: 'unchanged' }
  /** `certs`: the files to send to the workers, null when no certificate changed. */
  | { kind: 'apply'; next: Config; diff: ConfigDiff; certs: CertFile[] | null; certFiles: CertFile[] }
) & {
  /** Files this process could not read, kept as loaded before (one message each). */
  kept?: string[];
};

/** The contents of the running certificates' files by path (what a reload may keep). */
export function keptCertFiles(running: Config, runningCerts: readonly CertFile[] | null): Map<string, Buffer> {
  const kept = new Map<string, Buffer>();
  if (runningCerts === null) return kept;
  running.certs.forEach((c, i) => {
    const f = runningCerts[i];
    if (!f) return;
    kept.set(c.privkey_path, f.key);
    kept.set(c.pubchain_path, f.cert);
  });
  return kept;
}

/**
 * Reads a config's certificate files and checks that each makes a TLS context. A file in `kept`
 * (keptCertFiles) that this process may not read gives its kept contents and a `kept` message.
 */
export function readCerts(config: Config, kept: ReadonlyMap<string, Buffer> = new Map()): { files: CertFile[]; errors: ConfigError[]; kept: string[] } {
  const files: CertFile[] = [];
  const errors: ConfigError[] = [];
  const keptNotes: string[] = [];
  config.certs.forEach((c, i) => {
    const read = (key: 'privkey_path' | 'pubchain_path'): Buffer | null => {
      try {
        return readFileSync(c[key]);
      } catch (e) {
        const was = kept.get(c[key]);
        if (was !== undefined && (e as NodeJS.ErrnoException).code === 'EACCES') {
          keptNotes.push(`$.certs[${i}].${key}: ${c[key]} is not readable by this user: the contents loaded before stay in use (to renew it, restart the daemon or let the user read the file)`);
          return was;
        }
        errors.push({ path: `$.certs[${i}].${key}`, file: config.configPath, message: `cannot read ${c[key]}: ${(e as Error).message}` });
        return null;
      }
    };
    const notesBefore = keptNotes.length;
    const key = read('privkey_path'), cert = read('pubchain_path');
    if (key === null || cert === null) return;
    const hostnames = c.hostnames.map((h) => h.toLowerCase());
    try {
      tls.createSecureContext({ key, cert });
    } catch (e) {
      // One file of the pair kept, the other renewed (a root-only key, a chain the user may read):
      // the new chain cannot go with the old key, so the pair loaded before stays in use as a whole
      // (it made a context then) and the rest of the reload goes on.
      const oldKey = kept.get(c.privkey_path), oldCert = kept.get(c.pubchain_path);
      if (keptNotes.length > notesBefore && oldKey !== undefined && oldCert !== undefined) {
        keptNotes.push(`$.certs[${i}]: ${c.privkey_path} and ${c.pubchain_path} no longer match (one was renewed, the other is not readable by this user): the key and chain loaded before stay in use (to serve the new ones, restart the daemon or let the user read both)`);
        files.push({ hostnames, key: oldKey, cert: oldCert });
        return;
      }
      errors.push({ path: `$.certs[${i}]`, file: config.configPath, message: `${c.privkey_path} and ${c.pubchain_path} do not make a TLS context: ${(e as Error).message}` });
      return;
    }
    files.push({ hostnames, key, cert });
  });
  return { files, errors, kept: keptNotes };
}

/**
 * What a reload would do: `running` and its certificate files (`runningCerts`, null when unknown:
 * then the certificates count as changed) against the newly loaded file.
 */
export function planReload(running: Config, runningCerts: readonly CertFile[] | null, loaded: ParseResult, read = readCerts): ReloadPlan {
  const next = loaded.config;
  if (!next) return { kind: 'errors', errors: loaded.errors };
  const diff = diffConfig(running, next);
  const certs = read(next, keptCertFiles(running, runningCerts));
  if (certs.errors.length) return { kind: 'errors', errors: certs.errors };
  const kept = certs.kept;
  // Files whose contents changed under the same path (a renewal).
  certs.files.forEach((f, i) => {
    const was = runningCerts?.[i];
    const p = `$.certs[${i}]`;
    if (diff.live.some((c) => c.path === p || c.path.startsWith(`${p}.`))) return; // reported already
    if (!was || !was.key.equals(f.key) || !was.cert.equals(f.cert)) {
      diff.live.push({ path: p, from: 'the files loaded before', to: `new contents of ${next.certs[i].pubchain_path} or its key` });
    }
  });
  if (diff.restart.length) return { kind: 'restart', diff, kept };
  if (diff.live.length === 0) return { kind: 'unchanged', kept };
  const certsChanged = diff.live.some((c) => c.path.startsWith('$.certs'));
  return { kind: 'apply', next, diff, certs: certsChanged ? certs.files : null, certFiles: certs.files, kept };
}

export interface ReloadThread {
  name: string;
  thread: Worker;
  /** Workers get the certificates' files; app threads only the config (for their logger). */
  worker: boolean;
}

export interface ReloaderDeps {
  log: Logger;
  running: Config;
  /** The certificates' files as read at start (null: unknown). */
  certs: CertFile[] | null;
  /** Loads the config file; default config/index.ts loadConfig. */
  load?(path: string): ParseResult;
  /** The threads to tell (workers and app threads that are running now). */
  threads(): ReloadThread[];
  /** Main's own part: its running config (shutdown_wait_ws, app_stall_timeout, restarted apps). */
  apply(next: Config): void;
  /** How long a thread may take to answer; default 5 s. */
  timeoutMs?: number;
}

export type ReloadResult = 'applied' | 'unchanged' | 'refused';

export class Reloader {
  readonly #d: ReloaderDeps;
  #running: Config;
  #certs: CertFile[] | null;
  #busy: Promise<ReloadResult> | null = null;
  #again = false;
  #seq = 0;

  constructor(d: ReloaderDeps) {
    this.#d = d;
    this.#running = d.running;
    this.#certs = d.certs;
  }

  get running(): Config {
    return this.#running;
  }

  /** Reloads; a reload asked for while one runs runs once more after it. */
  reload(): Promise<ReloadResult> {
    if (this.#busy) {
      this.#again = true;
      return this.#busy;
    }
    const run = async (): Promise<ReloadResult> => {
      let r: ReloadResult;
      do {
        this.#again = false;
        r = await this.#reloadOnce();
      } while (this.#again);
      return r;
    };
    this.#busy = run().finally(() => { this.#busy = null; });
    return this.#busy;
  }

  async #reloadOnce(): Promise<ReloadResult> {
    const { log } = this.#d;
    const path = this.#running.configPath;
    log.notice(`reload: reading ${path}`);
    // The files read at start may be unreadable now (the switch to `user`): the loader accepts them.
    const keptFiles = new Set(keptCertFiles(this.#running, this.#certs).keys());
    const loaded = this.#d.load ? this.#d.load(path) : loadConfig(path, { ...systemEnv, keptFiles });
    const plan = planReload(this.#running, this.#certs, loaded);
    for (const note of plan.kept ?? []) log.warning(`reload: ${note}`);
    if (plan.kind === 'errors') {
      for (const line of formatConfigErrors(plan.errors).split('\n')) log.error(`reload: ${line}`);
      const n = plan.errors.length;
      log.error(`reload refused: ${n} configuration error${n === 1 ? '' : 's'}; the running config stays`);
      return 'refused';
    }
    if (plan.kind === 'unchanged') {
      log.notice('reload: no change');
      return 'unchanged';
    }
    if (plan.kind === 'restart') {
      const { live, restart } = plan.diff;
      for (const c of restart) log.warning(`reload: ${describeChange(c)}`);
      for (const c of live) log.notice(`reload: not applied (the reload is refused as a whole): ${describeChange(c)}`);
      log.warning(`reload refused: ${count(restart.length, 'change')} need${restart.length === 1 ? 's' : ''} a restart` +
        `${live.length ? ` (${count(live.length, 'live change')} held back with ${restart.length === 1 ? 'it' : 'them'})` : ''}; ` +
        'the running config stays: restart the daemon to apply the file, or undo those changes and reload');
      return 'refused';
    }
    for (const w of loaded.warnings) log.warning(`config: ${formatConfigErrors([w])}`);
    const { next, diff, certs, certFiles } = plan;
    const threads = this.#d.threads();
    const answers = await Promise.all(threads.map((t) => this.#ask(t, next, t.worker ? certs : null)));
    this.#running = next;
    this.#certs = certFiles;
    this.#d.apply(next);
    for (const c of diff.live) log.notice(`reload: applied ${describeChange(c)}`);
    const failed = answers.map((a, i) => [threads[i].name, a] as const).filter(([, a]) => a !== null);
    for (const [name, why] of failed) log.error(`reload: ${name} did not apply it: ${why}`);
    log.notice(`reload done: ${count(diff.live.length, 'change')} applied (${threads.length - failed.length} of ${count(threads.length, 'thread')} answered)`);
    // Last: the reload's own lines are written at the level and in the format it found.
    log.configure({ level: next.log_level, format: next.log_format });
    return 'applied';
  }

  /** Sends the new config to one thread; null when it answered that it applied it, else why not. */
  #ask(t: ReloadThread, config: Config, certs: CertFile[] | null): Promise<string | null> {
    const id = ++this.#seq;
    const ms = this.#d.timeoutMs ?? 5000;
    return new Promise((resolve) => {
      const done = (why: string | null) => {
        clearTimeout(timer);
        t.thread.off('message', onMsg);
        t.thread.off('exit', onExit);
        resolve(why);
      };
      const onMsg = (m: { type?: string; id?: number; error?: string }) => {
        if (m?.type === 'reconfigured' && m.id === id) done(m.error ?? null);
      };
      const onExit = () => done('its thread exited');
      const timer = setTimeout(() => done(`no answer within ${ms / 1000}s (busy?); it applies it when it gets to it`), ms);
      t.thread.on('message', onMsg);
      t.thread.once('exit', onExit);
      t.thread.postMessage({ type: 'reconfigure', id, config, certs });
    });
  }
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

export type { Change };
