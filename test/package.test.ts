// What `npm i ringsocket` gives a user, tried as a user would, outside this repository: the packed
// tarball installed into a fresh project, a starter from `ringsocket init`, a typed app of the
// project's own type-checked with tsc against the shipped declarations, and the daemon started
// from the installed package serving both apps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
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

/**
 * tsc over `files` of the consumer project `dir`, with a tsconfig of its own (tsconfig.<name>.json):
 * strict, the shipped declarations checked too, no @types/node.
 */
function typecheck(dir: string, name: string, files: string[], lib = ['es2023', 'dom']) {
  const config = join(dir, `tsconfig.${name}.json`);
  writeFileSync(config, JSON.stringify({
    compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [], skipLibCheck: false, lib },
    files,
  }));
  return runTsc(['-p', config]);
}

Package('the shipped declarations type-check the consumer’s app, inferred callback types included', async (ctx) => {
  writeFileSync(join(ctx.dir, 'sum.ts'), TYPED_APP);
  const ok = await typecheck(ctx.dir, 'app', ['sum.ts', 'starter/app.ts']);
  assert.is(ok.code, 0, ok.out);
  writeFileSync(join(ctx.dir, 'bad.ts'), BAD_APP);
  const bad = await typecheck(ctx.dir, 'bad', ['bad.ts']);
  assert.is.not(bad.code, 0, 'a wrong type for a schema value is a compile error');
  assert.match(bad.out, /bad\.ts\(5,11\): error TS2322: Type 'number' is not assignable to type 'string'/);
  assert.match(bad.out, /bad\.ts\(6,11\): error TS2322: Type 'string' is not assignable to type 'number'/);
});

const PAGE = `// A page's code (or any client's) against ringsocket/client and ringsocket/codec.
import { connect, encode, decode, defineMessage, encodeMessage, ntoh, str, RingSocketSchemaError, type Client } from 'ringsocket/client';
import { createCodec, readFrameHeader, CloseCode, type Codec, type CodecEvent } from 'ringsocket/codec';

export const request = defineMessage({ kind: 'binary', schema: [ntoh.i32, ntoh.u16.between(1, 10)] });
export const hello = defineMessage({ kind: 'text', schema: [str(1, 32)] });
const sum = [ntoh.i64] as const;

export function roundTrip(): { i: number; u16s: number[]; text: string } {
  const bytes: Uint8Array<ArrayBuffer> = encode(request.schema, -5, [1, 2, 65535]);
  const [i, u16s] = decode(request.schema, bytes);
  const text: string = encodeMessage(hello, 'hi');
  try {
    encode(request.schema, 1, [70000]);
  } catch (err) {
    if (!(err instanceof RingSocketSchemaError)) throw err;
  }
  return { i, u16s: [...u16s], text };
}

export async function frames(): Promise<{ frame: Uint8Array; masked: boolean; events: CodecEvent[]; closeCode: number }> {
  const codec: Codec = await createCodec();
  const frame: Uint8Array = codec.frame('text', 'hi', Uint8Array.of(1, 2, 3, 4));
  const events = codec.decode(frame, { from: 'client' });
  return { frame, masked: readFrameHeader(frame)?.masked ?? false, events, closeCode: CloseCode.NORMAL };
}

export async function askSum(url: string | URL, signal?: AbortSignal): Promise<bigint> {
  const client: Client = await connect(url);
  signal?.addEventListener('abort', () => client.close());
  client.send(request, 1, [2]);
  for await (const m of client) if (typeof m !== 'string') return decode(sum, m)[0];
  throw new Error('closed before the sum');
}
`;

const BAD_PAGE = `import { encode, decode, ntoh } from 'ringsocket/client';
import { createCodec } from 'ringsocket/codec';

const schema = [ntoh.i32, ntoh.u16.between(1, 10)] as const;
encode(schema, 'five', [1]); // a string for the int32
const wrong: string = decode(schema, new Uint8Array(8))[0]; // the int32 is a number
void wrong;
void (await createCodec()).frame('close', 'x'); // close frames are close()'s
`;

