// The bench's log-linear HDR-style histogram (src/bench/histogram.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Histogram } from '../src/bench/histogram.ts';

const H = suite('Histogram');

/** Exact percentile of a sorted array, by the same rank rule (ceil(p% * n)-th smallest). */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

H('maps every value below 2^subBits to its own bucket', () => {
  const h = new Histogram(10, 40);
  for (let v = 0; v < 1024; v++) {
    assert.is(h.indexOf(v), v);
    assert.is(h.lowestAt(v), v);
    assert.is(h.highestAt(v), v);
  }
});

H('keeps buckets contiguous and within 1/2^(subBits-1) of their values', () => {
  const h = new Histogram(8, 40);
  let prevHigh = -1;
  for (let i = 0; i < h.counts.length; i++) {
    const lo = h.lowestAt(i), hi = h.highestAt(i);
    assert.is(lo, prevHigh + 1, `bucket ${i} starts right after bucket ${i - 1}`);
    assert.ok(hi >= lo);
    if (lo >= 256) assert.ok((hi - lo + 1) / lo <= 1 / 128 + 1e-12, `bucket ${i} [${lo}, ${hi}] is too wide`);
    assert.is(h.indexOf(lo), i);
    assert.is(h.indexOf(hi), i);
    prevHigh = hi;
  }
  assert.is(prevHigh, 2 ** 40 - 1);
});

H('clamps values above 2^maxBits - 1 into the top bucket but keeps the exact max', () => {
  const h = new Histogram(10, 20);
  h.record(10);
  h.record(5e9);
  assert.is(h.indexOf(5e9), h.counts.length - 1);
  assert.is(h.max, 5e9);
  assert.is(h.valueAtPercentile(50), 10);
  assert.is(h.valueAtPercentile(99), 5e9, 'a percentile in the top bucket is the real maximum, not the clamp');
  assert.is(h.valueAtPercentile(100), 5e9);
});

H('reports percentiles within 0.2 % above the exact ones, never below', () => {
  const rnd = lcg(42);
  const h = new Histogram();
  const values: number[] = [];
  for (let i = 0; i < 20000; i++) {
    // log-uniform from 1 µs to 1 s, in ns
    const v = Math.floor(1000 * 10 ** (6 * rnd()));
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const p of [1, 25, 50, 90, 99, 99.9, 99.99]) {
    const want = exact(values, p);
    const got = h.valueAtPercentile(p);
    assert.ok(got >= want, `p${p}: ${got} < exact ${want}`);
    assert.ok(got <= want * 1.002 + 1, `p${p}: ${got} is more than 0.2 % above ${want}`);
  }
  assert.is(h.count, 20000);
  assert.is(h.min, values[0]);
  assert.is(h.max, values[values.length - 1]);
  assert.is(h.valueAtPercentile(100), values[values.length - 1]);
  assert.ok(Math.abs(h.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-6 * h.mean);
});

H('returns 0 for every percentile of an empty histogram', () => {
  const h = new Histogram();
  assert.is(h.valueAtPercentile(50), 0);
  assert.is(h.valueAtPercentile(100), 0);
  assert.is(h.mean, 0);
  assert.is(h.toJSON().min, 0);
});

H('merges histograms into the same percentiles as one histogram of all values', () => {
  const rnd = lcg(7);
  const all = new Histogram(), a = new Histogram(), b = new Histogram();
  for (let i = 0; i < 5000; i++) {
    const v = Math.floor(rnd() * 1e7);
    all.record(v);
    (i % 3 === 0 ? a : b).record(v);
  }
  a.merge(b);
  for (const p of [10, 50, 99, 99.9]) assert.is(a.valueAtPercentile(p), all.valueAtPercentile(p));
  assert.is(a.count, all.count);
  assert.is(a.min, all.min);
  assert.is(a.max, all.max);
  assert.is(a.sum, all.sum);
});

H('refuses to merge histograms of different precision', () => {
  assert.throws(() => new Histogram(10, 40).merge(new Histogram(8, 40)), /cannot merge a histogram of subBits 8\/maxBits 40 into 10\/40/);
});

H('survives a JSON round trip (how workers send it)', () => {
  const h = new Histogram();
  for (const v of [3, 3, 900, 12345, 7e8]) h.record(v);
  const back = Histogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
  assert.equal(Array.from(back.counts), Array.from(h.counts));
  assert.is(back.count, 5);
  assert.is(back.min, 3);
  assert.is(back.max, 7e8);
  assert.is(back.valueAtPercentile(50), h.valueAtPercentile(50));
});

H('rejects impossible precisions', () => {
  assert.throws(() => new Histogram(1, 40), /subBits must be an integer in 2\.\.16, got 1/);
  assert.throws(() => new Histogram(10, 10), /maxBits must be an integer in 11\.\.52, got 10/);
});

H.run();
