// Tests of the conformance harness itself: the frame codec it uses, its case tables against
// Autobahn's numbering, its UTF-8 labels, and that it fails a server for each kind of
// misbehaviour (a harness that passes everything would prove nothing).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameReader, Op, buildFrame, fragmentFrames, isValidUtf8, repeat } from './frames.ts';
import { autobahnCases, extraCases, selectCases } from './cases.ts';
import { UTF8_GROUPS } from './utf8-vectors.ts';
import { runCase, type CaseResult } from './runner.ts';
import { startToyServer, type Faults } from './toy-server.ts';
import { startWsEchoServer } from './suite.ts';
import { Connection } from './connection.ts';
import net from 'node:net';

const Frames = suite('conformance harness: frames');

Frames('builds masked frames in the three length forms that parse back to the payload', () => {
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 70001]) {
    const payload = repeat('ab\u00e9', n);
    const frame = buildFrame({ opcode: Op.BINARY, payload, maskKey: Buffer.from([1, 2, 3, 4]) });
    const headLen = n < 126 ? 2 : n < 65536 ? 4 : 10;
    assert.is(frame.length, headLen + 4 + n, `frame length for ${n}`);
    assert.is(frame[1] & 0x80, 0x80, 'mask bit');
    assert.is(frame[1] & 0x7f, n < 126 ? n : n < 65536 ? 126 : 127, `length field for ${n}`);
    const [back] = new FrameReader().push(frame);
    assert.ok(back.masked);
    assert.ok(back.payload.equals(payload), `payload of ${n} bytes`);
  }
});

