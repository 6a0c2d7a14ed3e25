// What `npm i ringsocket` gives a user, tried as a user would, outside this repository: the packed
// tarball installed into a fresh project, a starter from `ringsocket init`, a typed app of the
// project's own type-checked with tsc against the shipped declarations, and the daemon started
// from the installed package serving both apps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { runTsc } from './helpers/tsc.ts';
import { freePort } from './helpers/ports.ts';
import { withDeadline } from './helpers/deadline.ts';
import { collectOutput, waitForLine } from './helpers/child-output.ts';
import { npmEnv as env, run, packTarball, installTarball } from './helpers/package.ts';

const Package = suite<{ dir: string; tarball: string; files: string[] }>('package', { dir: '', tarball: '', files: [] });

Package.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'rs-consumer-'));
});
Package.after((ctx) => {
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

Package('npm pack builds a tarball with the JavaScript, declarations and .wasm builds, and no tests or sources', (ctx) => {
  ({ tarball: ctx.tarball, files: ctx.files } = packTarball(ctx.dir));
  const has = (p: string) => ctx.files.includes(p);
  for (const p of ['package.json', 'README.md', 'bin/ringsocket.mjs', 'bin/node-check.mjs', 'build/ringsocket.shared.wasm',
    'build/ringsocket.private.wasm', 'dist/app/index.js', 'dist/app/index.d.ts', 'dist/cli/main.js', 'dist/daemon/worker.js',
    'dist/daemon/app-thread.js', 'dist/codec/index.js', 'dist/client/index.js']) {
    assert.ok(has(p), `${p} is in the tarball`);
  }
  const stray = ctx.files.filter((p) => /^(test|assembly|src|bench|scripts|apps|docs)\//.test(p) || (p.endsWith('.ts') && !p.endsWith('.d.ts')));
  assert.equal(stray, [], 'no tests, sources or repository tooling');
});

Package('installs into a project outside the repository; init writes a starter', (ctx) => {
  installTarball(ctx.dir, ctx.tarball);
  assert.ok(existsSync(join(ctx.dir, 'node_modules', 'ringsocket', 'dist', 'app', 'index.js')));
  const r = run(join(ctx.dir, 'node_modules', '.bin', 'ringsocket'), ['init', 'starter'], ctx.dir);
  assert.match(r.stdout, /wrote .*starter\/ringsocket\.json/);
  assert.match(r.stdout, /wrote .*starter\/app\.ts/);
  assert.match(readFileSync(join(ctx.dir, 'starter', 'app.ts'), 'utf8'), /from 'ringsocket'/);
  assert.match(readFileSync(join(ctx.dir, 'starter', 'ringsocket.json'), 'utf8'), /\/\/\s*"allowed_origins": \["http:\/\/localhost:5173"\]/,
    'the starter config says how to let a browser page in');
  const check = run(join(ctx.dir, 'node_modules', '.bin', 'ringsocket'), ['--check', 'starter/ringsocket.json'], ctx.dir);
  assert.match(check.stdout + check.stderr, /config OK: .*starter\/ringsocket\.json/);
  const again = run(join(ctx.dir, 'node_modules', '.bin', 'ringsocket'), ['init', 'starter'], ctx.dir);
  assert.match(again.stdout, /kept .*app\.ts \(it exists\)/);
});

const TYPED_APP = `// The consumer's own app: sums two big-endian (network order) i32 and answers with the i64 sum
// in host order.
import { defineApp, readBin, ntoh, RS_BIN } from 'ringsocket';

export default defineApp({
  read: readBin([ntoh.i32, ntoh.i32], (rs, a, b) => {
    const sum: number = a + b; // a and b are inferred as number from the schema
    rs.wI64(BigInt(sum)).toCur(RS_BIN);
  }),
});
`;

const BAD_APP = `import { defineApp, readBin, net, str } from 'ringsocket';

export default defineApp({
  read: readBin([net.i32, str(1, 10)], (_rs, a, s) => {
    const wrong: string = a; // a is a number: a type error
    const alsoWrong: number = s; // s is a string
    void wrong; void alsoWrong;
  }),
});
`;

Package('the shipped declarations type-check the consumer’s app, inferred callback types included', async (ctx) => {
  writeFileSync(join(ctx.dir, 'sum.ts'), TYPED_APP);
  const tsconfig = (files: string[]) => JSON.stringify({
    compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [], skipLibCheck: false, lib: ['es2023', 'dom'] },
    files,
  });
  writeFileSync(join(ctx.dir, 'tsconfig.json'), tsconfig(['sum.ts', 'starter/app.ts']));
  const ok = await runTsc(['-p', join(ctx.dir, 'tsconfig.json')]);
  assert.is(ok.code, 0, ok.out);
  writeFileSync(join(ctx.dir, 'bad.ts'), BAD_APP);
  writeFileSync(join(ctx.dir, 'tsconfig.bad.json'), tsconfig(['bad.ts']));
  const bad = await runTsc(['-p', join(ctx.dir, 'tsconfig.bad.json')]);
  assert.is.not(bad.code, 0, 'a wrong type for a schema value is a compile error');
  assert.match(bad.out, /bad\.ts\(5,11\): error TS2322: Type 'number' is not assignable to type 'string'/);
  assert.match(bad.out, /bad\.ts\(6,11\): error TS2322: Type 'string' is not assignable to type 'number'/);
});

Package('the installed daemon serves the consumer’s apps (npx ringsocket)', async (ctx) => {
  const port = await freePort();
  writeFileSync(join(ctx.dir, 'ringsocket.json'), JSON.stringify({
    log_level: 'info', worker_c: 1,
    ports: [{ port_number: port, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
    apps: [
      { name: 'hello', app_path: 'starter/app.ts', endpoints: [{ endpoint_id: 1, url: `ws://127.0.0.1:${port}/hello` }] },
      { name: 'sum', app_path: 'sum.ts', endpoints: [{ endpoint_id: 1, url: `ws://127.0.0.1:${port}/sum` }] },
    ],
  }));
  const daemon = spawn(join(ctx.dir, 'node_modules', '.bin', 'ringsocket'), ['ringsocket.json'], { cwd: ctx.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(daemon);
  try {
    await waitForLine(output, /ready: /, 20_000);
    const talk = (path: string, data: Buffer | string) => withDeadline(new Promise<Buffer>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      ws.on('open', () => ws.send(data));
      ws.on('message', (m: Buffer) => { resolve(m); ws.close(); });
      ws.on('error', reject);
    }), 5000, `a reply on ${path}`);
    assert.is((await talk('/hello', 'hi there')).toString(), 'hi there');
    const q = Buffer.alloc(8);
    q.writeInt32BE(2_000_000_000, 0);
    q.writeInt32BE(2_000_000_000, 4);
    const sum = await talk('/sum', q);
    assert.is(sum.length, 8);
    assert.is(sum.readBigInt64LE(0), 4_000_000_000n, `sum bytes ${sum.toString('hex')}`);
  } finally {
    if (daemon.exitCode === null) daemon.kill('SIGTERM');
  }
  const code = await output.exited;
  const out = output.text();
  assert.is(code, 0, out);
  assert.match(out, /client \d+ connected/, 'the starter app ran (its open callback logged)');
});

Package.run();
