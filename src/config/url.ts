// Hand-written parsers for the configured endpoint URLs, origins and host names. The WHATWG URL
// parser is not used for paths on purpose: it rewrites them ("/a/../b" becomes "/b", spaces get
// percent-encoded), while an endpoint path must be compared with the request target byte for byte.
import { isIPv4, isIPv6 } from 'node:net';
import type { EndpointUrl } from './types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** RFC 1123 host name label (underscore tolerated, as resolvers do). */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The canonical text of an IPv6 literal without brackets ("0:0::1" -> "::1"). */
export function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * A host as it appears in a URL or Host header: a DNS name, an IPv4 literal, or an IPv6 literal in
 * brackets. Returns the lowercase canonical form ("[::1]" for IPv6).
 */
export function parseHost(host: string): Parsed<string> {
  if (host === '') return fail('the host is empty');
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return fail(`"${host}" has no closing "]"`);
    const inner = host.slice(1, -1);
    if (inner.includes('%')) return fail(`an IPv6 zone ("%...") is not allowed in a URL host`);
    if (!isIPv6(inner)) return fail(`"${inner}" is not an IPv6 address`);
    return ok(`[${canonicalIPv6(inner)}]`);
  }
  const h = host.toLowerCase();
  if (/^[0-9.]+$/.test(h)) {
    return isIPv4(h) ? ok(h) : fail(`"${host}" is not a valid IPv4 address (four numbers 0-255, no leading zeros)`);
  }
  if (isIPv6(h)) return fail(`an IPv6 address must be written in brackets: "[${host}]"`);
  if (h.length > 253) return fail(`the host name is ${h.length} characters long; at most 253 are allowed`);
  for (const label of h.split('.')) {
    if (!LABEL.test(label)) {
      return fail(`"${host}" is not a valid host name (dot-separated labels of letters, digits, "-" and "_", ` +
        `1-63 characters each, not starting or ending with "-")`);
    }
  }
  return ok(h);
}

const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/**
 * A configured endpoint URL: `ws://` or `wss://`, a host, an optional port (default 80 / 443), and
 * any path ("/" when there is none). No user info, query or fragment.
 */
export function parseEndpointUrl(url: string): Parsed<EndpointUrl> {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!m) return fail('expected a URL of the form ws://host[:port][/path] or wss://host[:port][/path]');
  const scheme = m[1].toLowerCase();
  if (scheme !== 'ws' && scheme !== 'wss') return fail(`the scheme must be ws or wss, found "${m[1]}"`);
  const secure = scheme === 'wss';
  const rest = m[2];
  if (/[?#]/.test(rest)) {
    return fail('a query ("?") or fragment ("#") is not allowed in an endpoint URL ' +
      '(a query string in a request is accepted and ignored for matching)');
  }
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '/' : rest.slice(slash);
  if (authority.includes('@')) return fail('user info ("user@") is not allowed in an endpoint URL');

  let hostPart: string;
  let portPart: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) return fail(`the IPv6 host "${authority}" has no closing "]"`);
    hostPart = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return fail(`unexpected "${after}" after the IPv6 host`);
      portPart = after.slice(1);
    }
  } else {
    const colon = authority.indexOf(':');
    if (colon !== -1 && authority.indexOf(':', colon + 1) !== -1) {
      return fail('an IPv6 address must be written in brackets, e.g. ws://[::1]:8080/path');
    }
    hostPart = colon === -1 ? authority : authority.slice(0, colon);
    portPart = colon === -1 ? undefined : authority.slice(colon + 1);
  }
  const host = parseHost(hostPart);
  if (!host.ok) return host;

  const defaultPort = secure ? 443 : 80;
  let port = defaultPort;
  if (portPart !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portPart) || Number(portPart) < 1 || Number(portPart) > 65535) {
      return fail(`the port must be a number from 1 to 65535, found "${portPart}"`);
    }
    port = Number(portPart);
  }

  if (/[^\x21-\x7e]/.test(path)) {
    return fail(`the path ${JSON.stringify(path)} contains a space, a control character or a non-ASCII ` +
      'character; percent-encode it (as clients send it)');
  }
  if (!PATH.test(path)) {
    return fail(`the path ${JSON.stringify(path)} contains a character that is not allowed in a URL path ` +
      '(allowed: letters, digits, and - . _ ~ ! $ & \' ( ) * + , ; = : @ % /)');
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) {
    return fail(`the path ${JSON.stringify(path)} has a "%" that is not followed by two hex digits`);
  }

  const hostname = host.value;
  const withPort = `${hostname}:${port}`;
  const hostHeaders = port === defaultPort ? [hostname, withPort] : [withPort];
  return ok({ secure, hostname, port, hostHeaders, path });
}

/**
 * An allowed Origin value, as browsers serialize it (RFC 6454): "scheme://host[:port]" without a
 * path, with the default port left out; or "null". Returns the lowercase form.
 */
export function parseOrigin(origin: string): Parsed<string> {
  if (origin === 'null') return ok(origin);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(origin);
  if (!m) return fail('expected an origin such as "https://example.com" or "http://localhost:8080"');
  const scheme = m[1].toLowerCase();
  if (m[3] !== '') {
    return fail(`an origin has no path, query or fragment: write "${scheme}://${m[2]}" (browsers send no trailing slash)`);
  }
  let hostPart = m[2];
  let port: string | undefined;
  const bracket = hostPart.lastIndexOf(']');
  const colon = hostPart.lastIndexOf(':');
  if (colon > bracket) {
    port = hostPart.slice(colon + 1);
    hostPart = hostPart.slice(0, colon);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
      return fail(`the port must be a number from 0 to 65535, found "${port}"`);
    }
    port = String(Number(port));
  }
  const host = parseHost(hostPart);
  if (!host.ok) return host;
  const defaults: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };
  if (port !== undefined && defaults[scheme] === port) {
    return fail(`browsers leave the default port out of an Origin: write "${scheme}://${host.value}"`);
  }
  return ok(`${scheme}://${host.value}${port === undefined ? '' : ':' + port}`);
}

/**
 * A certificate host name: a DNS name, "*." followed by a DNS name (a one-level wildcard), or an IP
 * address (IPv6 with or without brackets). Returns the lowercase canonical form.
 */
export function parseCertHostname(name: string): Parsed<string> {
  if (name.startsWith('*.')) {
    const rest = parseHost(name.slice(2));
    if (!rest.ok) return rest;
    if (rest.value.startsWith('[') || isIPv4(rest.value)) return fail('a wildcard cannot cover an IP address');
    return ok(`*.${rest.value}`);
  }
  if (name.includes('*')) return fail('a wildcard is allowed only as the whole first label ("*.example.com")');
  if (isIPv6(name)) return ok(`[${canonicalIPv6(name)}]`);
  return parseHost(name);
}

/**
 * Does a certificate host name (canonical, from parseCertHostname) cover an endpoint hostname
 * (canonical, from parseHost)? A wildcard covers exactly one label: "*.example.com" covers
 * "a.example.com" but neither "example.com" nor "a.b.example.com".
 */
export function certCovers(certName: string, hostname: string): boolean {
  if (certName === hostname) return true;
  if (!certName.startsWith('*.')) return false;
  const dot = hostname.indexOf('.');
  return dot > 0 && hostname.slice(dot + 1) === certName.slice(2);
}
