// The operations keys (src/config/ops.ts): user, group and log_format; their defaults, types and
// messages, and `ringsocket --check` refusing a user that does not exist on the machine.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type ConfigEnv } from '../src/config/index.ts';
import { MAX_ACCOUNT_ID } from '../src/config/ops.ts';
import { root } from './helpers/daemon.ts';

const dir = tempDir('rs-config-ops-');
const cfgPath = join(dir, 'ringsocket.json');
writeFileSync(join(dir, 'app.ts'), 'export default {};\n');
const env: ConfigEnv = { availableParallelism: () => 2, networkInterfaces: () => ({}) };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
function doc(extra: Doc = {}): Doc {
  return {
    ...extra,
    ports: [{ port_number: 8080, is_unencrypted: true }],
    apps: [{ name: 'a', app_path: 'app.ts', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/a' }] }],
  };
}
const check = (d: Doc) => parseConfig(JSON.stringify(d, null, 2), cfgPath, env);
function errors(d: Doc) {
  const r = check(d);
  assert.is(r.config, undefined);
  return r.errors.map(({ path, message }) => ({ path, message }));
}

const T = suite('config user, group, log_format');

T('defaults: no user, no group, text logs', () => {
  const r = check(doc());
  assert.equal(r.errors, []);
  assert.is(r.config!.user, null);
  assert.is(r.config!.group, null);
  assert.is(r.config!.log_format, 'text');
});

T('takes names and numeric ids', () => {
  let c = check(doc({ user: 'ringsocket', group: 'www-data', log_format: 'json' })).config!;
  assert.equal([c.user, c.group, c.log_format], ['ringsocket', 'www-data', 'json']);
  c = check(doc({ user: 65534, group: 0 })).config!;
  assert.equal([c.user, c.group], [65534, 0]);
  c = check(doc({ user: MAX_ACCOUNT_ID })).config!;
  assert.is(c.user, MAX_ACCOUNT_ID);
});

T('refuses other values, with the path and what was found', () => {
  const what = (key: string, id: string) =>
    `must be a ${key} name (a non-empty string without ":" or white space) or a numeric ${id} from 0 to ${MAX_ACCOUNT_ID}`;
  assert.equal(errors(doc({ user: '' })), [{ path: '$.user', message: `${what('user', 'uid')}, found ""` }]);
  assert.equal(errors(doc({ user: 'a b' })), [{ path: '$.user', message: `${what('user', 'uid')}, found "a b"` }]);
  assert.equal(errors(doc({ user: -1 })), [{ path: '$.user', message: `${what('user', 'uid')}, found -1` }]);
  assert.equal(errors(doc({ user: 1.5 })), [{ path: '$.user', message: `${what('user', 'uid')}, found 1.5` }]);
  assert.equal(errors(doc({ user: 2 ** 32 - 1 })), [{ path: '$.user', message: `${what('user', 'uid')}, found 4294967295` }]);
  assert.equal(errors(doc({ user: 'x', group: ['g'] })), [{ path: '$.group', message: `${what('group', 'gid')}, found an array of 1` }]);
  assert.equal(errors(doc({ user: 'x', group: 'a:b' })), [{ path: '$.group', message: `${what('group', 'gid')}, found "a:b"` }]);
});

T('log_format: "text" or "json", with a suggestion for a near miss', () => {
  assert.equal(errors(doc({ log_format: 'jsno' })), [{ path: '$.log_format', message: 'must be one of "text", "json" (did you mean "json"?), found "jsno"' }]);
  assert.equal(errors(doc({ log_format: 'JSON' })), [{ path: '$.log_format', message: 'must be one of "text", "json" (did you mean "json"?), found "JSON"' }]);
  assert.equal(errors(doc({ log_format: 1 })), [{ path: '$.log_format', message: 'must be one of "text", "json", found 1' }]);
});

T('group without user is a warning (it has no effect)', () => {
  const r = check(doc({ group: 'www-data' }));
  assert.ok(r.config);
  assert.equal(r.warnings.map(({ path, message }) => ({ path, message })), [{ path: '$.group', message: 'has no effect without "user"' }]);
});

T('an error here and one elsewhere are reported together', () => {
  const d = doc({ user: '', log_format: 'xml' });
  d.apps[0].name = '';
  const paths = errors(d).map((e) => e.path);
  assert.ok(paths.includes('$.user') && paths.includes('$.log_format') && paths.includes('$.apps[0].name'), paths.join(', '));
});

// ----------------------------------------------------------------------------------------------

const Check = suite('ringsocket --check and the user');

function runCheck(extra: Doc) {
  const file = join(dir, `check-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc(extra)));
  return spawnSync(process.execPath, [join(root, 'bin', 'ringsocket.mjs'), '--check', file], { encoding: 'utf8', timeout: 20000 });
}

Check('a user that does not exist is a configuration error', () => {
  const r = runCheck({ user: 'rs-no-such-user-x' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /\$\.user: user "rs-no-such-user-x" does not exist on this machine \(create it, e\.g\. useradd --system/);
  assert.is(r.stdout, '');
});

Check('a group that does not exist is a configuration error', () => {
  const r = runCheck({ user: 'root', group: 'rs-no-such-group-x' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /\$\.group: group "rs-no-such-group-x" does not exist on this machine/);
});

Check('an existing user passes', () => {
  const r = runCheck({ user: 'root', group: 0, log_format: 'json' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^config OK: /);
});

T.run();
Check.run();
