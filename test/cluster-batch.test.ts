// The cluster's pure parts: client ids with a node number (src/cluster/ids.ts), the cross-node batch
// (src/cluster/batch.ts) and the outbox that groups a batch's entries into publications
// (src/cluster/outbox.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  makeClientId, workerOfClient, nodeOfClient, nodeNumberOf, serialBase, nextSerial, MAX_SERIAL, NODE_SPACE, SERIALS_PER_SECOND,
} from '../src/cluster/ids.ts';
import { encodeBatch, decodeBatch, batchNode, BatchError, Remote, BATCH_HEADER_SIZE, type RemoteEntry } from '../src/cluster/batch.ts';
import { channelOf, channelSpace, retryDelay } from '../src/cluster/link.ts';
import { RateLimitedLog, RATE_LOG_INTERVAL_MS } from '../src/cluster/rate-log.ts';
import type { Logger } from '../src/log.ts';
import { Outbox } from '../src/cluster/outbox.ts';
import { Opcode } from '../src/core/codes.ts';

const isBatchError = (e: unknown) => e instanceof BatchError;
const bytes = (s: string) => new TextEncoder().encode(s);

test('ids: a daemon alone (node 0) hands out the ids it always did', () => {
  assert.is(makeClientId(1, 0), 257);
  assert.is(makeClientId(5, 2), 5 * 256 + 3);
  assert.is(serialBase(0, Date.now()), 0);
  assert.is(nodeOfClient(makeClientId(123456, 7)), 0);
});

test('ids: worker and node come back out of every id, up to the largest serial', () => {
  for (const node of [1, 468, NODE_SPACE - 1]) {
    for (const worker of [0, 1, 254]) {
      for (const serial of [1, 2 ** 32, MAX_SERIAL]) {
        const id = makeClientId(serial, worker, node);
        assert.ok(Number.isSafeInteger(id), `${serial}/${worker}/${node}`);
        assert.is(workerOfClient(id), worker);
        assert.is(nodeOfClient(id), node);
      }
    }
  }
});

test('ids: node numbers are 1..4095, stable, and differ for the usual names', () => {
  const names = ['node-a', 'node-b', 'node-c', 'node-1', 'node-2', 'node-3', 'a', 'b', 'c', 'eu-west-1a', 'eu-west-1b'];
  const seen = new Set<number>();
  for (const n of names) {
    const k = nodeNumberOf(n);
    assert.ok(k >= 1 && k < NODE_SPACE, `${n}: ${k}`);
    assert.is(nodeNumberOf(n), k);
    seen.add(k);
  }
  assert.is(seen.size, names.length);
});

test('ids: a cluster node restarted later starts its serials past the ones it could have used', () => {
  const t0 = Date.UTC(2026, 11, 1);
  const a = serialBase(9, t0);
  const b = serialBase(9, t0 + 3_600_000);
  assert.is(b - a, 3600 * SERIALS_PER_SECOND);
  // Room for 2^32 serials above any base: ids stay safe integers.
  for (const year of [2026, 2030, 2034, 2040]) assert.ok(serialBase(9, Date.UTC(year, 5, 1)) + 2 ** 32 <= MAX_SERIAL, String(year));
  assert.is(nextSerial(MAX_SERIAL, 9), 1);
  assert.is(nextSerial(7, 9), 8);
  // A daemon alone never wraps: its ids stay what they always were.
  assert.is(nextSerial(MAX_SERIAL, 0), MAX_SERIAL + 1);
});

const entries: RemoteEntry[] = [
  { kind: Remote.EVERY, opcode: Opcode.TEXT, ids: [], payload: bytes('hello') },
  { kind: Remote.EVERY_EXCEPT, opcode: Opcode.BINARY, ids: [makeClientId(3, 0, 7), makeClientId(4, 1, 7)], payload: new Uint8Array([0, 255, 1]) },
  { kind: Remote.TO, opcode: Opcode.TEXT, ids: [makeClientId(9, 0, 8)], payload: new Uint8Array(0) },
  { kind: Remote.CLOSE, opcode: Opcode.CLOSE, ids: [makeClientId(9, 0, 8)], payload: new Uint8Array([0x0f, 0xa0]) },
];

test('batch: entries survive a round trip', () => {
  const b = decodeBatch(encodeBatch(42, entries));
  assert.is(b.node, 42);
  assert.is(b.entries.length, entries.length);
  b.entries.forEach((e, i) => {
    assert.is(e.kind, entries[i].kind);
    assert.is(e.opcode, entries[i].opcode);
    assert.equal([...e.ids], [...entries[i].ids]);
    assert.equal([...e.payload], [...entries[i].payload]);
  });
  assert.equal(decodeBatch(encodeBatch(1, [])).entries, []);
});

