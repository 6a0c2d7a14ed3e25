// ringsocket/codec in headless Chromium, from the INSTALLED package (npm pack + install into a
// temporary project, its node_modules/ringsocket served over http with an import map): it loads as
// an ES module without cross-origin isolation, fetches its .wasm beside itself, round-trips
// frames, and makes frames byte-identical to the ones Node makes with the same package for the
// same input and mask key (all three length forms, text, binary, control and close frames).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { guardSetup } from './helpers/daemon-exit.ts';
import { browserFixture, openTestPage, evaluate, type BrowserFixture } from './helpers/browser.ts';
import { prngU32 } from './helpers/random.ts';
import { frame as refFrame, close as refClose, closeBody } from './helpers/frames.ts';

type CodecModule = typeof import('../src/codec/index.ts');

/** One frame to make on both sides. Binary payloads are `len` bytes of (i * 31 + 7) & 255. */
interface Case {
  name: string;
  kind: 'text' | 'binary' | 'ping' | 'pong' | 'close';
  /** Client (masked with `key`) or server (unmasked) frame. */
  side: 'client' | 'server';
  text?: string;
  len?: number;
  code?: number;
  reason?: string;
  key: number[];
}

const rand = prngU32(0x5eed);
const randomKey = () => { const k = rand(); return [k & 255, (k >>> 8) & 255, (k >>> 16) & 255, k >>> 24]; };
const KEYS = [[0, 0, 0, 0], [0xff, 0xff, 0xff, 0xff], [0x37, 0xfa, 0x21, 0x3d], randomKey(), randomKey()];

const CASES: Case[] = [];
for (const side of ['client', 'server'] as const) {
  let k = 0;
  const key = () => KEYS[k++ % KEYS.length];
  CASES.push(
    { name: 'text, 7-bit length', kind: 'text', side, text: 'hi ✓', key: key() },
    { name: 'text, 16-bit length', kind: 'text', side, text: 'é'.repeat(100) + '笑笑?', key: key() },
    { name: 'text, 64-bit length', kind: 'text', side, text: 'abc✓'.repeat(20000), key: key() },
    { name: 'text, empty', kind: 'text', side, text: '', key: key() },
  );
  for (const len of [0, 1, 125, 126, 1000, 65535, 65536, 70000]) CASES.push({ name: `binary, ${len} bytes`, kind: 'binary', side, len, key: key() });
  CASES.push(
    { name: 'ping', kind: 'ping', side, text: 'are you there', key: key() },
    { name: 'pong, 125 bytes', kind: 'pong', side, len: 125, key: key() },
    { name: 'close 1000 "bye"', kind: 'close', side, code: 1000, reason: 'bye', key: key() },
    { name: 'close 4001, a 140-byte reason cut to 122', kind: 'close', side, code: 4001, reason: 'é'.repeat(70), key: key() },
    { name: 'close 1005: empty body', kind: 'close', side, code: 1005, reason: '', key: key() },
    { name: 'close 3000, no reason', kind: 'close', side, code: 3000, key: key() },
  );
}

/** Makes every case with a codec module; the same function runs in Chromium and in Node. */
async function makeFrames(mod: CodecModule, cases: Case[]): Promise<string[]> {
  const codec = await mod.createCodec();
  const gen = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255; return b; };
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return cases.map((c) => {
    const key = new Uint8Array(c.key);
    const payload = c.text ?? gen(c.len ?? 0);
    let f: Uint8Array;
    if (c.kind === 'close') f = c.side === 'client' ? codec.close(c.code, c.reason, key) : codec.serverClose(c.code, c.reason);
    else f = c.side === 'client' ? codec.frame(c.kind, payload, key) : codec.serverFrame(c.kind, payload);
    return hex(f);
  });
}

interface Ctx { fx?: BrowserFixture; page?: Page; problems: string[] }
const Codec = suite<Ctx>('browser: ringsocket/codec in Chromium (installed package)', { problems: [] });

guardSetup(Codec, 'installing the package, serving it and starting Chromium', async (ctx) => {
  ctx.fx = await browserFixture();
  ({ page: ctx.page, problems: ctx.problems } = await openTestPage(ctx.fx.browser, ctx.fx.server.origin));
});
Codec.after(async (ctx) => { await ctx.fx?.dispose(); });

const inPage = <A, R>(ctx: Ctx, what: string, fn: (arg: A) => Promise<R>, arg: A): Promise<R> =>
  evaluate(ctx.page!, ctx.problems, what, fn, arg);

