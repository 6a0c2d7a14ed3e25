// The "ports" list: each port object's keys, the addresses it listens on, and port numbers that
// appear twice.
import type { Node } from 'jsonc-parser';
import { isIP, isIPv6 } from 'node:net';
import { type Collector, childPath, describe } from './collector.ts';
import type { ConfigEnv } from './env.ts';
import { findProp, optBool, readArray, readNumber, readObject, type Props } from './readers.ts';
import { MAX_INTERFACE_NAME, PORT_KEYS } from './schema.ts';
import { closest } from './suggest.ts';
import type { ListenAddress, PortConfig } from './types.ts';
import { canonicalIPv6 } from './url.ts';

/** A valid port object and the JSONPath it was read at. */
export interface PortEntry { port: PortConfig; path: string }

function interfaceAddresses(c: Collector, env: ConfigEnv, name: string, path: string, node: Node,
  want: { v4: boolean; v6: boolean }): ListenAddress[] | null {
  const all = env.networkInterfaces();
  const infos = all[name];
  if (!infos) {
    const names = Object.keys(all);
    const guess = closest(name, names);
    c.error(path, `no network interface named ${JSON.stringify(name)} on this host` +
      (guess ? `; did you mean "${guess}"?` : '') + ` (found: ${names.join(', ') || 'none'})`, node);
    return null;
  }
  const out: ListenAddress[] = [];
  for (const info of infos) {
    const v6 = info.family === 'IPv6' || (info.family as unknown) === 6;
    if (v6 ? !want.v6 : !want.v4) continue;
    // A link-local IPv6 address needs its zone to be bound.
    const host = v6 && info.scopeid ? `${info.address}%${name}` : info.address;
    out.push({ host, ipv6Only: v6 });
  }
  if (out.length === 0) {
    const family = want.v4 && !want.v6 ? 'IPv4 ' : !want.v4 && want.v6 ? 'IPv6 ' : '';
    c.error(path, `the network interface ${JSON.stringify(name)} has no ${family}address to listen on`, node);
    return null;
  }
  return out;
}

