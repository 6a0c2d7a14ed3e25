// The permessage-deflate cases: Autobahn|Testsuite's sections 12 and 13 (fuzzingclient), numbered
// as Autobahn numbers them (autobahntestsuite/case/case12_x_x.py in crossbario/autobahn-testsuite,
// which defines both sections). Every case opens a connection with a permessage-deflate offer,
// then sends COUNT messages of LEN units one round trip at a time (the next message goes when the
// echo of the last one has come back), each compressed and, where the case says so, its compressed
// payload cut into frames of FRAG bytes; it passes when every echo has the kind, length and bytes
// sent, within the case's time, and the closing handshake the client starts with 1000 is clean.
//
//   12.1–12.5   the default offer (client_no_context_takeover; client_max_window_bits), one data
//               set each: JSON (text), bitmap, German text (binary), HTML (text), PDF
//   13.1–13.7   the JSON data set with the offers of Autobahn's DEFLATE_PARAMS (below)
//   x.1–x.10    16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072 units, unfragmented
//   x.11–x.15   8192, 16384, 32768, 65536, 131072 units in 256-byte frames
//   x.16–x.18   131072 units in 1024-, 4096- and 32768-byte frames
import { dataSets, type DataSet } from './deflate-data.ts';
import { DEFAULT_OFFER, offer, type Offer } from './deflate-negotiation.ts';

/** Autobahn's MSG_SIZES: (payload length, message count, case timeout in s, auto-fragment size). */
const MSG_SIZES: readonly (readonly [len: number, count: number, waitSecs: number, frag: number])[] = [
  [16, 1000, 60, 0],
  [64, 1000, 60, 0],
  [256, 1000, 120, 0],
  [1024, 1000, 240, 0],
  [4096, 1000, 480, 0],
  [8192, 1000, 480, 0],
  [16384, 1000, 480, 0],
  [32768, 1000, 480, 0],
  [65536, 1000, 480, 0],
  [131072, 1000, 480, 0],
  [8192, 1000, 480, 256],
  [16384, 1000, 480, 256],
  [32768, 1000, 480, 256],
  [65536, 1000, 480, 256],
  [131072, 1000, 480, 256],
  [131072, 1000, 480, 1024],
  [131072, 1000, 480, 4096],
  [131072, 1000, 480, 32768],
];

/**
 * Section 13's offers (Autobahn's DEFLATE_PARAMS), as (requestNoContextTakeover,
 * requestMaxWindowBits) pairs; every offer also carries client_no_context_takeover and
 * client_max_window_bits. 13.7 makes three offers in one header, most preferred first.
 */
const SECTION_13_OFFERS: readonly Offer[][] = [
  [DEFAULT_OFFER],
  [offer({ noContextTakeover: true })],
  [offer({ maxWindowBits: 8 })],
  [offer({ maxWindowBits: 15 })],
  [offer({ noContextTakeover: true, maxWindowBits: 8 })],
  [offer({ noContextTakeover: true, maxWindowBits: 15 })],
  [offer({ noContextTakeover: true, maxWindowBits: 8 }), offer({ noContextTakeover: true }), DEFAULT_OFFER],
];

/** Which client plays a case: the `ws` package, or our raw client (deflate-client.ts). */
export type DeflateClientKind = 'ws' | 'raw';

export interface DeflateCase {
  /** Autobahn's number, e.g. "12.1.10". */
  id: string;
  title: string;
  data: DataSet['key'];
  /** Units per message: characters for text data sets, bytes for binary ones. */
  len: number;
  count: number;
  /** Autobahn's WAITSECS, in ms: the whole case must finish within it. */
  timeoutMs: number;
  /** Cut each compressed payload into frames of this many bytes (Autobahn's autoFragmentSize); 0: one frame. */
  fragmentSize: number;
  offers: Offer[];
  /**
   * ws can make each single offer (its perMessageDeflate client options) but neither several
   * offers in one header (13.7) nor frames cut from a compressed payload at a byte count (x.11 to
   * x.18): those cases use the raw client.
   */
  client: DeflateClientKind;
  /** In the default run (see DEFAULT_SUBSET); the others run with CONFORMANCE_FULL=1. */
  inDefault: boolean;
}

/**
 * The default run's cases of every family (12.1–12.5, 13.1–13.7): the smallest and the largest
 * unfragmented message (x.1: 16, x.10: 131072) and the fragmented extremes (x.11: the smallest
 * message in the smallest frames, x.18: the largest message in the largest frames).
 */
export const DEFAULT_SUBSET = [1, 10, 11, 18];
/**
 * The default run plays the first DEFAULT_COUNT of each case's 1000 messages (a full 131072-unit
 * case takes 6 to 17 s against ws on this machine); CONFORMANCE_FULL=1 plays all of them.
 */
export const DEFAULT_COUNT = 100;

function describeOffers(offers: readonly Offer[]): string {
  const one = (o: Offer) => {
    const parts: string[] = [];
    if (o.requestNoContextTakeover) parts.push('server_no_context_takeover');
    if (o.requestMaxWindowBits) parts.push(`server_max_window_bits=${o.requestMaxWindowBits}`);
    return parts.length ? parts.join(' + ') : 'default offer';
  };
  return offers.length === 1 ? one(offers[0]) : `${offers.length} offers (${offers.map(one).join(', ')})`;
}

function make(section: 12 | 13, family: number, data: DataSet, offers: Offer[]): DeflateCase[] {
  return MSG_SIZES.map(([len, count, waitSecs, frag], i) => {
    const unit = data.binary ? 'bytes' : 'characters';
    const kind = data.binary ? 'binary' : 'text';
    return {
      id: `${section}.${family}.${i + 1}`,
      title: `echoes ${count} compressed ${kind} messages of ${len} ${unit} (${data.key})${frag ? ` in ${frag}-byte frames` : ''}, ${describeOffers(offers)}`,
      data: data.key,
      len,
      count,
      timeoutMs: waitSecs * 1000,
      fragmentSize: frag,
      offers,
      client: offers.length > 1 || frag > 0 ? 'raw' : 'ws',
      inDefault: DEFAULT_SUBSET.includes(i + 1),
    };
  });
}

/** All of sections 12 and 13: 5 × 18 + 7 × 18 = 216 cases. */
export function deflateCases(): DeflateCase[] {
  const out: DeflateCase[] = [];
  dataSets().forEach((d, j) => out.push(...make(12, j + 1, d, [DEFAULT_OFFER])));
  const json = dataSets()[0];
  SECTION_13_OFFERS.forEach((offers, j) => out.push(...make(13, j + 1, json, offers)));
  return out;
}

/**
 * The cases of a run: the default subset with DEFAULT_COUNT messages each, or all of them in full
 * with `full`; `only` keeps id prefixes.
 */
export function selectDeflateCases(full: boolean, only?: readonly string[]): DeflateCase[] {
  return deflateCases()
    .filter((c) => full || c.inDefault)
    .map((c) => (full ? c : { ...c, count: Math.min(c.count, DEFAULT_COUNT), title: c.title.replace(/^echoes \d+/, `echoes the first ${DEFAULT_COUNT} of ${c.count}`) }))
    .filter((c) => !only || only.some((p) => c.id === p || c.id.startsWith(`${p}.`)));
}
