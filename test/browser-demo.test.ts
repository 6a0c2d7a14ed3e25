// The demo (apps/demo, npm run demo) in headless Chromium, on the INSTALLED package: two people
// chat through the page, silly-calc from its form (a value outside the schema refused, nothing
// sent), every message in the frame inspector with the bytes Node's codec makes for it; and the
// demo server started as `npm run demo` starts it stops with its daemon on Ctrl-C, exit status 0.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { root, startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { launchChromium, pageProblems, requireChromium } from './helpers/browser.ts';
import { installPackage, importMapFor, npmEnv, type InstalledPackage } from './helpers/package.ts';
import { freePort } from './helpers/ports.ts';
import { withDeadline } from './helpers/deadline.ts';
import { rawExchange } from './helpers/client.ts';
import { collectOutput, waitForLine } from './helpers/child-output.ts';
import { startDemoServer, type StaticServer } from '../apps/demo/serve.ts';

type CodecModule = typeof import('../src/codec/index.ts');

interface Ctx {
  installed?: InstalledPackage;
  demo?: StaticServer;
  browser?: Browser;
  d?: RunningDaemon;
  codec?: Awaited<ReturnType<CodecModule['createCodec']>>;
  pages: { page: Page; problems: string[] }[];
}
const Demo = suite<Ctx>('browser: the demo page (apps/demo) on the installed package', { pages: [] });

const { stopTest } = daemonSuite(Demo, async (ctx) => {
  requireChromium();
  ctx.installed = installPackage();
  const pagePort = await freePort();
  ctx.d = await startDaemon({
    apps: [
      { name: 'chat', app_path: 'apps/chat/app.ts', paths: ['/chat'], allowed_origins: [`http://127.0.0.1:${pagePort}`] },
      { name: 'silly-calc', app_path: 'apps/silly-calc/app.ts', paths: ['/silly-calc'], allowed_origins: [`http://127.0.0.1:${pagePort}`] },
    ],
  });
  ctx.demo = await startDemoServer({ port: pagePort, ws: `ws://127.0.0.1:${ctx.d.port}`, packageRoot: ctx.installed.pkg });
  const installedCodec = (await import(pathToFileURL(join(ctx.installed.pkg, 'dist', 'codec', 'index.js')).href)) as CodecModule;
  ctx.codec = await installedCodec.createCodec();
  ctx.browser = await launchChromium();
  for (let i = 0; i < 2; i++) {
    const page = await (await ctx.browser.newContext()).newPage();
    const problems = pageProblems(page);
    await page.goto(`${ctx.demo.origin}/`);
    ctx.pages.push({ page, problems });
  }
}, 'installing the package, starting the daemon, the demo server and Chromium');

Demo.after(async (ctx) => {
  // Never throws (uvu would lose the report): Chromium first, then the page server, then the project.
  try { await ctx.browser?.close(); } catch { /* already gone */ }
  try { await ctx.demo?.close(); } catch { /* already closed */ }
  ctx.installed?.remove();
});

const ready = async (p: { page: Page; problems: string[] }) => {
  try {
    await p.page.waitForSelector('#status[data-state="ready"]', { timeout: 10_000 });
  } catch (err) {
    throw new Error(`the demo page did not connect: status "${await p.page.textContent('#status')}"; page problems: ${p.problems.join('\n') || 'none'}\n${(err as Error).message}`);
  }
};

interface FrameEntry { dir: string; channel: string; hex: string; events: string[] }
const frames = (page: Page): Promise<FrameEntry[]> => page.$$eval('#frames li', (lis) => lis.map((li) => {
  const d = (li as HTMLElement).dataset;
  return { dir: d.dir!, channel: d.channel!, hex: d.hex!, events: JSON.parse(d.events!) as string[] };
}));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

Demo('the page’s import map names what the installed package exports', (ctx) => {
  const html = readFileSync(join(root, 'apps', 'demo', 'index.html'), 'utf8');
  const map = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]) as { imports: Record<string, string> };
  const exported = importMapFor(ctx.installed!.pkg, '/ringsocket/').imports;
  for (const [name, url] of Object.entries(map.imports)) assert.is(url, exported[name], name);
  assert.equal(Object.keys(map.imports).sort(), ['ringsocket/client', 'ringsocket/codec']);
});

