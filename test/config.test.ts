// The configuration loader: defaults, ranges, cross-references, error reports.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkInterfaceInfo } from 'node:os';
import { parseConfig, loadConfig, formatConfigErrors, type ConfigEnv, type ConfigError } from '../src/config/index.ts';
import { estimateSharedMemory, STATIC_RESERVE } from '../src/config/memory.ts';
import { planDaemonMemory } from '../src/daemon/layout.ts';
import { compileCore, readHeapBase } from '../src/core/wasm.ts';
import { GLOBAL_KEYS, PORT_KEYS, CERT_KEYS, APP_KEYS, ENDPOINT_KEYS, MiB, GiB } from '../src/config/schema.ts';

const dir = tempDir('rs-config-');
const cfgPath = join(dir, 'ringsocket.json');
writeFileSync(join(dir, 'app.ts'), 'export default {};\n');
writeFileSync(join(dir, 'other.mjs'), 'export default {};\n');
mkdirSync(join(dir, 'tls'));
writeFileSync(join(dir, 'tls', 'key.pem'), 'key');
writeFileSync(join(dir, 'tls', 'chain.pem'), 'chain');

const iface = (address: string, family: 'IPv4' | 'IPv6', scopeid = 0): NetworkInterfaceInfo => (family === 'IPv4'
  ? { address, family, netmask: '255.0.0.0', mac: '00:00:00:00:00:00', internal: true, cidr: null }
  : { address, family, netmask: 'ffff::', mac: '00:00:00:00:00:00', internal: true, cidr: null, scopeid });

const env: ConfigEnv = {
  availableParallelism: () => 4,
  networkInterfaces: () => ({
    lo: [iface('127.0.0.1', 'IPv4'), iface('::1', 'IPv6')],
    eth0: [iface('10.0.0.5', 'IPv4'), iface('fe80::1', 'IPv6', 2)],
  }),
};

