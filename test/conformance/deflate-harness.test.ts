// Tests of the permessage-deflate cases themselves (sections 12 and 13): the case table against
// Autobahn's (case12_x_x.py), the offers as Autobahn writes them, the check of the server's
// response against RFC 7692 (accepted and refused responses), the generated data, and that servers
// which decline, answer wrongly or corrupt an echo fail a case with a report that says why.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { deflateCases, selectDeflateCases, DEFAULT_COUNT, type DeflateCase } from './deflate-cases.ts';
import { dataSets, messageAt } from './deflate-data.ts';
import { checkResponse, offer, offersHeader, parseExtensions, DEFAULT_OFFER } from './deflate-negotiation.ts';
import { runDeflateCase } from './deflate-runner.ts';

const Table = suite('permessage-deflate cases: the table');

Table('has Autobahn\'s 216 cases of sections 12 and 13, numbered as Autobahn numbers them', () => {
  const all = deflateCases();
  assert.is(all.length, 216);
  assert.is(new Set(all.map((c) => c.id)).size, 216);
  assert.is(all.filter((c) => c.id.startsWith('12.')).length, 5 * 18);
  assert.is(all.filter((c) => c.id.startsWith('13.')).length, 7 * 18);
  const byId = new Map(all.map((c) => [c.id, c] as const));
  const at = (id: string) => byId.get(id)!;
  assert.equal([at('12.1.1').len, at('12.1.1').count, at('12.1.1').timeoutMs, at('12.1.1').fragmentSize], [16, 1000, 60000, 0]);
  assert.equal([at('12.3.10').len, at('12.3.10').fragmentSize, at('12.3.10').timeoutMs], [131072, 0, 480000]);
  assert.equal([at('12.2.11').len, at('12.2.11').fragmentSize], [8192, 256]);
  assert.equal([at('13.4.18').len, at('13.4.18').fragmentSize], [131072, 32768]);
  assert.equal(['12.1.1', '12.2.1', '12.3.1', '12.4.1', '12.5.1'].map((id) => at(id).data), ['json_data1', 'lena512', 'gutenberg_faust', 'html_data1', 'ooms']);
  for (const c of all.filter((x) => x.id.startsWith('13.'))) assert.is(c.data, 'json_data1');
});

