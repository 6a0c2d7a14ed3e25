// The case tables: Autobahn|Testsuite fuzzingclient sections 1 to 10 (301 cases), numbered as
// Autobahn numbers them, plus a few additions of our own (ids starting with "x"). Each case says
// what it sends, which events the client must observe, and how the connection must close; the
// runner (runner.ts) plays and judges it. Sections 12 and 13 (permessage-deflate) have their own
// tables and runner: deflate-cases.ts, deflate-runner.ts.
import { Op, buildFrame, bytes, closePayload, repeat, type Bytes } from './frames.ts';
import type { Observed } from './connection.ts';
import type { CaseSpec, ExpectedClose } from './runner.ts';
import { KOSME, UTF8_GROUPS } from './utf8-vectors.ts';

const NORMAL = 1000;
const PROTOCOL_ERROR = 1002;
const INVALID_PAYLOAD = 1007;

const text = (data: Bytes): Observed => ({ type: 'message', binary: false, data: bytes(data) });
const binary = (data: Bytes): Observed => ({ type: 'message', binary: true, data: bytes(data) });
const pong = (data: Bytes = ''): Observed => ({ type: 'pong', data: bytes(data) });
const timeout = (label: string): Observed => ({ type: 'timeout', label });

/** The client closes with 1000 once the expected events arrived; the server answers and closes TCP. */
const CLEAN: ExpectedClose = { closedByMe: true, codes: [NORMAL], requireClean: true };
/** The server must fail the connection: close frame with `code`, or a dropped TCP connection. */
const fails = (code: number): ExpectedClose => ({ closedByMe: false, codes: [code], requireClean: false });

const f = (opcode: number, payload: Bytes = '', fin = true, rsv = 0) => buildFrame({ opcode, payload, fin, rsv });

const HELLO = 'Hello, world!';
const SMALL_BINARY = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
const KIB = 1024;
const MIB = 1024 * 1024;

function section1(): CaseSpec[] {
  const out: CaseSpec[] = [];
  const lengths = [0, 125, 126, 127, 128, 65535, 65536];
  for (const [sub, opcode, unit, kind] of [[1, Op.TEXT, '*', 'text'], [2, Op.BINARY, Buffer.from([0xfe]), 'binary']] as const) {
    const mk = (n: number) => repeat(unit, n);
    const exp = (n: number) => (opcode === Op.TEXT ? text(mk(n)) : binary(mk(n)));
    lengths.forEach((n, i) => out.push({
      id: `1.${sub}.${i + 1}`,
      title: `echoes a ${kind} message of ${n} bytes`,
      expected: { OK: [exp(n)] },
      close: CLEAN,
      run: (io) => io.sendFrame({ opcode, payload: mk(n) }),
    }));
    out.push({
      id: `1.${sub}.8`,
      title: `echoes a ${kind} message of 65536 bytes written in 997-byte chops`,
      expected: { OK: [exp(65536)] },
      close: CLEAN,
      run: (io) => io.sendFrame({ opcode, payload: mk(65536) }, { chop: 997 }),
    });
  }
  return out;
}

