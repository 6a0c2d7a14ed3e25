// What a config reload (SIGHUP, src/daemon/reload.ts) would change, key by key, and whether each
// change can be applied to the running daemon ("live") or needs a restart. Pure: two resolved
// configs in, two lists out. The README's configuration tables say the same per key ("reload").
//
// Live: read per connection, per message or per tick, and not sizing the shared memory or the
// threads. Restart: everything the start lays out once (the shared memory, the threads, the
// listeners, the user). A key this module does not know is a restart change: a new key is safe
// until someone decides it can change live.
import { CLUSTER_KEYS, maskRedisUrl } from './cluster.ts';
import type { AppConfig, CertConfig, ClusterConfig, Config, EndpointConfig, PortConfig } from './types.ts';

export interface Change {
  /** JSONPath of what changed, such as "$.log_level" or "$.apps[0].endpoints[1].allowed_origins". */
  path: string;
  /** The running value and the new one, rendered for a log line ("added"/"removed" for list items). */
  from: string;
  to: string;
  /** For a restart change: why it cannot change live. */
  why?: string;
}

export interface ConfigDiff {
  live: Change[];
  restart: Change[];
}

const MEMORY = 'it sizes the shared memory, laid out once at start';

/** Top-level keys that change live, and what reads them (the README's "reload" notes). */
export const LIVE_GLOBALS: ReadonlySet<string> = new Set([
  'log_level', 'log_format',
  // Read per connection, per message or per housekeeping tick (worker/service.ts reconfigure).
  'max_ws_frame_chain_size', 'max_ws_fragment_c', 'max_http_head_size',
  'max_client_outbound_size', 'max_worker_outbound_size', 'max_worker_inbound_size',
  'shutdown_wait_http', 'shutdown_wait_ws', 'idle_timeout', 'ping_interval', 'app_stall_timeout',
  'ws_msg_timeout', 'upgrade_timeout',
  // No effect at all (accepted for compatibility).
  'realloc_multiplier', 'owrefs_elem_c', 'epoll_buf_elem_c', 'update_queue_size',
]);

/** Top-level keys that need a restart, with the reason logged. */
export const RESTART_GLOBALS: Readonly<Record<string, string>> = {
  user: 'the daemon switched to its user at start and cannot switch again',
  group: 'the daemon switched to its user at start and cannot switch again',
  worker_c: 'worker threads are started once; ' + MEMORY,
  fd_alloc_c: MEMORY + ' (connection slots)',
  max_ws_msg_size: MEMORY + ' (the rings hold two maximum-size records) and bounds what apps send',
  worker_rbuf_size: MEMORY,
  inbound_ring_buf_size: MEMORY,
  outbound_ring_buf_size: MEMORY,
  permessage_deflate: 'compression is set up per worker at start',
  ports: 'listeners are bound at start (and as root)',
  apps: 'app threads and their rings are laid out at start',
  cluster: 'the daemon joins the cluster (its Redis connection and node number) once at start',
};

/** Derived or bookkeeping fields of Config: never compared on their own. */
const DERIVED: ReadonlySet<string> = new Set(['configPath', 'workerCAuto', 'slotsPerWorker']);

const UNKNOWN = 'a reload cannot change it';

/** A value for a log line: JSON, at most 120 characters. */
export function show(v: unknown): string {
  const s = v === undefined ? 'none' : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Structural equality of JSON-like values (what a Config is made of). */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => same(x, bb[i]));
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(ob, k) && same((a as Record<string, unknown>)[k], ob[k]));
}

/** Every change from `running` to `next`, sorted into live and restart. */
export function diffConfig(running: Config, next: Config): ConfigDiff {
  const d: ConfigDiff = { live: [], restart: [] };
  const r = running as unknown as Record<string, unknown>, n = next as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(r), ...Object.keys(n)])];
  for (const key of keys) {
    if (DERIVED.has(key)) continue;
    const path = `$.${key}`;
    if (key === 'certs') diffCerts(d, running.certs, next.certs);
    else if (key === 'ports') diffPorts(d, running.ports, next.ports);
    else if (key === 'apps') diffApps(d, running.apps, next.apps);
    else if (key === 'cluster') diffCluster(d, running.cluster ?? null, next.cluster ?? null);
    else if (same(r[key], n[key])) continue;
    else if (LIVE_GLOBALS.has(key)) d.live.push({ path, from: show(r[key]), to: show(n[key]) });
    else d.restart.push({ path, from: show(r[key]), to: show(n[key]), why: RESTART_GLOBALS[key] ?? UNKNOWN });
  }
  return d;
}

/** Compares two objects field by field: `live` fields go to d.live, every other one to d.restart. */
function diffFields(d: ConfigDiff, path: string, a: object, b: object, live: ReadonlySet<string>, why: (field: string) => string, skip: ReadonlySet<string> = new Set()): void {
  const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
  for (const f of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (skip.has(f) || same(ra[f], rb[f])) continue;
    const c: Change = { path: `${path}.${f}`, from: show(ra[f]), to: show(rb[f]) };
    if (live.has(f)) d.live.push(c);
    else d.restart.push({ ...c, why: why(f) });
  }
}

/** Lists whose items are matched by position; items added or removed are one change each. */
function diffList<T>(d: ConfigDiff, path: string, a: readonly T[], b: readonly T[], label: (x: T) => string,
  item: (i: number, x: T, y: T) => void, addRemove: 'live' | 'restart', why: string): void {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const p = `${path}[${i}]`;
    if (i >= a.length) push(d, addRemove, { path: p, from: 'none', to: `added (${label(b[i])})`, why });
    else if (i >= b.length) push(d, addRemove, { path: p, from: label(a[i]), to: 'removed', why });
    else item(i, a[i], b[i]);
  }
}

