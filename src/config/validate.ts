// Walks the parsed JSON tree, applies defaults and checks every rule. Every problem becomes a
// ConfigError with its JSONPath, what was found and what is allowed; checking goes on after an
// error so that one run reports everything. Checks that depend on an invalid value are skipped
// (they would only repeat the first error).
import type { Node } from 'jsonc-parser';
import { statSync, accessSync, constants as fsConstants } from 'node:fs';
import { isIP, isIPv6 } from 'node:net';
import os from 'node:os';
import { extname, resolve as resolvePath } from 'node:path';
import { LOG_LEVELS, isLogLevel, type LogLevel } from '../log.ts';
import { estimateSharedMemory, fitsWasmMemory, formatBytes, ringCapacityFor, type MemoryInputs } from './memory.ts';
import {
  APP_KEYS, CERT_KEYS, ENDPOINT_ID, ENDPOINT_KEYS, FRAME_CHAIN, GLOBAL_KEYS, GLOBAL_NUMBERS,
  MAX_APP_NAME_BYTES, MAX_APPS, MAX_CLIENT_OUTBOUND, MAX_FRAME_HEADER_SIZE, MAX_INTERFACE_NAME,
  NO_EFFECT, PORT_KEYS, RING, RING_RECORD_OVERHEAD, WASM_MEMORY_MAX_BYTES, APP_NUMBERS, type NumberSpec,
} from './schema.ts';
import { closest } from './suggest.ts';
import type {
  AppConfig, CertConfig, Config, ConfigError, EndpointConfig, ListenAddress, PortConfig,
} from './types.ts';
import { canonicalIPv6, certCovers, parseCertHostname, parseEndpointUrl, parseOrigin } from './url.ts';

/** What the loader asks of the machine; tests substitute their own. */
export interface ConfigEnv {
  availableParallelism(): number;
  networkInterfaces(): NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

export const systemEnv: ConfigEnv = {
  availableParallelism: () => os.availableParallelism(),
  networkInterfaces: () => os.networkInterfaces(),
};

// ---------------------------------------------------------------------------------------------
// Error collection with positions

export class Collector {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigError[] = [];
  readonly file: string;
  private readonly lineStarts: number[] = [0];

