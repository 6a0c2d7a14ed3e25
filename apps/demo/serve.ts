// The demo (`npm run demo`): the daemon with the example apps (ringsocket.json: ws://127.0.0.1:8080)
// and, on http://127.0.0.1:8081, a page where people chat and try silly-calc, built on
// ringsocket/client, with a frame inspector that shows every message as its WebSocket frame,
// encoded and decoded by ringsocket/codec in the page. README.md, "Demo".
//
//   node apps/demo/serve.ts [--port 8081] [--host 127.0.0.1] [--config ringsocket.json]
//                           [--ws ws://127.0.0.1:8080] [--package DIR] [--no-daemon]
//
// What the page gets (node:http, loopback only, GET and HEAD):
//   /                       apps/demo/: index.html, *.js, *.css
//   /ringsocket/...         the package: its dist/ (compiled by npm run build) and build/ (.wasm),
//                           loaded through index.html's import map; --package serves another copy
//                           (the browser tests serve the installed one)
//   /protocol/chat.js       apps/chat/protocol.ts and apps/silly-calc/protocol.ts with their types
//   /protocol/silly-calc.js stripped and the import of src/client/index.ts pointed at ringsocket/client:
//                           the page uses the apps' own message definitions
//   /config.json            { "ws": the daemon's ws:// base URL }
//
// Ctrl-C (SIGINT) or SIGTERM: the page server closes, the daemon stops gracefully (it gets the
// signal too from a terminal; one more within a second counts as the same), and this process
// exits with the daemon's exit status (0 after a clean stop).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join, dirname, extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository: the package root when the demo runs from a checkout. */
export const repoRoot = resolve(here, '..', '..');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export interface Mount {
  /** URL path prefix, starting and ending with "/". */
  prefix: string;
  /** The directory it serves. */
  dir: string;
  /** What may be served: a path below `dir` must start with one of these (e.g. 'dist/'), or have one of these extensions ('.js'). */
  allow: { prefixes?: string[]; extensions?: string[] };
}

export interface Route {
  type: string;
  body: () => string | Uint8Array;
}

export interface StaticServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  mounts: Mount[];
  /** Exact paths answered by a function. */
  routes?: Record<string, Route>;
  /** Called with each request's decoded path (tests record what a page loaded). */
  onRequest?: (path: string) => void;
}

export interface StaticServer {
  /** http://host:port (no trailing slash): the page's origin. */
  readonly origin: string;
  readonly port: number;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, head: boolean): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(head ? undefined : body);
}

/** A file under `mount.dir` for URL path `rest` (already without the prefix), or null when not allowed. */
function fileFor(mount: Mount, rest: string): string | null {
  if (rest === '' || rest.endsWith('/')) rest += 'index.html';
  if (rest.includes('\0') || rest.split('/').some((s) => s === '..' || s === '.' || s === '')) return null;
  const ok = (mount.allow.prefixes ?? []).some((p) => rest.startsWith(p)) || (mount.allow.extensions ?? []).includes(extname(rest));
  if (!ok) return null;
  const file = resolve(mount.dir, rest);
  if (!file.startsWith(resolve(mount.dir) + sep)) return null;
  return file;
}

/** A small static file server (node:http) for the demo page and the browser tests. */
export function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  const host = opts.host ?? '127.0.0.1';
  const mounts = [...opts.mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  const routes = opts.routes ?? {};
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return send(res, 405, 'text/plain', 'only GET and HEAD\n', false);
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(res, 400, 'text/plain', 'bad path\n', head);
    }
    opts.onRequest?.(path);
    const route = routes[path];
    if (route) {
      try {
        return send(res, 200, route.type, route.body(), head);
      } catch (err) {
        return send(res, 500, 'text/plain', `${(err as Error).message}\n`, head);
      }
    }
    const mount = mounts.find((m) => path.startsWith(m.prefix));
    const file = mount ? fileFor(mount, path.slice(mount.prefix.length)) : null;
    if (!file) return send(res, 404, 'text/plain', 'not found\n', head);
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) return send(res, 404, 'text/plain', 'not found\n', head);
      body = readFileSync(file);
    } catch {
      return send(res, 404, 'text/plain', 'not found\n', head);
    }
    send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', body, head);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const port = (server.address() as { port: number }).port;
      resolvePromise({
        origin: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        port,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

/** Runs `fn` without Node's one-time "stripTypeScriptTypes is an experimental feature" warning. */
function quietly<T>(fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(typeof warning === 'string' ? warning : warning.message).includes('stripTypeScriptTypes')) return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emit;
  }
}

/**
 * An app's protocol.ts as a browser module: types stripped (node:module stripTypeScriptTypes) and
 * its one import, src/client/index.ts, pointed at the package's ringsocket/client.
 */
