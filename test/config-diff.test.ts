// diffConfig: what a reload (SIGHUP) changes, and whether each change is live or needs a restart.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.ts';
import { parseConfig, type Config, type ConfigEnv } from '../src/config/index.ts';
import { diffConfig, describeChange, same, LIVE_GLOBALS, RESTART_GLOBALS } from '../src/config/diff.ts';
import { GLOBAL_KEYS } from '../src/config/schema.ts';

const dir = tempDir('rs-diff-');
writeFileSync(join(dir, 'a.ts'), 'export default {};\n');
writeFileSync(join(dir, 'b.ts'), 'export default {};\n');
for (const f of ['k1.pem', 'c1.pem', 'k2.pem', 'c2.pem']) writeFileSync(join(dir, f), 'x');
const env: ConfigEnv = { availableParallelism: () => 4, networkInterfaces: () => ({}) };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const base = (): Doc => ({
  worker_c: 2,
  ports: [{ port_number: 8080, is_unencrypted: true }, { port_number: 8443 }],
  certs: [{ hostnames: ['localhost'], privkey_path: 'k1.pem', pubchain_path: 'c1.pem' }],
  apps: [
    { name: 'a', app_path: 'a.ts', endpoints: [
      { endpoint_id: 1, url: 'ws://localhost:8080/a', allowed_origins: ['https://x.example'] },
      { endpoint_id: 2, url: 'wss://localhost:8443/a', subprotocols: ['v1'] },
    ] },
    { name: 'b', app_path: 'b.ts', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/b' }] },
  ],
});
function cfg(doc: Doc): Config {
  const r = parseConfig(JSON.stringify(doc), join(dir, 'ringsocket.json'), env);
  assert.equal(r.errors, [], 'the test config is valid');
  return r.config!;
}
/** The diff of base() and base() changed by `edit`, as [live paths, restart paths]. */
function paths(edit: (d: Doc) => void): [string[], string[]] {
  const d = base();
  edit(d);
  const r = diffConfig(cfg(base()), cfg(d));
  return [r.live.map((c) => c.path), r.restart.map((c) => c.path)];
}

const Diff = suite('diffConfig');

Diff('the same file: no change', () => {
  assert.equal(diffConfig(cfg(base()), cfg(base())), { live: [], restart: [] });
});

Diff('log_level and log_format are live, with their values', () => {
  const d = base();
  d.log_level = 'debug';
  d.log_format = 'json';
  const r = diffConfig(cfg(base()), cfg(d));
  assert.equal(r.restart, []);
  assert.equal(r.live, [
    { path: '$.log_level', from: '"notice"', to: '"debug"' },
    { path: '$.log_format', from: '"text"', to: '"json"' },
  ]);
  assert.is(describeChange(r.live[0]), '$.log_level: "notice" -> "debug"');
});

Diff('per-connection and per-tick limits are live', () => {
  const limits: Doc = {
    max_ws_frame_chain_size: 30_000_000, max_ws_fragment_c: 10, max_http_head_size: 4096,
    max_client_outbound_size: 64 << 20, max_worker_outbound_size: 2 << 20, max_worker_inbound_size: 256 << 20,
    shutdown_wait_http: 3, shutdown_wait_ws: 4, idle_timeout: 60, ping_interval: 20, app_stall_timeout: 5,
    ws_msg_timeout: 10, upgrade_timeout: 2, realloc_multiplier: 2, owrefs_elem_c: 2000, epoll_buf_elem_c: 20, update_queue_size: 3,
  };
  const [live, restart] = paths((d) => Object.assign(d, limits));
  assert.equal(restart, []);
  // The apps' update_queue_size defaults to the global one.
  const expected = [...Object.keys(limits).map((k) => `$.${k}`), '$.apps[0].update_queue_size', '$.apps[1].update_queue_size'];
  assert.equal(live.sort(), expected.sort());
});

Diff('what sizes the shared memory or the threads needs a restart, with the reason', () => {
  const sizes: Doc = {
    worker_c: 3, fd_alloc_c: 500, max_ws_msg_size: 1 << 20, worker_rbuf_size: 128 << 10,
    inbound_ring_buf_size: 64 << 20, outbound_ring_buf_size: 64 << 20, permessage_deflate: true, user: 'nobody', group: 'nogroup',
  };
  const d = base();
  Object.assign(d, sizes);
  const r = diffConfig(cfg(base()), cfg(d));
  // max_ws_msg_size also moves the limits derived from it (live keys): reported, and refused with the rest.
  assert.equal(r.live.map((c) => c.path), ['$.max_ws_frame_chain_size', '$.max_client_outbound_size']);
  // Endpoints inherit the global permessage_deflate.
  const inherited = ['$.apps[0].endpoints[0].permessage_deflate', '$.apps[0].endpoints[1].permessage_deflate', '$.apps[1].endpoints[0].permessage_deflate'];
  assert.equal(r.restart.map((c) => c.path).sort(), [...Object.keys(sizes).map((k) => `$.${k}`), ...inherited].sort());
  const w = r.restart.find((c) => c.path === '$.worker_c')!;
  assert.equal([w.from, w.to], ['2', '3']);
  assert.match(describeChange(w), /^\$\.worker_c: 2 -> 3 \(needs a restart: worker threads are started once; it sizes the shared memory/);
});

Diff('every global key is classified, and none twice', () => {
  const known = new Set([...LIVE_GLOBALS, ...Object.keys(RESTART_GLOBALS), 'certs']);
  for (const k of GLOBAL_KEYS as readonly string[]) if (k !== 'metrics') assert.ok(known.has(k), `${k} is classified`);
  for (const k of LIVE_GLOBALS) assert.not.ok(k in RESTART_GLOBALS, k);
});

Diff('an unknown top-level key (a newer feature) needs a restart', () => {
  const a = cfg(base());
  const b = { ...cfg(base()), metrics: { port_number: 9100 } } as Config;
  const r = diffConfig(a, b);
  assert.equal(r.live, []);
  assert.equal(r.restart.map((c) => [c.path, c.why]), [['$.metrics', 'a reload cannot change it']]);
});

Diff('cluster needs a restart: added, removed, each key; the Redis password never shown', () => {
  const why = RESTART_GLOBALS.cluster;
  assert.ok(why);
  const url = 'redis://rs:s3cret@127.0.0.1:6379/1';
  const withCluster = (c: Doc = {}) => ({ ...base(), cluster: { redis_url: url, node_id: 'node-a', ...c } });
  // Added and removed: one change each, the whole object with the password masked.
  let r = diffConfig(cfg(base()), cfg(withCluster()));
  assert.equal(r.live, []);
  assert.equal(r.restart.map((c) => [c.path, c.from, c.why]), [['$.cluster', 'none', why]]);
  assert.match(r.restart[0].to, /"redis_url":"redis:\/\/rs:\*\*\*@127\.0\.0\.1:6379\/1"/);
  assert.match(r.restart[0].to, /"node_id":"node-a"/);
  r = diffConfig(cfg(withCluster()), cfg(base()));
  assert.equal(r.restart.map((c) => [c.path, c.to]), [['$.cluster', 'none']]);
  // Each key: its own change; node_number follows node_id and is not listed apart.
  r = diffConfig(cfg(withCluster()), cfg(withCluster({ redis_url: 'rediss://rs:other@10.0.0.2:6380', node_id: 'node-b', key_prefix: 'rs2', max_pending_size: 1 << 20 })));
  assert.equal(r.live, []);
  assert.equal(r.restart.map((c) => [c.path, c.from, c.to, c.why]), [
    ['$.cluster.redis_url', '"redis://rs:***@127.0.0.1:6379/1"', '"rediss://rs:***@10.0.0.2:6380"', why],
    ['$.cluster.node_id', '"node-a"', '"node-b"', why],
    ['$.cluster.key_prefix', '"ringsocket"', '"rs2"', why],
    ['$.cluster.max_pending_size', '16777216', '1048576', why],
  ]);
  // Only the password: still a change, said so without showing either.
  r = diffConfig(cfg(withCluster()), cfg(withCluster({ redis_url: 'redis://rs:n3w@127.0.0.1:6379/1' })));
  assert.equal(r.restart.map((c) => [c.path, c.from, c.to]), [
    ['$.cluster.redis_url', '"redis://rs:***@127.0.0.1:6379/1"', '"redis://rs:***@127.0.0.1:6379/1" (the password changed)'],
  ]);
  for (const c of r.restart) assert.not.match(describeChange(c), /s3cret|n3w/);
  assert.equal(diffConfig(cfg(withCluster()), cfg(withCluster())), { live: [], restart: [] });
});

Diff('certificates are live: paths, host names, added and removed', () => {
  assert.equal(paths((d) => { d.certs[0].privkey_path = 'k2.pem'; d.certs[0].pubchain_path = 'c2.pem'; }),
    [['$.certs[0].privkey_path', '$.certs[0].pubchain_path'], []]);
  assert.equal(paths((d) => { d.certs[0].hostnames = ['localhost', '127.0.0.1']; }), [['$.certs[0].hostnames'], []]);
  assert.equal(paths((d) => { d.certs.push({ hostnames: ['b.example'], privkey_path: 'k2.pem', pubchain_path: 'c2.pem' }); }), [['$.certs[1]'], []]);
  const d = base();
  d.certs.push({ hostnames: ['b.example'], privkey_path: 'k2.pem', pubchain_path: 'c2.pem' });
  const r = diffConfig(cfg(d), cfg(base()));
  assert.equal(r.live, [{ path: '$.certs[1]', from: 'b.example', to: 'removed' }]);
});

Diff('allowed_origins is live; url, subprotocols, endpoint deflate and endpoints added or removed need a restart', () => {
  assert.equal(paths((d) => { d.apps[0].endpoints[0].allowed_origins = ['https://y.example']; }), [['$.apps[0].endpoints[0].allowed_origins'], []]);
  assert.equal(paths((d) => { d.apps[0].endpoints[1].allowed_origins = ['https://y.example']; }), [['$.apps[0].endpoints[1].allowed_origins'], []]);
  assert.equal(paths((d) => { d.apps[0].endpoints[0].url = 'ws://localhost:8080/a2'; }), [[], ['$.apps[0].endpoints[0].url']]);
  assert.equal(paths((d) => { d.apps[0].endpoints[1].subprotocols = ['v2', 'v1']; }), [[], ['$.apps[0].endpoints[1].subprotocols']]);
  assert.equal(paths((d) => { d.apps[1].endpoints[0].permessage_deflate = true; }), [[], ['$.apps[1].endpoints[0].permessage_deflate']]);
  assert.equal(paths((d) => { d.apps[1].endpoints.push({ endpoint_id: 7, url: 'ws://localhost:8080/b7' }); }), [[], ['$.apps[1].endpoints[1]']]);
  assert.equal(paths((d) => { d.apps[0].endpoints.splice(0, 1); }), [[], ['$.apps[0].endpoints[0]']]);
  // Endpoints are matched by id: a new order is no change.
  assert.equal(paths((d) => { d.apps[0].endpoints.reverse(); }), [[], []]);
});

Diff('apps: name, path, wbuf_size, added or removed need a restart; the no-effect keys are live', () => {
  assert.equal(paths((d) => { d.apps[1].name = 'c'; }), [[], ['$.apps[1].name']]);
  assert.equal(paths((d) => { d.apps[1].app_path = 'a.ts'; }), [[], ['$.apps[1].app_path']]);
  assert.equal(paths((d) => { d.apps[1].wbuf_size = 4096; }), [[], ['$.apps[1].wbuf_size']]);
  assert.equal(paths((d) => { d.apps[1].no_open_cb = true; d.apps[1].update_queue_size = 9; }), [['$.apps[1].no_open_cb', '$.apps[1].update_queue_size'], []]);
  assert.equal(paths((d) => { d.apps.pop(); }), [[], ['$.apps[1]']]);
  const [, r] = paths((d) => { d.apps.reverse(); });
  assert.ok(r.includes('$.apps[0].name') && r.includes('$.apps[1].name'), 'apps are matched by position');
});

Diff('ports need a restart', () => {
  assert.equal(paths((d) => { d.ports[0].ip_addrs = ['127.0.0.1']; }), [[], ['$.ports[0].ip_addrs']]);
  const [, r] = paths((d) => { d.ports.push({ port_number: 9000, is_unencrypted: true }); });
  assert.equal(r, ['$.ports[2]']);
});

Diff('a worker_c resolved automatically to the same count is no change', () => {
  const d = base();
  d.worker_c = 0; // 4 CPUs - 2 apps = 2
  assert.equal(diffConfig(cfg(base()), cfg(d)), { live: [], restart: [] });
});

Diff('same() compares structure', () => {
  assert.ok(same({ a: [1, { b: null }] }, { a: [1, { b: null }] }));
  assert.not.ok(same({ a: 1 }, { a: 1, b: undefined }));
  assert.not.ok(same([1], { 0: 1 }));
  assert.not.ok(same([1, 2], [1]));
});

Diff.run();