  constructor(text: string, file: string) {
    this.file = file;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of a character offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0, hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  private make(path: string, message: string, node?: Node | number): ConfigError {
    const e: ConfigError = { path, message, file: this.file };
    const offset = typeof node === 'number' ? node : node?.offset;
    if (offset !== undefined) Object.assign(e, this.position(offset));
    return e;
  }

  error(path: string, message: string, node?: Node | number): void {
    this.errors.push(this.make(path, message, node));
  }

  warn(path: string, message: string, node?: Node | number): void {
    this.warnings.push(this.make(path, message, node));
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers

export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** How a value looks in a message: strings quoted (shortened), containers by kind. */
export function describe(node: Node | undefined): string {
  if (!node) return 'nothing';
  switch (node.type) {
    case 'string': {
      const s = JSON.stringify(node.value);
      return s.length > 70 ? `${s.slice(0, 66)}..."` : s;
    }
    case 'number': return String(node.value);
    case 'boolean': return String(node.value);
    case 'null': return 'null';
    case 'object': return 'an object';
    case 'array': return `an array of ${node.children?.length ?? 0}`;
    default: return 'an invalid value';
  }
}

type Props = Map<string, Node>;

function readObject(c: Collector, node: Node | undefined, path: string, known: readonly string[], what: string): Props | null {
  if (!node || node.type !== 'object') {
    c.error(path, `must be ${what} (a JSON object), found ${describe(node)}`, node);
    return null;
  }
  const props: Props = new Map();
  for (const prop of node.children ?? []) {
    const [keyNode, valueNode] = prop.children ?? [];
    if (!keyNode) continue;
    const key = String(keyNode.value);
    const p = childPath(path, key);
    if (props.has(key)) {
      c.error(p, `duplicate key "${key}": each key may appear only once in an object`, keyNode);
      continue;
    }
    if (!known.includes(key)) {
      const guess = closest(key, known);
      c.error(p, `unknown key "${key}"` + (guess ? `; did you mean "${guess}"?` : `; allowed here: ${known.join(', ')}`), keyNode);
      continue;
    }
    if (valueNode) props.set(key, valueNode);
  }
  return props;
}

function fmtNumber(n: number, spec: { unit?: string }): string {
  if (spec.unit === 'bytes' && n >= 1024) return `${n} (${formatBytes(n)})`;
  return String(n);
}

function rangeText(spec: NumberSpec, minNote = ''): string {
  const what = spec.unit === 'seconds' ? 'a number of seconds' : spec.integer ? 'an integer' : 'a number';
  const range = `${what} from ${fmtNumber(spec.min, spec)}${minNote} to ${fmtNumber(spec.max, spec)}`;
  return spec.zeroMeansOff ? `0 (off) or ${range}` : range;
}

/** A present numeric value checked against `spec`; null when invalid (the error is recorded). */
function readNumber(c: Collector, node: Node, path: string, spec: NumberSpec, minNote = ''): number | null {
  const v = node.value;
  const ok = node.type === 'number' && Number.isFinite(v) && (!spec.integer || Number.isInteger(v)) &&
    ((v >= spec.min && v <= spec.max) || (spec.zeroMeansOff === true && v === 0));
  if (ok) return v as number;
  c.error(path, `must be ${rangeText(spec, minNote)}, found ${describe(node)}`, node);
  return null;
}

/** undefined when absent, null when invalid. */
function optNumber(c: Collector, props: Props, key: string, path: string, spec: NumberSpec, minNote = ''): number | null | undefined {
  const node = props.get(key);
  return node ? readNumber(c, node, childPath(path, key), spec, minNote) : undefined;
}

function optBool(c: Collector, props: Props, key: string, path: string): boolean | null | undefined {
  const node = props.get(key);
  if (!node) return undefined;
  if (node.type === 'boolean') return node.value as boolean;
  c.error(childPath(path, key), `must be true or false, found ${describe(node)}`, node);
  return null;
}

function optString(c: Collector, props: Props, key: string, path: string, what = 'a string'): string | null | undefined {
  const node = props.get(key);
  if (!node) return undefined;
  if (node.type === 'string') return node.value as string;
  c.error(childPath(path, key), `must be ${what}, found ${describe(node)}`, node);
  return null;
}

function readArray(c: Collector, node: Node, path: string, what: string, min: number, max: number): Node[] | null {
  if (node.type !== 'array') {
    c.error(path, `must be ${what}, found ${describe(node)}`, node);
    return null;
  }
  const items = node.children ?? [];
  if (items.length < min || items.length > max) {
    const plural = (n: number) => `${n} element${n === 1 ? '' : 's'}`;
    const count = max >= 65535 ? `at least ${plural(min)}` : min === max ? `exactly ${plural(min)}` : `${min} to ${plural(max)}`;
    c.error(path, `must be ${what} with ${count}, found ${items.length}`, node);
    return null;
  }
  return items;
}

function fileProblem(p: string): string | null {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
  }
  if (!st.isFile()) return 'is not a regular file';
  try {
    accessSync(p, fsConstants.R_OK);
  } catch {
    return 'is not readable';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Ports

interface PortEntry { port: PortConfig; path: string }

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

// ---------------------------------------------------------------------------------------------
// Certs

function parseCert(c: Collector, node: Node, path: string, baseDir: string,
  seenNames: Map<string, string>): CertConfig | null {
  const m = readObject(c, node, path, CERT_KEYS, 'a certificate object');
  if (!m) return null;
  let bad = false;
  const hostnames: string[] = [];
  const hn = m.get('hostnames');
  if (!hn) { c.error(childPath(path, 'hostnames'), 'is required: a list of the host names the certificate was issued for', node); bad = true; }
  else {
    const items = readArray(c, hn, childPath(path, 'hostnames'), 'a list of host names', 1, 65535);
    if (!items) bad = true;
    else items.forEach((item, i) => {
      const p = childPath(childPath(path, 'hostnames'), i);
      if (item.type !== 'string') { c.error(p, `must be a host name string, found ${describe(item)}`, item); bad = true; return; }
      const parsed = parseCertHostname(item.value);
      if (!parsed.ok) { c.error(p, `must be a host name, "*.domain" or an IP address: ${parsed.error}, found ${describe(item)}`, item); bad = true; return; }
      const first = seenNames.get(parsed.value);
      if (first) { c.error(p, `the host name ${JSON.stringify(item.value)} is already listed at ${first}`, item); bad = true; return; }
      seenNames.set(parsed.value, p);
      hostnames.push(parsed.value);
    });
  }
  const files: Record<string, string> = {};
  for (const key of ['privkey_path', 'pubchain_path'] as const) {
    const p = childPath(path, key);
    const v = optString(c, m, key, path, 'a file path string');
    if (v === undefined) {
      c.error(p, `is required: the path of the ${key === 'privkey_path' ? 'private key' : 'full certificate chain'} PEM file`, node);
      bad = true;
      continue;
    }
    if (v === null) { bad = true; continue; }
    if (v === '') { c.error(p, 'must be a file path, found ""', m.get(key)); bad = true; continue; }
    const abs = resolvePath(baseDir, v);
    const problem = fileProblem(abs);
    if (problem) { c.error(p, `the file ${abs} ${problem}`, m.get(key)); bad = true; continue; }
    files[key] = abs;
  }
  if (bad) return null;
  return { hostnames, privkey_path: files.privkey_path, pubchain_path: files.pubchain_path };
}

// ---------------------------------------------------------------------------------------------
// Apps and endpoints

interface EndpointContext {
  ports: Map<number, PortEntry>;        // the valid port objects
  portNumbers: Map<number, string>;     // every readable port_number -> JSONPath of its object
  certs: CertConfig[] | null;           // null: a cert object was invalid, skip cert checks
  urls: Map<string, string>;            // "host:port/path" -> JSONPath of its first use
}

function parseEndpoint(c: Collector, node: Node, path: string, ctx: EndpointContext,
  ids: Map<number, string>): EndpointConfig | null {
  const m = readObject(c, node, path, ENDPOINT_KEYS, 'an endpoint object');
  if (!m) return null;
  let bad = false;

  let id: number | null = null;
  const idNode = m.get('endpoint_id');
  const idPath = childPath(path, 'endpoint_id');
  if (!idNode) { c.error(idPath, 'is required: an integer from 0 to 65535', node); bad = true; }
  else {
    id = readNumber(c, idNode, idPath, ENDPOINT_ID);
    if (id === null) bad = true;
    else if (ids.has(id)) { c.error(idPath, `the endpoint_id ${id} is already used by ${ids.get(id)} in this app`, idNode); bad = true; }
    else ids.set(id, idPath);
  }

  const urlPath = childPath(path, 'url');
  const urlNode = m.get('url');
  let url: ReturnType<typeof parseEndpointUrl> | null = null;
  if (!urlNode) { c.error(urlPath, 'is required: a URL such as "ws://localhost:8080/echo"', node); bad = true; }
  else if (urlNode.type !== 'string') { c.error(urlPath, `must be a ws:// or wss:// URL string, found ${describe(urlNode)}`, urlNode); bad = true; }
  else {
    url = parseEndpointUrl(urlNode.value);
    if (!url.ok) { c.error(urlPath, `${url.error}, found ${describe(urlNode)}`, urlNode); bad = true; }
  }
  if (url?.ok && urlNode) {
    const u = url.value;
    const entry = ctx.ports.get(u.port);
    if (!ctx.portNumbers.has(u.port)) {
      const configured = [...ctx.portNumbers.keys()].join(', ') || 'none';
      c.error(urlPath, `the port ${u.port}${urlNode.value.includes(`:${u.port}`) ? '' : ` (the ${u.secure ? 'wss' : 'ws'} default)`} is not configured in $.ports (configured: ${configured}), found ${describe(urlNode)}`, urlNode);
      bad = true;
    } else if (entry && u.secure && entry.port.is_unencrypted) {
      c.error(urlPath, `a wss:// URL needs a TLS port, but port ${u.port} has "is_unencrypted": true (${entry.path}), found ${describe(urlNode)}`, urlNode);
      bad = true;
    } else if (entry && !u.secure && !entry.port.is_unencrypted) {
      c.error(urlPath, `a ws:// URL needs a port with "is_unencrypted": true, but port ${u.port} is a TLS (wss) port (${entry.path}; is_unencrypted defaults to false), found ${describe(urlNode)}`, urlNode);
      bad = true;
    }
    if (u.secure && ctx.certs && !ctx.certs.some((cert) => cert.hostnames.some((h) => certCovers(h, u.hostname)))) {
      c.error(urlPath, `no certificate in $.certs covers the host ${JSON.stringify(u.hostname)}${ctx.certs.length === 0 ? ' ($.certs is empty or absent)' : ''} (a wss endpoint needs one; "*.example.com" covers exactly one more label), found ${describe(urlNode)}`, urlNode);
      bad = true;
    }
    const key = `${u.hostname}:${u.port}${u.path}`;
    const first = ctx.urls.get(key);
    if (first) {
      c.error(urlPath, `the same host, port and path is already used by ${first}; every endpoint URL must be unique across all apps, found ${describe(urlNode)}`, urlNode);
      bad = true;
    } else ctx.urls.set(key, urlPath);
  }

  const origins: string[] = [];
  const oNode = m.get('allowed_origins');
  if (oNode) {
    const oPath = childPath(path, 'allowed_origins');
    const items = readArray(c, oNode, oPath, 'a list of origin strings', 0, Infinity);
    if (!items) bad = true;
    else items.forEach((item, i) => {
      const p = childPath(oPath, i);
      if (item.type !== 'string') { c.error(p, `must be an origin string such as "https://example.com", found ${describe(item)}`, item); bad = true; return; }
      const o = parseOrigin(item.value);
      if (!o.ok) { c.error(p, `${o.error}, found ${describe(item)}`, item); bad = true; return; }
      if (origins.includes(o.value)) { c.error(p, `the origin ${JSON.stringify(o.value)} is listed twice`, item); bad = true; return; }
      origins.push(o.value);
    });
  }

  if (bad || !url?.ok) return null;
  return { endpoint_id: id!, url: urlNode!.value, allowed_origins: origins, ...url.value };
}

function parseApp(c: Collector, node: Node, path: string, baseDir: string, ctx: EndpointContext,
  names: Map<string, string>, g: { maxMsg: number | null; updateQueueSize: number }): AppConfig | null {
  const m = readObject(c, node, path, APP_KEYS, 'an app object');
  if (!m) return null;
  let bad = false;

  const namePath = childPath(path, 'name');
  const name = optString(c, m, 'name', path);
  if (name === undefined) { c.error(namePath, `is required: the app's name (used in log lines), 1 to ${MAX_APP_NAME_BYTES} bytes`, node); bad = true; }
  else if (name === null) bad = true;
  else if (name === '' || Buffer.byteLength(name) > MAX_APP_NAME_BYTES || /[\x00-\x1f\x7f]/.test(name)) {
    c.error(namePath, `must be 1 to ${MAX_APP_NAME_BYTES} bytes without control characters, found ${describe(m.get('name'))}`, m.get('name'));
    bad = true;
  } else if (names.has(name)) {
    c.error(namePath, `the app name ${JSON.stringify(name)} is already used by ${names.get(name)}; app names must be unique`, m.get('name'));
    bad = true;
  } else names.set(name, namePath);

  const appPathKey = childPath(path, 'app_path');
  const appPath = optString(c, m, 'app_path', path, 'a file path string');
  let absAppPath = '';
  if (appPath === undefined) { c.error(appPathKey, 'is required: the path of the app module (.ts, .js or .mjs)', node); bad = true; }
  else if (appPath === null) bad = true;
  else {
    absAppPath = resolvePath(baseDir, appPath);
    const ext = extname(absAppPath);
    if (!['.ts', '.js', '.mjs'].includes(ext)) {
      c.error(appPathKey, `must name an ES module ending in .ts, .js or .mjs, found ${describe(m.get('app_path'))}`, m.get('app_path'));
      bad = true;
    } else {
      const problem = fileProblem(absAppPath);
      if (problem) { c.error(appPathKey, `the app module ${absAppPath} ${problem}`, m.get('app_path')); bad = true; }
    }
  }

  const maxWbuf = g.maxMsg ?? GLOBAL_NUMBERS.max_ws_msg_size.max;
  const wbufSpec: NumberSpec = { ...APP_NUMBERS.wbuf_size, max: maxWbuf };
  const wbuf = optNumber(c, m, 'wbuf_size', path, wbufSpec);
  const noOpen = optBool(c, m, 'no_open_cb', path);
  const noClose = optBool(c, m, 'no_close_cb', path);
  const uqs = optNumber(c, m, 'update_queue_size', path, GLOBAL_NUMBERS.update_queue_size);
  if (wbuf === null || noOpen === null || noClose === null || uqs === null) bad = true;
  if (uqs !== undefined && uqs !== null) {
    c.warn(childPath(path, 'update_queue_size'), `has no effect: ${NO_EFFECT.update_queue_size}`, m.get('update_queue_size'));
  }
  for (const key of ['no_open_cb', 'no_close_cb'] as const) {
    if (m.has(key)) c.warn(childPath(path, key), `has no effect: ${NO_EFFECT[key]}`, m.get(key));
  }

  const endpoints: EndpointConfig[] = [];
  const epPath = childPath(path, 'endpoints');
  const epNode = m.get('endpoints');
  if (!epNode) { c.error(epPath, 'is required: a list of at least one endpoint object, e.g. [{ "endpoint_id": 1, "url": "ws://localhost:8080/" }]', node); bad = true; }
  else {
    const items = readArray(c, epNode, epPath, 'a list of endpoint objects', 1, 65536);
    if (!items) bad = true;
    else {
      const ids = new Map<number, string>();
      items.forEach((item, i) => {
        const ep = parseEndpoint(c, item, childPath(epPath, i), ctx, ids);
        if (ep) endpoints.push(ep); else bad = true;
      });
    }
  }
  if (bad) return null;
  return {
    name: name!,
    app_path: absAppPath,
    endpoints,
    wbuf_size: wbuf ?? Math.min(APP_NUMBERS.wbuf_size.default, maxWbuf),
    no_open_cb: noOpen ?? false,
    no_close_cb: noClose ?? false,
    update_queue_size: uqs ?? g.updateQueueSize,
  };
}

// ---------------------------------------------------------------------------------------------
// The whole document

type GlobalNumberKey = keyof typeof GLOBAL_NUMBERS;

export function validateTree(c: Collector, root: Node, baseDir: string, configPath: string, env: ConfigEnv): Config | undefined {
  const g = readObject(c, root, '$', GLOBAL_KEYS, 'the configuration');
  if (!g) return undefined;

  // log_level
  let logLevel: LogLevel | null = 'notice';
  const ll = g.get('log_level');
  if (ll) {
    if (isLogLevel(ll.value) && ll.type === 'string') logLevel = ll.value;
    else {
      const guess = ll.type === 'string' ? closest(ll.value, LOG_LEVELS) : undefined;
      c.error('$.log_level', `must be one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}` +
        (guess ? ` (did you mean "${guess}"?)` : '') + `, found ${describe(ll)}`, ll);
      logLevel = null;
    }
  }

  // Plain numeric keys.
  const num = {} as Record<GlobalNumberKey, number | null>;
  for (const key of Object.keys(GLOBAL_NUMBERS) as GlobalNumberKey[]) {
    const spec = GLOBAL_NUMBERS[key];
    const v = optNumber(c, g, key, '$', spec);
    num[key] = v === undefined ? spec.default : v;
    if (v !== undefined && v !== null && key in NO_EFFECT) {
      c.warn(`$.${key}`, `has no effect: ${NO_EFFECT[key]}`, g.get(key));
    }
  }
  const maxMsg = num.max_ws_msg_size;

  // Keys whose default or minimum derives from max_ws_msg_size.
  let frameChain: number | null = null;
  let outboundLimit: number | null = null;
  let inboundRing: number | null = null;
  let outboundRing: number | null = null;
  if (maxMsg !== null) {
    const fcSpec: NumberSpec = { integer: true, min: maxMsg, max: FRAME_CHAIN.max, unit: 'bytes' };
    const fc = optNumber(c, g, 'max_ws_frame_chain_size', '$', fcSpec, ' (max_ws_msg_size)');
    frameChain = fc === undefined ? Math.min(Math.floor(FRAME_CHAIN.factor * maxMsg), FRAME_CHAIN.max) : fc;

    const olMin = maxMsg + MAX_FRAME_HEADER_SIZE;
    const ol = optNumber(c, g, 'max_client_outbound_size', '$',
      { integer: true, min: olMin, max: MAX_CLIENT_OUTBOUND.max, unit: 'bytes' }, ' (max_ws_msg_size + 14)');
    outboundLimit = ol === undefined ? Math.max(MAX_CLIENT_OUTBOUND.default, olMin) : ol;

    const ringMin = 2 * (maxMsg + RING_RECORD_OVERHEAD);
    const ringDefault = Math.min(2 * maxMsg + RING.extra, RING.max);
    const ringSpec: NumberSpec = { integer: true, min: ringMin, max: RING.max, unit: 'bytes' };
    const ir = optNumber(c, g, 'inbound_ring_buf_size', '$', ringSpec, ' (2 × (max_ws_msg_size + 64))');
    const or = optNumber(c, g, 'outbound_ring_buf_size', '$', ringSpec, ' (2 × (max_ws_msg_size + 64))');
    inboundRing = ir === undefined ? ringDefault : ir;
    outboundRing = or === undefined ? ringDefault : or;
  } else {
    // Still check types and absolute bounds so that their errors show up in the same run.
    for (const key of ['max_ws_frame_chain_size', 'max_client_outbound_size', 'inbound_ring_buf_size', 'outbound_ring_buf_size']) {
      const max = key === 'max_ws_frame_chain_size' ? FRAME_CHAIN.max : key === 'max_client_outbound_size' ? MAX_CLIENT_OUTBOUND.max : RING.max;
      optNumber(c, g, key, '$', { integer: true, min: 0, max, unit: 'bytes' });
    }
  }

  // Timers: "seconds without any inbound byte" must be longer than the ping interval, otherwise
  // the connection is closed before the ping could be answered.
  const idle = num.idle_timeout, ping = num.ping_interval;
  if (idle !== null && ping !== null && idle > 0 && ping > 0 && ping >= idle) {
    c.error('$.ping_interval', `must be less than idle_timeout (${idle}) when both are on, so that a ping can be answered ` +
      `before the idle timeout closes the connection (or set one of them to 0), found ${ping}`, g.get('ping_interval') ?? g.get('idle_timeout'));
  }

  // Ports
  let portsOk = true;
  const ports: PortConfig[] = [];
  const portMap = new Map<number, PortEntry>();
  // Every readable port_number, also of port objects with other errors: "port not configured" is
  // reported only for numbers that appear nowhere.
  const portNumbers = new Map<number, string>();
  const portsNode = g.get('ports');
  if (!portsNode) {
    c.error('$.ports', 'is required: a list of at least one port object, e.g. [{ "port_number": 8080, "is_unencrypted": true }]', root);
    portsOk = false;
  } else {
    const items = readArray(c, portsNode, '$.ports', 'a list of port objects', 1, 65535);
    if (!items) portsOk = false;
    else items.forEach((item, i) => {
      const p = childPath('$.ports', i);
      const port = parsePort(c, env, item, p);
      if (!port) portsOk = false;
      const pn = item.type === 'object' ? findProp(item, 'port_number') : undefined;
      if (pn?.type !== 'number' || !Number.isInteger(pn.value)) return;
      const first = portNumbers.get(pn.value);
      if (first) {
        c.error(childPath(p, 'port_number'), `the port ${pn.value} is already configured at ${first}`, pn);
        portsOk = false;
        return;
      }
      portNumbers.set(pn.value, p);
      if (port) {
        portMap.set(port.port_number, { port, path: p });
        ports.push(port);
      }
    });
  }

  // Certs
  let certsOk = true;
  const certs: CertConfig[] = [];
  const certsNode = g.get('certs');
  if (certsNode) {
    const items = readArray(c, certsNode, '$.certs', 'a list of certificate objects', 0, 65535);
    if (!items) certsOk = false;
    else {
      const seen = new Map<string, string>();
      items.forEach((item, i) => {
        const cert = parseCert(c, item, childPath('$.certs', i), baseDir, seen);
        if (cert) certs.push(cert); else certsOk = false;
      });
    }
  }

  // Apps
  let appsOk = true;
  const apps: AppConfig[] = [];
  const appsNode = g.get('apps');
  const ctx: EndpointContext = { ports: portMap, portNumbers, certs: certsOk ? certs : null, urls: new Map() };
  if (!appsNode) {
    c.error('$.apps', 'is required: a list of at least one app object ({ "name", "app_path", "endpoints" })', root);
    appsOk = false;
  } else {
    const items = readArray(c, appsNode, '$.apps', 'a list of app objects', 1, MAX_APPS);
    if (!items) appsOk = false;
    else {
      const names = new Map<string, string>();
      items.forEach((item, i) => {
        const app = parseApp(c, item, childPath('$.apps', i), baseDir, ctx, names,
          { maxMsg, updateQueueSize: num.update_queue_size ?? GLOBAL_NUMBERS.update_queue_size.default });
        if (app) apps.push(app); else appsOk = false;
      });
    }
  }

  if (c.errors.length > 0 || !appsOk || !portsOk || !certsOk || logLevel === null) return undefined;

  // Ports nobody uses answer every request with 404: almost certainly a mistake, but harmless.
  const used = new Set(apps.flatMap((a) => a.endpoints.map((e) => e.port)));
  ports.forEach((p, i) => {
    if (!used.has(p.port_number)) c.warn(`$.ports[${i}]`, `no endpoint uses port ${p.port_number}; every request on it is answered 404`);
  });

  // worker_c and the shared memory budget.
  const v = num as Record<GlobalNumberKey, number>;
  const memoryFor = (workers: number): MemoryInputs => ({
    worker_c: workers,
    slotsPerWorker: Math.ceil(v.fd_alloc_c / workers),
    worker_rbuf_size: v.worker_rbuf_size,
    inbound_ring_buf_size: inboundRing!,
    outbound_ring_buf_size: outboundRing!,
    wbuf_sizes: apps.map((a) => a.wbuf_size),
  });
  const auto = v.worker_c === 0;
  let workers = auto ? Math.min(255, Math.max(1, env.availableParallelism() - apps.length)) : v.worker_c;
  if (auto) {
    const wanted = workers;
    while (workers > 1 && !fitsWasmMemory(estimateSharedMemory(memoryFor(workers)))) workers--;
    if (workers < wanted && fitsWasmMemory(estimateSharedMemory(memoryFor(workers)))) {
      c.warn('$.worker_c', `automatic worker_c lowered from ${wanted} to ${workers} so that the shared memory fits in ${formatBytes(WASM_MEMORY_MAX_BYTES)}`);
    }
  }
  const est = estimateSharedMemory(memoryFor(workers));
  if (!fitsWasmMemory(est)) {
    const w = workers, a = apps.length;
    c.error('$', `the shared memory would need ${formatBytes(est.total, 'up')}, more than the ${formatBytes(WASM_MEMORY_MAX_BYTES)} a WebAssembly memory can hold: ` +
      `rings ${formatBytes(est.rings)} (${w} worker${w === 1 ? '' : 's'}${auto ? ' (worker_c auto)' : ''} × ${a} app${a === 1 ? '' : 's'} × ` +
      `(${ringText('inbound_ring_buf_size', inboundRing!)} + ${ringText('outbound_ring_buf_size', outboundRing!)})), ` +
      `worker read scratch ${formatBytes(est.workerScratch)} (worker_c × worker_rbuf_size), ` +
      `connection states ${formatBytes(est.decoderStates)} (fd_alloc_c), app write buffers ${formatBytes(est.appScratch)} (wbuf_size); ` +
      'lower worker_c, inbound_ring_buf_size and outbound_ring_buf_size (or max_ws_msg_size, which sets their default and minimum), ' +
      'worker_rbuf_size or fd_alloc_c');
    return undefined;
  }

  return {
    configPath,
    log_level: logLevel,
    worker_c: workers,
    workerCAuto: auto,
    fd_alloc_c: v.fd_alloc_c,
    slotsPerWorker: Math.ceil(v.fd_alloc_c / workers),
    max_ws_msg_size: v.max_ws_msg_size,
    max_ws_frame_chain_size: frameChain!,
    max_ws_fragment_c: v.max_ws_fragment_c,
    max_http_head_size: v.max_http_head_size,
    max_client_outbound_size: outboundLimit!,
    max_worker_outbound_size: v.max_worker_outbound_size,
    worker_rbuf_size: v.worker_rbuf_size,
    inbound_ring_buf_size: inboundRing!,
    outbound_ring_buf_size: outboundRing!,
    realloc_multiplier: v.realloc_multiplier,
    owrefs_elem_c: v.owrefs_elem_c,
    epoll_buf_elem_c: v.epoll_buf_elem_c,
    update_queue_size: v.update_queue_size,
    shutdown_wait_http: v.shutdown_wait_http,
    shutdown_wait_ws: v.shutdown_wait_ws,
    idle_timeout: v.idle_timeout,
    ping_interval: v.ping_interval,
    app_stall_timeout: v.app_stall_timeout,
    ports,
    certs,
    apps,
  };
}

/** "inbound_ring_buf_size 64 MiB" or "inbound_ring_buf_size 33 MiB → 64 MiB" when rounded up. */
function ringText(key: string, size: number): string {
  const cap = ringCapacityFor(size);
  return cap === size ? `${key} ${formatBytes(size)}` : `${key} ${formatBytes(size)} → ${formatBytes(cap)}`;
}

function findProp(obj: Node, key: string): Node | undefined {
  for (const prop of obj.children ?? []) {
    if (prop.children?.[0]?.value === key) return prop.children[1];
  }
  return undefined;
}
