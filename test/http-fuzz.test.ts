// Bad input, at random: mutated and random request heads never make the handshake code throw, and
// every refusal is a complete HTTP response. Seeded; a failing seed is printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from './helpers/random.ts';
import { HeadAccumulator, EndpointTable, processHandshake } from '../src/http/upgrade.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const RUNS = Number(process.env.FUZZ_RUNS ?? 20000);


const table = new EndpointTable([
  { appIndex: 0, endpointId: 1, secure: false, hostHeaders: ['127.0.0.1:8080'], path: '/echo', allowedOrigins: ['https://good.example'] },
  { appIndex: 1, endpointId: 2, secure: false, hostHeaders: ['localhost:8080'], path: '/', allowedOrigins: [] },
]);

const VALID = Buffer.from(
  'GET /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://good.example\r\n\r\n');
const INTERESTING = [0x00, 0x0a, 0x0d, 0x20, 0x09, 0x3a, 0x2c, 0x3f, 0x23, 0x2f, 0x7f, 0x80, 0xff, 0x25];

function mutate(r: () => number): Buffer {
  const b = [...VALID];
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * b.length);
    switch (Math.floor(r() * 5)) {
      case 0: b[at] = Math.floor(r() * 256); break;
      case 1: b[at] = INTERESTING[Math.floor(r() * INTERESTING.length)]; break;
      case 2: b.splice(at, 1 + Math.floor(r() * 8)); break;
      case 3: b.splice(at, 0, ...Array.from({ length: 1 + Math.floor(r() * 8) }, () => INTERESTING[Math.floor(r() * INTERESTING.length)])); break;
      default: b.splice(at, 0, ...b.slice(Math.floor(r() * b.length), Math.floor(r() * b.length))); break;
    }
  }
  return Buffer.from(b);
}

function randomBytes(r: () => number): Buffer {
  const b = Buffer.alloc(Math.floor(r() * 600));
  for (let i = 0; i < b.length; i++) b[i] = r() < 0.7 ? 0x20 + Math.floor(r() * 95) : INTERESTING[Math.floor(r() * INTERESTING.length)];
  return b;
}

const Fuzz = suite('http fuzz');

Fuzz(`answers ${RUNS} mutated and random request heads without throwing`, () => {
  const r = rng(SEED);
  let accepted = 0, refused = 0, incomplete = 0;
  for (let i = 0; i < RUNS; i++) {
    const input = i % 4 === 3 ? randomBytes(r) : mutate(r);
    try {
      const acc = new HeadAccumulator(1024);
      // Fed in two pieces, at a random cut.
      const cut = Math.floor(r() * (input.length + 1));
      let res = acc.push(input.subarray(0, cut));
      if (!res.done && res.refusal === null) res = acc.push(input.subarray(cut));
      if (!res.done) {
        if (res.refusal) refused++;
        else incomplete++;
        continue;
      }
      const h = processHandshake(res.head, table);
      const text = h.response.toString('latin1');
      if (h.ok) {
        accepted++;
        assert.ok(text.startsWith('HTTP/1.1 101 Switching Protocols\r\n'));
      } else {
        refused++;
        const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]+\r\n/.exec(text);
        assert.ok(m, `a status line: ${JSON.stringify(text.slice(0, 40))}`);
        assert.ok([400, 403, 404, 405, 426, 431, 505].includes(Number(m![1])), `status ${m![1]}`);
        const end = text.indexOf('\r\n\r\n');
        const len = /\r\ncontent-length: (\d+)\r\n/i.exec(text.slice(0, end + 2));
        assert.ok(len, 'a Content-Length');
        assert.is(Number(len![1]), text.length - end - 4, 'Content-Length matches the body');
      }
    } catch (err) {
      console.log(`failing input #${i} (FUZZ_SEED=${SEED}): ${JSON.stringify(input.toString('latin1'))}`);
      throw err;
    }
  }
  if (process.env.FUZZ_VERBOSE) console.log({ accepted, refused, incomplete });
  // The mix must exercise both paths.
  assert.ok(accepted > 100 && refused > 5000, `accepted ${accepted}, refused ${refused}, incomplete ${incomplete}`);
});

Fuzz.run();