function section2(): CaseSpec[] {
  const tenPings = (chop?: number): CaseSpec['run'] => async (io) => {
    for (let i = 0; i < 10; i++) await io.sendFrame({ opcode: Op.PING, payload: `payload-${i}` }, { chop });
  };
  const tenPongs = Array.from({ length: 10 }, (_, i) => pong(`payload-${i}`));
  return [
    { id: '2.1', title: 'answers a ping without payload with an empty pong', expected: { OK: [pong()] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PING }) },
    { id: '2.2', title: 'answers a ping with a text payload with the same payload', expected: { OK: [pong(HELLO)] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PING, payload: HELLO }) },
    { id: '2.3', title: 'answers a ping with a binary payload with the same payload', expected: { OK: [pong(SMALL_BINARY)] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PING, payload: SMALL_BINARY }) },
    { id: '2.4', title: 'answers a ping with the maximum 125-byte payload', expected: { OK: [pong(Buffer.alloc(125, 0xfe))] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PING, payload: Buffer.alloc(125, 0xfe) }) },
    { id: '2.5', title: 'fails the connection with 1002 on a ping of 126 bytes', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.sendFrame({ opcode: Op.PING, payload: Buffer.alloc(126, 0xfe) }) },
    { id: '2.6', title: 'answers a 125-byte ping written in 1-byte chops', timeoutMs: 2000, expected: { OK: [pong(Buffer.alloc(125, 0xfe))] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PING, payload: Buffer.alloc(125, 0xfe) }, { chop: 1 }) },
    { id: '2.7', title: 'ignores an unsolicited pong without payload', expected: { OK: [] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PONG }) },
    { id: '2.8', title: 'ignores an unsolicited pong with payload', expected: { OK: [] }, close: CLEAN,
      run: (io) => io.sendFrame({ opcode: Op.PONG, payload: 'unsolicited pong payload' }) },
    { id: '2.9', title: 'ignores an unsolicited pong and answers the ping after it', expected: { OK: [pong('ping payload')] }, close: CLEAN,
      run: (io) => io.send([f(Op.PONG, 'unsolicited pong payload'), f(Op.PING, 'ping payload')]) },
    { id: '2.10', title: 'answers 10 pings with 10 pongs in order', expected: { OK: tenPongs }, close: CLEAN, run: tenPings() },
    { id: '2.11', title: 'answers 10 pings written in 1-byte chops with 10 pongs in order', expected: { OK: tenPongs }, close: CLEAN, run: tenPings(1) },
  ];
}

function section3(): CaseSpec[] {
  const afterValid = (id: string, rsv: number, mode: 'one' | 'sync' | 'chop'): CaseSpec => ({
    id,
    title: `echoes a text message, then fails with 1002 on a text frame with RSV ${rsv} (${mode === 'one' ? 'one write' : mode === 'sync' ? 'one write per frame' : '1-byte writes'})`,
    expected: { OK: [text(HELLO)], 'NON-STRICT': [] },
    close: fails(PROTOCOL_ERROR),
    run: (io) => io.send([f(Op.TEXT, HELLO), f(Op.TEXT, HELLO, true, rsv), f(Op.PING)], { sync: mode !== 'one', chop: mode === 'chop' ? 1 : undefined }),
  });
  return [
    { id: '3.1', title: 'fails with 1002 on a text frame with RSV 1', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send(f(Op.TEXT, HELLO, true, 1)) },
    afterValid('3.2', 2, 'one'),
    afterValid('3.3', 3, 'sync'),
    afterValid('3.4', 4, 'chop'),
    { id: '3.5', title: 'fails with 1002 on a binary frame with RSV 5', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send(f(Op.BINARY, SMALL_BINARY, true, 5)) },
    { id: '3.6', title: 'fails with 1002 on a ping with RSV 6', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send(f(Op.PING, 'ping payload', true, 6)) },
    { id: '3.7', title: 'fails with 1002 on a close frame with RSV 7', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send(f(Op.CLOSE, '', true, 7)) },
  ];
}

function section4(): CaseSpec[] {
  const out: CaseSpec[] = [];
  const kinds = [[1, 'non-control', [3, 4, 5, 6, 7]], [2, 'control', [11, 12, 13, 14, 15]]] as const;
  for (const [sub, kind, opcodes] of kinds) {
    opcodes.forEach((opcode, i) => {
      const id = `4.${sub}.${i + 1}`;
      if (i < 2) {
        out.push({ id, title: `fails with 1002 on a frame with reserved ${kind} opcode ${opcode}${i === 1 ? ' and a payload' : ''}`,
          expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
          run: (io) => io.send(f(opcode, i === 1 ? HELLO : '')) });
      } else {
        out.push({ id, title: `echoes a text message, then fails with 1002 on reserved ${kind} opcode ${opcode}${i > 2 ? ' with a payload' : ''} before a ping`,
          expected: { OK: [text(HELLO)], 'NON-STRICT': [] }, close: fails(PROTOCOL_ERROR),
          run: (io) => io.send([f(Op.TEXT, HELLO), f(opcode, i > 2 ? HELLO : ''), f(Op.PING)]) });
      }
    });
  }
  return out;
}

