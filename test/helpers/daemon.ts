// Starts the real daemon (bin/ringsocket.mjs) in a child process on a free loopback port, with a
// temporary config, and stops it with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface AppSpec {
  name: string;
  /** Path relative to the repo root, e.g. 'apps/echo/app.ts'. */
  app_path: string;
  /** Endpoint paths; each becomes ws://127.0.0.1:<port><path> with ids 1, 2, ... */
  paths: string[];
  allowed_origins?: string[];
  extra?: Record<string, unknown>;
  /** Keys added to every endpoint object of the app (subprotocols, ...). */
  endpoint?: Record<string, unknown>;
}

export interface DaemonOptions {
  apps?: AppSpec[];
  /** Global keys merged into the generated config (worker_c, limits, ...). */
  config?: Record<string, unknown>;
  /** Extra CLI arguments. */
  args?: string[];
  /** Extra environment variables for the daemon process. */
  env?: Record<string, string>;
  /** Serve wss:// with this cert (the endpoints become wss://<host>:<port>/...). */
  tls?: { key: string; cert: string; host: string };
  /** Wait for the ready line (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  /** Listen on this port (default: a free one). */
  port?: number;
}

export interface RunningDaemon {
  port: number;
  /** The generated config file (in a temporary folder of mode 0700). */
  configPath: string;
  proc: ChildProcess;
  url(path?: string): string;
  /** Everything the daemon wrote to stderr and stdout so far. */
  output(): string;
  /** Resolves when `re` appears in the output. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** SIGTERM (or the given signal); resolves with the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
}

export const ECHO: AppSpec = { name: 'echo', app_path: 'apps/echo/app.ts', paths: ['/echo'] };

export async function startDaemon(opts: DaemonOptions = {}): Promise<RunningDaemon> {
  const port = opts.port ?? await freePort();
  const apps = opts.apps ?? [ECHO];
  const cfg = {
    log_level: 'info',
    worker_c: 1,
    ...opts.config,
    ports: [{ port_number: port, is_unencrypted: !opts.tls, ip_addrs: ['127.0.0.1'] }],
    ...(opts.tls ? { certs: [{ hostnames: [opts.tls.host], privkey_path: opts.tls.key, pubchain_path: opts.tls.cert }] } : {}),
    apps: apps.map((a) => ({
      name: a.name,
      app_path: join(root, a.app_path),
      endpoints: a.paths.map((p, i) => ({
        endpoint_id: i + 1,
        url: opts.tls ? `wss://${opts.tls.host}:${port}${p}` : `ws://127.0.0.1:${port}${p}`,
        ...(a.allowed_origins ? { allowed_origins: a.allowed_origins } : {}),
        ...a.endpoint,
      })),
      ...a.extra,
    })),
  };
  const dir = mkdtempSync(join(tmpdir(), 'rs-test-'));
  const file = join(dir, 'ringsocket.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  const proc = spawn(process.execPath, [join(root, 'bin', 'ringsocket.mjs'), file, ...(opts.args ?? [])], {
    cwd: root,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (s: string) => void }[] = [];
  const onData = (b: Buffer) => {
    out += b.toString();
    if (process.env.RS_TEST_DAEMON_LOG) process.stderr.write(b);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const m = out.match(waiters[i].re);
      if (m) { waiters[i].resolve(m[0]); waiters.splice(i, 1); }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  // 'close', not 'exit': by then everything the daemon wrote has been read, so output() is complete.
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => {
    rmSync(dir, { recursive: true, force: true });
    resolve(code);
  }));

  const waitFor = (re: RegExp, ms = 10000) => new Promise<string>((resolve, reject) => {
    const m = out.match(re);
    if (m) return resolve(m[0]);
    const t = setTimeout(() => reject(new Error(`daemon did not print ${re} within ${ms} ms; output:\n${out}`)), ms);
    waiters.push({ re, resolve: (s) => { clearTimeout(t); resolve(s); } });
    void exited.then((code) => { clearTimeout(t); reject(new Error(`daemon exited (${code}) before printing ${re}; output:\n${out}`)); });
  });

  const d: RunningDaemon = {
    port,
    configPath: file,
    proc,
    url: (p = apps[0].paths[0]) => (opts.tls ? `wss://${opts.tls.host}:${port}${p}` : `ws://127.0.0.1:${port}${p}`),
    output: () => out,
    waitFor,
    async stop(signal = 'SIGTERM', ms = 15000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  if (opts.waitReady !== false) {
    try {
      await waitFor(/ready: .*listening on/, opts.readyTimeoutMs ?? 20000);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
  }
  return d;
}