Demo('two people chat in the page; each message is in the inspector as the frame Node’s codec makes', async (ctx) => {
  const [a, b] = ctx.pages;
  await ready(a);
  await ready(b);
  const text = 'hello from the demo ✓ 笑';
  await a.page.fill('#say-text', text);
  await a.page.click('#say-send');
  await b.page.waitForFunction((t) => document.getElementById('chat-log')!.textContent!.includes(t), text, { timeout: 5000 });
  assert.match(await b.page.textContent('#chat-log') ?? '', `: ${text}`);

  // A's inspector: the sent "say" (case byte 0, then the text) as a masked client frame; Node's
  // codec makes the same bytes with the key the page picked.
  const sent = (await frames(a.page)).find((f) => f.dir === 'sent' && f.channel === 'chat')!;
  assert.ok(sent, 'the sent message is in the inspector');
  const bytes = Buffer.from(sent.hex, 'hex');
  const key = bytes.subarray(2, 6); // 7-bit length form: the key follows the 2 header bytes
  assert.is(bytes[1] & 0x80, 0x80, 'masked');
  assert.is(sent.hex, hexOf(ctx.codec!.frame('text', `\u0000${text}`, key)));
  assert.equal(sent.events, [`text ${JSON.stringify(`\u0000${text}`)}`], 'decoded back as the daemon reads it');

  // B's inspector: the received "say" event as the daemon's unmasked frame.
  // The entry's decoded event is `text "<the JSON the app sent>"`.
  const eventOf = (f: FrameEntry) => JSON.parse(JSON.parse(f.events[0].slice('text '.length)) as string) as { type: string; text: string; name: string };
  const got = (await frames(b.page)).find((f) => f.dir === 'received' && f.channel === 'chat' && eventOf(f).type === 'say')!;
  assert.ok(got, 'the received message is in the inspector');
  const json = eventOf(got);
  assert.is(json.text, text);
  assert.is(got.hex, hexOf(ctx.codec!.serverFrame('text', JSON.stringify(json))));
  // every entry shows its bytes and header
  assert.match(await b.page.textContent('#frames li .header') ?? '', /FIN · opcode 1 \(text\) · unmasked/);
  assert.equal([...a.problems, ...b.problems], []);
});

