// Strict close ordering (issue 11, src/daemon/worker/close-order.ts): a valid message followed by
// a frame that breaks the protocol, or by the client's close frame, in the same read: the app's
// reply to the message goes out before our close frame, even when the app takes its time. A close
// with nothing to wait for goes out at once, and one whose app is stuck goes out after
// CLOSE_ORDER_WAIT_MS without the reply.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';
import { daemonSuite } from './helpers/daemon-exit.ts';
import { rawExchange, upgradeRequest, clientFrame } from './helpers/client.ts';
import { CloseCode, Opcode } from '../src/core/codes.ts';
import { CLOSE_ORDER_WAIT_MS } from '../src/daemon/worker/close-order.ts';

const Order = suite<{ d: RunningDaemon }>('strict close ordering over the daemon');

const life = daemonSuite(Order, async (ctx) => {
  ctx.d = await startDaemon({
    apps: [{ name: 'slow', app_path: 'test/fixtures/apps/slow-echo/app.ts', paths: ['/slow'] }],
    config: { worker_c: 1 },
  });
});

/** Server frames after the 101's head: [opcode, payload]. */
function framesAfterHead(b: Buffer): [number, Buffer][] {
  const end = b.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a response head: ${b.subarray(0, 80).toString()}`);
  assert.match(b.subarray(0, end).toString(), /^HTTP\/1\.1 101 /);
  const out: [number, Buffer][] = [];
  let p = end + 4;
  while (p + 2 <= b.length) {
    let len = b[p + 1] & 0x7f;
    let h = 2;
    if (len === 126) { len = b.readUInt16BE(p + 2); h = 4; }
    assert.ok(p + h + len <= b.length, 'whole frames');
    out.push([b[p] & 0x0f, b.subarray(p + h, p + h + len)]);
    p += h + len;
  }
  return out;
}

/** A data frame with RSV2 set: no extension defines it (RFC 6455 §5.2: fail with 1002). */
function rsv2Frame(): Buffer {
  const f = clientFrame(Opcode.TEXT, 'bad');
  f[0] |= 0x20;
  return f;
}

async function exchange(d: RunningDaemon, ...frames: Buffer[]): Promise<{ frames: [number, Buffer][]; ms: number }> {
  const t0 = performance.now();
  // The request and the frames in one write: they arrive in one read, the case to order.
  const raw = await rawExchange(d.port, [Buffer.concat([Buffer.from(upgradeRequest(d.port, '/slow')), ...frames])], 10_000);
  return { frames: framesAfterHead(raw), ms: performance.now() - t0 };
}

Order('a message, then a protocol error: the echo, then close 1002, even from a slow callback', async ({ d }) => {
  const { frames, ms } = await exchange(d, clientFrame(Opcode.TEXT, 'wait 200 hello'), rsv2Frame());
  assert.equal(frames.map(([op]) => op), [Opcode.TEXT, Opcode.CLOSE]);
  assert.is(frames[0][1].toString(), 'wait 200 hello');
  assert.is(frames[1][1].readUInt16BE(0), CloseCode.PROTOCOL_ERROR);
  assert.ok(ms >= 190, `the close waited for the callback (${ms.toFixed(0)} ms)`);
});

Order('three messages, then the client\'s close frame: three echoes in order, then the close reply', async ({ d }) => {
  const close = Buffer.from([0x03, 0xe8]); // 1000
  const { frames } = await exchange(d,
    clientFrame(Opcode.TEXT, 'wait 50 one'), clientFrame(Opcode.TEXT, 'two'), clientFrame(Opcode.TEXT, 'three'),
    clientFrame(Opcode.CLOSE, close));
  assert.equal(frames.map(([op, p]) => op === Opcode.TEXT ? p.toString() : op), ['wait 50 one', 'two', 'three', Opcode.CLOSE]);
  assert.is(frames[3][1].readUInt16BE(0), CloseCode.NORMAL);
});

Order('a message without reply, then a protocol error: the close comes promptly', async ({ d }) => {
  const { frames, ms } = await exchange(d, clientFrame(Opcode.TEXT, 'quiet'), rsv2Frame());
  assert.equal(frames.map(([op]) => op), [Opcode.CLOSE]);
  assert.is(frames[0][1].readUInt16BE(0), CloseCode.PROTOCOL_ERROR);
  assert.ok(ms < 500, `closed in ${ms.toFixed(0)} ms`);
});

Order('a protocol error alone closes at once', async ({ d }) => {
  const { frames, ms } = await exchange(d, rsv2Frame());
  assert.equal(frames.map(([op]) => op), [Opcode.CLOSE]);
  assert.ok(ms < 500, `closed in ${ms.toFixed(0)} ms`);
});

Order(`a callback stuck past ${CLOSE_ORDER_WAIT_MS} ms: the close goes out without the reply, and nothing after it`, async ({ d }) => {
  const { frames, ms } = await exchange(d, clientFrame(Opcode.TEXT, `wait ${CLOSE_ORDER_WAIT_MS + 1000} late`), rsv2Frame());
  assert.equal(frames.map(([op]) => op), [Opcode.CLOSE], 'the close only');
  assert.is(frames[0][1].readUInt16BE(0), CloseCode.PROTOCOL_ERROR);
  assert.ok(ms >= CLOSE_ORDER_WAIT_MS - 50 && ms < CLOSE_ORDER_WAIT_MS + 900, `closed after ${ms.toFixed(0)} ms`);
});

Order('the worker serves a new client normally after all that', async ({ d }) => {
  const { frames } = await exchange(d, clientFrame(Opcode.TEXT, 'still here'), clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
  assert.equal(frames.map(([op, p]) => op === Opcode.TEXT ? p.toString() : op), ['still here', Opcode.CLOSE]);
});

life.stopTest();

Order.run();