// Test documents are deliberately loose: they hold wrong types on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = { ports: any[]; apps: any[]; [key: string]: unknown };
const minimal = (): Doc => ({
  ports: [{ port_number: 8080, is_unencrypted: true }],
  apps: [{ name: 'echo', app_path: 'app.ts', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/echo' }] }],
});

function check(doc: unknown, e: ConfigEnv = env) {
  return parseConfig(typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2), cfgPath, e);
}
/** The errors without file and position, for comparing paths and messages. */
function errs(doc: unknown, e: ConfigEnv = env) {
  const r = check(doc, e);
  assert.is(r.config, undefined, 'no config when there are errors');
  return r.errors.map(({ path, message }) => ({ path, message }));
}

// ---------------------------------------------------------------------------------------------
const Defaults = suite('config defaults');

Defaults('fills every default of a minimal config', () => {
  const r = check(minimal());
  assert.equal(r.errors, []);
  const c = r.config!;
  assert.is(c.configPath, cfgPath);
  assert.is(c.log_level, 'notice');
  assert.is(c.worker_c, 3, 'auto = cores (4) - apps (1)');
  assert.is(c.workerCAuto, true);
  assert.is(c.fd_alloc_c, 10000);
  assert.is(c.slotsPerWorker, Math.ceil(10000 / 3));
  assert.is(c.max_ws_msg_size, 16 * MiB);
  assert.is(c.max_ws_frame_chain_size, 20 * MiB);
  assert.is(c.max_ws_fragment_c, 131072);
  assert.is(c.max_http_head_size, 8192);
  assert.is(c.max_client_outbound_size, 16 * MiB + 14);
  assert.is(c.worker_rbuf_size, 1 * MiB);
  assert.is(c.inbound_ring_buf_size, 33 * MiB);
  assert.is(c.outbound_ring_buf_size, 33 * MiB);
  assert.is(c.realloc_multiplier, 1.5);
  assert.is(c.owrefs_elem_c, 10000);
  assert.is(c.epoll_buf_elem_c, 100);
  assert.is(c.update_queue_size, 5);
  assert.is(c.shutdown_wait_http, 15);
  assert.is(c.shutdown_wait_ws, 30);
  assert.is(c.idle_timeout, 120);
  assert.is(c.ping_interval, 30);
  assert.equal(c.certs, []);
  assert.equal(c.ports, [{
    port_number: 8080, is_unencrypted: true, ip_addrs: null, interface: null,
    ipv4only: false, ipv6only: false, ipv4_is_embedded_in_ipv6: false,
    listen: [{ host: '0.0.0.0', ipv6Only: false }, { host: '::', ipv6Only: true }],
  }]);
  assert.equal(c.apps, [{
    name: 'echo', app_path: join(dir, 'app.ts'), wbuf_size: 1 * MiB, no_open_cb: false, no_close_cb: false,
    update_queue_size: 5,
    endpoints: [{
      endpoint_id: 1, url: 'ws://localhost:8080/echo', allowed_origins: [], secure: false,
      hostname: 'localhost', port: 8080, hostHeaders: ['localhost:8080'], path: '/echo',
      subprotocols: [],
      permessage_deflate: false,
    }],
  }]);
});

Defaults('derives frame chain, rings, outbound limit and wbuf from max_ws_msg_size', () => {
  const c = check({ ...minimal(), max_ws_msg_size: 1000 }).config!;
  assert.is(c.max_ws_frame_chain_size, 1250);
  assert.is(c.inbound_ring_buf_size, 2000 + MiB);
  assert.is(c.outbound_ring_buf_size, 2000 + MiB);
  assert.is(c.max_client_outbound_size, 16 * MiB, 'the 16 MiB default when it exceeds max_ws_msg_size + 14');
  assert.is(c.apps[0].wbuf_size, 1000, 'wbuf_size default is capped at max_ws_msg_size');
});

Defaults('resolves worker_c automatically to at least 1', () => {
  const one = { availableParallelism: () => 1, networkInterfaces: env.networkInterfaces };
  assert.is(check(minimal(), one).config!.worker_c, 1);
  const many = { availableParallelism: () => 1000, networkInterfaces: env.networkInterfaces };
  const c = check({ ...minimal(), inbound_ring_buf_size: 65536, outbound_ring_buf_size: 65536, max_ws_msg_size: 1000 }, many).config!;
  assert.is(c.worker_c, 255, 'capped at 255');
  const explicit = check({ ...minimal(), worker_c: 2 }).config!;
  assert.is(explicit.worker_c, 2);
  assert.is(explicit.workerCAuto, false);
  assert.is(explicit.slotsPerWorker, 5000);
});

Defaults('lowers automatic worker_c until the shared memory fits, with a warning', () => {
  const many = { availableParallelism: () => 200, networkInterfaces: env.networkInterfaces };
  const r = check(minimal(), many); // 2 rings of 33 MiB -> 64 MiB each: 128 MiB per worker
  assert.equal(r.errors, []);
  assert.is(r.config!.worker_c, 31);
  assert.equal(r.warnings.map((w) => [w.path, w.message]), [['$.worker_c', 'automatic worker_c lowered from 199 to 31 so that the shared memory fits in 4 GiB']]);
  assert.equal(check({ ...minimal(), worker_c: 32 }, many).errors.map((e) => e.path), ['$'], '32 workers do not fit');
});

Defaults('accepts comments, trailing commas and a byte order mark', () => {
  const text = '\uFEFF// RingSocket\n{\n  /* ports */ "ports": [{ "port_number": 8080, "is_unencrypted": true, },],\n' +
    '  "apps": [{ "name": "a", "app_path": "app.ts", "endpoints": [{ "endpoint_id": 0, "url": "ws://h:8080", },], },],\n}\n';
  const r = check(text);
  assert.equal(r.errors, []);
  assert.is(r.config!.apps[0].endpoints[0].path, '/');
});

Defaults('keeps absolute app paths and resolves relative ones against the config directory', () => {
  const doc = minimal();
  doc.apps[0].app_path = join(dir, 'other.mjs');
  assert.is(check(doc).config!.apps[0].app_path, join(dir, 'other.mjs'));
  doc.apps[0].app_path = './sub/../app.ts';
  assert.is(check(doc).config!.apps[0].app_path, join(dir, 'app.ts'));
});

Defaults('warns about keys that have no effect and ports no endpoint uses', () => {
  const doc = { ...minimal(), realloc_multiplier: 2, owrefs_elem_c: 5000, epoll_buf_elem_c: 10, update_queue_size: 3 };
  doc.ports.push({ port_number: 9000, is_unencrypted: true });
  doc.apps[0].update_queue_size = 2;
  const r = check(doc);
  assert.equal(r.errors, []);
  assert.is(r.config!.update_queue_size, 3);
  assert.is(r.config!.apps[0].update_queue_size, 2);
  assert.equal(r.warnings.map((w) => [w.path, w.message]), [
    ['$.apps[0].update_queue_size', 'has no effect: rings publish with sequentially consistent atomics; there is no delay queue'],
    ['$.realloc_multiplier', 'has no effect: buffers never grow: rings have a fixed capacity and use back-pressure'],
    ['$.owrefs_elem_c', 'has no effect: outbound messages are not tracked with write references: every client has its own bounded queue'],
    ['$.epoll_buf_elem_c', 'has no effect: libuv runs the event loop; there is no epoll event buffer to size'],
    ['$.update_queue_size', 'has no effect: rings publish with sequentially consistent atomics; there is no delay queue'],
    ['$.ports[1]', 'no endpoint uses port 9000; every request on it is answered 404'],
  ]);
});

// ---------------------------------------------------------------------------------------------
const Errors = suite('config errors');

Errors('reports a syntax error with its line, column and JSON path', () => {
  const r = check('{\n  "ports": [\n    { "port_number": 8080 "is_unencrypted": true }\n  ]\n}\n');
  assert.equal(r.errors, [{
    path: '$.ports[0].is_unencrypted', file: cfgPath, line: 3, column: 27,
    message: 'syntax error: expected "," between elements, found "\\"is_unencrypted\\""',
  }]);
  assert.is(formatConfigErrors(r.errors),
    `${cfgPath}:3:27: $.ports[0].is_unencrypted: syntax error: expected "," between elements, found "\\"is_unencrypted\\""`);
});

Errors('reports an empty file and a root that is not an object', () => {
  assert.equal(errs('  \n'), [{ path: '$', message: 'the file is empty; expected a JSON object with at least "ports" and "apps"' }]);
  assert.equal(errs('[1]'), [{ path: '$', message: 'must be the configuration (a JSON object), found an array of 1' }]);
});

Errors('requires ports and apps', () => {
  assert.equal(errs({}), [
    { path: '$.ports', message: 'is required: a list of at least one port object, e.g. [{ "port_number": 8080, "is_unencrypted": true }]' },
    { path: '$.apps', message: 'is required: a list of at least one app object ({ "name", "app_path", "endpoints" })' },
  ]);
});

Errors('rejects unknown keys at every level, suggesting the closest known key', () => {
  const doc = { ...minimal(), idle_timout: 5, ping: 1 } as Record<string, unknown>;
  (doc.ports as Record<string, unknown>[])[0].ipv4_only = true;
  const app = (doc.apps as Record<string, unknown>[])[0];
  app.nmae = 'x';
  (app.endpoints as Record<string, unknown>[])[0].allowed_origin = [];
  assert.equal(errs(doc), [
    { path: '$.ports[0].ipv4_only', message: 'unknown key "ipv4_only"; did you mean "ipv4only"?' },
    { path: '$.apps[0].endpoints[0].allowed_origin', message: 'unknown key "allowed_origin"; did you mean "allowed_origins"?' },
    { path: '$.apps[0].nmae', message: 'unknown key "nmae"; did you mean "name"?' },
    { path: '$.idle_timout', message: 'unknown key "idle_timout"; did you mean "idle_timeout"?' },
    { path: '$.ping', message: 'unknown key "ping"; did you mean "ping_interval"?' },
  ]);
  assert.equal(errs({ ...minimal(), zzz: 1 }), [{ path: '$.zzz', message: `unknown key "zzz"; allowed here: ${GLOBAL_KEYS.join(', ')}` }]);
});

Errors('rejects a key given twice in one object', () => {
  const text = '{ "worker_c": 1, "worker_c": 2, "ports": [{"port_number": 80, "is_unencrypted": true}], ' +
    '"apps": [{"name": "a", "app_path": "app.ts", "endpoints": [{"endpoint_id": 1, "url": "ws://h"}]}] }';
  assert.equal(check(text).errors, [{ path: '$.worker_c', file: cfgPath, line: 1, column: 18, message: 'duplicate key "worker_c": each key may appear only once in an object' }]);
});

Errors('names the path, the value found and the range allowed for every global number', () => {
  const doc = {
    ...minimal(), log_level: 'warn', worker_c: 256, fd_alloc_c: 0, max_ws_msg_size: '16M', max_ws_fragment_c: 1.5,
    max_http_head_size: 100, worker_rbuf_size: 1000, realloc_multiplier: 3, owrefs_elem_c: 999, epoll_buf_elem_c: 9,
    update_queue_size: 0, shutdown_wait_http: 0, shutdown_wait_ws: 3601, idle_timeout: -1, ping_interval: null,
  };
  assert.equal(errs(doc), [
    { path: '$.log_level', message: 'must be one of "error", "warning", "notice", "info", "debug" (did you mean "warning"?), found "warn"' },
    { path: '$.worker_c', message: 'must be an integer from 0 to 255, found 256' },
    { path: '$.fd_alloc_c', message: 'must be an integer from 1 to 1048576, found 0' },
    { path: '$.max_ws_msg_size', message: 'must be an integer from 125 to 536870866 (511.99 MiB), found "16M"' },
    { path: '$.max_ws_fragment_c', message: 'must be an integer from 1 to 2147483647, found 1.5' },
    { path: '$.max_http_head_size', message: 'must be an integer from 256 to 65536 (64 KiB), found 100' },
    { path: '$.worker_rbuf_size', message: 'must be an integer from 65536 (64 KiB) to 1073741824 (1 GiB), found 1000' },
    { path: '$.realloc_multiplier', message: 'must be a number from 1.05 to 2.5, found 3' },
    { path: '$.owrefs_elem_c', message: 'must be an integer from 1000 to 4294967295, found 999' },
    { path: '$.epoll_buf_elem_c', message: 'must be an integer from 10 to 65535, found 9' },
    { path: '$.update_queue_size', message: 'must be an integer from 1 to 255, found 0' },
    { path: '$.shutdown_wait_http', message: 'must be a number of seconds from 0.001 to 3600, found 0' },
    { path: '$.shutdown_wait_ws', message: 'must be a number of seconds from 0.001 to 3600, found 3601' },
    { path: '$.idle_timeout', message: '0 (off) or a number of seconds from 0.001 to 86400, found -1'.replace(/^/, 'must be ') },
    { path: '$.ping_interval', message: 'must be 0 (off) or a number of seconds from 0.001 to 86400, found null' },
  ]);
});

Errors('checks the limits that depend on max_ws_msg_size', () => {
  const doc = {
    ...minimal(), max_ws_msg_size: 1000, max_ws_frame_chain_size: 999, max_client_outbound_size: 1013,
    inbound_ring_buf_size: 2091, outbound_ring_buf_size: GiB + 1,
  };
  assert.equal(errs(doc), [
    { path: '$.max_ws_frame_chain_size', message: 'must be an integer from 1000 (max_ws_msg_size) to 2147483647 (1.99 GiB), found 999' },
    { path: '$.max_client_outbound_size', message: 'must be an integer from 1014 (max_ws_msg_size + 14) to 68719476736 (64 GiB), found 1013' },
    { path: '$.inbound_ring_buf_size', message: 'must be an integer from 2092 (2.04 KiB) (2 × (max_ws_msg_size + 46)) to 1073741824 (1 GiB), found 2091' },
    { path: '$.outbound_ring_buf_size', message: 'must be an integer from 2092 (2.04 KiB) (2 × (max_ws_msg_size + 46)) to 1073741824 (1 GiB), found 1073741825' },
  ]);
  const ok = check({ ...doc, max_ws_frame_chain_size: 1000, max_client_outbound_size: 1014, inbound_ring_buf_size: 2092, outbound_ring_buf_size: 2092 });
  assert.equal(ok.errors, []);
  assert.is(ok.config!.inbound_ring_buf_size, 2092);
});

Errors('allows switching idle_timeout and ping_interval off, but wants ping_interval < idle_timeout', () => {
  assert.equal(errs({ ...minimal(), idle_timeout: 30, ping_interval: 30 }), [{
    path: '$.ping_interval',
    message: 'must be less than idle_timeout (30) when both are on, so that a ping can be answered before the idle timeout closes the connection (or set one of them to 0), found 30',
  }]);
  const off = check({ ...minimal(), idle_timeout: 0, ping_interval: 0.5 }).config!;
  assert.is(off.idle_timeout, 0);
  assert.is(off.ping_interval, 0.5);
  assert.is(check({ ...minimal(), idle_timeout: 0.25, ping_interval: 0 }).config!.idle_timeout, 0.25);
});

Errors('refuses a config whose shared memory exceeds 4 GiB, naming the keys to lower', () => {
  const doc = { ...minimal(), worker_c: 4, inbound_ring_buf_size: 300 * MiB, outbound_ring_buf_size: 512 * MiB };
  assert.equal(errs(doc), [{
    path: '$',
    message: 'the shared memory would need 4.02 GiB, more than the 4 GiB a WebAssembly memory can hold: rings 4 GiB ' +
      '(4 workers × 1 app × (inbound_ring_buf_size 300 MiB → 512 MiB + outbound_ring_buf_size 512 MiB)), worker read scratch 4 MiB ' +
      '(worker_c × worker_rbuf_size), worker output slabs 4 MiB (worker_c × 1 MiB), connection states 2.13 MiB (fd_alloc_c), app write buffers 1 MiB (wbuf_size of each app); ' +
      'lower worker_c, inbound_ring_buf_size and outbound_ring_buf_size (or max_ws_msg_size, which sets their default ' +
      'and minimum), worker_rbuf_size, fd_alloc_c or wbuf_size',
  }]);
  assert.equal(check({ ...doc, worker_c: 3 }).errors, []);
});

Errors('refuses the largest message size when its rings cannot fit even one worker', () => {
  const doc = { ...minimal(), max_ws_msg_size: 512 * MiB - 46 };
  const one = { ...env, availableParallelism: () => 3 };
  const r = check(doc, one);
  assert.equal(r.errors, []);
  assert.is(r.config!.worker_c, 1, 'lowered from 2');
  assert.is(r.config!.inbound_ring_buf_size, GiB, 'the default 2 × max_ws_msg_size + 1 MiB is capped at 1 GiB');
  doc.apps.push({ name: 'two', app_path: 'other.mjs', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/2' }] });
  const e = errs(doc, one);
  assert.is(e.length, 1);
  assert.is(e[0].path, '$');
  assert.match(e[0].message, /^the shared memory would need 4\.\d+ GiB, more than the 4 GiB a WebAssembly memory can hold: rings 4 GiB \(1 worker \(worker_c auto\) × 2 apps × \(inbound_ring_buf_size 1 GiB \+ outbound_ring_buf_size 1 GiB\)\)/);
});

Errors('reports every error of a file at once, in file order, with positions', () => {
  const text = [
    '{',
    '  "worker_c": -1,',
    '  "ports": [{ "port_number": 70000 }],',
    '  "apps": [{ "name": "", "app_path": "missing.ts", "endpoints": [{ "endpoint_id": 1, "url": "http://x" }] }]',
    '}',
  ].join('\n');
  const r = check(text);
  assert.equal(r.errors.map((e) => [e.line, e.column, e.path]), [
    [2, 15, '$.worker_c'],
    [3, 30, '$.ports[0].port_number'],
    [4, 22, '$.apps[0].name'],
    [4, 38, '$.apps[0].app_path'],
    [4, 93, '$.apps[0].endpoints[0].url'],
  ]);
  assert.equal(r.errors.map((e) => e.message), [
    'must be an integer from 0 to 255, found -1',
    'must be an integer from 1 to 65535, found 70000',
    'must be 1 to 32 bytes without control characters, found ""',
    `the app module ${join(dir, 'missing.ts')} does not exist`,
    'the scheme must be ws or wss, found "http", found "http://x"',
  ]);
});

// ---------------------------------------------------------------------------------------------
const Ports = suite('config ports');

Ports('rejects duplicate port numbers and mutually exclusive options', () => {
  const doc = minimal();
  doc.ports = [
    { port_number: 8080, is_unencrypted: true },
    { port_number: 8080, is_unencrypted: true },
    { port_number: 8081, ipv4only: true, ipv6only: true },
    { port_number: 8082, ip_addrs: ['127.0.0.1'], interface: 'lo', ipv4only: true },
    { port_number: 8083, interface: 'lo', ipv4_is_embedded_in_ipv6: true },
    { is_unencrypted: 'yes' },
  ];
  assert.equal(errs(doc), [
    { path: '$.ports[1].port_number', message: 'the port 8080 is already configured at $.ports[0]' },
    { path: '$.ports[2].ipv6only', message: 'cannot be true together with ipv4only: ipv4only, ipv6only and ipv4_is_embedded_in_ipv6 are mutually exclusive' },
    { path: '$.ports[3].interface', message: 'cannot be combined with ip_addrs: give either the addresses or the interface' },
    { path: '$.ports[3].ipv4only', message: 'cannot be true together with ip_addrs (the listed addresses already decide the IP version)' },
    { path: '$.ports[4].ipv4_is_embedded_in_ipv6', message: 'cannot be true together with interface: a dual-stack socket needs the wildcard address "::"' },
    { path: '$.ports[5].port_number', message: 'is required: an integer from 1 to 65535' },
    { path: '$.ports[5].is_unencrypted', message: 'must be true or false, found "yes"' },
  ]);
});

Ports('resolves the listen addresses of each port option', () => {
  const listen = (port: Record<string, unknown>) => {
    const doc = minimal();
    doc.ports = [{ port_number: 8080, is_unencrypted: true, ...port }];
    const r = check(doc);
    assert.equal(r.errors, []);
    return r.config!.ports[0].listen;
  };
  assert.equal(listen({ ipv4only: true }), [{ host: '0.0.0.0', ipv6Only: false }]);
  assert.equal(listen({ ipv6only: true }), [{ host: '::', ipv6Only: true }]);
  assert.equal(listen({ ipv4_is_embedded_in_ipv6: true }), [{ host: '::', ipv6Only: false }]);
  assert.equal(listen({ ip_addrs: ['127.0.0.1', '::1'] }), [{ host: '127.0.0.1', ipv6Only: false }, { host: '::1', ipv6Only: true }]);
  assert.equal(listen({ interface: 'lo' }), [{ host: '127.0.0.1', ipv6Only: false }, { host: '::1', ipv6Only: true }]);
  assert.equal(listen({ interface: 'lo', ipv6only: true }), [{ host: '::1', ipv6Only: true }]);
  assert.equal(listen({ interface: 'eth0' }), [{ host: '10.0.0.5', ipv6Only: false }, { host: 'fe80::1%eth0', ipv6Only: true }]);
});

Ports('validates ip_addrs and interface names', () => {
  const doc = minimal();
  doc.ports = [
    { port_number: 8080, is_unencrypted: true, ip_addrs: ['127.0.0.1', '::1', '0:0::1', 'localhost', 5] },
    { port_number: 8081, ip_addrs: [] },
    { port_number: 8082, interface: 'etho' },
    { port_number: 8083, interface: 'averyveryverylongname' },
    { port_number: 8084, interface: 'eth0', ipv6only: true },
  ];
  const e = { ...env, networkInterfaces: () => ({ lo: [iface('127.0.0.1', 'IPv4')], eth0: [iface('10.0.0.5', 'IPv4')] }) };
  assert.equal(errs(doc, e), [
    { path: '$.ports[0].ip_addrs[2]', message: 'the address "0:0::1" is listed twice (first at index 1)' },
    { path: '$.ports[0].ip_addrs[3]', message: 'must be an IPv4 or IPv6 address such as "127.0.0.1" or "::1", found "localhost"' },
    { path: '$.ports[0].ip_addrs[4]', message: 'must be an IPv4 or IPv6 address such as "127.0.0.1" or "::1", found 5' },
    { path: '$.ports[1].ip_addrs', message: 'must be a list of IPv4/IPv6 address strings with at least 1 element, found 0' },
    { path: '$.ports[2].interface', message: 'no network interface named "etho" on this host; did you mean "eth0"? (found: lo, eth0)' },
    { path: '$.ports[3].interface', message: 'must be a network interface name of 1 to 15 characters, found "averyveryverylongname"' },
    { path: '$.ports[4].interface', message: 'the network interface "eth0" has no IPv6 address to listen on' },
  ]);
});

Ports('resolves the real loopback interface of this machine', () => {
  const doc = minimal();
  doc.ports = [{ port_number: 8080, is_unencrypted: true, interface: 'lo', ipv4only: true }];
  const r = parseConfig(JSON.stringify(doc), cfgPath);
  assert.equal(r.errors, []);
  assert.equal(r.config!.ports[0].listen, [{ host: '127.0.0.1', ipv6Only: false }]);
});

// ---------------------------------------------------------------------------------------------
const Endpoints = suite('config endpoints');

Endpoints('checks that each URL names a configured port of the matching scheme', () => {
  const doc = minimal();
  doc.ports = [{ port_number: 8080, is_unencrypted: true }, { port_number: 443 }];
  doc.apps[0].endpoints = [
    { endpoint_id: 1, url: 'ws://localhost:9000/a' },
    { endpoint_id: 2, url: 'ws://localhost/a' },
    { endpoint_id: 3, url: 'wss://localhost:8080/a' },
    { endpoint_id: 4, url: 'ws://localhost:443/a' },
  ];
  assert.equal(errs(doc), [
    { path: '$.apps[0].endpoints[0].url', message: 'the port 9000 is not configured in $.ports (configured: 8080, 443), found "ws://localhost:9000/a"' },
    { path: '$.apps[0].endpoints[1].url', message: 'the port 80 (the ws default) is not configured in $.ports (configured: 8080, 443), found "ws://localhost/a"' },
    { path: '$.apps[0].endpoints[2].url', message: 'a wss:// URL needs a TLS port, but port 8080 has "is_unencrypted": true ($.ports[0]), found "wss://localhost:8080/a"' },
    { path: '$.apps[0].endpoints[2].url', message: 'no certificate in $.certs covers the host "localhost" ($.certs is empty or absent) (a wss endpoint needs one; "*.example.com" covers exactly one more label), found "wss://localhost:8080/a"' },
    { path: '$.apps[0].endpoints[3].url', message: 'a ws:// URL needs a port with "is_unencrypted": true, but port 443 is a TLS (wss) port ($.ports[1]; is_unencrypted defaults to false), found "ws://localhost:443/a"' },
  ]);
});

Endpoints('requires a certificate covering every wss host name (one-level wildcard)', () => {
  const doc = {
    ...minimal(),
    certs: [{ hostnames: ['example.com', '*.example.com'], privkey_path: 'tls/key.pem', pubchain_path: join(dir, 'tls', 'chain.pem') }],
  };
  doc.ports = [{ port_number: 443 }];
  doc.apps[0].endpoints = [
    { endpoint_id: 1, url: 'wss://example.com/' },
    { endpoint_id: 2, url: 'wss://WWW.Example.com/' },
    { endpoint_id: 3, url: 'wss://a.b.example.com/' },
    { endpoint_id: 4, url: 'wss://other.org/' },
  ];
  assert.equal(errs(doc), [
    { path: '$.apps[0].endpoints[2].url', message: 'no certificate in $.certs covers the host "a.b.example.com" (a wss endpoint needs one; "*.example.com" covers exactly one more label), found "wss://a.b.example.com/"' },
    { path: '$.apps[0].endpoints[3].url', message: 'no certificate in $.certs covers the host "other.org" (a wss endpoint needs one; "*.example.com" covers exactly one more label), found "wss://other.org/"' },
  ]);
  doc.apps[0].endpoints.splice(2);
  const c = check(doc).config!;
  assert.equal(c.certs, [{ hostnames: ['example.com', '*.example.com'], privkey_path: join(dir, 'tls', 'key.pem'), pubchain_path: join(dir, 'tls', 'chain.pem') }]);
  assert.equal(c.apps[0].endpoints[1].hostHeaders, ['www.example.com', 'www.example.com:443']);
});

Endpoints('validates certificate objects', () => {
  const doc = {
    ...minimal(),
    certs: [
      { hostnames: ['a.com', 'A.com', 'x.*.com'], privkey_path: 'tls/nokey.pem', pubchain_path: 'tls' },
      { hostnames: [] },
    ],
  };
  assert.equal(errs(doc), [
    { path: '$.certs[0].hostnames[1]', message: 'the host name "A.com" is already listed at $.certs[0].hostnames[0]' },
    { path: '$.certs[0].hostnames[2]', message: 'must be a host name, "*.domain" or an IP address: a wildcard is allowed only as the whole first label ("*.example.com"), found "x.*.com"' },
    { path: '$.certs[0].privkey_path', message: `the file ${join(dir, 'tls', 'nokey.pem')} does not exist` },
    { path: '$.certs[0].pubchain_path', message: `the file ${join(dir, 'tls')} is not a regular file` },
    { path: '$.certs[1].privkey_path', message: 'is required: the path of the private key PEM file' },
    { path: '$.certs[1].pubchain_path', message: 'is required: the path of the full certificate chain PEM file' },
    { path: '$.certs[1].hostnames', message: 'must be a list of host names with at least 1 element, found 0' },
  ]);
});

Endpoints('rejects duplicate endpoint ids within an app and duplicate URLs across apps', () => {
  const doc = minimal();
  doc.apps[0].endpoints = [
    { endpoint_id: 1, url: 'ws://localhost:8080/a' },
    { endpoint_id: 1, url: 'ws://localhost:8080/b' },
  ];
  doc.apps.push({ name: 'two', app_path: 'other.mjs', endpoints: [
    { endpoint_id: 1, url: 'ws://LOCALHOST:8080/a' },
    { endpoint_id: 2, url: 'ws://localhost:8080/A' },
  ] });
  assert.equal(errs(doc), [
    { path: '$.apps[0].endpoints[1].endpoint_id', message: 'the endpoint_id 1 is already used by $.apps[0].endpoints[0].endpoint_id in this app' },
    { path: '$.apps[1].endpoints[0].url', message: 'the same host, port and path is already used by $.apps[0].endpoints[0].url; every endpoint URL must be unique across all apps, found "ws://LOCALHOST:8080/a"' },
  ]);
});

Endpoints('accepts any path, including "/" and none', () => {
  const doc = minimal();
  doc.ports.push({ port_number: 80, is_unencrypted: true });
  doc.apps[0].endpoints = [
    { endpoint_id: 1, url: 'ws://localhost:8080' },
    { endpoint_id: 2, url: 'ws://127.0.0.1:8080/' },
    { endpoint_id: 3, url: 'ws://[::1]:8080/a/b:c/%20d' },
    { endpoint_id: 4, url: 'ws://example.com/x' },
  ];
  const eps = check(doc).config!.apps[0].endpoints.map(({ path, hostname, port, hostHeaders }) => ({ path, hostname, port, hostHeaders }));
  assert.equal(eps, [
    { path: '/', hostname: 'localhost', port: 8080, hostHeaders: ['localhost:8080'] },
    { path: '/', hostname: '127.0.0.1', port: 8080, hostHeaders: ['127.0.0.1:8080'] },
    { path: '/a/b:c/%20d', hostname: '[::1]', port: 8080, hostHeaders: ['[::1]:8080'] },
    { path: '/x', hostname: 'example.com', port: 80, hostHeaders: ['example.com', 'example.com:80'] },
  ]);
});

Endpoints('validates allowed_origins', () => {
  const doc = minimal();
  doc.apps[0].endpoints = [{
    endpoint_id: 1, url: 'ws://localhost:8080/',
    allowed_origins: ['https://Example.com', 'http://localhost:3000', 'null', 'https://example.com', 'http://a.com:80', 'http://a.com/', 7],
  }];
  assert.equal(errs(doc), [
    { path: '$.apps[0].endpoints[0].allowed_origins[3]', message: 'the origin "https://example.com" is listed twice' },
    { path: '$.apps[0].endpoints[0].allowed_origins[4]', message: 'browsers leave the default port out of an Origin: write "http://a.com", found "http://a.com:80"' },
    { path: '$.apps[0].endpoints[0].allowed_origins[5]', message: 'an origin has no path, query or fragment: write "http://a.com" (browsers send no trailing slash), found "http://a.com/"' },
    { path: '$.apps[0].endpoints[0].allowed_origins[6]', message: 'must be an origin string such as "https://example.com", found 7' },
  ]);
  doc.apps[0].endpoints[0].allowed_origins.splice(3);
  assert.equal(check(doc).config!.apps[0].endpoints[0].allowed_origins, ['https://example.com', 'http://localhost:3000', 'null']);
});

// ---------------------------------------------------------------------------------------------
const Apps = suite('config apps');

Apps('validates names, module paths, write buffers and flags', () => {
  const doc = minimal();
  doc.apps = [
    { name: 'echo', app_path: 'app.so', endpoints: [{ endpoint_id: 1, url: 'ws://h:8080/1' }], wbuf_size: 63, no_open_cb: 'true' },
    { name: 'echo', app_path: 'nope.ts', endpoints: [{ endpoint_id: 1, url: 'ws://h:8080/2' }], no_close_cb: 1 },
    { name: 'x'.repeat(33), app_path: 'tls', endpoints: [] },
    { app_path: 3, wbuf_size: 17 * MiB },
    'app',
  ];
  assert.equal(errs(doc), [
    { path: '$.apps[0].app_path', message: 'must name an ES module ending in .ts, .js or .mjs, found "app.so"' },
    { path: '$.apps[0].wbuf_size', message: 'must be an integer from 64 to 16777216 (16 MiB), found 63' },
    { path: '$.apps[0].no_open_cb', message: 'must be true or false, found "true"' },
    { path: '$.apps[1].name', message: 'the app name "echo" is already used by $.apps[0].name; app names must be unique' },
    { path: '$.apps[1].app_path', message: `the app module ${join(dir, 'nope.ts')} does not exist` },
    { path: '$.apps[1].no_close_cb', message: 'must be true or false, found 1' },
    { path: '$.apps[2].name', message: `must be 1 to 32 bytes without control characters, found "${'x'.repeat(33)}"` },
    { path: '$.apps[2].app_path', message: 'must name an ES module ending in .ts, .js or .mjs, found "tls"' },
    { path: '$.apps[2].endpoints', message: 'must be a list of endpoint objects with at least 1 element, found 0' },
    { path: '$.apps[3].name', message: "is required: the app's name (used in log lines), 1 to 32 bytes" },
    { path: '$.apps[3].endpoints', message: 'is required: a list of at least one endpoint object, e.g. [{ "endpoint_id": 1, "url": "ws://localhost:8080/" }]' },
    { path: '$.apps[3].app_path', message: 'must be a file path string, found 3' },
    { path: '$.apps[3].wbuf_size', message: 'must be an integer from 64 to 16777216 (16 MiB), found 17825792' },
    { path: '$.apps[4]', message: 'must be an app object (a JSON object), found "app"' },
  ]);
});

// ---------------------------------------------------------------------------------------------
const Load = suite('loadConfig');

Load('reads a file and reports one that cannot be read', () => {
  writeFileSync(cfgPath, JSON.stringify(minimal()));
  const r = loadConfig(cfgPath, env);
  assert.equal(r.errors, []);
  assert.is(r.config!.worker_c, 3);
  const missing = join(dir, 'absent.json');
  assert.equal(loadConfig(missing, env), {
    errors: [{ path: '$', file: missing, message: 'cannot read the configuration file: no such file' }], warnings: [],
  });
  assert.equal(loadConfig(dir, env).errors[0].message, 'cannot read the configuration file: it is a directory');
});

Load('loads the repository example config (ringsocket.json with apps/echo) without an error', () => {
  const r = loadConfig(new URL('../ringsocket.json', import.meta.url).pathname, env);
  assert.equal(r.errors, []);
});

Load('estimates exactly the shared memory the daemon lays out, from a heapBase above the real one', async () => {
  const heapBase = readHeapBase(await compileCore('shared'), 'shared');
  assert.ok(heapBase <= STATIC_RESERVE, `the module's heapBase ${heapBase} is at most STATIC_RESERVE ${STATIC_RESERVE}`);
  const second = { name: 'two', app_path: 'other.mjs', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/2' }] };
  for (const extra of [
    {}, { worker_c: 2, fd_alloc_c: 100, max_ws_msg_size: 1000, worker_rbuf_size: 65536 },
    { worker_c: 5, inbound_ring_buf_size: 300 * MiB }, { worker_c: 3, apps: [...minimal().apps, second] },
  ]) {
    const c = check({ ...minimal(), ...extra }).config!;
    const est = estimateSharedMemory(c);
    const layout = planDaemonMemory(c, STATIC_RESERVE);
    assert.is(est.total, layout.bytes, `estimate = layout for ${JSON.stringify(extra)}`);
    assert.is(est.rings + est.workerScratch + est.outputSlab + est.decoderStates + est.wakeLines + est.appWrite + est.metrics, est.total - STATIC_RESERVE, 'the parts add up');
    assert.ok(planDaemonMemory(c, heapBase).bytes <= est.total, 'the real layout is no larger');
  }
});

Load('counts each app\'s write buffer (wbuf_size) in the shared memory', () => {
  const small = check({ ...minimal(), apps: [{ ...minimal().apps[0], wbuf_size: 64 }] }).config!;
  const large = check({ ...minimal(), apps: [{ ...minimal().apps[0], wbuf_size: 16 * MiB }] }).config!;
  assert.is(estimateSharedMemory(large).appWrite - estimateSharedMemory(small).appWrite, 16 * MiB - 64);
  const layout = planDaemonMemory(large, STATIC_RESERVE);
  assert.is(layout.apps[0].writeSize, 16 * MiB);
  assert.ok(layout.apps[0].write >= STATIC_RESERVE && layout.apps[0].write + 16 * MiB <= layout.bytes, 'inside the memory');
});

Load('documents every key in the README', () => {
  const doc = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const key of new Set([...GLOBAL_KEYS, ...PORT_KEYS, ...CERT_KEYS, ...APP_KEYS, ...ENDPOINT_KEYS])) {
    assert.ok(doc.includes(`\`${key}\``), `README.md mentions ${key}`);
  }
});

for (const s of [Defaults, Errors, Ports, Endpoints, Apps, Load]) s.run();

// Keep ConfigError in use for type-checking the helper signatures.
export type { ConfigError };