test('batch: a view at an odd offset of a bigger buffer decodes (ids are read unaligned)', () => {
  const enc = encodeBatch(3, entries);
  const big = new Uint8Array(enc.length + 3);
  big.set(enc, 1);
  assert.is(decodeBatch(big.subarray(1, 1 + enc.length)).entries.length, entries.length);
});

test('batch: every truncation and every extra byte is refused, never misread', () => {
  const enc = encodeBatch(3, entries);
  for (let n = 0; n < enc.length; n++) assert.throws(() => decodeBatch(enc.subarray(0, n)), isBatchError, `cut at ${n}`);
  const longer = new Uint8Array(enc.length + 1);
  longer.set(enc);
  assert.throws(() => decodeBatch(longer), isBatchError);
});

test('batch: bad versions, kinds, opcodes, ids and close entries are refused', () => {
  const mutate = (at: number, value: number, list = entries) => {
    const enc = encodeBatch(3, list);
    enc[at] = value;
    return enc;
  };
  const first = BATCH_HEADER_SIZE;
  assert.throws(() => decodeBatch(mutate(0, 9)), /version/);
  assert.throws(() => decodeBatch(mutate(first, 7)), /kind/);
  assert.throws(() => decodeBatch(mutate(first + 1, Opcode.PING)), /opcode/);
  const close = [{ kind: Remote.CLOSE, opcode: Opcode.CLOSE, ids: [1, 2], payload: new Uint8Array(2) }] as RemoteEntry[];
  assert.throws(() => decodeBatch(encodeBatch(3, close)), /close entry/);
  for (const code of [0, 999, 1000, 1005, 1011, 3999, 4900, 65535]) {
    const bad = [{ kind: Remote.CLOSE, opcode: Opcode.CLOSE, ids: [257], payload: new Uint8Array([code >> 8, code & 255]) }] as RemoteEntry[];
    assert.throws(() => decodeBatch(encodeBatch(3, bad)), /close code/, String(code));
  }
  const every = [{ kind: Remote.EVERY, opcode: Opcode.TEXT, ids: [257], payload: new Uint8Array(0) }] as RemoteEntry[];
  assert.throws(() => decodeBatch(encodeBatch(3, every)), /every entry/);
  for (const id of [0, -257, 0.5, 2 ** 60, NaN]) {
    const to = [{ kind: Remote.TO, opcode: Opcode.TEXT, ids: [id], payload: new Uint8Array(0) }] as RemoteEntry[];
    assert.throws(() => decodeBatch(encodeBatch(3, to)), /bad client id/, String(id));
  }
  // A count that claims more entries than there are bytes.
  const enc = encodeBatch(3, entries);
  new DataView(enc.buffer).setUint32(4, 1e9, true);
  assert.throws(() => decodeBatch(enc), isBatchError);
});

test('batch: reserved bytes, a source node outside 1..4095 and text that is not UTF-8 are refused', () => {
  const one = [{ kind: Remote.TO, opcode: Opcode.TEXT, ids: [257], payload: bytes('é') }] as RemoteEntry[];
  for (const at of [1, 8, 12, BATCH_HEADER_SIZE + 2]) {
    const enc = encodeBatch(3, one);
    enc[at] = 1;
    assert.throws(() => decodeBatch(enc), /reserved/, `byte ${at}`);
  }
  assert.throws(() => decodeBatch(encodeBatch(0, one)), /source node 0/);
  assert.throws(() => decodeBatch(encodeBatch(NODE_SPACE, one)), /source node/);
  for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const text = [{ kind: Remote.EVERY, opcode: Opcode.TEXT, ids: [], payload: new Uint8Array(bad) }] as RemoteEntry[];
    assert.throws(() => decodeBatch(encodeBatch(3, text)), /UTF-8/, bad.join(','));
    // The same bytes as a binary message are fine.
    const bin = [{ kind: Remote.EVERY, opcode: Opcode.BINARY, ids: [], payload: new Uint8Array(bad) }] as RemoteEntry[];
    assert.is(decodeBatch(encodeBatch(3, bin)).entries.length, 1);
  }
  assert.is(batchNode(encodeBatch(4095, one)), 4095);
  assert.is(batchNode(new Uint8Array(3)), -1);
});

test('channels: pub/sub ignores the database, so a database other than 0 is in the channel names', () => {
  assert.is(channelSpace({ key_prefix: 'rs', redis_url: 'redis://h:6379' }), 'rs');
  assert.is(channelSpace({ key_prefix: 'rs', redis_url: 'redis://h:6379/0' }), 'rs');
  assert.is(channelSpace({ key_prefix: 'rs', redis_url: 'rediss://u:p@h/2' }), 'rs.db2');
  // Both channels of an app carry one hash tag.
  const tag = (ch: string) => /\{([^}]*)\}/.exec(ch)![1];
  assert.is(tag(channelOf('rs.db2', 'chat', 'all')), tag(channelOf('rs.db2', 'chat', 17)));
  assert.is.not(channelOf('rs', 'chat', 'all'), channelOf('rs.db2', 'chat', 'all'));
});

