// The top-level "metrics" object: the port and addresses of the metrics and health listener
// (src/metrics/server.ts). Absent: no listener. Its port is never one of the "ports" (those serve
// WebSockets); without ip_addrs it listens on the loopback address only.
import { isIP, isIPv6 } from 'node:net';
import { type Collector, childPath, describe } from './collector.ts';
import { readArray, readNumber, readObject, type Props } from './readers.ts';
import type { ListenAddress } from './types.ts';

export const METRICS_KEYS = ['port_number', 'ip_addrs'] as const;
/** Where the listener is when ip_addrs is absent: metrics are for the machine's own scraper. */
export const METRICS_DEFAULT_ADDRS = ['127.0.0.1'] as const;

export interface MetricsConfig {
  port_number: number;
  /** The configured addresses, or ["127.0.0.1"]. */
  ip_addrs: string[];
  listen: ListenAddress[];
}

/**
 * The metrics object: null when absent, undefined when invalid (errors recorded). `portNumbers`
 * are the port numbers of "ports", with the JSONPath of each.
 */
export function readMetrics(c: Collector, g: Props, portNumbers: ReadonlyMap<number, string>): MetricsConfig | null | undefined {
  const node = g.get('metrics');
  if (!node) return null;
  const path = '$.metrics';
  const m = readObject(c, node, path, METRICS_KEYS, 'the metrics listener object, e.g. { "port_number": 9090 }');
  if (!m) return undefined;
  let bad = false;
  let port: number | null = null;
  const pn = m.get('port_number');
  if (!pn) {
    c.error(childPath(path, 'port_number'), 'is required: an integer from 1 to 65535, not one of the ports of "ports"', node);
    bad = true;
  } else {
    port = readNumber(c, pn, childPath(path, 'port_number'), { integer: true, min: 1, max: 65535 });
    if (port === null) bad = true;
    else if (portNumbers.has(port)) {
      c.error(childPath(path, 'port_number'), `must not be a WebSocket port: ${port} is configured at ${portNumbers.get(port)}`, pn);
      bad = true;
    }
  }
  let addrs: string[] = [...METRICS_DEFAULT_ADDRS];
  const ipNode = m.get('ip_addrs');
  if (ipNode) {
    const p = childPath(path, 'ip_addrs');
    const items = readArray(c, ipNode, p, 'a list of IPv4/IPv6 address strings', 1, 64);
    if (!items) bad = true;
    else {
      addrs = [];
      items.forEach((item, i) => {
        if (item.type !== 'string' || isIP(item.value) === 0) {
          c.error(childPath(p, i), `must be an IPv4 or IPv6 address such as "127.0.0.1" or "::1", found ${describe(item)}`, item);
          bad = true;
        } else if (addrs.includes(item.value)) {
          c.error(childPath(p, i), `the address ${JSON.stringify(item.value)} is listed twice`, item);
          bad = true;
        } else addrs.push(item.value);
      });
    }
  }
  if (bad) return undefined;
  return { port_number: port!, ip_addrs: addrs, listen: addrs.map((host) => ({ host, ipv6Only: isIPv6(host) })) };
}