Demo('silly-calc from the form: the sum and the reply; a value outside the schema refused, nothing sent', async (ctx) => {
  const [a] = ctx.pages;
  await ready(a);
  await a.page.fill('#calc-i32', '-5');
  await a.page.fill('#calc-u16s', '1, 2, 65535');
  await a.page.click('#calc-send');
  await a.page.waitForFunction(() => document.getElementById('calc-sum')!.textContent === '65533', null, { timeout: 5000 });
  await a.page.waitForFunction(() => document.getElementById('calc-reply')!.textContent === '笑笑?', null, { timeout: 5000 });
  const calcFrames = (await frames(a.page)).filter((f) => f.channel.startsWith('silly-calc'));
  const request = calcFrames.find((f) => f.dir === 'sent')!;
  assert.equal(request.events, ['binary 10 bytes: ff ff ff fb 00 01 00 02 ff ff'], 'int32 -5 and three uint16, network order');
  const sum = calcFrames.find((f) => f.channel === 'silly-calc (listener)')!;
  assert.is(sum.hex, '8208' + '000000000000fffd', 'the int64 sum 65533 in an unmasked binary frame');

  const sentBefore = (await frames(a.page)).filter((f) => f.dir === 'sent').length;
  await a.page.fill('#calc-u16s', '70000');
  await a.page.click('#calc-send');
  await a.page.waitForFunction(() => document.getElementById('calc-error')!.textContent !== '', null, { timeout: 5000 });
  assert.match(await a.page.textContent('#calc-error') ?? '', /refused in the page, nothing sent: RS_SCHEMA_BAD_VALUE/);
  await a.page.fill('#calc-u16s', Array(11).fill('1').join(','));
  await a.page.click('#calc-send');
  await a.page.waitForFunction(() => document.getElementById('calc-error')!.textContent!.includes('WRONG_SIZE'), null, { timeout: 5000 });
  assert.match(await a.page.textContent('#calc-error') ?? '', /RS_SCHEMA_WRONG_SIZE \(the app would close with 4900\)/);
  assert.is((await frames(a.page)).filter((f) => f.dir === 'sent').length, sentBefore, 'no frame was sent for the refused values');
  // Still open: a valid request afterwards is answered (the sum on the listener, the reply on the
  // asker), and so is one on chat. Had the page sent a refused value, the daemon would have closed
  // the connection before answering.
  await a.page.fill('#calc-i32', '7');
  await a.page.fill('#calc-u16s', '1, 2');
  await a.page.click('#calc-send');
  await a.page.waitForFunction(() => document.getElementById('calc-sum')!.textContent === '10', null, { timeout: 5000 });
  await a.page.waitForFunction(() => document.getElementById('calc-reply')!.textContent === '笑笑?', null, { timeout: 5000 });
  const lists = () => a.page.$$eval('#chat-log li', (lis) => lis.filter((li) => li.textContent!.startsWith('here: ')).length);
  const listsBefore = await lists();
  await a.page.click('#list-send');
  await a.page.waitForFunction((n) => Array.from(document.querySelectorAll('#chat-log li')).filter((li) => li.textContent!.startsWith('here: ')).length > n, listsBefore, { timeout: 5000 });
  assert.is((await frames(a.page)).filter((f) => f.dir === 'sent').length, sentBefore + 2, 'the valid request and the list were sent');
  assert.match(await a.page.textContent('#status') ?? '', /^connected/, 'the connections are still open');
  assert.equal(a.problems, []);
});

/** GET `target` exactly as given (fetch would resolve `..` and `%2e%2e` before sending it). */
async function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  const res = (await rawExchange(port, [`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`])).toString('latin1');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(res);
  if (!m) throw new Error(`GET ${target}: not an HTTP response: ${JSON.stringify(res.slice(0, 200))}`);
  return { status: Number(m[1]), body: res.slice(res.indexOf('\r\n\r\n') + 4) };
}

Demo('the page server serves nothing outside what it serves: traversal in any spelling gets 404 or 400', async (ctx) => {
  const port = ctx.demo!.port;
  // What a weakened guard would give away: the '/' mount (apps/demo, .html/.js/.css) reaching the
  // repository's node_modules/ws/index.js, the '/ringsocket/' mount (dist/ and build/ only) reaching
  // the package's package.json and the consumer project's.
  const targets = [
    '/../../package.json', '/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/%2e%2e%2f%2e%2e%2fpackage.json',
    '/..%5c..%5cpackage.json', '/.%2e/.%2e/package.json', '/index.html%00', '/index.html%00.js', '/%00', '//etc/passwd',
    '//../../etc/passwd', `http://127.0.0.1:${port}/../package.json`, `http://127.0.0.1:${port}/..%2f..%2fpackage.json`,
    '/..%2f..%2fnode_modules%2fws%2findex.js', '/%2e%2e%2f%2e%2e%2fnode_modules/ws/index.js', '/..%5c..%5cnode_modules%5cws%5cindex.js',
    '/ringsocket/package.json', '/ringsocket/dist/..%2fpackage.json', '/ringsocket/dist/%2e%2e%2fpackage.json',
    '/ringsocket/dist%2f..%2fpackage.json', '/ringsocket/dist/..%2f..%2f..%2fpackage.json', '/ringsocket/build/..%5c..%5cpackage.json',
    '/ringsocket/dist/codec/index.js%00', '/serve.ts', '/ringsocket/dist/../package.json',
  ];
  for (const target of targets) {
    const r = await rawGet(port, target);
    assert.ok(r.status === 404 || r.status === 400, `GET ${target}: status ${r.status}, body ${JSON.stringify(r.body.slice(0, 200))}`);
    assert.ok(r.body === 'not found\n' || r.body === 'bad path\n', `GET ${target}: ${JSON.stringify(r.body.slice(0, 200))}`);
  }
  // the same requests find what is served
  assert.is((await rawGet(port, '/ringsocket/dist/codec/index.js')).status, 200);
  assert.is((await rawGet(port, '/%69ndex.html')).status, 200);
  assert.is((await rawGet(port, `http://127.0.0.1:${port}/demo.js`)).status, 200);
});