function section5(): CaseSpec[] {
  const two = [f(Op.TEXT, 'fragment1', false), f(Op.CONTINUATION, 'fragment2')];
  const withPing = () => [f(Op.TEXT, 'fragment1', false), f(Op.PING, 'ping payload'), f(Op.CONTINUATION, 'fragment2')];
  const modes = [['one write', {}], ['one write per frame', { sync: true }], ['1-byte writes', { sync: true, chop: 1 }]] as const;
  const out: CaseSpec[] = [
    { id: '5.1', title: 'fails with 1002 on a ping in 2 fragments', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send([f(Op.PING, 'fragment1', false), f(Op.CONTINUATION, 'fragment2')]) },
    { id: '5.2', title: 'fails with 1002 on a pong in 2 fragments', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send([f(Op.PONG, 'fragment1', false), f(Op.CONTINUATION, 'fragment2')]) },
  ];
  modes.forEach(([how, opts], i) => out.push({ id: `5.${3 + i}`, title: `echoes a text message in 2 fragments (${how})`,
    expected: { OK: [text('fragment1fragment2')] }, close: CLEAN, run: (io) => io.send(two, opts) }));
  modes.forEach(([how, opts], i) => out.push({ id: `5.${6 + i}`, title: `answers a ping between 2 text fragments, then echoes the message (${how})`,
    expected: { OK: [pong('ping payload'), text('fragment1fragment2')] }, close: CLEAN, run: (io) => io.send(withPing(), opts) }));
  for (const [first, fin] of [[9, true], [12, false]] as const) {
    modes.forEach(([how, opts], i) => out.push({ id: `5.${first + i}`,
      title: `fails with 1002 on a continuation frame (FIN ${fin ? 1 : 0}) with nothing to continue, before a text message (${how})`,
      expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send([f(Op.CONTINUATION, 'non-continuation payload', fin), f(Op.TEXT, HELLO)], opts) }));
  }
  out.push(
    { id: '5.15', title: 'echoes a 2-fragment message, then fails with 1002 on a continuation with nothing to continue',
      expected: { OK: [text('fragment1fragment2')], 'NON-STRICT': [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send([...two, f(Op.CONTINUATION, 'fragment3', false), f(Op.TEXT, 'fragment4')]) },
    ...[[16, false], [17, true]].map(([n, fin]) => ({
      id: `5.${n}`, title: `fails with 1002 on a continuation (FIN ${fin ? 1 : 0}) with nothing to continue, followed twice by a 2-fragment message`,
      expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => {
        const group = [f(Op.CONTINUATION, 'fragment1', fin as boolean), f(Op.TEXT, 'fragment2', false), f(Op.CONTINUATION, 'fragment3')];
        return io.send([...group, ...group]);
      },
    }) as CaseSpec),
    { id: '5.18', title: 'fails with 1002 on a text frame inside a fragmented text message', expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send([f(Op.TEXT, 'fragment1', false), f(Op.TEXT, 'fragment2')]) },
  );
  const fiveWithPings = (sync: boolean): CaseSpec['run'] => async (io) => {
    await io.send([f(Op.TEXT, 'fragment1', false), f(Op.CONTINUATION, 'fragment2', false), f(Op.PING, 'pongme 1!')], { sync });
    // Autobahn waits 1 s here: the pong must come before the message is complete.
    await io.conn.until(() => io.conn.received.length > 0 || !io.conn.open, io.timing.waitMs);
    await io.send([f(Op.CONTINUATION, 'fragment3', false), f(Op.CONTINUATION, 'fragment4', false), f(Op.PING, 'pongme 2!'), f(Op.CONTINUATION, 'fragment5')], { sync });
  };
  const fiveExpected = [pong('pongme 1!'), pong('pongme 2!'), text('fragment1fragment2fragment3fragment4fragment5')];
  out.push(
    { id: '5.19', title: 'answers pings between 5 text fragments sent with a pause, and echoes the message', expected: { OK: fiveExpected }, close: CLEAN, run: fiveWithPings(false) },
    { id: '5.20', title: 'answers pings between 5 text fragments sent with a pause, one write per frame, and echoes the message', expected: { OK: fiveExpected }, close: CLEAN, run: fiveWithPings(true) },
  );
  return out;
}

const HELLO_UTF8 = 'Hello-µ@ßöäüàá-UTF-8!!';
/** κόσμε, then U+D800 (a surrogate, ED A0 80), then "edited": invalid at the byte A0. */
const KOSME_SURROGATE = Buffer.concat([KOSME, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')]);
/** κόσμε, then F4 90 80 80 (U+110000 in the UTF-8 scheme, beyond U+10FFFF), then "edited": invalid at the byte 90. */
const KOSME_TOO_BIG = Buffer.concat([KOSME, Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('edited')]);

function section6(): CaseSpec[] {
  const out: CaseSpec[] = [
    { id: '6.1.1', title: 'echoes an empty text message', expected: { OK: [text('')] }, close: CLEAN,
      run: (io) => io.send(f(Op.TEXT, '')) },
    { id: '6.1.2', title: 'echoes a text message of 3 empty fragments', expected: { OK: [text('')] }, close: CLEAN,
      run: (io) => io.send([f(Op.TEXT, '', false), f(Op.CONTINUATION, '', false), f(Op.CONTINUATION, '')]) },
    { id: '6.1.3', title: 'echoes a text message of an empty, a non-empty and an empty fragment', expected: { OK: [text('middle frame payload')] }, close: CLEAN,
      run: (io) => io.send([f(Op.TEXT, '', false), f(Op.CONTINUATION, 'middle frame payload', false), f(Op.CONTINUATION, '')]) },
    { id: '6.2.1', title: 'echoes valid UTF-8 in one frame', expected: { OK: [text(HELLO_UTF8)] }, close: CLEAN,
      run: (io) => io.send(f(Op.TEXT, HELLO_UTF8)) },
    { id: '6.2.2', title: 'echoes valid UTF-8 in 2 fragments split on a code point boundary', expected: { OK: [text(HELLO_UTF8)] }, close: CLEAN,
      run: (io) => io.send([f(Op.TEXT, 'Hello-µ@ßöä', false), f(Op.CONTINUATION, 'üàá-UTF-8!!')]) },
    { id: '6.2.3', title: 'echoes valid UTF-8 sent in 1-byte fragments', expected: { OK: [text(HELLO_UTF8)] }, close: CLEAN,
      run: (io) => io.sendMessage(Op.TEXT, HELLO_UTF8, { fragmentSize: 1 }) },
    { id: '6.2.4', title: 'echoes valid multi-byte UTF-8 sent in 1-byte fragments (split inside code points)', expected: { OK: [text(KOSME)] }, close: CLEAN,
      run: (io) => io.sendMessage(Op.TEXT, KOSME, { fragmentSize: 1 }) },
    { id: '6.3.1', title: 'fails with 1007 on a text message with a surrogate in one frame', expected: { OK: [] }, close: fails(INVALID_PAYLOAD),
      run: (io) => io.send(f(Op.TEXT, KOSME_SURROGATE)) },
    { id: '6.3.2', title: 'fails with 1007 on a text message with a surrogate sent in 1-byte fragments', expected: { OK: [] }, close: fails(INVALID_PAYLOAD),
      run: (io) => io.sendMessage(Op.TEXT, KOSME_SURROGATE, { fragmentSize: 1 }) },
  ];
  // 6.4.x fail fast: after the part that makes the text invalid, the server must fail within the
  // wait; failing only after the last part is Autobahn's NON-STRICT.
  const failFast = (id: string, title: string, parts: (io: Parameters<CaseSpec['run']>[0]) => Promise<void>[] | (() => Promise<void>)[]): CaseSpec => ({
    id, title, failFast: true,
    expected: { OK: [timeout('A')], 'NON-STRICT': [timeout('A'), timeout('B')] },
    close: fails(INVALID_PAYLOAD),
    run: async (io) => {
      const [p1, p2, p3] = parts(io) as (() => Promise<void>)[];
      await p1();
      if (!(await io.later('A'))) return;
      await p2();
      if (!(await io.later('B'))) return;
      await p3();
    },
  });
  const P = KOSME_TOO_BIG;
  const frameParts = (cut1: number, cut2: number) => (io: Parameters<CaseSpec['run']>[0]) => [
    () => io.send(f(Op.TEXT, P.subarray(0, cut1), false)),
    () => io.send(f(Op.CONTINUATION, P.subarray(cut1, cut2), false)),
    () => io.send(f(Op.CONTINUATION, P.subarray(cut2))),
  ];
  // One frame, written in three chops: its header plus the first bytes, then the rest in two parts.
  const chopParts = (cut1: number, cut2: number) => (io: Parameters<CaseSpec['run']>[0]) => {
    const frame = f(Op.TEXT, P);
    const head = frame.length - P.length;
    return [
      () => io.send(frame.subarray(0, head + cut1)),
      () => io.send(frame.subarray(head + cut1, head + cut2)),
      () => io.send(frame.subarray(head + cut2)),
    ];
  };
  out.push(
    failFast('6.4.1', 'fails with 1007 as soon as the fragment holding U+110000 arrives, before the message is complete', frameParts(11, 15)),
    failFast('6.4.2', 'fails with 1007 as soon as the fragment holding the one invalid byte arrives, before the message is complete', frameParts(12, 13)),
    failFast('6.4.3', 'fails with 1007 as soon as the chop holding U+110000 arrives, before the frame is complete', chopParts(11, 15)),
    failFast('6.4.4', 'fails with 1007 as soon as the chop holding the one invalid byte arrives, before the frame is complete', chopParts(12, 13)),
  );
  for (const group of UTF8_GROUPS) {
    group.vectors.forEach((v, i) => out.push({
      id: `${group.section}.${i + 1}`,
      title: v.valid
        ? `echoes valid UTF-8 in one frame: ${group.title} (0x${v.bytes.toString('hex').slice(0, 40)})`
        : `fails with 1007 on invalid UTF-8 in one frame: ${group.title} (0x${v.bytes.toString('hex').slice(0, 40)})`,
      expected: { OK: v.valid ? [text(v.bytes)] : [] },
      close: v.valid ? CLEAN : fails(INVALID_PAYLOAD),
      timeoutMs: 500, // Autobahn's killAfter(0.5) for these
      run: (io) => io.send(f(Op.TEXT, v.bytes)),
    }));
  }
  return out;
}

function section7(): CaseSpec[] {
  const closing = (id: string, title: string, payload: Buffer, codes: number[], requireClean: boolean): CaseSpec => ({
    id, title, suppressClose: true, expected: { OK: [] }, close: { closedByMe: true, codes, requireClean },
    run: async (io) => io.sendClosePayload(payload),
  });
  const out: CaseSpec[] = [
    { id: '7.1.1', title: 'echoes a message, then answers the close handshake with 1000', expected: { OK: [text('Hello World!')] }, close: CLEAN,
      run: (io) => io.send(f(Op.TEXT, 'Hello World!')) },
    { id: '7.1.2', title: 'answers the first of two close frames and ignores the second', suppressClose: true, expected: { OK: [] }, close: CLEAN,
      run: async (io) => { io.sendClose(NORMAL); await io.send(f(Op.CLOSE)); } },
    { id: '7.1.3', title: 'sends no pong for a ping that follows the close frame', suppressClose: true, expected: { OK: [] }, close: CLEAN,
      run: async (io) => { io.sendClose(NORMAL); await io.send(f(Op.PING, 'Hello World!')); } },
    { id: '7.1.4', title: 'does not echo a text message that follows the close frame', suppressClose: true, expected: { OK: [] }, close: CLEAN,
      run: async (io) => { io.sendClose(NORMAL); await io.send(f(Op.TEXT, 'Hello World!')); } },
    { id: '7.1.5', title: 'does not echo a message whose last fragment follows the close frame', suppressClose: true, expected: { OK: [] }, close: CLEAN,
      run: async (io) => { await io.send(f(Op.TEXT, 'fragment1', false)); io.sendClose(NORMAL); await io.send(f(Op.CONTINUATION, 'fragment2')); } },
    { id: '7.1.6', title: 'closes cleanly after a 256 KiB message, a text message, a close frame and a ping sent back to back',
      suppressClose: true, informational: true, expected: { OK: [text('Hello World!')], 'NON-STRICT': [] }, close: CLEAN,
      run: async (io) => {
        // Autobahn expects the 256 KiB message to be dropped or not (implementation defined).
        await io.send([f(Op.TEXT, repeat('BAsd7&jh23', 256 * KIB)), f(Op.TEXT, 'Hello World!')]);
        io.sendClose(NORMAL);
        await io.send(f(Op.PING));
      } },
    closing('7.3.1', 'answers a close frame without payload with an empty close or 1000', Buffer.alloc(0), [NORMAL], true),
    closing('7.3.2', 'fails with 1002 on a close frame with a 1-byte payload', Buffer.from('a'), [PROTOCOL_ERROR], false),
    closing('7.3.3', 'answers close 1000 without reason with 1000', closePayload(NORMAL), [NORMAL], true),
    closing('7.3.4', 'answers close 1000 with a short reason with 1000', closePayload(NORMAL, 'Hello World!'), [NORMAL], true),
    closing('7.3.5', 'answers close 1000 with a 123-byte reason (125-byte payload) with 1000', closePayload(NORMAL, '*'.repeat(123)), [NORMAL], true),
    closing('7.3.6', 'fails with 1002 on a close frame with a 124-byte reason (126-byte payload)', closePayload(NORMAL, '*'.repeat(124)), [PROTOCOL_ERROR], false),
    closing('7.5.1', 'fails with 1007 (or 1002) on a close reason that is not valid UTF-8', closePayload(NORMAL, KOSME_SURROGATE), [PROTOCOL_ERROR, INVALID_PAYLOAD], false),
  ];
  [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) =>
    out.push(closing(`7.7.${i + 1}`, `answers close ${code} with ${code} or 1000`, closePayload(code), code === NORMAL ? [NORMAL] : [NORMAL, code], true)));
  [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) =>
    out.push(closing(`7.9.${i + 1}`, `fails with 1002 on the invalid close code ${code}`, closePayload(code), [PROTOCOL_ERROR], false)));
  out.push(
    { ...closing('7.13.1', 'closes TCP after a close frame with code 5000 (outcome undefined by the spec)', closePayload(5000), [NORMAL, 5000, PROTOCOL_ERROR], false), informational: true },
    { ...closing('7.13.2', 'closes TCP after a close frame with code 65535 (outcome undefined by the spec)', closePayload(65535), [NORMAL, 65535, PROTOCOL_ERROR], false), informational: true },
  );
  return out;
}

function section9(): CaseSpec[] {
  const out: CaseSpec[] = [];
  const big = [64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 8 * MIB, 16 * MIB];
  const size = (n: number) => (n >= MIB ? `${n / MIB} MiB` : `${n / KIB} KiB`);
  const kinds = [[Op.TEXT, 'text', 'BAsd7&jh23', '*'], [Op.BINARY, 'binary', Buffer.from([0xfe]), Buffer.from([0xfe])]] as const;
  const echo = (opcode: number, data: Buffer) => (opcode === Op.TEXT ? text(data) : binary(data));
  // In `npm test` only a reduced set runs (the smallest and the largest of each family); the full
  // set runs with CONFORMANCE_FULL=1.
  kinds.forEach(([opcode, kind, unit], k) => big.forEach((n, i) => {
    const data = () => repeat(unit, n);
    out.push({ id: `9.${1 + k}.${i + 1}`, title: `echoes a ${size(n)} ${kind} message in one frame`,
      full: i !== 0 && i !== big.length - 1, timeoutMs: 20000,
      expected: { OK: [echo(opcode, data())] }, close: CLEAN, run: (io) => io.send(f(opcode, data())) });
  }));
  const fragSizes = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB];
  kinds.forEach(([opcode, kind, , unit], k) => fragSizes.forEach((frag, i) => {
    const data = () => repeat(unit, 4 * MIB);
    out.push({ id: `9.${3 + k}.${i + 1}`, title: `echoes a 4 MiB ${kind} message sent in fragments of ${frag} bytes`,
      full: !(i === 0 && k === 0) && i !== fragSizes.length - 1, timeoutMs: 20000,
      expected: { OK: [echo(opcode, data())] }, close: CLEAN, run: (io) => io.sendMessage(opcode, data(), { fragmentSize: frag }) });
  }));
  const chops = [64, 128, 256, 512, 1024, 2048];
  kinds.forEach(([opcode, kind, unit], k) => chops.forEach((chop, i) => {
    const data = () => repeat(unit, MIB);
    out.push({ id: `9.${5 + k}.${i + 1}`, title: `echoes a 1 MiB ${kind} message written in ${chop}-byte chops`,
      full: !(i === chops.length - 1 || (i === 0 && k === 1)), timeoutMs: 20000,
      expected: { OK: [echo(opcode, data())] }, close: CLEAN, run: (io) => io.send(f(opcode, data()), { chop }) });
  }));
  const rtt = [0, 16, 64, 256, 1024, 4096];
  kinds.forEach(([opcode, kind, , unit], k) => rtt.forEach((n, i) => {
    const one = repeat(unit, n);
    out.push({ id: `9.${7 + k}.${i + 1}`, title: `echoes 1000 ${kind} messages of ${n} bytes, one round trip at a time`,
      full: i !== 0 && i !== rtt.length - 1, timeoutMs: 20000,
      expected: { OK: Array.from({ length: 1000 }, () => echo(opcode, one)) }, close: CLEAN,
      run: async (io) => {
        const frame = f(opcode, one);
        for (let m = 0; m < 1000; m++) {
          await io.send(frame);
          if (!(await io.waitReceived(m + 1, 5000))) return;
        }
      } });
  }));
  return out;
}

function section10(): CaseSpec[] {
  const payload = repeat('*', 65536);
  return [{
    id: '10.1.1', title: 'echoes a 65536-byte text message sent in 1300-byte fragments', timeoutMs: 10000,
    expected: { OK: [text(payload)] }, close: CLEAN,
    run: (io) => io.sendMessage(Op.TEXT, payload, { fragmentSize: 1300 }),
  }];
}

/** Our additions: edges the brief asks for that Autobahn does not test on its own. */
function extras(): CaseSpec[] {
  const out: CaseSpec[] = [
    { id: 'x6.4.5', failFast: true,
      title: 'fails with 1007 on an invalid byte in a middle fragment, before the message is complete',
      expected: { OK: [timeout('A')], 'NON-STRICT': [timeout('A'), timeout('B')] }, close: fails(INVALID_PAYLOAD),
      run: async (io) => {
        await io.send(f(Op.TEXT, 'héllo', false));
        if (!(await io.later('A'))) return;
        await io.send(f(Op.CONTINUATION, Buffer.from([0x41, 0xff, 0x42]), false));
        if (!(await io.later('B'))) return;
        await io.send(f(Op.CONTINUATION, 'rest'));
      } },
    { id: 'x6.4.6', failFast: true,
      title: 'fails with 1007 on a message whose first fragment holds an invalid byte, without waiting for its last fragment',
      expected: { OK: [], 'NON-STRICT': [timeout('B')] }, close: fails(INVALID_PAYLOAD),
      run: async (io) => {
        // The very first fragment is invalid (an overlong "/"); Autobahn's 6.4.x spoil a later one.
        await io.send(f(Op.TEXT, Buffer.from([0x61, 0xc0, 0xaf, 0x62]), false));
        if (!(await io.later('B'))) return;
        await io.send(f(Op.CONTINUATION, 'rest'));
      } },
    { id: 'x5.21', title: 'echoes a binary message in 3 fragments with a ping and an unsolicited pong between them',
      expected: { OK: [pong('p'), binary(Buffer.from([1, 2, 3, 4, 5, 6]))] }, close: CLEAN,
      run: (io) => io.send([f(Op.BINARY, Buffer.from([1, 2]), false), f(Op.PONG, 'unsolicited'), f(Op.CONTINUATION, Buffer.from([3, 4]), false),
        f(Op.PING, 'p'), f(Op.CONTINUATION, Buffer.from([5, 6]))], { sync: true, chop: 1 }) },
    { id: 'x1.3', title: 'fails with 1002 on an unmasked client frame',
      expected: { OK: [] }, close: fails(PROTOCOL_ERROR),
      run: (io) => io.send(buildFrame({ opcode: Op.TEXT, payload: HELLO, mask: false })) },
    { id: 'x1.4', title: 'echoes text frames whose 16-bit and 64-bit length fields are split across writes',
      expected: { OK: [text(repeat('a', 300)), text(repeat('b', 70000))] }, close: CLEAN,
      run: async (io) => { await io.send(f(Op.TEXT, repeat('a', 300)), { chop: 3 }); await io.send(f(Op.TEXT, repeat('b', 70000)), { chop: 5000 }); } },
  ];
  // RFC 6455 §7.4.1 / IANA: 1012-1014 are registered and valid on the wire (Autobahn predates them).
  for (const code of [1012, 1013, 1014]) {
    out.push({ id: `x7.7.${code}`, title: `answers the registered close code ${code} with ${code} or 1000`, suppressClose: true,
      expected: { OK: [] }, close: { closedByMe: true, codes: [NORMAL, code], requireClean: true },
      run: async (io) => io.sendClosePayload(closePayload(code)) });
  }
  for (const code of [1015, 5000]) {
    out.push({ id: `x7.9.${code}`, title: `fails with 1002 on the invalid close code ${code}`, suppressClose: true,
      expected: { OK: [] }, close: { closedByMe: true, codes: [PROTOCOL_ERROR], requireClean: false },
      run: async (io) => io.sendClosePayload(closePayload(code)) });
  }
  return out;
}

/** Every Autobahn case of sections 1-10, in Autobahn's order. */
export function autobahnCases(): CaseSpec[] {
  return [...section1(), ...section2(), ...section3(), ...section4(), ...section5(), ...section6(), ...section7(), ...section9(), ...section10()];
}

/** Our additional cases. */
export function extraCases(): CaseSpec[] {
  return extras();
}

/** The cases to run: all of them with `full`, otherwise without the heavy section 9 ones. */
export function selectCases(full: boolean): CaseSpec[] {
  return [...autobahnCases(), ...extraCases()].filter((c) => full || !c.full);
}
