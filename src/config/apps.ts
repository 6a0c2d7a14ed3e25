// The "apps" list: each app's name, module and options, and its endpoints, whose URLs must name a
// configured port of the right kind (ws or wss), be covered by a certificate when secure, and be
// unique across all apps.
import type { Node } from 'jsonc-parser';
import { extname, resolve as resolvePath } from 'node:path';
import { type Collector, childPath, describe } from './collector.ts';
import { readDeflate, type DeflateConfig } from './deflate.ts';
import { readSubprotocols } from './subprotocols.ts';
import type { PortEntry } from './ports.ts';
import { fileProblem, optBool, optNumber, optString, readArray, readNumber, readObject, type Props } from './readers.ts';
import {
  APP_KEYS, APP_NUMBERS, ENDPOINT_ID, ENDPOINT_KEYS, GLOBAL_NUMBERS, MAX_APP_NAME_BYTES, MAX_APPS, NO_EFFECT,
  type NumberSpec,
} from './schema.ts';
import type { AppConfig, CertConfig, EndpointConfig } from './types.ts';
import { certCovers, parseEndpointUrl, parseOrigin } from './url.ts';

/** What endpoint URLs are checked against; `urls` fills up as endpoints are read. */
export interface EndpointContext {
  ports: Map<number, PortEntry>;        // the valid port objects
  portNumbers: Map<number, string>;     // every readable port_number -> JSONPath of its object
  certs: CertConfig[] | null;           // null: a cert object was invalid, skip cert checks
  urls: Map<string, string>;            // "host:port/path" -> JSONPath of its first use
  deflate: DeflateConfig | false;       // the top-level permessage_deflate (endpoints may replace it)
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

  let deflate: DeflateConfig | false | null = ctx.deflate;
  const dNode = m.get('permessage_deflate');
  if (dNode) deflate = readDeflate(c, dNode, childPath(path, 'permessage_deflate'));
  if (deflate === null) bad = true;

  const sNode = m.get('subprotocols');
  const subprotocols = sNode ? readSubprotocols(c, sNode, childPath(path, 'subprotocols')) : [];
  if (subprotocols === null) bad = true;

  if (bad || !url?.ok) return null;
  return { endpoint_id: id!, url: urlNode!.value, allowed_origins: origins, permessage_deflate: deflate as DeflateConfig | false, subprotocols: subprotocols!, ...url.value };
}

function parseApp(c: Collector, node: Node, path: string, baseDir: string, ctx: EndpointContext,
  names: Map<string, string>, g: AppDefaults): AppConfig | null {
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

/** The global values an app's defaults and bounds come from. */
export interface AppDefaults {
  /** max_ws_msg_size, or null when it was invalid. */
  maxMsg: number | null;
  updateQueueSize: number;
}

/** The apps; `ok` is false when any app object had an error. */
export function readApps(c: Collector, g: Props, root: Node, baseDir: string, ctx: EndpointContext,
  defaults: AppDefaults): { ok: boolean; apps: AppConfig[] } {
  let ok = true;
  const apps: AppConfig[] = [];
  const appsNode = g.get('apps');
  if (!appsNode) {
    c.error('$.apps', 'is required: a list of at least one app object ({ "name", "app_path", "endpoints" })', root);
    ok = false;
  } else {
    const items = readArray(c, appsNode, '$.apps', 'a list of app objects', 1, MAX_APPS);
    if (!items) ok = false;
    else {
      const names = new Map<string, string>();
      items.forEach((item, i) => {
        const app = parseApp(c, item, childPath('$.apps', i), baseDir, ctx, names, defaults);
        if (app) apps.push(app); else ok = false;
      });
    }
  }
  return { ok, apps };
}
