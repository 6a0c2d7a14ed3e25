// The top-level "cluster" object: scale-out over Redis (issue 13). Daemons that share a Redis server
// and a key_prefix form one cluster; each names itself with a node_id, whose hash is its node number
// in client ids (src/cluster/ids.ts). Absent: the daemon runs alone (node number 0).
import type { Node } from 'jsonc-parser';
import { nodeNumberOf } from '../cluster/ids.ts';
import { type Collector, childPath, describe } from './collector.ts';
import { optNumber, readObject, type Props } from './readers.ts';
import { GiB, KiB, MiB, type NumberSpec } from './schema.ts';

export const CLUSTER_KEYS = ['redis_url', 'node_id', 'key_prefix', 'max_pending_size'] as const;

export const CLUSTER_DEFAULT_KEY_PREFIX = 'ringsocket';

/** Bytes per app thread published to Redis and not yet acknowledged; beyond it batches are dropped. */
export const CLUSTER_MAX_PENDING = { integer: true, min: 64 * KiB, max: 1 * GiB, unit: 'bytes', default: 16 * MiB } as const satisfies NumberSpec;

/** Redis numbers its databases 0-15 by default (`databases 16`). */
export const REDIS_MAX_DB = 15;

const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** No braces: the daemon's channels put hash tags ({...}) after the prefix. */
const KEY_PREFIX = /^[A-Za-z0-9._:-]{1,32}$/;

const URL_EXAMPLE = '"redis://127.0.0.1:6379", "rediss://user:password@redis.example:6380/2"';

export interface ClusterConfig {
  /** As written in the file (the password included: log it with maskRedisUrl). */
  redis_url: string;
  node_id: string;
  /** nodeNumberOf(node_id): 1-4095, this daemon's number in client ids. */
  node_number: number;
  key_prefix: string;
  max_pending_size: number;
}

/**
 * The cluster object: null when absent, undefined when invalid (errors recorded).
 */
export function readCluster(c: Collector, g: Props): ClusterConfig | null | undefined {
  const node = g.get('cluster');
  if (!node) return null;
  const path = '$.cluster';
  const m = readObject(c, node, path, CLUSTER_KEYS,
    'the cluster object, e.g. { "redis_url": "redis://127.0.0.1:6379", "node_id": "node-a" }');
  if (!m) return undefined;

  const url = readRedisUrl(c, m.get('redis_url'), childPath(path, 'redis_url'), node);
  const nodeId = readPattern(c, m, 'node_id', path, node, NODE_ID, true,
    'a node name of 1 to 64 characters A-Z a-z 0-9 . _ -, unique in the cluster, e.g. "node-a"');
  const prefix = readPattern(c, m, 'key_prefix', path, node, KEY_PREFIX, false,
    'a prefix of 1 to 32 characters A-Z a-z 0-9 . _ : - (no braces), e.g. "ringsocket"');
  const pending = optNumber(c, m, 'max_pending_size', path, CLUSTER_MAX_PENDING);

  if (url === null || nodeId === null || nodeId === undefined || prefix === null || pending === null) return undefined;
  return {
    redis_url: url,
    node_id: nodeId,
    node_number: nodeNumberOf(nodeId),
    key_prefix: prefix ?? CLUSTER_DEFAULT_KEY_PREFIX,
    max_pending_size: pending ?? CLUSTER_MAX_PENDING.default,
  };
}

/** A string key checked against `re`: null when invalid or (if required) absent; undefined when absent. */
function readPattern(c: Collector, m: Props, key: string, path: string, obj: Node, re: RegExp, required: boolean, what: string): string | null | undefined {
  const node = m.get(key);
  const p = childPath(path, key);
  if (!node) {
    if (!required) return undefined;
    c.error(p, `is required: ${what}`, obj);
    return null;
  }
  if (node.type === 'string' && re.test(node.value as string)) return node.value as string;
  c.error(p, `must be ${what}, found ${describe(node)}`, node);
  return null;
}

/** The redis_url value: the URL as written, or null (the error recorded, any password masked). */
function readRedisUrl(c: Collector, node: Node | undefined, path: string, obj: Node): string | null {
  const what = `a redis:// or rediss:// (TLS) URL with a host, an optional port, user and password, and an optional database /0 to /${REDIS_MAX_DB}, e.g. ${URL_EXAMPLE}`;
  if (!node) {
    c.error(path, `is required: ${what}`, obj);
    return null;
  }
  if (node.type !== 'string') {
    c.error(path, `must be ${what}, found ${describe(node)}`, node);
    return null;
  }
  const raw = node.value as string;
  const problem = redisUrlProblem(raw);
  if (problem === null) return raw;
  // The value is echoed masked: a password must not reach the log or the terminal.
  const found = describe({ ...node, value: maskRedisUrl(raw) });
  c.error(path, `must be ${what}, found ${found}: ${problem}`, node);
  return null;
}

/** What is wrong with a redis_url, or null when it is valid. */
export function redisUrlProblem(raw: string): string | null {
  if (raw === '') return 'it is empty';
  if (/[\s\x00-\x1f\x7f]/.test(raw)) return 'it contains white space or a control character';
  if (!/^[a-z][a-z0-9+.-]*:/i.test(raw)) return 'it has no scheme (redis:// or rediss://)';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#]*@)?[^/?#@]*:(\d+)(?:[/?#]|$)/i.exec(raw)?.[1];
    if (port !== undefined && Number(port) > 65535) return `the port ${port} is not from 1 to 65535`;
    return 'it is not a URL';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `the scheme is "${u.protocol.slice(0, -1)}", not redis or rediss`;
  if (!raw.slice(u.protocol.length).startsWith('//') || u.hostname === '') return 'it has no host';
  if (u.port !== '') {
    const port = Number(u.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `the port ${u.port} is not from 1 to 65535`;
  }
  if (/[?#]/.test(raw)) return 'a query or fragment is not allowed';
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/(?:[0-9]|1[0-5])$/.test(u.pathname)) {
    return `the path ${JSON.stringify(u.pathname)} is not a database number /0 to /${REDIS_MAX_DB}`;
  }
  return null;
}

/**
 * The URL with its password (if any) replaced by "***", for logs and messages. Works on the text
 * as written (an invalid URL too): the user part is what comes before the last "@" of the authority.
 */
export function maskRedisUrl(url: string): string {
  const scheme = url.indexOf('//');
  if (scheme < 0) return url;
  const start = scheme + 2;
  const rest = url.slice(start);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at < 0) return url;
  const colon = authority.indexOf(':');
  if (colon < 0 || colon > at || colon === at - 1) return url; // no password (or an empty one)
  return url.slice(0, start + colon + 1) + '***' + url.slice(start + at);
}

/** One line for a summary: `node "node-a" (node number 468) via redis://127.0.0.1:6379`, password masked. */
export function describeCluster(c: ClusterConfig): string {
  return `node ${JSON.stringify(c.node_id)} (node number ${c.node_number}) via ${maskRedisUrl(c.redis_url)}`;
}