Table('makes Autobahn\'s offers, and only 13.7 makes three', () => {
  const header = (id: string) => offersHeader(deflateCases().find((c) => c.id === id)!.offers);
  assert.is(header('12.1.1'), 'permessage-deflate; client_no_context_takeover; client_max_window_bits');
  assert.is(header('13.2.1'), 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover');
  assert.is(header('13.3.1'), 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=8');
  assert.is(header('13.6.1'), 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15');
  assert.is(header('13.7.1'),
    'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8, ' +
    'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, ' +
    'permessage-deflate; client_no_context_takeover; client_max_window_bits');
});

Table('plays 13.7 and the cut-into-frames cases with the raw client, the rest with ws', () => {
  for (const c of deflateCases()) {
    const raw = c.id.startsWith('13.7.') || c.fragmentSize > 0;
    assert.is(c.client, raw ? 'raw' : 'ws', c.id);
  }
});

Table('the default run keeps x.1, x.10, x.11 and x.18 of every family with the first 100 messages', () => {
  const d = selectDeflateCases(false);
  assert.is(d.length, 12 * 4);
  for (const c of d) {
    assert.ok(/\.(1|10|11|18)$/.test(c.id), c.id);
    assert.is(c.count, DEFAULT_COUNT);
  }
  assert.is(selectDeflateCases(true).length, 216);
  assert.ok(selectDeflateCases(true).every((c) => c.count === 1000));
  assert.equal(selectDeflateCases(true, ['13.7']).map((c) => c.id).length, 18);
});

Table('the data sets are fixed and of about Autobahn\'s sizes; text messages are whole characters', () => {
  const sets = dataSets();
  assert.equal(sets.map((d) => d.binary), [false, true, true, false, true]);
  const sizes = sets.map((d) => (d.binary ? d.bytes!.length : Buffer.byteLength(d.text!)));
  const autobahn = [194237, 263222, 222218, 83599, 1042328];
  sizes.forEach((s, i) => assert.ok(Math.abs(s - autobahn[i]) / autobahn[i] < 0.05, `${sets[i].key}: ${s} bytes`));
  const json = sets[0];
  assert.ok(json.text!.includes('é') || json.text!.includes('ø'), 'the JSON data has characters beyond ASCII');
  // Wrapping: a message that runs past the end continues at the start.
  const m = messageAt(json, json.units - 3, 10);
  assert.is(m.next, 7);
  assert.is(Array.from(m.payload.toString('utf8')).length, 10);
  assert.ok(Buffer.from(m.payload.toString('utf8'), 'utf8').equals(m.payload), 'valid UTF-8');
});

const Neg = suite('permessage-deflate cases: the response check (RFC 7692)');
const one = [DEFAULT_OFFER];

Neg('parses extension lists with parameters, values and quoted values', () => {
  assert.equal(parseExtensions('permessage-deflate; server_max_window_bits="10"; client_no_context_takeover, x-foo'), [
    { name: 'permessage-deflate', params: [{ name: 'server_max_window_bits', value: '10' }, { name: 'client_no_context_takeover', value: true }] },
    { name: 'x-foo', params: [] },
  ]);
  assert.throws(() => parseExtensions('permessage-deflate; a="b c"'));
  assert.throws(() => parseExtensions('permessage-deflate;'));
});

Neg('accepts what RFC 7692 lets a server answer', () => {
  const ok = (header: string, offers = one) => {
    const r = checkResponse(header, offers);
    assert.is(r.kind, 'accepted', `${header}: ${r.kind === 'invalid' ? r.problem : ''}`);
    return r.kind === 'accepted' ? r.negotiated : null;
  };
  assert.equal(ok('permessage-deflate'), { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, offerIndex: 0 });
  assert.is(ok('permessage-deflate; server_no_context_takeover')!.serverNoContextTakeover, true); // §7.1.1.1: even unasked
  assert.is(ok('permessage-deflate; client_no_context_takeover')!.clientNoContextTakeover, true);
  assert.is(ok('permessage-deflate; client_max_window_bits=9')!.clientMaxWindowBits, 9);
  assert.is(ok('permessage-deflate; server_max_window_bits=12')!.serverMaxWindowBits, 12); // §7.1.2.1: even unasked
  assert.is(ok('Permessage-Deflate; Server_No_Context_Takeover')!.serverNoContextTakeover, true);
  assert.is(ok('permessage-deflate; server_max_window_bits=8', [offer({ maxWindowBits: 8 })])!.serverMaxWindowBits, 8);
  assert.is(ok('permessage-deflate; server_no_context_takeover; server_max_window_bits=9', [offer({ noContextTakeover: true, maxWindowBits: 10 })])!.serverMaxWindowBits, 9);
  const three = [offer({ noContextTakeover: true, maxWindowBits: 8 }), offer({ noContextTakeover: true }), DEFAULT_OFFER];
  assert.is(ok('permessage-deflate; server_no_context_takeover; server_max_window_bits=8', three)!.offerIndex, 0);
  assert.is(ok('permessage-deflate; server_no_context_takeover', three)!.offerIndex, 1);
  assert.is(ok('permessage-deflate', three)!.offerIndex, 2);
  assert.is(checkResponse(undefined, one).kind, 'declined');
});

Neg('refuses what RFC 7692 does not allow, saying why', () => {
  const bad = (header: string, offers: typeof one, why: RegExp) => {
    const r = checkResponse(header, offers);
    assert.is(r.kind, 'invalid', header);
    if (r.kind === 'invalid') assert.match(r.problem, why);
  };
  bad('permessage-deflate', [offer({ noContextTakeover: true })], /server_no_context_takeover was offered/);
  bad('permessage-deflate', [offer({ maxWindowBits: 8 })], /server_max_window_bits=8 was offered/);
  bad('permessage-deflate; server_max_window_bits=9', [offer({ maxWindowBits: 8 })], /above the offered 8/);
  bad('permessage-deflate; client_max_window_bits', one, /integer 8 to 15/);
  bad('permessage-deflate; client_max_window_bits=10', [{ ...DEFAULT_OFFER, acceptMaxWindowBits: false }], /not offered/);
  bad('permessage-deflate; server_max_window_bits=7', one, /integer 8 to 15/);
  bad('permessage-deflate; server_max_window_bits=16', one, /integer 8 to 15/);
  bad('permessage-deflate; server_max_window_bits=010', one, /leading zeros/);
  bad('permessage-deflate; server_no_context_takeover=1', one, /has a value/);
  bad('permessage-deflate; server_no_context_takeover; server_no_context_takeover', one, /twice/);
  bad('permessage-deflate; mystery', one, /unknown parameter/);
  bad('permessage-deflate, permessage-deflate', one, /2 times/);
  bad('x-webkit-deflate-frame', one, /did not offer/);
  bad('permessage-deflate; server_max_window_bits="8', one, /malformed/);
  const two = [offer({ noContextTakeover: true, maxWindowBits: 8 }), offer({ noContextTakeover: true })];
  bad('permessage-deflate; server_max_window_bits=10', two, /fits none of the offers/);
});

const Faulty = suite<{ stop: (() => Promise<void>)[] }>('permessage-deflate cases: faulty servers are caught', { stop: [] });
Faulty.after.each(async (ctx) => { for (const s of ctx.stop.splice(0)) await s(); });

type Hook = { headers?: (h: string[]) => void; message?: (data: Buffer, n: number) => Buffer };
async function server(ctx: { stop: (() => Promise<void>)[] }, perMessageDeflate: boolean, hook: Hook = {}): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await new Promise<void>((r) => wss.on('listening', () => r()));
  if (hook.headers) wss.on('headers', hook.headers);
  wss.on('connection', (ws) => {
    let n = 0;
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary) => ws.send(hook.message ? hook.message(data, ++n) : data, { binary: isBinary }));
  });
  ctx.stop.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
}
const small = (id: string, count = 20): DeflateCase => ({ ...deflateCases().find((c) => c.id === id)!, count });

