// Ring sizing: RING_RECORD_OVERHEAD (src/config/schema.ts), derived from the record formats
// (src/daemon/records.ts), the longest frame header and the ring's size word, bounds every record
// the daemon writes for a max_ws_msg_size message, so a ring of the smallest size the config allows
// (2 × (max_ws_msg_size + RING_RECORD_OVERHEAD), rounded up) always takes them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { frameHeaderSize } from '../src/core/codec.ts';
import { FrameSize } from '../src/core/codes.ts';
import { RING_RECORD_HEADER, ringMaxRecord, roundUpRingCapacity } from '../src/core/ring.ts';
import { MAX_WS_MSG_SIZE_LIMIT, MiB, RING_RECORD_OVERHEAD } from '../src/config/schema.ts';
import {
  CLOSE_BODY_SIZE, IN_HEADER_SIZE, MAX_RECORD_OVERHEAD, OPEN_ADDR_SIZE, OUT_HEADER_SIZE, OUT_ID_SIZE,
} from '../src/daemon/records.ts';
import { initRing, ringCore } from './fixtures/ring-setup.ts';

const Sizes = suite('ring records');

/**
 * The records of an `m`-byte message, as the worker (inbound) and the app thread (outbound:
 * header, ids, the core's unmasked frame header, payload) reserve them.
 */
function recordsFor(m: number): Record<string, number> {
  return {
    'inbound READ': IN_HEADER_SIZE + m,
    'inbound OPEN': IN_HEADER_SIZE + OPEN_ADDR_SIZE,
    'inbound CLOSE': IN_HEADER_SIZE + CLOSE_BODY_SIZE,
    'outbound to one client': OUT_HEADER_SIZE + OUT_ID_SIZE + frameHeaderSize(m, false) + m,
    'outbound to every client': OUT_HEADER_SIZE + frameHeaderSize(m, false) + m,
  };
}

/** The capacity of the smallest ring the config allows for `m`-byte messages. */
const minimumRing = (m: number) => roundUpRingCapacity(2 * (m + RING_RECORD_OVERHEAD));

// Sizes where 2 × (m + RING_RECORD_OVERHEAD) is a power of two (the ring gets no slack from the
// rounding), with each frame length form, plus the edges of the length forms and of the config.
const TIGHT = [2 ** 9, 2 ** 12, 2 ** 17, 2 ** 18, 2 ** 21].map((c) => c / 2 - RING_RECORD_OVERHEAD);
const SIZES = [125, 126, 65535, 65536, 16 * MiB, MAX_WS_MSG_SIZE_LIMIT, ...TIGHT];

Sizes('derives the overhead from the record headers, one client id, the frame header and the ring size word', () => {
  assert.is(MAX_RECORD_OVERHEAD, OUT_HEADER_SIZE + OUT_ID_SIZE + FrameSize.FRAME_HEADER_MAX);
  assert.ok(MAX_RECORD_OVERHEAD >= IN_HEADER_SIZE);
  assert.is(RING_RECORD_OVERHEAD, MAX_RECORD_OVERHEAD + RING_RECORD_HEADER);
  assert.is(RING_RECORD_OVERHEAD, 46);
  assert.is(minimumRing(MAX_WS_MSG_SIZE_LIMIT), 2 ** 30, 'the largest message needs the largest ring');
});

Sizes('fits every record of a maximum-size message in the smallest ring the config allows', () => {
  assert.equal(TIGHT.map((m) => 2 * (m + RING_RECORD_OVERHEAD)), TIGHT.map((m) => minimumRing(m)), 'no rounding slack');
  for (const m of SIZES) {
    const maxRecord = ringMaxRecord(minimumRing(m));
    for (const [kind, size] of Object.entries(recordsFor(m))) {
      assert.ok(size <= maxRecord, `${kind} record of a ${m}-byte message: ${size} bytes, ring takes ${maxRecord}`);
    }
  }
});

Sizes('reserves each record in a real ring of that size, wherever the positions are', async () => {
  for (const m of TIGHT.filter((m) => m <= 2 ** 17)) {
    const rc = await ringCore('shared', [minimumRing(m)]);
    const ring = initRing(rc);
    for (const [kind, size] of Object.entries(recordsFor(m))) {
      // Move the positions by an odd amount first, so that the records land at different offsets.
      for (const step of [0, 13, Math.floor(m / 3), m]) {
        if (step > 0) {
          assert.ok(ring.reserve(step) !== 0);
          ring.commit(step);
          assert.ok(ring.peek() !== 0);
          ring.release();
        }
        assert.ok(ring.reserve(size) !== 0, `${kind} record (${size} bytes) of a ${m}-byte message after a ${step}-byte one`);
        ring.commit(size);
        assert.ok(ring.peek() !== 0);
        ring.release();
      }
    }
  }
});

Sizes.run();
