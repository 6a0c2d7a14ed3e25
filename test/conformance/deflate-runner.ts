// Plays one permessage-deflate case (deflate-cases.ts) against a server and judges it the way
// Autobahn's fuzzing client does in case12_x_x.py:
// - no permessage-deflate in the 101: UNIMPLEMENTED (Autobahn's word); a failure here unless the
//   run allows it;
// - every echo must have the kind, length and bytes sent (Autobahn compares a SHA-1), and all COUNT
//   echoes must come within the case's time (WAITSECS), else FAILED;
// - then the client closes with 1000: the server must answer with a close frame (1000 or no code)
//   and close TCP itself within 1 s (as in the rest of the suite).
// On top of Autobahn: the 101's Sec-WebSocket-Extensions must be a response RFC 7692 allows for
// the offer (deflate-negotiation.ts), the server's frames are checked (deflate-client.ts for the
// raw client; `ws` itself fails the connection on a bad frame, which fails the case), and the
// server must still echo on a fresh connection afterwards (runner.ts checkAlive).
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import { selectDeflateCases, type DeflateCase, type DeflateClientKind } from './deflate-cases.ts';
import { dataSet, messageAt } from './deflate-data.ts';
import { checkResponse, offersHeader, type Negotiated, type Offer } from './deflate-negotiation.ts';
import { DeflateConnection, rawHandshake } from './deflate-client.ts';
import { checkAlive, DEFAULT_TIMING } from './runner.ts';
import { withDeadline } from '../helpers/deadline.ts';

const NORMAL = 1000;
/** ws reports a close frame without a code as 1005 (RFC 6455 §7.4.1). */
const NO_STATUS = 1005;
const HANDSHAKE_TIMEOUT_MS = 5000;
/** As in the rest of the suite: the server closes TCP within 1 s of the close frames. */
const CLOSE_DEADLINE_MS = DEFAULT_TIMING.closeDeadlineMs;

export type DeflateBehavior = 'OK' | 'FAILED' | 'UNIMPLEMENTED';

export interface DeflateResult {
  id: string;
  behavior: DeflateBehavior;
  passed: boolean;
  report: string;
  /** The response's Sec-WebSocket-Extensions, as sent. */
  response: string | null;
  negotiated: Negotiated | null;
  /** Echoes received intact. */
  echoes: number;
  client: DeflateClientKind;
  ms: number;
}

export interface DeflateRunOptions {
  /** Accept a server that declines every offer (UNIMPLEMENTED) as passing. Default false. */
  allowDecline?: boolean;
  /** Play every case with this client instead of the case's own (e.g. 'raw' to cross-check). */
  client?: DeflateClientKind;
  /** Scale the case's time limit (tests of the harness use short ones). */
  timeoutMs?: number;
  skipLiveness?: boolean;
}

/** The message bytes of a case, one after another (Autobahn's sendOne). */
function* messages(c: DeflateCase): Generator<Buffer> {
  const d = dataSet(c.data);
  let at = 0;
  for (let i = 0; i < c.count; i++) {
    const m = messageAt(d, at, c.len);
    at = m.next;
    yield m.payload;
  }
}

function describe(b: Buffer): string {
  return `${b.length} bytes 0x${b.subarray(0, 12).toString('hex')}${b.length > 12 ? '…' : ''}`;
}

/** What is wrong with echo `i` (null: it is the message sent). */
function echoProblem(i: number, sent: Buffer, binary: boolean, gotBinary: boolean, got: Buffer): string | null {
  if (gotBinary !== binary) return `echo ${i + 1} came back as ${gotBinary ? 'binary' : 'text'}, sent as ${binary ? 'binary' : 'text'}`;
  if (!got.equals(sent)) return `echo ${i + 1} differs: sent ${describe(sent)}, got ${describe(got)}`;
  return null;
}

interface Played {
  behavior: DeflateBehavior;
  problems: string[];
  response: string | null;
  negotiated: Negotiated | null;
  echoes: number;
}