Codec('loads as an ES module through the import map: no cross-origin isolation, the .wasm fetched beside the module', async (ctx) => {
  const r = await inPage(ctx, 'loading the codec', async (spec: string) => {
    const mod = (await import(spec)) as CodecModule;
    const codec = await mod.createCodec();
    return { isolated: globalThis.crossOriginIsolated, sab: typeof SharedArrayBuffer, frame: Array.from(codec.frame('text', 'x', new Uint8Array(4))), names: Object.keys(mod).sort() };
  }, 'ringsocket/codec');
  assert.is(r.isolated, false, 'the page is not cross-origin isolated');
  assert.is(r.sab, 'undefined', 'so it has no SharedArrayBuffer, and the private build needs none');
  assert.equal(r.frame, [0x81, 0x81, 0, 0, 0, 0, 0x78], "a masked one-byte text frame, key 0");
  for (const name of ['createCodec', 'Codec', 'compileCodec', 'readFrameHeader', 'WsStreamDecoder', 'CloseCode', 'Opcode', 'DataKind']) {
    assert.ok(r.names.includes(name), `ringsocket/codec exports ${name}`);
  }
  const requests = ctx.fx!.requests;
  assert.ok(requests.includes('/ringsocket/dist/codec/index.js'), `the module; requests: ${requests.join(' ')}`);
  assert.ok(requests.includes('/ringsocket/build/ringsocket.private.wasm'), `the private build, relative to the module; requests: ${requests.join(' ')}`);
  const outside = requests.filter((p) => p !== '/' && !/^\/ringsocket\/(dist\/(codec|core)\/[\w-]+\.js|build\/ringsocket\.private\.wasm)$/.test(p));
  assert.equal(outside, [], 'nothing but the codec, the core modules and the private build is loaded');
  assert.equal(ctx.problems, []);
});

Codec('frames made in Chromium and in Node are byte-identical for the same input and key (7-, 16-, 64-bit lengths; text, binary, ping, pong, close)', async (ctx) => {
  const inBrowser = await inPage(ctx, 'making the frames', async ({ spec, cases, src }: { spec: string; cases: Case[]; src: string }) => {
    const make = new Function(`return (${src})`)() as typeof makeFrames;
    return make((await import(spec)) as CodecModule, cases);
  }, { spec: 'ringsocket/codec', cases: CASES, src: makeFrames.toString() });
  const installed = (await import(pathToFileURL(join(ctx.fx!.installed.pkg, 'dist', 'codec', 'index.js')).href)) as CodecModule;
  const inNode = await makeFrames(installed, CASES);
  const forms = new Set<number>();
  CASES.forEach((c, i) => {
    assert.is(inBrowser[i], inNode[i], `${c.side} ${c.name}`);
    // and both equal an independent RFC 6455 builder (test/helpers/frames.ts)
    const mask = c.side === 'client' ? Uint8Array.from(c.key) : null;
    const payload = c.text ?? Uint8Array.from({ length: c.len ?? 0 }, (_, j) => (j * 31 + 7) & 255);
    const ref = c.kind === 'close'
      ? (c.code === 1005 ? refClose(undefined, '', { mask }) : refFrame({ opcode: 8, payload: closeBody(c.code!, new TextEncoder().encode(c.reason ?? '').subarray(0, c.reason === 'é'.repeat(70) ? 122 : undefined)), mask }))
      : refFrame({ opcode: { text: 1, binary: 2, ping: 9, pong: 10 }[c.kind], payload, mask });
    assert.is(inNode[i], Buffer.from(ref).toString('hex'), `${c.side} ${c.name} against the reference builder`);
    const len7 = parseInt(inNode[i].slice(2, 4), 16) & 0x7f;
    forms.add(len7 === 127 ? 64 : len7 === 126 ? 16 : 7);
  });
  assert.equal([...forms].sort((a, b) => a - b), [7, 16, 64], 'every length form was made');
  assert.equal(ctx.problems, []);
});