export function protocolModule(app: string): string {
  const src = readFileSync(join(repoRoot, 'apps', app, 'protocol.ts'), 'utf8');
  const js = quietly(() => stripTypeScriptTypes(src, { mode: 'strip' }));
  return js.replace(/(\bfrom\s*|\bimport\s*)(['"])([^'"]+)\2/g, (_all, kw: string, q: string, spec: string) => {
    if (spec === '../../src/client/index.ts') return `${kw}${q}ringsocket/client${q}`;
    throw new Error(`apps/${app}/protocol.ts imports ${spec}: the demo page can load only ../../src/client/index.ts (as ringsocket/client)`);
  });
}

export interface DemoServerOptions {
  host?: string;
  /** Default 8081; 0 for any free port. */
  port?: number;
  /** The daemon's base URL the page connects to (default ws://127.0.0.1:8080). */
  ws?: string;
  /** The package whose dist/ and build/ the page loads (default: this checkout, after npm run build). */
  packageRoot?: string;
}

/** Serves the demo page (see the header). */
export function startDemoServer(opts: DemoServerOptions = {}): Promise<StaticServer> {
  const packageRoot = opts.packageRoot ?? repoRoot;
  const ws = opts.ws ?? 'ws://127.0.0.1:8080';
  const js = 'text/javascript; charset=utf-8';
  return startStaticServer({
    host: opts.host,
    port: opts.port ?? 8081,
    mounts: [
      { prefix: '/', dir: here, allow: { extensions: ['.html', '.js', '.css'] } },
      { prefix: '/ringsocket/', dir: packageRoot, allow: { prefixes: ['dist/', 'build/'] } },
    ],
    routes: {
      '/config.json': { type: 'application/json; charset=utf-8', body: () => JSON.stringify({ ws }) },
      '/protocol/chat.js': { type: js, body: () => protocolModule('chat') },
      '/protocol/silly-calc.js': { type: js, body: () => protocolModule('silly-calc') },
    },
  });
}

const USAGE = `usage: node apps/demo/serve.ts [--port 8081] [--host 127.0.0.1] [--config ringsocket.json]
                            [--ws ws://127.0.0.1:8080] [--package DIR] [--no-daemon]`;

/** `npm run demo`: the daemon and the page server, until Ctrl-C. Resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '8081' },
        host: { type: 'string', default: '127.0.0.1' },
        config: { type: 'string', default: join(repoRoot, 'ringsocket.json') },
        ws: { type: 'string', default: 'ws://127.0.0.1:8080' },
        package: { type: 'string' },
        'no-daemon': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    console.error(`demo: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`demo: --port must be a port number, got ${args.port}\n${USAGE}`);
    return 2;
  }
  const packageRoot = args.package ? resolve(args.package) : repoRoot;
  for (const f of ['dist/codec/index.js', 'dist/client/index.js', 'build/ringsocket.private.wasm']) {
    try {
      statSync(join(packageRoot, f));
    } catch {
      console.error(`demo: ${join(packageRoot, f)} is missing: run npm run build first (npm run demo does)`);
      return 1;
    }
  }

  let page: StaticServer;
  try {
    page = await startDemoServer({ host: args.host, port, ws: args.ws, packageRoot });
  } catch (err) {
    console.error(`demo: cannot serve the page on ${args.host}:${port}: ${(err as Error).message}`);
    return 1;
  }
  const open = `demo: open ${page.origin}/ (the page connects to ${args.ws})`;

  if (args['no-daemon']) {
    console.error(`${open}; no daemon started (--no-daemon). Ctrl-C stops.`);
    await new Promise<void>((done) => {
      const stop = () => done();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await page.close();
    console.error('demo: stopped');
    return 0;
  }

  const daemon = spawn(process.execPath, [join(repoRoot, 'bin', 'ringsocket.mjs'), resolve(args.config)], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stopping = false;
  let said = false;
  let seen = '';
  daemon.stderr!.on('data', (b: Buffer) => {
    process.stderr.write(b);
    if (said) return;
    seen += b.toString();
    if (/ready: .*listening on/.test(seen)) {
      said = true;
      seen = '';
      console.error(`${open}. Ctrl-C stops both.`);
    }
  });
  const exited = new Promise<number>((done) => daemon.on('close', (code, signal) => done(code ?? (signal ? 1 : 0))));
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) console.error(`demo: ${signal}: stopping the page server and the daemon`);
    stopping = true;
    void page.close();
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await exited;
  await page.close();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  console.error(stopping ? `demo: stopped (daemon exit status ${code})` : `demo: the daemon exited on its own (status ${code}); the page server stopped`);
  return stopping ? code : code || 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
