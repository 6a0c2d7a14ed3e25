// The endpoints one listening port serves, indexed for exact lookup by (path, Host).
// Built once per port at start-up; lookups during handshakes are two Map.get calls.

/**
 * What the handshake needs to know about one endpoint. The config resolves each endpoint URL into
 * this shape (see `hostHeaderForms` for `hostHeaders`). Extra properties are kept: the table hands
 * back the caller's own object, so a worker may pass richer endpoint records.
 */
export interface EndpointSpec {
  /** Index of the app that serves this endpoint (config order). */
  readonly appIndex: number;
  /** The endpoint's `endpoint_id` (0-65535), given to the app. */
  readonly endpointId: number;
  /** true for wss:// endpoints (a TLS port), false for ws://. */
  readonly secure: boolean;
  /**
   * Every exact form a Host header (or the authority of an absolute-form request target) may take
   * for this endpoint, e.g. ['localhost:8080'] or ['example.com', 'example.com:443'].
   * Compared case-insensitively (hostnames are case-insensitive, RFC 3986 §3.2.2).
   */
  readonly hostHeaders: readonly string[];
  /** The URL path, e.g. '/echo'. '' (no path) means '/'. Compared byte for byte. */
  readonly path: string;
  /**
   * Serialized origins (RFC 6454 §6.2: scheme "://" host [":" port], no path) that browsers may
   * connect from. Compared case-insensitively. null or []: every request with an Origin is refused.
   */
  readonly allowedOrigins: readonly string[] | null;
  /**
   * The subprotocols the endpoint speaks (tokens, RFC 6455 §11.3.4); the 101 names the first one
   * the client offers that is listed here (subprotocol.ts). Absent or empty: none is ever selected.
   */
  readonly subprotocols?: readonly string[] | null;
}

/** @internal One endpoint with its lookup data normalised. */
export interface TableEntry<E extends EndpointSpec> {
  readonly endpoint: E;
  /** Lower-case allowed origins, or null when none are allowed. */
  readonly origins: ReadonlySet<string> | null;
}

/**
 * The Host header forms of an endpoint URL: `host:port`, and also the bare `host` when the port is
 * the scheme's default (80 for ws, 443 for wss), because clients omit a default port
 * (RFC 9110 §7.2). An IPv6 literal is put in brackets. Everything is lower-case.
 */
export function hostHeaderForms(hostname: string, port: number, secure: boolean): string[] {
  let host = hostname.toLowerCase();
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const withPort = `${host}:${port}`;
  return port === (secure ? 443 : 80) ? [host, withPort] : [withPort];
}

/** ASCII lower-case of a latin1 string (toLowerCase never maps a latin1 char into ASCII). */
function lower(s: string): string {
  return s.toLowerCase();
}

function isValidPath(path: string): boolean {
  if (path.charCodeAt(0) !== 0x2f) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x3f || c === 0x23) return false; // no space, CTL, non-ASCII, ? or #
  }
  return true;
}

/**
 * The endpoints of one port. Throws (at start-up) on an endpoint that can never match, and on two
 * endpoints that claim the same Host form and path: the config must reject those first.
 */
export class EndpointTable<E extends EndpointSpec = EndpointSpec> {
  readonly endpoints: readonly E[];
  /** path -> (lower-case host form -> entry). */
  readonly #byPath = new Map<string, Map<string, TableEntry<E>>>();

  constructor(endpoints: readonly E[]) {
    this.endpoints = Object.freeze([...endpoints]);
    for (const endpoint of this.endpoints) {
      const path = endpoint.path === '' ? '/' : endpoint.path;
      const label = `endpoint ${endpoint.endpointId} (app ${endpoint.appIndex})`;
      if (!isValidPath(path)) {
        throw new Error(`EndpointTable: ${label} has path ${JSON.stringify(endpoint.path)}; a path starts with "/" and holds visible ASCII without "?" or "#"`);
      }
      if (endpoint.hostHeaders.length === 0) throw new Error(`EndpointTable: ${label} has no host header forms`);
      const origins = endpoint.allowedOrigins && endpoint.allowedOrigins.length > 0
        ? new Set(endpoint.allowedOrigins.map(lower))
        : null;
      const entry: TableEntry<E> = Object.freeze({ endpoint, origins });
      let hosts = this.#byPath.get(path);
      if (!hosts) this.#byPath.set(path, (hosts = new Map()));
      for (const form of endpoint.hostHeaders) {
        const host = lower(form);
        if (host === '') throw new Error(`EndpointTable: ${label} has an empty host header form`);
        const other = hosts.get(host);
        if (other && other.endpoint !== endpoint) {
          throw new Error(`EndpointTable: ${label} and endpoint ${other.endpoint.endpointId} (app ${other.endpoint.appIndex}) both serve Host ${host} at path ${path}`);
        }
        hosts.set(host, entry);
      }
    }
  }

  /** The endpoints at `path`, by lower-case Host form; undefined if no endpoint has this path. */
  hostsAt(path: string): ReadonlyMap<string, TableEntry<E>> | undefined {
    return this.#byPath.get(path);
  }

  /** Exact lookup (host compared case-insensitively). */
  find(host: string, path: string): E | undefined {
    return this.#byPath.get(path)?.get(lower(host))?.endpoint;
  }
}
