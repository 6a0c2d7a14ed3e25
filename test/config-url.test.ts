// Endpoint URL, origin and certificate host name parsing; key suggestions.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEndpointUrl, parseOrigin, parseCertHostname, certCovers, parseHost } from '../src/config/url.ts';
import { closest, editDistance } from '../src/config/suggest.ts';

const Url = suite('parseEndpointUrl');

const url = (s: string) => {
  const r = parseEndpointUrl(s);
  if (!r.ok) throw new Error(`unexpected error for ${s}: ${r.error}`);
  return r.value;
};
const urlError = (s: string) => {
  const r = parseEndpointUrl(s);
  assert.ok(!r.ok, `${s} is refused`);
  return (r as { error: string }).error;
};

Url('parses host, port and path, with "/" when there is no path', () => {
  assert.equal(url('ws://localhost:8080/echo'), { secure: false, hostname: 'localhost', port: 8080, hostHeaders: ['localhost:8080'], path: '/echo' });
  assert.equal(url('wss://Example.COM'), { secure: true, hostname: 'example.com', port: 443, hostHeaders: ['example.com', 'example.com:443'], path: '/' });
  assert.equal(url('ws://example.com/'), { secure: false, hostname: 'example.com', port: 80, hostHeaders: ['example.com', 'example.com:80'], path: '/' });
  assert.equal(url('WS://127.0.0.1:80/a'), { secure: false, hostname: '127.0.0.1', port: 80, hostHeaders: ['127.0.0.1', '127.0.0.1:80'], path: '/a' });
  assert.equal(url('wss://h:443/'), { secure: true, hostname: 'h', port: 443, hostHeaders: ['h', 'h:443'], path: '/' });
});

Url('keeps the path exactly as written (case, dots, percent escapes, colons)', () => {
  assert.is(url('ws://h/A/./b/../C').path, '/A/./b/../C');
  assert.is(url('ws://h/a%2Fb/%e2%82%ac').path, '/a%2Fb/%e2%82%ac');
  assert.is(url('ws://h/x:y@z;p=1,2').path, '/x:y@z;p=1,2');
  assert.is(url('ws://h//').path, '//');
});

Url('canonicalizes IPv6 hosts and lists the bracketed Host forms', () => {
  assert.equal(url('ws://[0:0::1]:9000/'), { secure: false, hostname: '[::1]', port: 9000, hostHeaders: ['[::1]:9000'], path: '/' });
  assert.equal(url('ws://[FE80::A]/x').hostHeaders, ['[fe80::a]', '[fe80::a]:80']);
});

Url('refuses other schemes, queries, fragments, user info and bad ports', () => {
  assert.is(urlError('localhost:8080/echo'), 'expected a URL of the form ws://host[:port][/path] or wss://host[:port][/path]');
  assert.is(urlError('https://h/'), 'the scheme must be ws or wss, found "https"');
  const q = 'a query ("?") or fragment ("#") is not allowed in an endpoint URL (a query string in a request is accepted and ignored for matching)';
  assert.is(urlError('ws://h/a?x=1'), q);
  assert.is(urlError('ws://h/a#top'), q);
  assert.is(urlError('ws://h?'), q);
  assert.is(urlError('ws://user@h/'), 'user info ("user@") is not allowed in an endpoint URL');
  assert.is(urlError('ws://h:0/'), 'the port must be a number from 1 to 65535, found "0"');
  assert.is(urlError('ws://h:65536/'), 'the port must be a number from 1 to 65535, found "65536"');
  assert.is(urlError('ws://h:/'), 'the port must be a number from 1 to 65535, found ""');
  assert.is(urlError('ws://h:8o/'), 'the port must be a number from 1 to 65535, found "8o"');
});

Url('refuses bad hosts', () => {
  assert.is(urlError('ws:///path'), 'the host is empty');
  assert.is(urlError('ws://::1/'), 'an IPv6 address must be written in brackets, e.g. ws://[::1]:8080/path');
  assert.is(urlError('ws://[::1/'), 'the IPv6 host "[::1" has no closing "]"');
  assert.is(urlError('ws://[::g]/'), '"::g" is not an IPv6 address');
  assert.is(urlError('ws://[fe80::1%eth0]/'), 'an IPv6 zone ("%...") is not allowed in a URL host');
  assert.is(urlError('ws://[::1]x/'), 'unexpected "x" after the IPv6 host');
  assert.is(urlError('ws://256.1.1.1/'), '"256.1.1.1" is not a valid IPv4 address (four numbers 0-255, no leading zeros)');
  const label = 'is not a valid host name (dot-separated labels of letters, digits, "-" and "_", 1-63 characters each, not starting or ending with "-")';
  assert.is(urlError('ws://-a.com/'), `"-a.com" ${label}`);
  assert.is(urlError('ws://a..com/'), `"a..com" ${label}`);
  assert.is(urlError(`ws://${'a'.repeat(64)}.com/`), `"${'a'.repeat(64)}.com" ${label}`);
  assert.is(urlError('ws://ex ample.com/'), `"ex ample.com" ${label}`);
});

