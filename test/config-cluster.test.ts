// The "cluster" config key (src/config/cluster.ts): Redis scale-out. Defaults, every bad value of
// every key with its JSONPath, the "did you mean" for unknown keys, and the Redis password kept
// out of every message (masked as ***).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.ts';
import { parseConfig, type ConfigEnv } from '../src/config/index.ts';
import {
  CLUSTER_KEYS, CLUSTER_MAX_PENDING, describeCluster, maskRedisUrl, redisUrlProblem,
} from '../src/config/cluster.ts';
import { nodeNumberOf } from '../src/cluster/ids.ts';
import { GLOBAL_KEYS, GiB, KiB, MiB } from '../src/config/schema.ts';

const dir = tempDir('rs-config-cluster-');
const cfgPath = join(dir, 'ringsocket.json');
writeFileSync(join(dir, 'app.ts'), 'export default {};\n');
const env: ConfigEnv = { availableParallelism: () => 2, networkInterfaces: () => ({}) };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
function doc(cluster: unknown): Doc {
  return {
    ...(cluster === undefined ? {} : { cluster }),
    ports: [{ port_number: 8080, is_unencrypted: true }],
    apps: [{ name: 'a', app_path: 'app.ts', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/a' }] }],
  };
}
const check = (cluster: unknown) => parseConfig(JSON.stringify(doc(cluster), null, 2), cfgPath, env);
const resolved = (cluster: unknown) => {
  const r = check(cluster);
  assert.equal(r.errors, []);
  return r.config!.cluster;
};
/** The errors as "path: message". */
function errors(cluster: unknown): string[] {
  const r = check(cluster);
  assert.is(r.config, undefined, 'refused');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}
const ok = { redis_url: 'redis://127.0.0.1:6379', node_id: 'node-a' };
const with_ = (extra: Doc) => ({ ...ok, ...extra });

const URL_WHAT = 'must be a redis:// or rediss:// (TLS) URL with a host, an optional port, user and password, ' +
  'and an optional database /0 to /15, e.g. "redis://127.0.0.1:6379", "rediss://user:password@redis.example:6380/2"';
const NODE_WHAT = 'a node name of 1 to 64 characters A-Z a-z 0-9 . _ -, unique in the cluster, e.g. "node-a"';
const PREFIX_WHAT = 'a prefix of 1 to 32 characters A-Z a-z 0-9 . _ : - (no braces), e.g. "ringsocket"';

const C = suite('config cluster');

C('absent: null (the daemon runs alone)', () => {
  assert.is(resolved(undefined), null);
});

C('minimal: redis_url and node_id, every default applied', () => {
  assert.equal(resolved(ok), {
    redis_url: 'redis://127.0.0.1:6379',
    node_id: 'node-a',
    node_number: nodeNumberOf('node-a'),
    key_prefix: 'ringsocket',
    max_pending_size: 16 * MiB,
  });
  assert.is(CLUSTER_MAX_PENDING.default, 16_777_216);
});

C('every key given', () => {
  const c = resolved({ redis_url: 'rediss://rs:pw@redis.example:6380/15', node_id: 'Node_1.eu-west', key_prefix: 'app:prod.v2_x-y', max_pending_size: 64 * KiB })!;
  assert.equal(c, {
    redis_url: 'rediss://rs:pw@redis.example:6380/15',
    node_id: 'Node_1.eu-west',
    node_number: nodeNumberOf('Node_1.eu-west'),
    key_prefix: 'app:prod.v2_x-y',
    max_pending_size: 65536,
  });
  assert.is(resolved(with_({ max_pending_size: 1 * GiB }))!.max_pending_size, 1 * GiB);
});

C('node_number is nodeNumberOf(node_id): 1 to 4095, the same for the same name', () => {
  const seen = new Set<number>();
  for (const id of ['node-a', 'node-b', 'a', 'x'.repeat(64), '0', 'web-01.example', 'N._-']) {
    const n = resolved(with_({ node_id: id }))!.node_number;
    assert.is(n, nodeNumberOf(id), id);
    assert.ok(n >= 1 && n <= 4095, `${id}: ${n}`);
    seen.add(n);
  }
  assert.ok(seen.size > 1, 'different names, different numbers');
});

C('redis_url: the forms that are accepted (kept as written)', () => {
  for (const url of [
    'redis://127.0.0.1', 'redis://127.0.0.1:6379', 'redis://localhost:1', 'redis://localhost:65535',
    'rediss://redis.example:6380', 'redis://[::1]:6379', 'redis://user:pass@h:6379', 'redis://:pass@h',
    'redis://user@h', 'redis://h/', 'redis://h/0', 'redis://h:6379/15', 'REDIS://H:6379',
    'redis://u:p%40ss@h/3',
  ]) {
    assert.is(redisUrlProblem(url), null, url);
    assert.is(resolved(with_({ redis_url: url }))!.redis_url, url, url);
  }
});

C('redis_url: every bad value, at $.cluster.redis_url, saying what a valid one looks like', () => {
  const cases: [unknown, string][] = [
    [6379, 'found 6379'],
    [null, 'found null'],
    [['redis://h'], 'found an array of 1'],
    ['', 'found "": it is empty'],
    [' redis://h', 'found " redis://h": it contains white space or a control character'],
    ['redis://h ', 'found "redis://h ": it contains white space or a control character'],
    ['127.0.0.1:6379', 'found "127.0.0.1:6379": it has no scheme (redis:// or rediss://)'],
    ['localhost', 'found "localhost": it has no scheme (redis:// or rediss://)'],
    ['localhost:6379', 'found "localhost:6379": the scheme is "localhost", not redis or rediss'],
    ['http://127.0.0.1:6379', 'found "http://127.0.0.1:6379": the scheme is "http", not redis or rediss'],
    ['unix:///run/redis.sock', 'found "unix:///run/redis.sock": the scheme is "unix", not redis or rediss'],
    ['redis:127.0.0.1', 'found "redis:127.0.0.1": it has no host'],
    ['redis:///0', 'found "redis:///0": it has no host'],
    ['redis://:6379', 'found "redis://:6379": it is not a URL'],
    ['redis://h:0', 'found "redis://h:0": the port 0 is not from 1 to 65535'],
    ['redis://h:65536', 'found "redis://h:65536": the port 65536 is not from 1 to 65535'],
    ['redis://h:99999/0', 'found "redis://h:99999/0": the port 99999 is not from 1 to 65535'],
    ['redis://h:port', 'found "redis://h:port": it is not a URL'],
    ['redis://h/16', 'found "redis://h/16": the path "/16" is not a database number /0 to /15'],
    ['redis://h/01', 'found "redis://h/01": the path "/01" is not a database number /0 to /15'],
    ['redis://h/-1', 'found "redis://h/-1": the path "/-1" is not a database number /0 to /15'],
    ['redis://h/db', 'found "redis://h/db": the path "/db" is not a database number /0 to /15'],
    ['redis://h/0/', 'found "redis://h/0/": the path "/0/" is not a database number /0 to /15'],
    ['redis://h/0?timeout=1', 'found "redis://h/0?timeout=1": a query or fragment is not allowed'],
    ['redis://h?', 'found "redis://h?": a query or fragment is not allowed'],
    ['redis://h#x', 'found "redis://h#x": a query or fragment is not allowed'],
  ];
  for (const [url, found] of cases) {
    assert.equal(errors(with_({ redis_url: url })), [`$.cluster.redis_url: ${URL_WHAT}, ${found}`], String(url));
  }
  assert.equal(errors({ node_id: 'node-a' }), [`$.cluster.redis_url: is required: ${URL_WHAT.replace(/^must be /, '')}`]);
});

C('node_id: required, 1 to 64 of A-Z a-z 0-9 . _ -', () => {
  assert.equal(errors({ redis_url: 'redis://h' }), [`$.cluster.node_id: is required: ${NODE_WHAT}`]);
  const cases: [unknown, string][] = [
    ['', '""'], ['x'.repeat(65), `"${'x'.repeat(65)}"`], ['node a', '"node a"'],
    ['node/a', '"node/a"'], ['node:a', '"node:a"'], ['{a}', '"{a}"'], ['nöde', '"nöde"'], [7, '7'], [true, 'true'], [null, 'null'],
  ];
  for (const [id, found] of cases) {
    assert.equal(errors(with_({ node_id: id })), [`$.cluster.node_id: must be ${NODE_WHAT}, found ${found}`], String(id));
  }
});

C('key_prefix: 1 to 32 of A-Z a-z 0-9 . _ : -, no braces', () => {
  assert.is(resolved(with_({ key_prefix: 'x'.repeat(32) }))!.key_prefix, 'x'.repeat(32));
  const cases: [unknown, string][] = [
    ['', '""'], ['x'.repeat(33), `"${'x'.repeat(33)}"`], ['rs{1}', '"rs{1}"'], ['rs}', '"rs}"'], ['a b', '"a b"'],
    ['a/b', '"a/b"'], ['a*', '"a*"'], [1, '1'], [false, 'false'], [{}, 'an object'],
  ];
  for (const [p, found] of cases) {
    assert.equal(errors(with_({ key_prefix: p })), [`$.cluster.key_prefix: must be ${PREFIX_WHAT}, found ${found}`], String(p));
  }
});

C('max_pending_size: an integer from 64 KiB to 1 GiB', () => {
  const what = 'must be an integer from 65536 (64 KiB) to 1073741824 (1 GiB)';
  for (const [v, found] of [[65535, '65535'], [1 * GiB + 1, '1073741825'], [0, '0'], [-1, '-1'], [65536.5, '65536.5'], ['16MiB', '"16MiB"'], [null, 'null']] as const) {
    assert.equal(errors(with_({ max_pending_size: v })), [`$.cluster.max_pending_size: ${what}, found ${found}`], String(v));
  }
});

C('not an object; an unknown key with a suggestion; every error at once', () => {
  const what = 'must be the cluster object, e.g. { "redis_url": "redis://127.0.0.1:6379", "node_id": "node-a" } (a JSON object)';
  assert.equal(errors('redis://h'), [`$.cluster: ${what}, found "redis://h"`]);
  assert.equal(errors(null), [`$.cluster: ${what}, found null`]);
  assert.equal(errors([ok]), [`$.cluster: ${what}, found an array of 1`]);
  assert.equal(errors(with_({ nodeid: 'x' })), ['$.cluster.nodeid: unknown key "nodeid"; did you mean "node_id"?']);
  assert.equal(errors(with_({ redis_ulr: 'x' })), ['$.cluster.redis_ulr: unknown key "redis_ulr"; did you mean "redis_url"?']);
  assert.equal(errors(with_({ keyprefix: 'x' })), ['$.cluster.keyprefix: unknown key "keyprefix"; did you mean "key_prefix"?']);
  assert.equal(errors(with_({ max_pending: 1 })), ['$.cluster.max_pending: unknown key "max_pending"; did you mean "max_pending_size"?']);
  assert.equal(errors(with_({ password: 'x' })), [`$.cluster.password: unknown key "password"; allowed here: ${CLUSTER_KEYS.join(', ')}`]);
  // A top-level near miss is suggested too.
  const r = parseConfig(JSON.stringify({ ...doc(undefined), clustr: ok }), cfgPath, env);
  assert.equal(r.errors.map((e) => `${e.path}: ${e.message}`), ['$.clustr: unknown key "clustr"; did you mean "cluster"?']);
  // Every problem in one run, each with its path.
  assert.equal(errors({ redis_url: 'http://h', node_id: '', key_prefix: '{', max_pending_size: 1 }).map((e) => e.split(':')[0]),
    ['$.cluster.redis_url', '$.cluster.node_id', '$.cluster.key_prefix', '$.cluster.max_pending_size']);
});

C('an error has the line and column of the value', () => {
  const text = '{\n  "cluster": {\n    "redis_url": "redis://h:0",\n    "node_id": "n"\n  },\n' +
    '  "ports": [{ "port_number": 8080, "is_unencrypted": true }],\n' +
    '  "apps": [{ "name": "a", "app_path": "app.ts", "endpoints": [{ "endpoint_id": 1, "url": "ws://localhost:8080/a" }] }]\n}\n';
  const r = parseConfig(text, cfgPath, env);
  assert.equal(r.errors.map((e) => [e.path, e.line, e.column]), [['$.cluster.redis_url', 3, 18]]);
});

C('the password is masked as *** in every message and summary', () => {
  assert.is(maskRedisUrl('redis://user:s3cret@h:6379/1'), 'redis://user:***@h:6379/1');
  assert.is(maskRedisUrl('rediss://:s3cret@h'), 'rediss://:***@h');
  assert.is(maskRedisUrl('redis://u:p@ss@h/0'), 'redis://u:***@h/0', 'the user part ends at the last @');
  assert.is(maskRedisUrl('redis://u:p%40ss:x@h'), 'redis://u:***@h');
  assert.is(maskRedisUrl('redis://user@h:6379'), 'redis://user@h:6379', 'no password: unchanged');
  assert.is(maskRedisUrl('redis://user:@h'), 'redis://user:@h', 'an empty password: nothing to hide');
  assert.is(maskRedisUrl('redis://h:6379/0'), 'redis://h:6379/0');
  assert.is(maskRedisUrl('redis://h/x@y:z'), 'redis://h/x@y:z', 'an @ in the path is not a user part');
  assert.is(maskRedisUrl('not a url'), 'not a url');
  // Invalid URLs that carry a password: the error shows it masked.
  for (const url of ['redis://u:s3cret@h:0', 'redis://u:s3cret@h/99', 'http://u:s3cret@h', 'redis://u:s3cret@h?x', 'redis://u:s3cret@h:99999']) {
    const e = errors(with_({ redis_url: url }));
    assert.is(e.length, 1, url);
    assert.not.match(e[0], /s3cret/, url);
    assert.match(e[0], /u:\*\*\*@h/, url);
  }
  const c = resolved(with_({ redis_url: 'rediss://rs:s3cret@10.0.0.2:6380/2', node_id: 'node-a' }))!;
  assert.is(c.redis_url, 'rediss://rs:s3cret@10.0.0.2:6380/2', 'the config keeps the real one');
  assert.is(describeCluster(c), `node "node-a" (node number ${nodeNumberOf('node-a')}) via rediss://rs:***@10.0.0.2:6380/2`);
  assert.is(describeCluster(resolved(ok)!), `node "node-a" (node number ${nodeNumberOf('node-a')}) via redis://127.0.0.1:6379`);
});

C('"cluster" is a top-level key, and the README documents it and its keys', () => {
  assert.ok((GLOBAL_KEYS as readonly string[]).includes('cluster'));
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const key of ['cluster', ...CLUSTER_KEYS]) assert.ok(readme.includes(`| \`${key}\` |`), `README.md has a row for ${key}`);
});

C.run();