test('rate-limited log: one line per interval, then the count of those held back', () => {
  const lines: string[] = [];
  let now = 1000;
  const log = { error: (m: string) => lines.push(m) } as unknown as Logger;
  const r = new RateLimitedLog(log, 'error', () => now);
  r.say('bad 1');
  for (let i = 2; i <= 50; i++) r.say(`bad ${i}`);
  assert.equal(lines, ['bad 1']);
  now += RATE_LOG_INTERVAL_MS;
  r.say('bad 51');
  assert.equal(lines, ['bad 1', `bad 51 (and 49 more like it in the last ${RATE_LOG_INTERVAL_MS / 1000}s)`]);
});

test('retry delays double from 100 ms to at most 500 ms (plus up to 20 % jitter)', () => {
  for (let i = 0; i < 20; i++) {
    const d = [0, 1, 2, 3, 10, 1000].map(retryDelay);
    assert.ok(d[0] >= 100 && d[0] <= 120, String(d));
    assert.ok(d[1] >= 200 && d[1] <= 240, String(d));
    for (const x of d.slice(3)) assert.ok(x >= 500 && x <= 600, String(d));
  }
});

test('outbox: a batch with a broadcast is one publication to every node, entries in order', () => {
  const o = new Outbox(5);
  assert.ok(o.empty);
  const payload = bytes('x');
  o.add(Remote.TO, Opcode.TEXT, [makeClientId(1, 0, 6)], payload);
  o.add(Remote.EVERY, Opcode.TEXT, [], payload);
  o.add(Remote.TO, Opcode.TEXT, [makeClientId(2, 0, 7)], payload);
  const pubs = o.take();
  assert.is(pubs.length, 1);
  assert.is(pubs[0].to, 'all');
  const b = decodeBatch(pubs[0].bytes);
  assert.is(b.node, 5);
  assert.equal(b.entries.map((e) => e.kind), [Remote.TO, Remote.EVERY, Remote.TO]);
  assert.ok(o.empty);
  assert.equal(o.take(), []);
});

test('outbox: direct messages only: one publication per node, each with its own ids only', () => {
  const o = new Outbox(5);
  const a1 = makeClientId(1, 0, 6), a2 = makeClientId(2, 1, 6), b1 = makeClientId(1, 0, 7);
  o.add(Remote.TO, Opcode.TEXT, [a1, b1, a2], bytes('m1'));
  o.add(Remote.CLOSE, Opcode.CLOSE, [b1], new Uint8Array([0x0f, 0xa0]));
  o.add(Remote.TO, Opcode.BINARY, [a2], bytes('m2'));
  const pubs = o.take();
  assert.equal(pubs.map((p) => p.to).sort(), [6, 7]);
  const six = decodeBatch(pubs.find((p) => p.to === 6)!.bytes);
  assert.equal(six.entries.map((e) => [e.kind, [...e.ids], new TextDecoder().decode(e.payload)]), [[Remote.TO, [a1, a2], 'm1'], [Remote.TO, [a2], 'm2']]);
  const seven = decodeBatch(pubs.find((p) => p.to === 7)!.bytes);
  assert.equal(seven.entries.map((e) => [e.kind, [...e.ids]]), [[Remote.TO, [b1]], [Remote.CLOSE, [b1]]]);
});

test('outbox: payloads and id lists are copied (the caller reuses its buffers)', () => {
  const o = new Outbox(5);
  const payload = bytes('abc');
  const ids = [makeClientId(1, 0, 6)];
  o.add(Remote.TO, Opcode.TEXT, ids, payload);
  payload.fill(0);
  ids[0] = 999;
  const e = decodeBatch(o.take()[0].bytes).entries[0];
  assert.is(new TextDecoder().decode(e.payload), 'abc');
  assert.equal([...e.ids], [makeClientId(1, 0, 6)]);
});

test('outbox: asks for an early flush once flushAt bytes are gathered', () => {
  const o = new Outbox(5, 100);
  assert.is(o.add(Remote.EVERY, Opcode.BINARY, [], new Uint8Array(50)), false);
  assert.is(o.add(Remote.EVERY, Opcode.BINARY, [], new Uint8Array(50)), true);
  assert.ok(o.size >= 100);
  o.take();
  assert.is(o.size, 0);
});

test.run();