Url('refuses path characters a request target cannot carry', () => {
  assert.is(urlError('ws://h/a b'), 'the path "/a b" contains a space, a control character or a non-ASCII character; percent-encode it (as clients send it)');
  assert.is(urlError('ws://h/€'), 'the path "/€" contains a space, a control character or a non-ASCII character; percent-encode it (as clients send it)');
  assert.is(urlError('ws://h/a"b'), 'the path "/a\\"b" contains a character that is not allowed in a URL path (allowed: letters, digits, and - . _ ~ ! $ & \' ( ) * + , ; = : @ % /)');
  assert.is(urlError('ws://h/100%'), 'the path "/100%" has a "%" that is not followed by two hex digits');
});

const Origins = suite('parseOrigin');

Origins('lowercases scheme and host and keeps a non-default port', () => {
  const ok = (s: string) => { const r = parseOrigin(s); assert.ok(r.ok, s); return (r as { value: string }).value; };
  assert.is(ok('HTTPS://Example.com'), 'https://example.com');
  assert.is(ok('http://localhost:3000'), 'http://localhost:3000');
  assert.is(ok('http://[::1]:8080'), 'http://[::1]:8080');
  assert.is(ok('null'), 'null');
  assert.is(ok('chrome-extension://abcdef'), 'chrome-extension://abcdef');
});

Origins('refuses paths, default ports and non-origins', () => {
  const err = (s: string) => { const r = parseOrigin(s); assert.ok(!r.ok, s); return (r as { error: string }).error; };
  assert.is(err('example.com'), 'expected an origin such as "https://example.com" or "http://localhost:8080"');
  assert.is(err('https://a.com/'), 'an origin has no path, query or fragment: write "https://a.com" (browsers send no trailing slash)');
  assert.is(err('https://a.com:443'), 'browsers leave the default port out of an Origin: write "https://a.com"');
  assert.is(err('http://a.com:99999'), 'the port must be a number from 0 to 65535, found "99999"');
});

const Certs = suite('certificate host names');

Certs('parses names, one-level wildcards and IP addresses', () => {
  const ok = (s: string) => { const r = parseCertHostname(s); assert.ok(r.ok, s); return (r as { value: string }).value; };
  assert.is(ok('Example.com'), 'example.com');
  assert.is(ok('*.Example.com'), '*.example.com');
  assert.is(ok('::1'), '[::1]');
  assert.is(ok('[::1]'), '[::1]');
  assert.is(ok('10.0.0.1'), '10.0.0.1');
  assert.equal(parseCertHostname('*.10.0.0.1'), { ok: false, error: 'a wildcard cannot cover an IP address' });
  assert.equal(parseCertHostname('a*.example.com'), { ok: false, error: 'a wildcard is allowed only as the whole first label ("*.example.com")' });
});

Certs('a wildcard covers exactly one extra label', () => {
  assert.ok(certCovers('*.example.com', 'a.example.com'));
  assert.not.ok(certCovers('*.example.com', 'example.com'));
  assert.not.ok(certCovers('*.example.com', 'a.b.example.com'));
  assert.not.ok(certCovers('*.example.com', 'aexample.com'));
  assert.ok(certCovers('example.com', 'example.com'));
  assert.not.ok(certCovers('example.com', 'www.example.com'));
  const host = parseHost('[0::1]');
  assert.equal(host, { ok: true, value: '[::1]' });
  assert.ok(certCovers(parseCertHostname('0:0::1').ok ? '[::1]' : 'x', '[::1]'));
});

const Suggest = suite('key suggestions');

Suggest('measures edits with transpositions', () => {
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('name', 'name'), 0);
  assert.is(editDistance('nmae', 'name'), 1);
  assert.is(editDistance('kitten', 'sitting'), 3);
});

Suggest('suggests a close key or the only key a prefix begins', () => {
  const keys = ['worker_c', 'idle_timeout', 'ping_interval', 'ipv4only', 'ipv6only'];
  assert.is(closest('idle_timout', keys), 'idle_timeout');
  assert.is(closest('worker-c', keys), 'worker_c');
  assert.is(closest('WORKER_C', keys), 'worker_c');
  assert.is(closest('ping', keys), 'ping_interval');
  assert.is(closest('ipv', keys), undefined, 'an ambiguous prefix suggests nothing');
  assert.is(closest('zzz', keys), undefined);
  assert.is(closest('ab', ['ax', 'abc']), 'ax', 'short words allow one edit');
});

for (const s of [Url, Origins, Certs, Suggest]) s.run();
