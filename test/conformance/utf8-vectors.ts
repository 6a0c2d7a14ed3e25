// UTF-8 test vectors for Autobahn cases 6.5.x to 6.23.x, in Autobahn's order, grouped by the
// categories of Markus Kuhn's "UTF-8 decoder capability and stress test"
// (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt). Each vector is labelled valid or
// invalid by hand; test/conformance/harness.test.ts checks every label against a strict decoder.

export interface Utf8Group {
  /** Autobahn subsection, e.g. "6.12". */
  section: string;
  title: string;
  vectors: { valid: boolean; bytes: Buffer }[];
}

const h = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const ok = (b: Buffer | string) => ({ valid: true, bytes: typeof b === 'string' ? Buffer.from(b, 'latin1') : b });
const bad = (b: Buffer | string) => ({ valid: false, bytes: typeof b === 'string' ? Buffer.from(b, 'latin1') : b });

/** "κόσμε" (Greek "cosmos"): code points end after bytes 2, 5, 7, 9 and 11. */
export const KOSME = h('ceba e1bdb9 cf83 cebc ceb5');

function range(from: number, to: number, each: (i: number) => number[]): Buffer {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(...each(i));
  return Buffer.from(out);
}

const missingLast = [h('c0'), h('e080'), h('f08080'), h('f8808080'), h('fc80808080'), h('df'), h('efbf'), h('f7bfbf'), h('fbbfbfbf'), h('fdbfbfbfbf')];

function noncharacters(): Buffer[] {
  const out = [h('efbfbe'), h('efbfbf')];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // would be above U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        out.push(Buffer.from([z1, z2, 0xbf, z3]));
      }
    }
  }
  return out;
}

export const UTF8_GROUPS: Utf8Group[] = [
  { section: '6.5', title: 'some valid UTF-8 sequences', vectors: [
    ok(h('68656c6c6f 24 776f726c64')), // hello$world, U+0024
    ok(h('68656c6c6f c2a2 776f726c64')), // U+00A2
    ok(h('68656c6c6f e282ac 776f726c64')), // U+20AC
    ok(h('68656c6c6f f0a4ada2 776f726c64')), // U+24B62
    ok(KOSME),
  ] },
  { section: '6.6', title: 'every prefix of a valid multi-byte string (truncated at the end of the message)', vectors:
    Array.from({ length: KOSME.length }, (_, i) => ({ valid: [2, 5, 7, 9, 11].includes(i + 1), bytes: KOSME.subarray(0, i + 1) })) },
  { section: '6.7', title: 'the first possible sequence of each length', vectors: [ok(h('00')), ok(h('c280')), ok(h('e0a080')), ok(h('f0908080'))] },
  { section: '6.8', title: 'the first 5- and 6-byte sequences (beyond U+10FFFF)', vectors: [bad(h('f888808080')), bad(h('fc8480808080'))] },
  { section: '6.9', title: 'the last possible sequence of each length', vectors: [ok(h('7f')), ok(h('dfbf')), ok(h('efbfbf')), ok(h('f48fbfbf'))] },
  { section: '6.10', title: 'the last 4-, 5- and 6-byte sequences (beyond U+10FFFF)', vectors: [bad(h('f7bfbfbf')), bad(h('fbbfbfbfbf')), bad(h('fdbfbfbfbfbf'))] },
  { section: '6.11', title: 'other boundary conditions (U+D7FF, U+E000, U+FFFD, U+10FFFF, U+110000)', vectors: [
    ok(h('ed9fbf')), ok(h('ee8080')), ok(h('efbfbd')), ok(h('f48fbfbf')), bad(h('f4908080')),
  ] },
  { section: '6.12', title: 'unexpected continuation bytes', vectors: [
    bad(h('80')), bad(h('bf')), bad(h('80bf')), bad(h('80bf80')), bad(h('80bf80bf')), bad(h('80bf80bf80')), bad(h('80bf80bf80bf')),
    bad(range(0x80, 0xbf, (i) => [i])),
  ] },
  { section: '6.13', title: 'lonely start bytes followed by a space', vectors: [
    bad(range(0xc0, 0xdf, (i) => [i, 0x20])), bad(range(0xe0, 0xef, (i) => [i, 0x20])), bad(range(0xf0, 0xf7, (i) => [i, 0x20])),
    bad(range(0xf8, 0xfb, (i) => [i, 0x20])), bad(range(0xfc, 0xfd, (i) => [i, 0x20])),
  ] },
  { section: '6.14', title: 'sequences with the last continuation byte missing', vectors: missingLast.map(bad) },
  { section: '6.15', title: 'a concatenation of incomplete sequences', vectors: [bad(Buffer.concat(missingLast))] },
  { section: '6.16', title: 'impossible bytes (0xFE, 0xFF)', vectors: [bad(h('fe')), bad(h('ff')), bad(h('fefeffff'))] },
  { section: '6.17', title: 'overlong encodings of "/"', vectors: [bad(h('c0af')), bad(h('e080af')), bad(h('f08080af')), bad(h('f8808080af')), bad(h('fc80808080af'))] },
  { section: '6.18', title: 'maximum overlong sequences', vectors: [bad(h('c1bf')), bad(h('e09fbf')), bad(h('f08fbfbf')), bad(h('f887bfbfbf')), bad(h('fc83bfbfbfbf'))] },
  { section: '6.19', title: 'overlong encodings of NUL', vectors: [bad(h('c080')), bad(h('e08080')), bad(h('f0808080')), bad(h('f880808080')), bad(h('fc8080808080'))] },
  { section: '6.20', title: 'single UTF-16 surrogates', vectors: ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map((x) => bad(h(x))) },
  { section: '6.21', title: 'paired UTF-16 surrogates', vectors: [
    'eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf',
  ].map((x) => bad(h(x))) },
  { section: '6.22', title: 'noncharacters (valid UTF-8)', vectors: noncharacters().map(ok) },
  { section: '6.23', title: 'Unicode specials (valid UTF-8)', vectors: ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map((x) => ok(h(x))) },
];
