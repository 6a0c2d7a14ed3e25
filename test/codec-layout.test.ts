// The decoder state block layout: assembly/codec/layout.ts and src/core/layout.ts agree, the block
// is small, its fields do not overlap, and the module reports the same size.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILDS, coreFor, readAsConstants } from './helpers/chunking.ts';
import { DecoderLayout, DECODER_STATE_SIZE } from '../src/core/layout.ts';

const Layout = suite('decoder state layout');
const asLayout = readAsConstants(new URL('../assembly/codec/layout.ts', import.meta.url));

Layout('has the same constants in AssemblyScript and TypeScript', () => {
  assert.equal(Object.fromEntries(asLayout), { ...DecoderLayout });
});

Layout('keeps a state block at 256 bytes or less', () => {
  assert.ok(DECODER_STATE_SIZE <= 256, `${DECODER_STATE_SIZE}`);
  assert.is(DECODER_STATE_SIZE % 16, 0);
});

Layout('lays the fields out without overlap, the control buffer holding 125 bytes', () => {
  // Field sizes in bytes, from the comments in assembly/codec/layout.ts.
  const sizes: Record<string, number> = {
    ST_PHASE: 1, ST_ROLE: 1, ST_HDR_HAVE: 1, ST_FRAME_OPCODE: 1, ST_FRAME_FIN: 1, ST_MSG_OPCODE: 1,
    ST_MSG_STARTED: 1, ST_CTRL_HAVE: 1, ST_HDR_BUF: 16, ST_CTRL_BUF: 128, ST_EXTENSIONS: 1, ST_MSG_COMPRESSED: 1,
  };
  const fields = Object.entries(DecoderLayout).filter(([k]) => k.startsWith('ST_'))
    .map(([k, off]) => ({ k, off, size: sizes[k] ?? 4 })).sort((a, b) => a.off - b.off);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.size === 4) assert.is(f.off % 4, 0, `${f.k} is aligned`);
    const limit = i + 1 < fields.length ? fields[i + 1].off : DECODER_STATE_SIZE;
    assert.ok(f.off + f.size <= limit, `${f.k} [${f.off}, +${f.size}) overlaps the next field at ${limit}`);
  }
  assert.ok(sizes.ST_HDR_BUF >= 14 && sizes.ST_CTRL_BUF >= 125);
});

Layout('reports the same state size from both builds', () => {
  for (const build of BUILDS) assert.is(coreFor(build).exports.decoderStateSize(), DECODER_STATE_SIZE, build);
});

Layout.run();