async function playRaw(url: string, c: DeflateCase, deadline: number): Promise<Played> {
  const out: Played = { behavior: 'FAILED', problems: [], response: null, negotiated: null, echoes: 0 };
  const binary = dataSet(c.data).binary;
  const h = await rawHandshake(url, offersHeader(c.offers), HANDSHAKE_TIMEOUT_MS);
  out.response = h.extensions ?? null;
  const check = checkResponse(h.extensions, c.offers);
  if (check.kind === 'declined') { h.socket.destroy(); out.behavior = 'UNIMPLEMENTED'; out.problems.push('the server accepted none of the offers (no Sec-WebSocket-Extensions in the 101)'); return out; }
  if (check.kind === 'invalid') { h.socket.destroy(); out.problems.push(`negotiation: ${check.problem}; offer: ${offersHeader(c.offers)}; response: ${check.raw}`); return out; }
  out.negotiated = check.negotiated;
  const conn = new DeflateConnection(h, check.negotiated);
  try {
    let i = 0;
    for (const payload of messages(c)) {
      await conn.sendMessage(binary, payload, c.fragmentSize);
      const left = deadline - Date.now();
      const ok = await conn.until(() => conn.received.length > i || conn.violations.length > 0 || conn.serverClose !== null || conn.tcpClosedAt !== null, Math.max(0, left));
      if (conn.violations.length) break;
      if (!ok) { out.problems.push(`case did not finish within ${c.timeoutMs / 1000} s (${i} of ${c.count} echoes)`); break; }
      if (conn.received.length <= i) { out.problems.push(`the server closed the connection after ${i} of ${c.count} echoes${conn.serverClose ? ` with close code ${conn.serverClose.code ?? 'none'}` : ''}`); break; }
      const r = conn.received[i];
      const p = echoProblem(i, payload, binary, r.binary, r.data);
      if (p) { out.problems.push(p); break; }
      i++;
    }
    out.echoes = i;
    if (conn.received.length > i && out.problems.length === 0 && conn.violations.length === 0) out.problems.push(`${conn.received.length - i} message(s) more than sent`);
    // Autobahn: the client closes with 1000 and the closing handshake must be clean.
    if (conn.serverClose === null && conn.tcpClosedAt === null) conn.sendClose(NORMAL);
    const closed = await conn.until(() => conn.tcpClosedAt !== null, CLOSE_DEADLINE_MS + 1000);
    if (out.problems.length === 0) {
      if (!conn.serverClose) out.problems.push('the server did not answer the close frame with a close frame (unclean close)');
      else if (conn.serverClose.code !== null && conn.serverClose.code !== NORMAL) out.problems.push(`the server answered the close with code ${conn.serverClose.code}, expected 1000`);
      if (!closed) out.problems.push(`the server did not close TCP within ${CLOSE_DEADLINE_MS} ms of the close frames`);
      else if (conn.serverClose && conn.tcpClosedAt! - Math.max(conn.serverClose.at, conn.clientCloseAt ?? 0) > CLOSE_DEADLINE_MS) out.problems.push(`the server closed TCP ${conn.tcpClosedAt! - conn.serverClose.at} ms after the close frames (over ${CLOSE_DEADLINE_MS} ms)`);
    }
    out.problems.push(...conn.violations.map((v) => `RFC violation: ${v}`));
    if (out.problems.length === 0) out.behavior = 'OK';
    return out;
  } finally {
    conn.destroy();
  }
}

/** ws's client options for one offer (an offer ws can make: see DeflateCase.client). */
function wsOptions(o: Offer) {
  // Left undefined, ws offers client_max_window_bits without a value, as Autobahn does; every
  // Autobahn offer has it.
  if (!o.acceptMaxWindowBits) throw new Error('ws offers client_max_window_bits unless given a number: use the raw client');
  return {
    // Autobahn compresses every message; ws's default threshold leaves messages under 1 KiB plain.
    threshold: 0,
    clientNoContextTakeover: o.acceptNoContextTakeover,
    serverNoContextTakeover: o.requestNoContextTakeover,
    ...(o.requestMaxWindowBits ? { serverMaxWindowBits: o.requestMaxWindowBits } : {}),
  };
}

