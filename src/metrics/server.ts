// The metrics and health listener (the top-level `metrics` key), in the main thread, on its own
// port (never a WebSocket port) and by default on the loopback address only:
//   GET /metrics  the Prometheus text format (collect.ts, exposition.ts)
//   GET /livez    200 while the process runs
//   GET /readyz   200 while the daemon serves; 503 from the start of a graceful stop and while an
//                 app's thread is down
// HEAD is answered as GET without a body; any other method 405 (Allow: GET, HEAD); any other path 404.
import http from 'node:http';
import type { MetricsConfig } from '../config/metrics.ts';
import { CONTENT_TYPE } from './exposition.ts';

export interface Health {
  /** null: ready; else why not (the body of the 503). */
  notReady(): string | null;
  /** The /metrics body. */
  scrape(): string;
}

export interface MetricsServer {
  /** "http://127.0.0.1:9090/metrics", per address. */
  where: string[];
  close(): Promise<void>;
}

/** A scraper connects now and then: these keep a stuck or hostile one from holding the main thread's sockets. */
const MAX_CONNECTIONS = 64;
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * How often Node's HTTP server enforces headersTimeout/requestTimeout (its default, 30 s, let a
 * client that trickles its head hold a connection for up to 40 s).
 */
const TIMEOUT_CHECK_MS = 1000;

export interface ListenerLimits {
  /** Connections at once, per address (more are dropped on accept). */
  maxConnections: number;
  /**
   * A request's head and body must arrive within this, and a connection idle this long (nothing
   * sent, not even a first request) is closed: at most MAX_CONNECTIONS sockets, none held for long.
   */
  timeoutMs: number;
}
export const LISTENER_LIMITS: ListenerLimits = { maxConnections: MAX_CONNECTIONS, timeoutMs: REQUEST_TIMEOUT_MS };

export function handle(req: http.IncomingMessage, res: http.ServerResponse, health: Health): void {
  const send = (status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path !== '/metrics' && path !== '/livez' && path !== '/readyz') return send(404, 'not found: try /metrics, /livez or /readyz\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', undefined, { Allow: 'GET, HEAD' });
  if (path === '/livez') return send(200, 'ok\n');
  if (path === '/readyz') {
    const why = health.notReady();
    return why === null ? send(200, 'ready\n') : send(503, `not ready: ${why}\n`);
  }
  let body: string;
  try {
    body = health.scrape();
  } catch (err) {
    return send(500, `scrape failed: ${(err as Error).message}\n`);
  }
  send(200, body, CONTENT_TYPE);
}

/** Listens on every address of `config` (rejects with the first listen error, nothing left open). */
export async function startMetricsServer(config: MetricsConfig, health: Health, limits: ListenerLimits = LISTENER_LIMITS): Promise<MetricsServer> {
  const servers: http.Server[] = [];
  const closeAll = () => Promise.all(servers.map((s) => new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  }))).then(() => undefined);
  try {
    for (const addr of config.listen) {
      const s = http.createServer({
        requestTimeout: limits.timeoutMs, headersTimeout: limits.timeoutMs,
        connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, limits.timeoutMs),
      }, (req, res) => handle(req, res, health));
      s.maxConnections = limits.maxConnections;
      // headersTimeout does not cover a connection that sends nothing at all: without this, 64 idle
      // connections would shut every scraper and health probe out for good.
      s.timeout = limits.timeoutMs;
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host: addr.host, port: config.port_number, ipv6Only: addr.ipv6Only, exclusive: true }, () => {
          s.off('error', reject);
          resolve();
        });
      });
    }
  } catch (err) {
    await closeAll();
    const e = err as NodeJS.ErrnoException;
    throw new Error(`metrics listener on port ${config.port_number}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`);
  }
  const where = config.listen.map((a) => `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${config.port_number}/metrics`);
  return { where, close: closeAll };
}