Faulty('a server that declines the offer is UNIMPLEMENTED: a failure, unless declining is allowed', async (ctx) => {
  const url = await server(ctx, false);
  for (const client of ['ws', 'raw'] as const) {
    const r = await runDeflateCase(url, small('12.1.1'), { client });
    assert.is(r.behavior, 'UNIMPLEMENTED');
    assert.not.ok(r.passed);
    assert.match(r.report, /accepted none of the offers/);
    assert.ok((await runDeflateCase(url, small('12.1.1'), { client, allowDecline: true })).passed);
  }
});

Faulty('a response that drops the server_no_context_takeover the client asked for fails the case', async (ctx) => {
  const url = await server(ctx, true, {
    headers: (h) => { for (let i = 0; i < h.length; i++) h[i] = h[i].replace(/; server_no_context_takeover/, ''); },
  });
  for (const id of ['13.2.1', '13.6.1']) {
    const r = await runDeflateCase(url, small(id));
    assert.not.ok(r.passed, id);
    assert.match(r.report, /negotiation: .*server_no_context_takeover was offered/);
  }
});

Faulty('a corrupted echo fails the case with both payloads described', async (ctx) => {
  const url = await server(ctx, true, { message: (d, n) => (n === 7 ? Buffer.concat([d.subarray(1), d.subarray(0, 1)]) : d) });
  for (const id of ['12.2.1', '12.2.11']) {
    const r = await runDeflateCase(url, small(id));
    assert.not.ok(r.passed, id);
    assert.match(r.report, /echo 7 differs/);
    assert.is(r.echoes, 6);
  }
});

Faulty('a fragmented case with a compressed payload cut at byte counts passes against ws, in that many frames', async (ctx) => {
  const url = await server(ctx, true);
  const r = await runDeflateCase(url, small('13.1.11', 5));
  assert.ok(r.passed, r.report);
  assert.is(r.client, 'raw');
});

Table.run();
Neg.run();
Faulty.run();