Demo('the demo server as npm run demo runs it: serves the page and stops with its daemon on Ctrl-C (exit status 0)', async (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-demo-'));
  const [wsPort, pagePort] = [await freePort(), await freePort()];
  const config = join(dir, 'ringsocket.json');
  writeFileSync(config, JSON.stringify({
    log_level: 'notice', worker_c: 1,
    ports: [{ port_number: wsPort, is_unencrypted: true, ip_addrs: ['127.0.0.1'] }],
    apps: [{ name: 'chat', app_path: join(root, 'apps/chat/app.ts'), endpoints: [{ endpoint_id: 1, url: `ws://127.0.0.1:${wsPort}/chat`, allowed_origins: [`http://127.0.0.1:${pagePort}`] }] }],
  }));
  // Its own process group, as a terminal's foreground job: Ctrl-C sends SIGINT to the whole group.
  const proc = spawn(process.execPath, [join(root, 'apps/demo/serve.ts'), '--port', String(pagePort), '--config', config,
    '--ws', `ws://127.0.0.1:${wsPort}`, '--package', ctx.installed!.pkg], { cwd: root, env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output = collectOutput(proc);
  try {
    const open = await waitForLine(output, /demo: open/, 20_000);
    assert.match(open, new RegExp(`demo: open http://127\\.0\\.0\\.1:${pagePort}/ \\(the page connects to ws://127\\.0\\.0\\.1:${wsPort}\\)`));
    const base = `http://127.0.0.1:${pagePort}`;
    const get = async (path: string) => { const r = await fetch(base + path); return { status: r.status, type: r.headers.get('content-type'), body: await r.text() }; };
    assert.match((await get('/')).body, /<script type="importmap">/);
    assert.equal(JSON.parse((await get('/config.json')).body), { ws: `ws://127.0.0.1:${wsPort}` });
    const protocol = await get('/protocol/chat.js');
    assert.is(protocol.type, 'text/javascript; charset=utf-8');
    assert.match(protocol.body, /from 'ringsocket\/client'/);
    assert.not.match(protocol.body, /src\/client|export type|interface /, 'types stripped, import pointed at the package');
    assert.is((await get('/ringsocket/dist/codec/index.js')).status, 200);
    assert.is((await get('/ringsocket/build/ringsocket.private.wasm')).type, 'application/wasm');
    // (fetch resolves `..` and `%2e%2e` before sending: the traversal test above sends them as they are)
    for (const p of ['/ringsocket/package.json', '/serve.ts', '/ringsocket/dist/../package.json', '/%2e%2e/%2e%2e/package.json', '/ringsocket/dist/%2e%2e/package.json']) {
      assert.is((await get(p)).status, 404, p);
    }
    assert.is((await rawGet(pagePort, '/..%2f..%2fpackage.json')).status, 404, 'raw traversal on the demo as npm run demo runs it');
    process.kill(-proc.pid!, 'SIGINT');
    const code = await withDeadline(output.exited, 20_000, 'the demo stopping on SIGINT').catch((err: Error) => {
      throw new Error(`${err.message}; output:\n${output.text()}`);
    });
    const out = output.text();
    assert.is(code, 0, `the demo's exit status after Ctrl-C; output:\n${out}`);
    assert.match(out, /demo: stopped \(daemon exit status 0\)/);
    assert.match(out, /main: stopped \(exit status 0\)/, 'the daemon stopped cleanly');
    const gone = await fetch(`${base}/`).then(() => 'still serving', (err: Error) => err.name);
    assert.is(gone, 'TypeError', 'the page server is gone (fetch fails)');
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

stopTest();

Demo.run();
