// Test data for the permessage-deflate cases (sections 12 and 13). Autobahn sends slices of five
// files it ships (a JSON file, an HTML file, Goethe's Faust as text, a 512×512 grey bitmap, a PDF);
// we do not copy those files: each data set here is generated from a fixed seed with the same
// nature and about the same size (text that compresses well, an image that compresses a little,
// a mostly incompressible PDF), so compression ratios are of the same order. The judge is echo
// equality, which does not depend on the bytes chosen.
//
// Autobahn's message i of a case is the next LEN units of the file, wrapping around at its end; for
// text data sets a unit is a character (code point), for binary ones a byte. `messageAt` does the
// same, so text messages are always whole characters.

export interface DataSet {
  /** Autobahn's key for the file it stands in for. */
  key: 'json_data1' | 'lena512' | 'gutenberg_faust' | 'html_data1' | 'ooms';
  /** What Autobahn calls it. */
  desc: string;
  /** Sent as binary messages (Autobahn's flag: its Faust text goes as binary). */
  binary: boolean;
  /** Binary data sets: the bytes. */
  bytes?: Buffer;
  /** Text data sets: the text, and the UTF-16 offset of each code point (and of the end). */
  text?: string;
  offsets?: Int32Array;
  /** Size in units (bytes or characters). */
  units: number;
}

/** Autobahn's sizes of its files, in bytes; ours are generated to about these. */
const SIZE = { json: 194237, lena: 263222, faust: 222218, html: 83599, pdf: 1042328 } as const;
const BMP_SIDE = 512;
const BMP_HEADER = 54;
const BMP_PALETTE = 256 * 4;