Codec('round trips in the page: client frames decoded as the daemon reads them, server frames in any chunking, the daemon’s refusals', async (ctx) => {
  const r = await inPage(ctx, 'round trips', async (spec: string) => {
    const { createCodec, readFrameHeader } = (await import(spec)) as CodecModule;
    const codec = await createCodec();
    const gen = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 255; return b; };
    const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    const out: string[] = [];
    // client frames, fresh random keys: decoded back from: 'client'
    for (const n of [0, 5, 125, 126, 65535, 65536, 100000]) {
      const p = gen(n);
      const f = codec.frame('binary', p);
      const h = readFrameHeader(f)!;
      const ev = codec.decode(f, { from: 'client' });
      out.push(`client ${n}: form ${h.lengthForm}, masked ${h.masked}, ${ev.length === 1 && ev[0].type === 'binary' && same(ev[0].data, p) ? 'same' : 'DIFFERENT'}`);
      const s = codec.decode(codec.serverFrame('binary', p));
      out.push(`server ${n}: ${s.length === 1 && s[0].type === 'binary' && same(s[0].data, p) ? 'same' : 'DIFFERENT'}`);
    }
    const t = codec.decode(codec.frame('text', 'héllo ✓ 笑'), { from: 'client' });
    out.push(`text: ${t[0].type === 'text' ? t[0].text : t[0].type}`);
    // a stream of server frames, pushed one byte at a time, then in pieces of 7
    const stream = [codec.serverFrame('text', 'one'), codec.serverFrame('ping', 'p'), codec.serverFrame('binary', gen(70000)), codec.serverClose(1001, 'going away'), codec.serverFrame('text', 'after')];
    const all = new Uint8Array(stream.reduce((n, f) => n + f.length, 0));
    stream.reduce((o, f) => { all.set(f, o); return o + f.length; }, 0);
    for (const piece of [1, 7]) {
      const seen: string[] = [];
      const dec = codec.decoder({
        onMessage: (kind, data) => seen.push(`message ${kind} ${data.length}`),
        onPing: (d) => seen.push(`ping ${d.length}`),
        onClose: (code, reason) => seen.push(`close ${code} ${reason}`),
        onError: (e) => seen.push(`error ${e.code}`),
      });
      for (let i = 0; i < all.length; i += piece) dec.push(all.subarray(i, i + piece));
      out.push(`stream/${piece}: ${seen.join(', ')}; done ${dec.done}`);
    }
    // refusals: the daemon's rules
    const err = (evs: ReturnType<typeof codec.decode>) => evs.map((e) => (e.type === 'error' ? `${e.error.code} ${e.error.closeCode}` : e.type)).join(',');
    out.push(`masked server frame: ${err(codec.decode(codec.frame('text', 'x')))}`);
    out.push(`unmasked client frame: ${err(codec.decode(codec.serverFrame('text', 'x'), { from: 'client' }))}`);
    out.push(`bad UTF-8: ${err(codec.decode(Uint8Array.of(0x81, 0x02, 0xc3, 0x28)))}`);
    out.push(`too big: ${err(codec.decode(codec.serverFrame('binary', gen(11)), { maxMessageSize: 10 }))}`);
    try { codec.frame('text', Uint8Array.of(0xff)); out.push('non-UTF-8 text sent'); } catch (e) { out.push(`non-UTF-8 text: ${(e as Error).name}`); }
    try { codec.close(1006); out.push('1006 sent'); } catch (e) { out.push(`close 1006: ${(e as Error).name}`); }
    try { codec.frame('ping', gen(126)); out.push('long ping sent'); } catch (e) { out.push(`ping 126: ${(e as Error).name}`); }
    return out;
  }, 'ringsocket/codec');
  assert.equal(r, [
    'client 0: form 7, masked true, same', 'server 0: same',
    'client 5: form 7, masked true, same', 'server 5: same',
    'client 125: form 7, masked true, same', 'server 125: same',
    'client 126: form 16, masked true, same', 'server 126: same',
    'client 65535: form 16, masked true, same', 'server 65535: same',
    'client 65536: form 64, masked true, same', 'server 65536: same',
    'client 100000: form 64, masked true, same', 'server 100000: same',
    'text: héllo ✓ 笑',
    'stream/1: message 1 3, ping 1, message 0 70000, close 1001 going away; done true',
    'stream/7: message 1 3, ping 1, message 0 70000, close 1001 going away; done true',
    'masked server frame: RS_ERR_MASKED_FRAME 1002',
    'unmasked client frame: RS_ERR_UNMASKED_FRAME 1002',
    'bad UTF-8: RS_ERR_INVALID_UTF8 1007',
    'too big: RS_ERR_MESSAGE_TOO_BIG 1009',
    'non-UTF-8 text: TypeError',
    'close 1006: RangeError',
    'ping 126: RangeError',
  ]);
  assert.equal(ctx.problems, []);
});

Codec.run();