function push(d: ConfigDiff, kind: 'live' | 'restart', c: Change): void {
  if (kind === 'live') {
    const { why: _, ...rest } = c;
    d.live.push(rest);
  } else d.restart.push(c);
}

/** Certificates change live: every field, and certificates added or removed. */
function diffCerts(d: ConfigDiff, a: readonly CertConfig[], b: readonly CertConfig[]): void {
  const all = new Set(['hostnames', 'privkey_path', 'pubchain_path']);
  diffList(d, '$.certs', a, b, (c) => c.hostnames.join(' '),
    (i, x, y) => diffFields(d, `$.certs[${i}]`, x, y, all, () => UNKNOWN), 'live', '');
}

/** Ports are bound at start: any change needs a restart. */
function diffPorts(d: ConfigDiff, a: readonly PortConfig[], b: readonly PortConfig[]): void {
  const why = RESTART_GLOBALS.ports;
  diffList(d, '$.ports', a, b, (p) => `port ${p.port_number}`, (i, x, y) => {
    // `listen` is derived from the other fields, and from the interface's addresses at load time.
    diffFields(d, `$.ports[${i}]`, x, y, new Set(), () => why, new Set(['listen']));
    if (!same(x.listen, y.listen) && same({ ...x, listen: null }, { ...y, listen: null })) {
      d.restart.push({ path: `$.ports[${i}]`, from: `listening on ${show(x.listen.map((l) => l.host))}`,
        to: `${show(y.listen.map((l) => l.host))} (the interface's addresses changed)`, why });
    }
  }, 'restart', why);
}

const APP_LIVE: ReadonlySet<string> = new Set(['no_open_cb', 'no_close_cb', 'update_queue_size']);
const APP_WHY: Readonly<Record<string, string>> = {
  name: 'app threads are started once',
  app_path: 'app modules are loaded once per thread',
  wbuf_size: MEMORY,
};

/** Apps by position (their index lays out the rings); endpoints by endpoint_id. */
function diffApps(d: ConfigDiff, a: readonly AppConfig[], b: readonly AppConfig[]): void {
  diffList(d, '$.apps', a, b, (x) => x.name, (i, x, y) => {
    const path = `$.apps[${i}]`;
    diffFields(d, path, x, y, APP_LIVE, (f) => APP_WHY[f] ?? UNKNOWN, new Set(['endpoints']));
    diffEndpoints(d, `${path}.endpoints`, x.endpoints, y.endpoints);
  }, 'restart', RESTART_GLOBALS.apps);
}

const ENDPOINT_LIVE: ReadonlySet<string> = new Set(['allowed_origins']);
const ENDPOINT_WHY: Readonly<Record<string, string>> = {
  url: 'endpoints are routed to the listeners and rings laid out at start',
  subprotocols: 'the app thread names a subprotocol by its index in the list it started with',
  permessage_deflate: RESTART_GLOBALS.permessage_deflate,
};
/** Fields of EndpointConfig that `url` determines. */
const URL_PARTS: ReadonlySet<string> = new Set(['secure', 'hostname', 'port', 'hostHeaders', 'path']);

function diffEndpoints(d: ConfigDiff, path: string, a: readonly EndpointConfig[], b: readonly EndpointConfig[]): void {
  const why = ENDPOINT_WHY.url;
  const byId = new Map(b.map((e) => [e.endpoint_id, e]));
  const oldIds = new Set(a.map((e) => e.endpoint_id));
  a.forEach((x, i) => {
    const y = byId.get(x.endpoint_id);
    if (!y) d.restart.push({ path: `${path}[${i}]`, from: `endpoint ${x.endpoint_id} ${x.url}`, to: 'removed', why });
    else diffFields(d, `${path}[${i}]`, x, y, ENDPOINT_LIVE, (f) => ENDPOINT_WHY[f] ?? UNKNOWN, new Set([...URL_PARTS, 'endpoint_id']));
  });
  b.forEach((y, i) => {
    if (!oldIds.has(y.endpoint_id)) d.restart.push({ path: `${path}[${i}]`, from: 'none', to: `added (endpoint ${y.endpoint_id} ${y.url})`, why });
  });
}

/** The cluster: restart only. Its redis_url is shown with the password masked (these lines are logged). */
function diffCluster(d: ConfigDiff, a: ClusterConfig | null, b: ClusterConfig | null): void {
  const why = RESTART_GLOBALS.cluster;
  if (same(a, b)) return;
  const masked = (c: ClusterConfig | null) => (c === null ? null : { ...c, redis_url: maskRedisUrl(c.redis_url) });
  if (a === null || b === null) {
    d.restart.push({ path: '$.cluster', from: show(masked(a) ?? undefined), to: show(masked(b) ?? undefined), why });
    return;
  }
  // node_number follows node_id.
  for (const f of CLUSTER_KEYS) {
    if (a[f] === b[f]) continue;
    const from = show(f === 'redis_url' ? maskRedisUrl(a.redis_url) : a[f]);
    const to = show(f === 'redis_url' ? maskRedisUrl(b.redis_url) : b[f]);
    d.restart.push({ path: `$.cluster.${f}`, from, to: from === to ? `${to} (the password changed)` : to, why });
  }
}

/** One line per change, for the log. */
export function describeChange(c: Change): string {
  return `${c.path}: ${c.from} -> ${c.to}${c.why ? ` (needs a restart: ${c.why})` : ''}`;
}
