// Close frames: one rule for the codes that may be sent and one builder of the body
// (src/core/close.ts), used by the daemon's encodeCloseFrame (src/daemon/frames.ts) and the core's
// writeClose (src/core/codec.ts), which must write the same bytes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILDS, coreFor, regions } from './helpers/chunking.ts';
import { CLOSE_REASON_MAX, closePayload, fitCloseReason } from '../src/core/close.ts';
import { writeClose } from '../src/core/codec.ts';
import { CloseCode, DECODER_ERRORS, isValidCloseCode } from '../src/core/codes.ts';
import { EMPTY_CLOSE, encodeCloseFrame } from '../src/daemon/frames.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const isUtf8 = (b: Uint8Array) => {
  try { new TextDecoder('utf-8', { fatal: true }).decode(b); return true; } catch { return false; }
};
/** Codes at every edge of the valid ranges (1000-1003, 1007-1014, 3000-4999). */
const EDGES = [0, 999, 1000, 1003, 1004, 1005, 1006, 1007, 1014, 1015, 1016, 2999, 3000, 4999, 5000, 65535];

const Body = suite('close body');

Body('puts the code in network byte order before the reason', () => {
  assert.equal(closePayload(1000), Uint8Array.of(0x03, 0xe8));
  assert.equal(closePayload(4001, utf8('bye')), Uint8Array.of(0x0f, 0xa1, 0x62, 0x79, 0x65));
});

Body('is empty for 1005, which stands for "no status code"', () => {
  assert.equal(closePayload(CloseCode.NO_STATUS), new Uint8Array(0));
  assert.throws(() => closePayload(CloseCode.NO_STATUS, utf8('x')), (e: Error) => e instanceof RangeError && e.message === 'cannot send close code 1005 with a reason');
});

Body('refuses with a RangeError every code that may not be sent, at every edge', () => {
  for (const code of EDGES) {
    if (isValidCloseCode(code)) assert.is(closePayload(code).length, 2, `${code}`);
    else if (code !== CloseCode.NO_STATUS) {
      assert.throws(() => closePayload(code), (e: Error) => e instanceof RangeError && e.message === `cannot send close code ${code}`, `${code}`);
    }
  }
});

Body('cuts a long reason to 123 bytes, never inside a UTF-8 sequence', () => {
  assert.is(CLOSE_REASON_MAX, 123);
  const a = (n: number) => 'a'.repeat(n);
  for (const [reason, kept] of [
    [a(123), 123], [a(200), 123],
    [a(120) + '€', 123], [a(121) + '€', 121], [a(122) + '€', 122], // € is 3 bytes
    [a(119) + '😀', 123], [a(120) + '😀', 120], [a(121) + '😀', 121], [a(122) + '😀', 122], // 😀 is 4 bytes
    [a(122) + 'é', 122], [a(121) + 'é', 123], // é is 2 bytes
  ] as const) {
    const cut = fitCloseReason(utf8(reason));
    assert.is(cut.length, kept, `${reason.length} UTF-16 units ending in ${reason.slice(-1)}`);
    assert.ok(isUtf8(cut), 'still valid UTF-8');
    assert.equal(closePayload(1000, utf8(reason)).subarray(2), cut);
  }
});

const Frame = suite('encodeCloseFrame (src/daemon/frames.ts)');

Frame('sends an empty close frame for EMPTY_CLOSE and for 1005', () => {
  assert.equal(encodeCloseFrame(EMPTY_CLOSE), Buffer.of(0x88, 0x00));
  assert.equal(encodeCloseFrame(CloseCode.NO_STATUS), Buffer.of(0x88, 0x00));
});

Frame('sends every code the worker passes: its own, the decoder errors\' and the peer\'s echoed ones', () => {
  for (const code of [CloseCode.GOING_AWAY, CloseCode.POLICY_VIOLATION, CloseCode.INTERNAL_ERROR]) {
    assert.equal(encodeCloseFrame(code), Buffer.of(0x88, 0x02, code >>> 8, code & 0xff));
  }
  for (const e of DECODER_ERRORS) encodeCloseFrame(e.closeCode); // RS_ERR_NONE's 0 is EMPTY_CLOSE
  // The decoder passes on only codes isValidCloseCode accepts, with a reason of at most 123 bytes.
  for (let code = 0; code < 65536; code++) {
    if (isValidCloseCode(code)) assert.is(encodeCloseFrame(code, utf8('r'.repeat(123))).length, 127);
  }
});

Frame('throws a RangeError for a code that may not be sent', () => {
  for (const code of [999, 1004, 1006, 1015, 2999, 5000]) {
    assert.throws(() => encodeCloseFrame(code), (e: Error) => e instanceof RangeError, `${code}`);
  }
});

for (const build of BUILDS) {
  const Same = suite(`close frames agree (${build} build)`);
  const core = coreFor(build);
  const { input: dst } = regions(core);

  Same('writeClose and encodeCloseFrame write the same bytes, and refuse the same codes', () => {
    const reasons = ['', 'bye', 'ü'.repeat(61) + 'x', 'a'.repeat(121) + '€', 'r'.repeat(300)];
    for (const code of EDGES.filter((c) => c !== EMPTY_CLOSE)) { // writeClose has no EMPTY_CLOSE
      for (const reason of reasons) {
        const bytes = utf8(reason);
        let fromTs: Uint8Array | Error, fromCore: Uint8Array | Error;
        try { fromTs = new Uint8Array(encodeCloseFrame(code, bytes)); } catch (e) { fromTs = e as Error; }
        try { fromCore = core.u8.slice(dst, dst + writeClose(core, dst, code, bytes)); } catch (e) { fromCore = e as Error; }
        if (fromTs instanceof Error || fromCore instanceof Error) {
          assert.ok(fromTs instanceof RangeError && fromCore instanceof RangeError, `code ${code}, reason of ${bytes.length} bytes: both refuse`);
        } else {
          assert.equal(fromCore, fromTs, `code ${code}, reason of ${bytes.length} bytes`);
        }
      }
    }
  });

  Same.run();
}

for (const s of [Body, Frame]) s.run();
