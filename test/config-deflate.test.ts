// The permessage_deflate key (src/config/deflate.ts): false, true or an object, at the top level
// and on an endpoint (which replaces the top-level value); defaults, ranges and error paths.
import { tempDir } from './helpers/tmp.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type ConfigEnv } from '../src/config/index.ts';
import { DEFLATE_DEFAULTS } from '../src/config/deflate.ts';

const dir = tempDir('rs-config-deflate-');
const cfgPath = join(dir, 'ringsocket.json');
writeFileSync(join(dir, 'app.ts'), 'export default {};\n');
const env: ConfigEnv = { availableParallelism: () => 2, networkInterfaces: () => ({}) };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
function doc(top?: unknown, endpoint?: unknown): Doc {
  const ep: Doc = { endpoint_id: 1, url: 'ws://localhost:8080/a' };
  if (endpoint !== undefined) ep.permessage_deflate = endpoint;
  const d: Doc = {
    ports: [{ port_number: 8080, is_unencrypted: true }],
    apps: [{ name: 'a', app_path: 'app.ts', endpoints: [ep, { endpoint_id: 2, url: 'ws://localhost:8080/b' }] }],
  };
  if (top !== undefined) d.permessage_deflate = top;
  return d;
}
const check = (d: Doc) => parseConfig(JSON.stringify(d, null, 2), cfgPath, env);
function errors(d: Doc) {
  const r = check(d);
  assert.is(r.config, undefined);
  return r.errors.map(({ path, message }) => ({ path, message }));
}

const T = suite('config permessage_deflate');

T('is off by default, at the top level and on every endpoint', () => {
  const c = check(doc()).config!;
  assert.is(c.permessage_deflate, false);
  assert.is(c.apps[0].endpoints[0].permessage_deflate, false);
  assert.is(c.apps[0].endpoints[1].permessage_deflate, false);
});

T('true means every default', () => {
  const c = check(doc(true)).config!;
  assert.equal(c.permessage_deflate, {
    server_no_context_takeover: true, client_no_context_takeover: false,
    server_max_window_bits: 15, client_max_window_bits: 15, threshold: 1024, max_contexts: 1024,
  });
  assert.equal(c.apps[0].endpoints[1].permessage_deflate, DEFLATE_DEFAULTS);
});

T('an object fills what it does not name with the defaults', () => {
  const c = check(doc({ client_no_context_takeover: true, server_max_window_bits: 10, threshold: 0 })).config!;
  assert.equal(c.permessage_deflate, { ...DEFLATE_DEFAULTS, client_no_context_takeover: true, server_max_window_bits: 10, threshold: 0 });
  assert.equal(check(doc({})).config!.permessage_deflate, DEFLATE_DEFAULTS);
});

T('an endpoint value replaces the top-level one for that endpoint only', () => {
  let c = check(doc(true, false)).config!;
  assert.is(c.apps[0].endpoints[0].permessage_deflate, false);
  assert.equal(c.apps[0].endpoints[1].permessage_deflate, DEFLATE_DEFAULTS);
  c = check(doc(undefined, { threshold: 10 })).config!;
  assert.is(c.permessage_deflate, false);
  assert.equal(c.apps[0].endpoints[0].permessage_deflate, { ...DEFLATE_DEFAULTS, threshold: 10 });
  assert.is(c.apps[0].endpoints[1].permessage_deflate, false);
  // Replaced, not merged: the endpoint object's missing keys take the defaults, not the top level's.
  c = check(doc({ threshold: 5, max_contexts: 3 }, { server_max_window_bits: 12 })).config!;
  assert.equal(c.apps[0].endpoints[0].permessage_deflate, { ...DEFLATE_DEFAULTS, server_max_window_bits: 12 });
  assert.equal(c.apps[0].endpoints[1].permessage_deflate, { ...DEFLATE_DEFAULTS, threshold: 5, max_contexts: 3 });
});

T('accepts the bounds of every number', () => {
  for (const [key, lo, hi] of [['server_max_window_bits', 8, 15], ['client_max_window_bits', 8, 15], ['threshold', 0, 2 ** 31 - 1], ['max_contexts', 0, 1_048_576]] as const) {
    assert.is((check(doc({ [key]: lo })).config!.permessage_deflate as Doc)[key], lo, `${key} ${lo}`);
    assert.is((check(doc({ [key]: hi })).config!.permessage_deflate as Doc)[key], hi, `${key} ${hi}`);
  }
});

T('names the path of a wrong type', () => {
  assert.equal(errors(doc('yes')), [{ path: '$.permessage_deflate', message: 'must be true, false or an object of permessage-deflate settings (server_no_context_takeover, client_no_context_takeover, server_max_window_bits, client_max_window_bits, threshold, max_contexts), found "yes"' }]);
  assert.equal(errors(doc(undefined, 1)).map((e) => e.path), ['$.apps[0].endpoints[0].permessage_deflate']);
  assert.equal(errors(doc({ server_no_context_takeover: 'no' })), [{ path: '$.permessage_deflate.server_no_context_takeover', message: 'must be true or false, found "no"' }]);
});

T('refuses out-of-range numbers with their ranges', () => {
  assert.equal(errors(doc({ client_max_window_bits: 7 })), [{ path: '$.permessage_deflate.client_max_window_bits', message: 'must be an integer from 8 to 15, found 7' }]);
  assert.equal(errors(doc({ client_max_window_bits: 16 })).map((e) => e.path), ['$.permessage_deflate.client_max_window_bits']);
  assert.equal(errors(doc({ server_max_window_bits: 7 })), [{ path: '$.permessage_deflate.server_max_window_bits', message: 'must be an integer from 8 to 15, found 7' }]);
  assert.equal(errors(doc(undefined, { threshold: -1 })).map((e) => e.path), ['$.apps[0].endpoints[0].permessage_deflate.threshold']);
  assert.equal(errors(doc({ max_contexts: 1.5 })).map((e) => e.path), ['$.permessage_deflate.max_contexts']);
});

T('refuses unknown and repeated keys', () => {
  const e = errors(doc({ server_max_window_bit: 10 }));
  assert.is(e.length, 1);
  assert.is(e[0].path, '$.permessage_deflate.server_max_window_bit');
  assert.match(e[0].message, 'did you mean "server_max_window_bits"');
  const text = JSON.stringify(doc()).replace('"ports"', '"permessage_deflate": {"threshold": 1, "threshold": 2}, "ports"');
  const r = parseConfig(text, cfgPath, env);
  assert.equal(r.errors.map((x) => x.path), ['$.permessage_deflate.threshold']);
  assert.match(r.errors[0].message, 'duplicate key');
});

T.run();