function parsePort(c: Collector, env: ConfigEnv, node: Node, path: string): PortConfig | null {
  const m = readObject(c, node, path, PORT_KEYS, 'a port object');
  if (!m) return null;
  let bad = false;
  let portNumber: number | null = null;
  const pn = m.get('port_number');
  if (!pn) { c.error(childPath(path, 'port_number'), 'is required: an integer from 1 to 65535', node); bad = true; }
  else portNumber = readNumber(c, pn, childPath(path, 'port_number'), { integer: true, min: 1, max: 65535 });
  if (portNumber === null) bad = true;

  const isUnencrypted = optBool(c, m, 'is_unencrypted', path);
  const v4only = optBool(c, m, 'ipv4only', path);
  const v6only = optBool(c, m, 'ipv6only', path);
  const embedded = optBool(c, m, 'ipv4_is_embedded_in_ipv6', path);
  if (isUnencrypted === null || v4only === null || v6only === null || embedded === null) bad = true;
  const flags = [['ipv4only', v4only], ['ipv6only', v6only], ['ipv4_is_embedded_in_ipv6', embedded]] as const;
  const onFlags = flags.filter(([, v]) => v === true).map(([k]) => k);

  let ipAddrs: string[] | null = null;
  const ipNode = m.get('ip_addrs');
  if (ipNode) {
    const items = readArray(c, ipNode, childPath(path, 'ip_addrs'), 'a list of IPv4/IPv6 address strings', 1, 65535);
    if (!items) bad = true;
    else {
      ipAddrs = [];
      const seen = new Map<string, number>();
      items.forEach((item, i) => {
        const p = childPath(childPath(path, 'ip_addrs'), i);
        if (item.type !== 'string' || isIP(item.value) === 0) {
          c.error(p, `must be an IPv4 or IPv6 address such as "127.0.0.1" or "::1", found ${describe(item)}`, item);
          bad = true;
          return;
        }
        const addr = item.value as string;
        const canon = isIPv6(addr) ? canonicalIPv6(addr.split('%')[0]) + (addr.includes('%') ? addr.slice(addr.indexOf('%')) : '') : addr;
        if (seen.has(canon)) {
          c.error(p, `the address ${JSON.stringify(addr)} is listed twice (first at index ${seen.get(canon)})`, item);
          bad = true;
          return;
        }
        seen.set(canon, i);
        ipAddrs!.push(addr);
      });
    }
  }

  let iface: string | null = null;
  const ifNode = m.get('interface');
  if (ifNode) {
    if (ifNode.type !== 'string' || ifNode.value === '' || ifNode.value.length > MAX_INTERFACE_NAME) {
      c.error(childPath(path, 'interface'), `must be a network interface name of 1 to ${MAX_INTERFACE_NAME} characters, found ${describe(ifNode)}`, ifNode);
      bad = true;
    } else iface = ifNode.value;
  }

  // Mutually exclusive options.
  if (ipNode && ifNode) {
    c.error(childPath(path, 'interface'), 'cannot be combined with ip_addrs: give either the addresses or the interface', ifNode);
    bad = true;
  }
  if (ipNode) {
    for (const k of onFlags) {
      c.error(childPath(path, k), `cannot be true together with ip_addrs (the listed addresses already decide the IP version)`, m.get(k));
      bad = true;
    }
  } else if (onFlags.length > 1) {
    c.error(childPath(path, onFlags[1]), `cannot be true together with ${onFlags[0]}: ipv4only, ipv6only and ipv4_is_embedded_in_ipv6 are mutually exclusive`, m.get(onFlags[1]));
    bad = true;
  } else if (ifNode && embedded === true) {
    c.error(childPath(path, 'ipv4_is_embedded_in_ipv6'), 'cannot be true together with interface: a dual-stack socket needs the wildcard address "::"', m.get('ipv4_is_embedded_in_ipv6'));
    bad = true;
  }
  if (bad) return null;

  let listen: ListenAddress[] | null;
  if (ipAddrs) listen = ipAddrs.map((host) => ({ host, ipv6Only: isIPv6(host) }));
  else if (iface !== null) {
    listen = interfaceAddresses(c, env, iface, childPath(path, 'interface'), ifNode!, { v4: v6only !== true, v6: v4only !== true });
  } else if (v4only) listen = [{ host: '0.0.0.0', ipv6Only: false }];
  else if (v6only) listen = [{ host: '::', ipv6Only: true }];
  else if (embedded) listen = [{ host: '::', ipv6Only: false }];
  else listen = [{ host: '0.0.0.0', ipv6Only: false }, { host: '::', ipv6Only: true }];
  if (!listen) return null;

  return {
    port_number: portNumber!,
    is_unencrypted: isUnencrypted ?? false,
    ip_addrs: ipAddrs,
    interface: iface,
    ipv4only: v4only ?? false,
    ipv6only: v6only ?? false,
    ipv4_is_embedded_in_ipv6: embedded ?? false,
    listen,
  };
}

/** What the "ports" list yields; `ok` is false when any port object had an error. */
export interface Ports {
  ok: boolean;
  ports: PortConfig[];
  /** The valid port objects by number. */
  byNumber: Map<number, PortEntry>;
  /**
   * Every readable port_number, also of port objects with other errors, with the JSONPath of its
   * object: "port not configured" is reported only for numbers that appear nowhere.
   */
  numbers: Map<number, string>;
}

export function readPorts(c: Collector, g: Props, root: Node, env: ConfigEnv): Ports {
  let ok = true;
  const ports: PortConfig[] = [];
  const byNumber = new Map<number, PortEntry>();
  const numbers = new Map<number, string>();
  const portsNode = g.get('ports');
  if (!portsNode) {
    c.error('$.ports', 'is required: a list of at least one port object, e.g. [{ "port_number": 8080, "is_unencrypted": true }]', root);
    ok = false;
  } else {
    const items = readArray(c, portsNode, '$.ports', 'a list of port objects', 1, 65535);
    if (!items) ok = false;
    else items.forEach((item, i) => {
      const p = childPath('$.ports', i);
      const port = parsePort(c, env, item, p);
      if (!port) ok = false;
      const pn = item.type === 'object' ? findProp(item, 'port_number') : undefined;
      if (pn?.type !== 'number' || !Number.isInteger(pn.value)) return;
      const first = numbers.get(pn.value);
      if (first) {
        c.error(childPath(p, 'port_number'), `the port ${pn.value} is already configured at ${first}`, pn);
        ok = false;
        return;
      }
      numbers.set(pn.value, p);
      if (port) {
        byNumber.set(port.port_number, { port, path: p });
        ports.push(port);
      }
    });
  }
  return { ok, ports, byNumber, numbers };
}
