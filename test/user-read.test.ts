// Reads of accepted sockets into a buffer of ours (src/daemon/worker/user-read.ts), on real
// loopback sockets: the bytes land in a view of a SharedArrayBuffer (as the worker's read scratch
// does), in order and complete; pause() stops the reads and resume() restarts them; the peer's
// FIN still ends the socket; and no 'data' event is emitted beside the callback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { userReadHook } from '../src/daemon/worker/user-read.ts';

interface Seen { reads: number[]; bytes: number[]; dataEvents: number; ended: boolean; }

/** A server whose accepted socket reads into `view`; `onRead` sees each read. */
async function serve(view: Uint8Array, onRead: (s: net.Socket, n: number, seen: Seen) => void) {
  const install = userReadHook();
  assert.ok(install, 'this Node keeps the onread option where user-read.ts looks for it');
  const seen: Seen = { reads: [], bytes: [], dataEvents: 0, ended: false };
  let accepted!: net.Socket;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted = s;
    install!(s, view, function (this: net.Socket, n: number, buf: Uint8Array) {
      assert.is(buf, view);
      seen.reads.push(n);
      for (let i = 0; i < n; i++) seen.bytes.push(view[i]);
      onRead(this, n, seen);
    });
    s.on('data', () => { seen.dataEvents++; });
    s.on('end', () => { seen.ended = true; s.end(); });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  await new Promise((r) => setTimeout(r, 20));
  return { server, client, seen, socket: () => accepted };
}

test('reads land in a SharedArrayBuffer view, in order, complete; the FIN ends the socket', async () => {
  const sab = new SharedArrayBuffer(1 << 20);
  const view = new Uint8Array(sab, 4096, 256 * 1024);
  const { server, client, seen } = await serve(view, () => {});
  const sent: number[] = [];
  for (let k = 0; k < 20; k++) {
    const b = Buffer.alloc(50_000 + k * 997);
    for (let i = 0; i < b.length; i++) b[i] = (i * 31 + k) & 0xff;
    sent.push(...b);
    client.write(b);
  }
  client.end();
  await once(client, 'close');
  server.close();
  assert.is(seen.bytes.length, sent.length);
  assert.ok(seen.bytes.every((v, i) => v === sent[i]), 'every byte as sent');
  assert.ok(seen.reads.every((n) => n > 0 && n <= view.length), 'no read larger than the buffer');
  assert.ok(seen.ended, "the peer's FIN emitted 'end'");
  assert.is(seen.dataEvents, 0, "no 'data' event beside the callback");
});

test('pause() stops the reads until resume(); what arrived meanwhile comes after', async () => {
  const view = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  let resumedAt = 0;
  const { server, client, seen } = await serve(view, (s, _n, st) => {
    if (st.reads.length === 1) {
      s.pause();
      setTimeout(() => { resumedAt = st.reads.length; s.resume(); }, 150);
    }
  });
  client.write('first');
  await new Promise((r) => setTimeout(r, 50));
  client.write('second');
  await new Promise((r) => setTimeout(r, 50));
  assert.is(seen.reads.length, 1, 'nothing is read while paused');
  await new Promise((r) => setTimeout(r, 150));
  assert.is(resumedAt, 1);
  assert.is(Buffer.from(seen.bytes).toString(), 'firstsecond');
  client.end();
  await once(client, 'close');
  server.close();
});

test.run();
