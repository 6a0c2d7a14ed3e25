// The fully resolved daemon configuration: every default applied, every cross-reference checked.
// Keys keep the JSON file's snake_case names; fields that the loader derives (resolved URLs, listen
// addresses, absolute paths) use camelCase so that they cannot be mistaken for file keys.
import type { LogFormat, LogLevel } from '../log.ts';
import type { AccountRef } from './ops.ts';
import type { DeflateConfig } from './deflate.ts';
import type { MetricsConfig } from './metrics.ts';
import type { ClusterConfig } from './cluster.ts';

export type { DeflateConfig } from './deflate.ts';
export type { MetricsConfig } from './metrics.ts';
export type { ClusterConfig } from './cluster.ts';

/** One address a port listens on (the arguments of net.Server#listen). */
export interface ListenAddress {
  /** An IPv4 or IPv6 literal ("0.0.0.0", "::", "127.0.0.1", "fe80::1%eth0"). */
  host: string;
  /** Passed to listen(): true keeps an IPv6 socket off IPv4 (separate stacks). */
  ipv6Only: boolean;
}

export interface PortConfig {
  port_number: number;
  is_unencrypted: boolean;
  /** The configured literals, or null when the key is absent. */
  ip_addrs: string[] | null;
  /** The configured interface name, or null when the key is absent. */
  interface: string | null;
  ipv4only: boolean;
  ipv6only: boolean;
  ipv4_is_embedded_in_ipv6: boolean;
  /** Where every worker listens for this port (SO_REUSEPORT), never empty. */
  listen: ListenAddress[];
}

export interface CertConfig {
  /** Lowercase; "*.example.com" covers exactly one extra label. */
  hostnames: string[];
  /** Absolute paths (relative ones are resolved against the config file's directory). */
  privkey_path: string;
  pubchain_path: string;
}

/** A parsed ws:// or wss:// endpoint URL. */
export interface EndpointUrl {
  /** true for wss:// */
  secure: boolean;
  /** Lowercase host name, IPv4 literal, or IPv6 literal in brackets ("[::1]"). */
  hostname: string;
  port: number;
  /**
   * Every form the request's Host header may take, lowercase: compare `host.toLowerCase()` for
   * exact equality. For the scheme's default port both "host" and "host:80" are listed.
   */
  hostHeaders: string[];
  /** The path exactly as configured, "/" when the URL has none. Compared byte for byte. */
  path: string;
}

export interface EndpointConfig extends EndpointUrl {
  endpoint_id: number;
  /** The URL as written in the file. */
  url: string;
  /** Exact Origin values (lowercase); empty = refuse every request that carries an Origin. */
  allowed_origins: string[];
  /** permessage-deflate for this endpoint (its own key, else the top-level one); false = off. */
  permessage_deflate: DeflateConfig | false;
  /** The subprotocols it speaks (distinct tokens); empty = none is ever selected. */
  subprotocols: string[];
}

export interface AppConfig {
  name: string;
  /** Absolute path of the app's ES module (.ts, .js or .mjs). */
  app_path: string;
  endpoints: EndpointConfig[];
  wbuf_size: number;
  no_open_cb: boolean;
  no_close_cb: boolean;
  /** Accepted for compatibility; has no effect. */
  update_queue_size: number;
}

export interface Config {
  /** Absolute path of the file this config came from (or the source name given to parseConfig). */
  configPath: string;
  log_level: LogLevel;
  /** "text" or "json" (src/log.ts). */
  log_format: LogFormat;
  /** Who the daemon switches to when started as root (src/daemon/privileges.ts); null = nobody given. */
  user: AccountRef | null;
  /** null: the user's primary group. */
  group: AccountRef | null;
  /** Resolved: never 0. */
  worker_c: number;
  /** How worker_c was chosen: from the file, or automatically. */
  workerCAuto: boolean;
  fd_alloc_c: number;
  /** ceil(fd_alloc_c / worker_c): connection (decoder state) slots per worker. */
  slotsPerWorker: number;
  max_ws_msg_size: number;
  max_ws_frame_chain_size: number;
  max_ws_fragment_c: number;
  max_http_head_size: number;
  max_client_outbound_size: number;
  /** Bytes: all clients' unsent bytes together, per worker; 0 = off. */
  max_worker_outbound_size: number;
  /** Bytes: partial messages and records waiting for a full inbound ring, per worker (budget.ts). */
  max_worker_inbound_size: number;
  worker_rbuf_size: number;
  inbound_ring_buf_size: number;
  outbound_ring_buf_size: number;
  /** Accepted for compatibility; has no effect. */
  realloc_multiplier: number;
  /** Accepted for compatibility; has no effect. */
  owrefs_elem_c: number;
  /** Accepted for compatibility; has no effect. */
  epoll_buf_elem_c: number;
  /** Accepted for compatibility; has no effect. */
  update_queue_size: number;
  /** Seconds (fractions allowed). */
  shutdown_wait_http: number;
  /** Seconds (fractions allowed). */
  shutdown_wait_ws: number;
  /** Seconds; 0 = off. */
  idle_timeout: number;
  /** Seconds; 0 = off. */
  ping_interval: number;
  /** Seconds an app thread may go without returning to its loop before it is restarted; 0 = off. */
  app_stall_timeout: number;
  /** Seconds a message may take from its first frame to its last; 0 = off. */
  ws_msg_timeout: number;
  /** Seconds a handshake may wait for the app's upgrade hook before it is refused with 503. */
  upgrade_timeout: number;
  /** The top-level permessage_deflate (endpoints carry their resolved value); false = off. */
  permessage_deflate: DeflateConfig | false;
  /** The metrics and health listener (src/metrics/server.ts); null = none. */
  metrics: MetricsConfig | null;
  /** Scale-out over Redis (src/cluster/); null = the daemon runs alone (node number 0). */
  cluster: ClusterConfig | null;
  ports: PortConfig[];
  certs: CertConfig[];
  apps: AppConfig[];
}

/** One violation. `path` is a JSONPath such as "$.apps[0].endpoints[1].url" ("$" = the root). */
export interface ConfigError {
  path: string;
  message: string;
  /** The config file (or source name), when known. */
  file?: string;
  /** 1-based position of the offending value in the file, when known. */
  line?: number;
  column?: number;
}

export interface ParseResult {
  /** Present exactly when `errors` is empty. */
  config?: Config;
  errors: ConfigError[];
  /** Things that are allowed but probably not meant (keys without effect, unused ports). */
  warnings: ConfigError[];
}