/** A small deterministic PRNG (xorshift32): the same data on every run. */
class Rng {
  #s: number;
  constructor(seed: number) { this.#s = seed >>> 0 || 1; }
  next(): number {
    let x = this.#s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.#s = x;
    return x;
  }
  int(n: number): number { return this.next() % n; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
}

const WORDS = ['und', 'der', 'die', 'das', 'nicht', 'ich', 'du', 'mir', 'mich', 'ist', 'zu', 'so', 'mit', 'den', 'sich', 'was',
  'Geist', 'Welt', 'Natur', 'Herz', 'Himmel', 'Erde', 'Nacht', 'Leben', 'Zeit', 'Mephistopheles', 'Faust', 'Gretchen', 'Schüler',
  'möcht', 'Glück', 'schön', 'Tür', 'hören', 'über', 'Wärme', 'Blüte', 'müssen', 'weiß', 'Straße', 'grüßen', 'Mädchen'];
const NAMES = ['Ana', 'Bjørn', 'Chloé', 'Dmitri', 'Émile', 'Fatima', 'Günter', 'Hiroshi', 'Ines', 'José', 'Kateřina', 'Lars', 'Mária', 'Noël', 'Øystein', 'Zoë'];
const TAGS = ['alpha', 'beta', 'gamma', 'delta', 'release', 'draft', 'archived', 'urgent', 'ünïcode', 'naïve'];
const HTML_TAGS = ['p', 'div', 'span', 'li', 'td', 'em', 'strong', 'a'];

function faustText(rng: Rng, bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const n = 4 + rng.int(8);
    const words = Array.from({ length: n }, () => rng.pick(WORDS));
    const line = (rng.int(6) === 0 ? `${rng.pick(['FAUST', 'MEPHISTOPHELES', 'MARGARETE', 'WAGNER'])}:\n` : '') + words.join(' ') + rng.pick(['.', ',', '!', '?', ';']) + '\n';
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function jsonText(rng: Rng, bytes: number): string {
  const items: string[] = [];
  let size = 2;
  for (let id = 1; size < bytes; id++) {
    const item = JSON.stringify({
      id, guid: `${rng.next().toString(16)}-${rng.next().toString(16)}`, isActive: rng.int(2) === 0,
      balance: `$${rng.int(4000)},${String(rng.int(1000)).padStart(3, '0')}.${String(rng.int(100)).padStart(2, '0')}`,
      age: 18 + rng.int(60), name: `${rng.pick(NAMES)} ${rng.pick(NAMES)}`, tags: [rng.pick(TAGS), rng.pick(TAGS), rng.pick(TAGS)],
      about: Array.from({ length: 8 + rng.int(12) }, () => rng.pick(WORDS)).join(' '),
      latitude: (rng.int(180_000_000) / 1e6 - 90).toFixed(6), longitude: (rng.int(360_000_000) / 1e6 - 180).toFixed(6),
    }, null, 2);
    items.push(item);
    size += Buffer.byteLength(item) + 2;
  }
  return `[${items.join(',\n')}]`;
}

function htmlText(rng: Rng, bytes: number): string {
  const parts: string[] = ['<!DOCTYPE html>\n<html lang="de">\n<head><meta charset="utf-8"><title>Daten</title></head>\n<body>\n'];
  let size = parts[0].length;
  while (size < bytes) {
    const tag = rng.pick(HTML_TAGS);
    const el = `  <${tag} class="c${rng.int(20)}" id="e${rng.next().toString(36)}">${Array.from({ length: 3 + rng.int(10) }, () => rng.pick(WORDS)).join(' ')} &amp; ${rng.pick(NAMES)}</${tag}>\n`;
    parts.push(el);
    size += Buffer.byteLength(el);
  }
  parts.push('</body>\n</html>\n');
  return parts.join('');
}

/** An 8-bit grey BMP: smooth shapes plus noise, like a photograph (compresses a little). */
function bitmap(rng: Rng): Buffer {
  const pixels = BMP_SIDE * BMP_SIDE;
  const out = Buffer.alloc(BMP_HEADER + BMP_PALETTE + pixels);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(BMP_HEADER + BMP_PALETTE, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(BMP_SIDE, 18);
  out.writeInt32LE(BMP_SIDE, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(8, 28);
  out.writeUInt32LE(pixels, 34);
  for (let i = 0; i < 256; i++) out.writeUInt32LE(i * 0x010101, BMP_HEADER + i * 4);
  const base = BMP_HEADER + BMP_PALETTE;
  for (let y = 0; y < BMP_SIDE; y++) {
    for (let x = 0; x < BMP_SIDE; x++) {
      const v = 128 + 60 * Math.sin(x / 37) * Math.cos(y / 23) + 40 * Math.sin((x + y) / 71) + (rng.int(24) - 12);
      out[base + y * BMP_SIDE + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}

/** A PDF-like file: short text objects between long high-entropy streams (as compressed streams are). */
function pdf(rng: Rng, bytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let size = parts[0].length;
  for (let obj = 1; size < bytes; obj++) {
    const len = 2000 + rng.int(30000);
    const head = Buffer.from(`${obj} 0 obj\n<< /Length ${len} /Filter /FlateDecode >>\nstream\n`, 'latin1');
    const body = Buffer.alloc(len);
    for (let i = 0; i < len; i++) body[i] = rng.next() & 0xff;
    const tail = Buffer.from('\nendstream\nendobj\n', 'latin1');
    parts.push(head, body, tail);
    size += head.length + len + tail.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

let cache: Map<DataSet['key'], DataSet> | null = null;

/** The five data sets, in Autobahn's order of sections 12.1 to 12.5. */
export function dataSets(): DataSet[] {
  if (!cache) {
    const text = (key: DataSet['key'], desc: string, s: string): DataSet => {
      const offsets: number[] = [];
      for (let i = 0; i < s.length; i += (s.codePointAt(i)! > 0xffff ? 2 : 1)) offsets.push(i);
      offsets.push(s.length);
      return { key, desc, binary: false, text: s, offsets: Int32Array.from(offsets), units: offsets.length - 1 };
    };
    const bin = (key: DataSet['key'], desc: string, b: Buffer): DataSet => ({ key, desc, binary: true, bytes: b, units: b.length });
    cache = new Map([
      ['json_data1', text('json_data1', 'Large JSON data file', jsonText(new Rng(0x1201), SIZE.json))],
      ['lena512', bin('lena512', 'Bitmap 512x512 grey', bitmap(new Rng(0x1202)))],
      ['gutenberg_faust', bin('gutenberg_faust', 'Human readable text (German), sent as binary', faustText(new Rng(0x1203), SIZE.faust))],
      ['html_data1', text('html_data1', 'Large HTML file', htmlText(new Rng(0x1204), SIZE.html))],
      ['ooms', bin('ooms', 'A larger PDF', pdf(new Rng(0x1205), SIZE.pdf))],
    ]);
  }
  return [...cache.values()];
}

export function dataSet(key: DataSet['key']): DataSet {
  const d = dataSets().find((x) => x.key === key);
  if (!d) throw new Error(`no data set ${key}`);
  return d;
}

/**
 * The payload of one message: `len` units from `from`, wrapping at the end of the data; returns
 * the bytes and where the next message starts (Autobahn's payloadRXPtr).
 */
export function messageAt(d: DataSet, from: number, len: number): { payload: Buffer; next: number } {
  const to = (from + len) % d.units;
  if (d.binary) {
    const b = d.bytes!;
    const payload = to > from ? b.subarray(from, to) : Buffer.concat([b.subarray(from), b.subarray(0, to)]);
    return { payload, next: to };
  }
  const t = d.text!, at = d.offsets!;
  const s = to > from ? t.slice(at[from], at[to]) : t.slice(at[from]) + t.slice(0, at[to]);
  return { payload: Buffer.from(s, 'utf8'), next: to };
}