Package('ringsocket/client and ringsocket/codec type-check in the consumer’s code with lib es2023 + dom (app-only code needs no dom)', async (ctx) => {
  writeFileSync(join(ctx.dir, 'page.ts'), PAGE);
  const ok = await typecheck(ctx.dir, 'page', ['page.ts']);
  assert.is(ok.code, 0, ok.out);
  writeFileSync(join(ctx.dir, 'bad-page.ts'), BAD_PAGE);
  const bad = await typecheck(ctx.dir, 'bad-page', ['bad-page.ts']);
  assert.is.not(bad.code, 0, 'wrong values for a message are compile errors');
  assert.match(bad.out, /bad-page\.ts\(5,16\): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/);
  assert.match(bad.out, /bad-page\.ts\(6,7\): error TS2322: Type 'number' is not assignable to type 'string'/);
  assert.match(bad.out, /bad-page\.ts\(8,34\): error TS2345: Argument of type '"close"' is not assignable to parameter of type 'FrameKind'/);
  // The documented requirement: the client and codec declarations use the DOM lib's WebSocket,
  // URL, AbortSignal and WebAssembly; an app alone does not.
  const nodom = await typecheck(ctx.dir, 'page-nodom', ['page.ts'], ['es2023']);
  assert.is.not(nodom.code, 0, 'without the DOM lib the client and codec declarations do not type-check');
  assert.match(nodom.out, /ringsocket\/dist\/(client|codec)\/[a-z]+\.d\.ts\(\d+,\d+\): error TS(2304: Cannot find name 'URL'|2503: Cannot find namespace 'WebAssembly')/);
  const app = await typecheck(ctx.dir, 'app-nodom', ['sum.ts', 'starter/app.ts'], ['es2023']);
  assert.is(app.code, 0, `an app-only project type-checks without the DOM lib:\n${app.out}`);
});

Package('nothing but the exports is importable; ringsocket/client and ringsocket/codec load and work in Node', (ctx) => {
  // As a user would try it: node -e "import('ringsocket/dist/app/index.js')" in the project.
  for (const spec of ['ringsocket/dist/app/index.js', 'ringsocket/dist/codec/index.js', 'ringsocket/dist/client/index.js',
    'ringsocket/src/app/index.ts', 'ringsocket/src/client/index.ts', 'ringsocket/build/ringsocket.private.wasm', 'ringsocket/bin/ringsocket.mjs']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(spec)})`], { cwd: ctx.dir, env, encoding: 'utf8', timeout: 30_000 });
    assert.is.not(r.status, 0, `import('${spec}') fails`);
    assert.match(r.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/, `import('${spec}'): ${r.stderr}`);
  }
  const script = `
    const { encode, decode, encodeMessage, defineMessage, ntoh, str, RingSocketSchemaError } = await import('ringsocket/client');
    const { createCodec, readFrameHeader } = await import('ringsocket/codec');
    await import('ringsocket');
    const schema = [ntoh.i32, ntoh.u16.between(1, 10)];
    const bytes = encode(schema, -5, [1, 2, 65535]);
    const [i, u16s] = decode(schema, bytes);
    let refused = null;
    try { encode(schema, 1, [70000]); } catch (err) { refused = err instanceof RingSocketSchemaError ? err.code : String(err); }
    const codec = await createCodec();
    const frame = codec.frame('binary', bytes, Uint8Array.of(1, 2, 3, 4));
    const events = codec.decode(frame, { from: 'client' });
    console.log(JSON.stringify({
      bytes: Buffer.from(bytes).toString('hex'), i, u16s: [...u16s], refused,
      text: encodeMessage(defineMessage({ kind: 'text', schema: [str(1, 32)] }), 'hi'),
      frame: Buffer.from(frame).toString('hex'), masked: readFrameHeader(frame).masked,
      events: events.map((e) => [e.type, Buffer.from(e.data).toString('hex')]),
    }));`;
  const r = run(process.execPath, ['--input-type=module', '-e', script], ctx.dir);
  assert.equal(JSON.parse(r.stdout), {
    bytes: 'fffffffb00010002ffff', i: -5, u16s: [1, 2, 65535], refused: 'RS_SCHEMA_BAD_VALUE', text: 'hi',
    frame: '828a01020304fefdfcff01030306fefd', masked: true, events: [['binary', 'fffffffb00010002ffff']],
  });
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