async function playWs(url: string, c: DeflateCase, deadline: number): Promise<Played> {
  const out: Played = { behavior: 'FAILED', problems: [], response: null, negotiated: null, echoes: 0 };
  if (c.offers.length !== 1) throw new Error(`${c.id}: ws cannot make ${c.offers.length} offers in one header`);
  const binary = dataSet(c.data).binary;
  const ws = new WebSocket(url, { perMessageDeflate: wsOptions(c.offers[0]), handshakeTimeout: HANDSHAKE_TIMEOUT_MS, maxPayload: 0 });
  const inbox: { data: Buffer; binary: boolean }[] = [];
  let error: string | null = null;
  let closed: { code: number; at: number } | null = null;
  let wake: (() => void) | null = null;
  const poke = () => { const w = wake; wake = null; w?.(); };
  ws.on('upgrade', (res: IncomingMessage) => {
    const v = res.headers['sec-websocket-extensions'];
    out.response = v === undefined ? null : String(v);
  });
  ws.on('open', poke);
  ws.on('message', (data: Buffer, isBinary: boolean) => { inbox.push({ data, binary: isBinary }); poke(); });
  ws.on('error', (e: Error) => { error ??= e.message; poke(); });
  ws.on('close', (code: number) => { closed = { code, at: Date.now() }; poke(); });
  const wait = (pred: () => boolean, ms: number) => new Promise<boolean>((resolve) => {
    const t = setTimeout(() => { wake = null; resolve(pred()); }, Math.max(0, ms));
    const again = () => { if (pred()) { clearTimeout(t); resolve(true); } else wake = again; };
    again();
  });
  const opened = await wait(() => ws.readyState === WebSocket.OPEN || error !== null || closed !== null, HANDSHAKE_TIMEOUT_MS + 1000);
  if (!opened || ws.readyState !== WebSocket.OPEN) {
    ws.terminate();
    out.problems.push(`ws did not open the connection: ${error ?? 'timeout'}${out.response !== null ? `; response: ${out.response}` : ''}`);
    return out;
  }
  const check = checkResponse(out.response ?? undefined, c.offers);
  if (check.kind === 'declined') { ws.terminate(); out.behavior = 'UNIMPLEMENTED'; out.problems.push('the server accepted none of the offers (no Sec-WebSocket-Extensions in the 101)'); return out; }
  if (check.kind === 'invalid') { ws.terminate(); out.problems.push(`negotiation: ${check.problem}; offer: ${offersHeader(c.offers)}; response: ${check.raw}`); return out; }
  out.negotiated = check.negotiated;
  let i = 0;
  for (const payload of messages(c)) {
    ws.send(payload, { binary, compress: true });
    const ok = await wait(() => inbox.length > i || error !== null || closed !== null, deadline - Date.now());
    if (error) { out.problems.push(`ws: ${error}`); break; }
    if (!ok) { out.problems.push(`case did not finish within ${c.timeoutMs / 1000} s (${i} of ${c.count} echoes)`); break; }
    if (inbox.length <= i) { out.problems.push(`the server closed the connection after ${i} of ${c.count} echoes (close code ${closed!.code})`); break; }
    const p = echoProblem(i, payload, binary, inbox[i].binary, inbox[i].data);
    if (p) { out.problems.push(p); break; }
    i++;
  }
  out.echoes = i;
  if (inbox.length > i && out.problems.length === 0) out.problems.push(`${inbox.length - i} message(s) more than sent`);
  const closeAt = Date.now();
  if (!closed) ws.close(NORMAL);
  // ws ends its side once both close frames have passed; 'close' comes when the server closed TCP.
  const done = await wait(() => closed !== null, CLOSE_DEADLINE_MS + 1000);
  if (out.problems.length === 0) {
    if (error) out.problems.push(`ws: ${error}`);
    else if (!done) out.problems.push(`the server did not close the connection within ${CLOSE_DEADLINE_MS} ms of the close frame`);
    else if (closed!.code !== NORMAL && closed!.code !== NO_STATUS) out.problems.push(`the close ended with code ${closed!.code}, expected 1000 (1006: no close frame from the server)`);
    else if (closed!.at - closeAt > CLOSE_DEADLINE_MS) out.problems.push(`the server closed TCP ${closed!.at - closeAt} ms after the close frame (over ${CLOSE_DEADLINE_MS} ms)`);
  }
  if (!done) ws.terminate();
  if (out.problems.length === 0) out.behavior = 'OK';
  return out;
}