Frames('masks with the key byte j mod 4 as RFC 6455 §5.3 describes', () => {
  const frame = buildFrame({ opcode: Op.TEXT, payload: 'Hello', maskKey: Buffer.from([0x37, 0xfa, 0x21, 0x3d]) });
  // The RFC's own example (§5.7): a masked "Hello".
  assert.equal([...frame], [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
});

Frames('parses the same frames fed whole, byte by byte and cut at every point', () => {
  const stream = Buffer.concat([
    buildFrame({ opcode: Op.TEXT, payload: 'x', fin: false, mask: false }),
    buildFrame({ opcode: Op.PING, payload: 'p', mask: false }),
    buildFrame({ opcode: Op.CONTINUATION, payload: repeat('y', 300), mask: false }),
    buildFrame({ opcode: Op.BINARY, payload: repeat('z', 66000), rsv: 5, mask: false }),
  ]);
  const summary = (frames: ReturnType<FrameReader['push']>) => frames.map((f) => `${f.opcode}/${f.fin}/${f.rsv}/${f.payload.length}/${f.payload[0] ?? ''}`);
  const whole = summary(new FrameReader().push(stream));
  assert.equal(whole, ['1/false/0/1/120', '9/true/0/1/112', '0/true/0/300/121', '2/true/5/66000/122']);
  const r = new FrameReader();
  const bytewise = [];
  for (let i = 0; i < 400; i++) bytewise.push(...r.push(stream.subarray(i, i + 1)));
  bytewise.push(...r.push(stream.subarray(400)));
  assert.equal(summary(bytewise), whole);
  for (let cut = 1; cut < 320; cut++) {
    const r2 = new FrameReader();
    assert.equal(summary([...r2.push(stream.subarray(0, cut)), ...r2.push(stream.subarray(cut))]), whole, `cut at ${cut}`);
  }
});

Frames('cuts a message into fragments of the given size, FIN on the last only', () => {
  const frames = fragmentFrames(Op.TEXT, repeat('*', 2601), 1300).map((b) => new FrameReader().push(b)[0]);
  assert.equal(frames.map((f) => [f.opcode, f.fin, f.payload.length]), [[1, false, 1300], [0, false, 1300], [0, true, 1]]);
});

Frames('writes 1-byte chops as separate writes that the server reads one by one', async () => {
  let reads = 0;
  let got = 0;
  const server = net.createServer((s) => s.on('data', (b: Buffer) => { reads++; got += b.length; }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const frame = buildFrame({ opcode: Op.PING, payload: Buffer.alloc(125, 0xfe) });
  await new Connection(socket, Buffer.alloc(0)).write(frame, { chop: 1 });
  const until = Date.now() + 2000;
  while (got < frame.length && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  socket.destroy();
  await new Promise((r) => server.close(r));
  assert.is(got, frame.length);
  // Each chop goes out in its own event loop turn with TCP_NODELAY, so nearly every byte arrives
  // in its own read (Autobahn's octet-wise chops); allow the kernel to merge a few.
  assert.ok(reads > frame.length / 2, `${reads} reads for ${frame.length} bytes`);
});

const Tables = suite('conformance harness: case tables');

Tables('numbers every Autobahn case of sections 1 to 10 once, as Autobahn does', () => {
  const ids = autobahnCases().map((c) => c.id);
  assert.is(new Set(ids).size, ids.length, 'ids are unique');
  const perSection = new Map<string, number>();
  for (const id of ids) perSection.set(id.split('.')[0], (perSection.get(id.split('.')[0]) ?? 0) + 1);
  // Autobahn's case list (autobahntestsuite/case/__init__.py): 301 cases in sections 1-10.
  assert.equal(Object.fromEntries(perSection), { 1: 16, 2: 11, 3: 7, 4: 10, 5: 20, 6: 145, 7: 37, 9: 54, 10: 1 });
  for (const sub of ['6.5', '6.12', '6.22', '6.23', '7.7', '7.9', '9.7', '9.8']) {
    const n = ids.filter((id) => id.startsWith(`${sub}.`)).length;
    assert.is(n, { 6.5: 5, 6.12: 8, 6.22: 34, 6.23: 7, 7.7: 13, 7.9: 9, 9.7: 6, 9.8: 6 }[sub], `cases in ${sub}`);
  }
  for (const c of extraCases()) assert.ok(c.id.startsWith('x'), `extra case ${c.id} is marked as ours`);
});

Tables('keeps the default run small and the full run complete', () => {
  const all = selectCases(true);
  const quick = selectCases(false);
  assert.is(all.length, 301 + extraCases().length);
  const quickIds = new Set(quick.map((c) => c.id));
  const heavy = all.filter((c) => !quickIds.has(c.id)).map((c) => c.id);
  assert.ok(heavy.length > 30, 'most of section 9 is left out by default');
  assert.ok(heavy.every((id) => id.startsWith('9.')), 'only section 9 cases are left out by default');
  for (const family of ['9.1', '9.2', '9.3', '9.4', '9.5', '9.6', '9.7', '9.8']) {
    assert.ok(quick.some((c) => c.id.startsWith(`${family}.`)), `the default run keeps a case of ${family}`);
  }
});

Tables('labels every UTF-8 vector the way a strict decoder judges it', () => {
  let n = 0;
  for (const g of UTF8_GROUPS) {
    for (const v of g.vectors) {
      n++;
      assert.is(isValidUtf8(v.bytes), v.valid, `${g.section} 0x${v.bytes.toString('hex')}`);
    }
  }
  assert.is(n, 132);
});

// Negative controls: each fault must make a specific case fail, with a report that says why.
const Faulty = suite('conformance harness: catches faulty servers');

const FAST = { timing: { waitMs: 150, quietMs: 50, caseTimeoutMs: 500, closeDeadlineMs: 400 } };

function caseById(id: string) {
  const c = selectCases(true).find((x) => x.id === id);
  if (!c) throw new Error(`no case ${id}`);
  return c;
}

async function against(faults: Faults, id: string, opts = FAST): Promise<CaseResult> {
  const server = await startToyServer(faults);
  try {
    return await runCase(server.url, caseById(id), opts);
  } finally {
    await server.close();
  }
}

Faulty('passes a correct server on a sample of every section', async () => {
  const server = await startToyServer();
  try {
    for (const id of ['1.1.3', '1.2.8', '2.6', '2.10', '3.2', '4.2.4', '5.6', '5.15', '5.19', '6.2.4', '6.3.2', '6.20.3', '7.1.3', '7.3.1', '7.5.1', '7.7.10', '7.9.5', '10.1.1']) {
      const r = await runCase(server.url, caseById(id), FAST);
      assert.ok(r.passed, r.report);
    }
  } finally {
    await server.close();
  }
});

Faulty('fails a server that echoes text as binary', async () => {
  const r = await against({ textAsBinary: true }, '1.1.2');
  assert.not.ok(r.passed);
  assert.is(r.behavior, 'FAILED');
  assert.match(r.report, 'observed [binary');
});

Faulty('fails a server that accepts RSV bits', async () => {
  const r = await against({ ignoreRsv: true }, '3.1');
  assert.not.ok(r.passed);
  assert.is(r.behaviorClose, 'FAILED');
  assert.match(r.report, 'did not fail the connection');
});

Faulty('fails a server that accepts and echoes invalid UTF-8, and flags its invalid text', async () => {
  const r = await against({ noUtf8Check: true }, '6.20.1');
  assert.not.ok(r.passed);
  assert.match(r.report, 'server sent a text message of 3 bytes that is not valid UTF-8');
});

Faulty('fails a server that answers a close with another code', async () => {
  const r = await against({ closeReplyCode: 1011 }, '7.7.1');
  assert.not.ok(r.passed);
  assert.is(r.behaviorClose, 'WRONG CODE');
  assert.match(r.report, "the server's close code was 1011, expected 1000");
});

Faulty('fails a server that keeps TCP open after the closing handshake', async () => {
  const r = await against({ keepTcpOpen: true }, '1.1.1');
  assert.not.ok(r.passed);
  assert.is(r.behaviorClose, 'FAILED BY CLIENT');
  assert.match(r.report, 'did not close the TCP connection within 400 ms');
});

Faulty('accepts a dropped TCP connection where Autobahn does, and rejects it where a clean close is required', async () => {
  const dropped = await against({ dropOnError: true }, '5.18');
  assert.ok(dropped.passed, dropped.report);
  const unclean = await against({ dropOnError: true }, '7.3.2');
  assert.ok(unclean.passed, unclean.report);
});

Faulty('fails a server that masks its frames', async () => {
  const r = await against({ maskFrames: true }, '2.2');
  assert.not.ok(r.passed);
  assert.match(r.report, 'server sent a masked frame (opcode 10)');
});

Faulty('fails a server that stops accepting connections after a case', async () => {
  const r = await against({ dieAfterFirst: true }, '1.1.1');
  assert.not.ok(r.passed);
  assert.is(r.behavior, 'OK', 'the case itself went well');
  assert.match(r.report, 'after the case, a new connection fails');
});

Faulty('counts late UTF-8 failure as NON-STRICT, and fails it when fail-fast is required', async () => {
  const ws = await startWsEchoServer();
  try {
    const lenient = await runCase(ws.url, caseById('6.4.1'), FAST);
    assert.is(lenient.behavior, 'NON-STRICT', lenient.report);
    assert.ok(lenient.passed, lenient.report);
    const strict = await runCase(ws.url, caseById('6.4.1'), { ...FAST, requireFailFast: true });
    assert.not.ok(strict.passed);
    assert.match(strict.report, 'fail-fast required');
  } finally {
    await ws.stop();
  }
});

Frames.run();
Tables.run();
Faulty.run();
