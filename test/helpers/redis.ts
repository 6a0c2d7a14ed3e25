// A throwaway Redis server for the cluster tests: Debian's /usr/bin/redis-server as a child process
// on 127.0.0.1, a free port, no persistence, its working directory a temporary one. A test that
// needs Redis fails (never skips) when redis-server is not installed. A server still running when
// the test process exits is killed then, and the child does not keep the process alive: a test that
// fails before stop() does not hang its file until the runner's deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { collectOutput, type ChildOutput } from './child-output.ts';
import { freePort } from './ports.ts';
import { tempDir } from './tmp.ts';

export const REDIS_SERVER = '/usr/bin/redis-server';
/** How long a start may take until the ready line, and a stop until the exit. */
const READY_MS = 10_000;
const EXIT_MS = 10_000;
/** redis-server's line once it listens (Redis 7: "Ready to accept connections tcp"). */
export const REDIS_READY = /Ready to accept connections/i;

/**
 * A throwaway redis-server's arguments (the tests' and bench:cluster's): loopback only, no
 * persistence, its working directory `dir`, then `extra`.
 */
export function redisServerArgs(port: number, dir: string, extra: string[] = []): string[] {
  return ['--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'no', '--dir', dir, ...extra];
}

export interface RedisServer {
  readonly port: number;
  /** "redis://127.0.0.1:<port>" */
  readonly url: string;
  /** SIGKILL (a crash: no shutdown), and waits for the exit. Resolves at once when it is not running. */
  kill(): Promise<void>;
  /** Starts it again on the same port (an empty data set: nothing is persisted); kills it first if it runs. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s), and waits for the exit. Resolves at once when it is not running. */
  stop(): Promise<void>;
  /** What the current (or last) process wrote, stdout and stderr. */
  output(): string;
}

/** Every redis-server child still running, killed when the test process exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

interface Running { proc: ChildProcess; out: ChildOutput; exited: Promise<void> }

/**
 * Starts redis-server on 127.0.0.1 (on `opts.port`, or a free port) and resolves once it accepts
 * connections. Throws when /usr/bin/redis-server is missing, or when it does not get ready within
 * 10 s (with its output).
 */
export async function startRedis(opts: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const dir = tempDir('rs-redis-');
  let port = opts.port ?? await freePort();
  let cur: Running;
  // A free port can be taken between freePort() and the bind: then try another (not for a given port).
  for (let attempt = 1; ; attempt++) {
    try {
      cur = await launch(port, dir, opts.args);
      break;
    } catch (e) {
      if (opts.port !== undefined || attempt >= 3 || !/Address already in use/i.test(String((e as Error).message))) throw e;
      port = await freePort();
    }
  }
  const url = `redis://127.0.0.1:${port}`;
  const running = () => cur.proc.exitCode === null && cur.proc.signalCode === null;

  async function end(signal: NodeJS.Signals): Promise<void> {
    if (!running()) return cur.exited;
    cur.proc.kill(signal);
    await waitExit(cur, port, signal === 'SIGKILL' ? EXIT_MS : EXIT_MS / 2, () => cur.proc.kill('SIGKILL'));
  }

  return {
    port,
    url,
    output: () => cur.out.text(),
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    async restart() {
      await end('SIGKILL');
      cur = await launch(port, dir, opts.args);
    },
  };
}

/** Spawns redis-server and waits for its ready line. */
async function launch(port: number, dir: string, args: string[] = []): Promise<Running> {
  const proc = spawn(REDIS_SERVER, redisServerArgs(port, dir, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const out = collectOutput(proc);
  const spawnError = new Promise<never>((_, reject) => proc.once('error', (e) => reject(new Error(`cannot start ${REDIS_SERVER}: ${e.message}`))));
  const exited = out.exited.then(() => { live.delete(proc); });
  try {
    await Promise.race([out.waitForLine(REDIS_READY, READY_MS), spawnError]);
  } catch (e) {
    if (proc.pid !== undefined) {
      proc.kill('SIGKILL');
      await exited;
    } else live.delete(proc); // never started: there is no exit to wait for
    throw new Error(`redis-server on 127.0.0.1:${port} did not become ready within ${READY_MS / 1000} s: ${(e as Error).message}\n` +
      `its output:\n${out.text()}`);
  }
  // From here on it does not keep the test process alive (the exit handler kills it).
  proc.unref();
  for (const s of [proc.stdout, proc.stderr]) (s as Socket | null)?.unref();
  return { proc, out, exited };
}

/** Waits for the exit; after `ms` sends SIGKILL (`force`) and waits EXIT_MS more, then fails. */
async function waitExit(r: Running, port: number, ms: number, force: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = (wait: number) => new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), wait); });
  try {
    if (await Promise.race([r.exited, late(ms)]) !== 'late') return;
    clearTimeout(timer);
    force();
    if (await Promise.race([r.exited, late(EXIT_MS)]) !== 'late') return;
    throw new Error(`redis-server on 127.0.0.1:${port} did not exit; its output:\n${r.out.text()}`);
  } finally {
    clearTimeout(timer);
  }
}

export const REDIS_CLI = '/usr/bin/redis-cli';

/** A Redis Cluster of `masters` masters and no replicas, every slot assigned. */
export interface RedisClusterServers {
  readonly nodes: RedisServer[];
  /** One seed URL per master. */
  readonly urls: string[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-server processes in cluster mode (each with its own folder and
 * nodes.conf) and joins them with `redis-cli --cluster create`; resolves once every node reports
 * cluster_state:ok.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterServers> {
  if (!existsSync(REDIS_CLI)) throw new Error('redis-cli is not installed (apt-get install redis-tools)');
  const nodes: RedisServer[] = [];
  const stop = async () => { await Promise.all(nodes.map((n) => n.stop())); };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
    }
    const create = spawn(REDIS_CLI, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collectOutput(create);
    await out.exited;
    if (create.exitCode !== 0) throw new Error(`redis-cli --cluster create failed (${create.exitCode}):\n${out.text()}`);
    const deadline = Date.now() + READY_MS;
    for (const n of nodes) {
      for (;;) {
        const info = spawn(REDIS_CLI, ['-p', String(n.port), 'cluster', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const o = collectOutput(info);
        await o.exited;
        if (/cluster_state:ok/.test(o.text())) break;
        if (Date.now() > deadline) throw new Error(`the Redis Cluster node on ${n.port} is not ok within ${READY_MS / 1000} s:\n${o.text()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, urls: nodes.map((n) => n.url), stop };
}