export async function runDeflateCase(url: string, c: DeflateCase, opts: DeflateRunOptions = {}): Promise<DeflateResult> {
  const started = Date.now();
  const client = opts.client ?? c.client;
  const limit = opts.timeoutMs ?? c.timeoutMs;
  let played: Played;
  try {
    played = client === 'ws' ? await playWs(url, c, started + limit) : await playRaw(url, c, started + limit);
  } catch (err) {
    played = { behavior: 'FAILED', problems: [`${(err as Error).message}`], response: null, negotiated: null, echoes: 0 };
  }
  const problems = [...played.problems];
  if (played.behavior !== 'FAILED' && !opts.skipLiveness) {
    const alive = await checkAlive(url);
    if (alive) problems.push(`after the case: ${alive}`);
  }
  const passed = problems.length === 0 || (played.behavior === 'UNIMPLEMENTED' && opts.allowDecline === true && problems.length === 1);
  const behavior = played.behavior === 'OK' && problems.length ? 'FAILED' : played.behavior;
  const n = played.negotiated;
  const negotiated = n ? `negotiated: server_no_context_takeover ${n.serverNoContextTakeover}, client_no_context_takeover ${n.clientNoContextTakeover}, server_max_window_bits ${n.serverMaxWindowBits}, client_max_window_bits ${n.clientMaxWindowBits}` : 'nothing negotiated';
  const report = `${c.id} ${behavior} (${client} client; ${played.echoes}/${c.count} echoes; response ${JSON.stringify(played.response)}; ${negotiated})${problems.length ? `: ${problems.join('; ')}` : ''}`;
  return { id: c.id, behavior, passed, report, response: played.response, negotiated: played.negotiated, echoes: played.echoes, client, ms: Date.now() - started };
}

export interface DeflateConformanceOptions extends DeflateRunOptions {
  /** Every case, not the default subset (default: CONFORMANCE_FULL=1). */
  full?: boolean;
  /** Id prefixes (default: CONFORMANCE_CASES, comma separated). */
  only?: string[];
  /** Called with each result (a test file can check negotiation results across cases). */
  onResult?: (r: DeflateResult) => void;
}

function envList(name: string): string[] | undefined {
  const v = process.env[name];
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

/** Margin of a uvu test over the case's own limit (handshake, closing, liveness check). */
const TEST_MARGIN_MS = 15000;

/** Adds one uvu test per case; `url()` is read when each test runs. */
export function registerDeflateConformance(test: Test, url: () => string, opts: DeflateConformanceOptions = {}): void {
  const only = opts.only ?? envList('CONFORMANCE_CASES');
  const cases = selectDeflateCases(opts.full ?? process.env.CONFORMANCE_FULL === '1', only);
  const client = opts.client ?? (process.env.CONFORMANCE_DEFLATE_CLIENT as DeflateClientKind | undefined);
  const tally = new Map<string, number>();
  for (const c of cases) {
    test(`${c.id} ${c.title}`, async () => {
      const r = await withDeadline(runDeflateCase(url(), c, { ...opts, client }), (opts.timeoutMs ?? c.timeoutMs) + TEST_MARGIN_MS, `deflate case ${c.id}`);
      tally.set(r.behavior, (tally.get(r.behavior) ?? 0) + 1);
      opts.onResult?.(r);
      if (process.env.CONFORMANCE_VERBOSE === '1') console.log(`${r.passed ? 'pass' : 'FAIL'} ${r.report} (${r.ms} ms)`);
      assert.ok(r.passed, r.report);
    });
  }
  test.after(() => {
    if (tally.size) console.log(`permessage-deflate outcomes: ${[...tally].sort().map(([k, n]) => `${n} ${k}`).join(', ')}`);
  });
}
