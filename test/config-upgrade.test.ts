// Configuration keys of issue 11 parts 2 and 3: an endpoint's `subprotocols` and the top-level
// `upgrade_timeout`.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type ConfigEnv } from '../src/config/index.ts';

const dir = tempDir('rs-config-upgrade-');
const cfgPath = join(dir, 'ringsocket.json');
writeFileSync(join(dir, 'app.ts'), 'export default {};\n');
const env: ConfigEnv = { availableParallelism: () => 2, networkInterfaces: () => ({}) };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
function doc(endpoint: Doc = {}, global: Doc = {}): Doc {
  return {
    ...global,
    ports: [{ port_number: 8080, is_unencrypted: true }],
    apps: [{ name: 'a', app_path: 'app.ts', endpoints: [{ endpoint_id: 1, url: 'ws://localhost:8080/a', ...endpoint }] }],
  };
}
const check = (d: Doc) => parseConfig(JSON.stringify(d, null, 2), cfgPath, env);
function errs(d: Doc) {
  const r = check(d);
  assert.is(r.config, undefined, 'no config when there are errors');
  return r.errors.map(({ path, message }) => ({ path, message }));
}

const Sub = suite('config: subprotocols');

Sub('absent: none', () => {
  const r = check(doc());
  assert.equal(r.errors, []);
  assert.equal(r.config!.apps[0].endpoints[0].subprotocols, []);
});

Sub('a list of distinct tokens is kept in order', () => {
  const r = check(doc({ subprotocols: ['chat.v2', 'chat.v1', "x!#$%&'*+-.^_`|~"] }));
  assert.equal(r.errors, []);
  assert.equal(r.config!.apps[0].endpoints[0].subprotocols, ['chat.v2', 'chat.v1', "x!#$%&'*+-.^_`|~"]);
});

Sub('errors name the path: not a list, empty, too long, not a string, not a token, repeated', () => {
  const P = '$.apps[0].endpoints[0].subprotocols';
  assert.equal(errs(doc({ subprotocols: 'chat' })), [{ path: P, message: 'must be a list of subprotocol names (tokens such as "chat.v2"), found "chat"' }]);
  assert.equal(errs(doc({ subprotocols: [] })), [{ path: P, message: 'must be a list of subprotocol names (tokens such as "chat.v2") with 1 to 255 elements, found 0' }]);
  const many = Array.from({ length: 256 }, (_, i) => `p${i}`);
  assert.equal(errs(doc({ subprotocols: many })), [{ path: P, message: 'must be a list of subprotocol names (tokens such as "chat.v2") with 1 to 255 elements, found 256' }]);
  assert.equal(errs(doc({ subprotocols: [1] })), [{ path: `${P}[0]`, message: 'must be a subprotocol name string, found 1' }]);
  for (const bad of ['', 'a b', 'a,b', 'chat/1', '"q"', 'caf\u00e9']) {
    const e = errs(doc({ subprotocols: ['ok', bad] }));
    assert.is(e.length, 1, JSON.stringify(bad));
    assert.is(e[0].path, `${P}[1]`);
    assert.match(e[0].message, /^must be a token \(RFC 9110 §5\.6\.2/);
  }
  assert.equal(errs(doc({ subprotocols: ['a', 'b', 'a'] })), [{ path: `${P}[2]`, message: 'the subprotocol "a" is listed twice' }]);
  // Case matters (the client compares exactly): "a" and "A" are two.
  assert.equal(check(doc({ subprotocols: ['a', 'A'] })).errors, []);
});

Sub('the README documents the key', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  assert.match(readme, /\| `subprotocols` \|/);
});

const Timeout = suite('config: upgrade_timeout');

Timeout('default 5 s; fractions allowed; 0 and out of range refused', () => {
  assert.is(check(doc()).config!.upgrade_timeout, 5);
  assert.is(check(doc({}, { upgrade_timeout: 0.25 })).config!.upgrade_timeout, 0.25);
  for (const bad of [0, -1, 3601, '5']) {
    assert.equal(errs(doc({}, { upgrade_timeout: bad })), [{
      path: '$.upgrade_timeout', message: `must be a number of seconds from 0.001 to 3600, found ${JSON.stringify(bad)}`,
    }], String(bad));
  }
});

Timeout('the README documents the key with its default', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  assert.match(readme, /\| `upgrade_timeout` \| number \(s\) \| `5` \|/);
});

Sub.run();
Timeout.run();
