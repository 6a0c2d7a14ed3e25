// A compact log-linear histogram in the style of HdrHistogram, for latency percentiles.
//
// Values are non-negative integers (the bench records nanoseconds). Below 2^subBits every value has
// its own bucket (exact). Above, each power-of-two range [2^e, 2^(e+1)) is split into 2^(subBits-1)
// equal sub-buckets, so a bucket is never wider than 1/2^(subBits-1) of the values it holds: with
// the default subBits = 10 that is 0.2 %, about three significant decimal digits. Values above
// 2^maxBits - 1 go to the top bucket; the exact maximum is kept aside. Percentiles report the
// highest value equivalent to the bucket (never above the recorded maximum), as HdrHistogram does,
// so a reported p99 is never an under-estimate.
//
// The counts live in one Float64Array so a histogram can be sent between worker threads
// (`toJSON` / `Histogram.fromJSON`, or `counts` as a transferable) and merged.

export interface HistogramJSON {
  subBits: number;
  maxBits: number;
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Sparse counts: [bucketIndex, count, bucketIndex, count, ...]. */
  buckets: number[];
}

export class Histogram {
  readonly subBits: number;
  readonly maxBits: number;
  readonly counts: Float64Array;
  count = 0;
  min = Infinity;
  max = 0;
  sum = 0;
  readonly #half: number;
  readonly #limit: number;

  constructor(subBits = 10, maxBits = 40) {
    if (!Number.isInteger(subBits) || subBits < 2 || subBits > 16) throw new RangeError(`subBits must be an integer in 2..16, got ${subBits}`);
    if (!Number.isInteger(maxBits) || maxBits <= subBits || maxBits > 52) throw new RangeError(`maxBits must be an integer in ${subBits + 1}..52, got ${maxBits}`);
    this.subBits = subBits;
    this.maxBits = maxBits;
    this.#half = 2 ** (subBits - 1);
    this.#limit = 2 ** maxBits - 1;
    this.counts = new Float64Array(this.indexOf(this.#limit) + 1);
  }

  /** The bucket index of a value (clamped to 0 .. 2^maxBits - 1). */
  indexOf(value: number): number {
    let v = Math.floor(value);
    if (!(v > 0)) return 0; // also NaN and negatives
    if (v > this.#limit) v = this.#limit;
    if (v < 2 * this.#half) return v;
    // e = floor(log2(v)) >= subBits; shift so that the top subBits bits remain.
    const e = v < 2 ** 31 ? 31 - Math.clz32(v) : Math.floor(Math.log2(v));
    let shift = e - this.subBits + 1;
    let sub = Math.floor(v / 2 ** shift);
    // Guard against Math.log2 rounding for very large values.
    if (sub >= 2 * this.#half) { shift++; sub = Math.floor(v / 2 ** shift); }
    else if (sub < this.#half) { shift--; sub = Math.floor(v / 2 ** shift); }
    return shift * this.#half + sub;
  }

  /** The smallest value that maps to bucket `index`. */
  lowestAt(index: number): number {
    if (index < 2 * this.#half) return index;
    const shift = Math.floor(index / this.#half) - 1;
    const sub = index - shift * this.#half;
    return sub * 2 ** shift;
  }

  /** The largest value that maps to bucket `index`. */
  highestAt(index: number): number {
    if (index < 2 * this.#half) return index;
    const shift = Math.floor(index / this.#half) - 1;
    const sub = index - shift * this.#half;
    return (sub + 1) * 2 ** shift - 1;
  }

  record(value: number): void {
    const v = value > 0 ? Math.floor(value) : 0;
    this.counts[this.indexOf(v)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Adds every count of `other` (same subBits and maxBits) to this histogram. */
  merge(other: Histogram): this {
    if (other.subBits !== this.subBits || other.maxBits !== this.maxBits) {
      throw new RangeError(`cannot merge a histogram of subBits ${other.subBits}/maxBits ${other.maxBits} into ${this.subBits}/${this.maxBits}`);
    }
    const a = this.counts, b = other.counts;
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) a[i] += b[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.min = Infinity;
    this.max = 0;
    this.sum = 0;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /**
   * The value at percentile `p` (0..100): the highest value equivalent to the bucket that holds the
   * ceil(p% * count)-th smallest recorded value, capped at the recorded maximum. 0 when empty.
   */
  valueAtPercentile(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((Math.max(0, p) / 100) * this.count));
    let seen = 0;
    const c = this.counts;
    for (let i = 0; i < c.length; i++) {
      seen += c[i];
      // The top bucket also holds the clamped values: report the real maximum for it.
      if (seen >= rank) return i === c.length - 1 ? this.max : Math.max(this.min, Math.min(this.highestAt(i), this.max));
    }
    return this.max;
  }

  toJSON(): HistogramJSON {
    const buckets: number[] = [];
    const c = this.counts;
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) buckets.push(i, c[i]);
    return { subBits: this.subBits, maxBits: this.maxBits, count: this.count, min: this.count ? this.min : 0, max: this.max, sum: this.sum, buckets };
  }

  static fromJSON(j: HistogramJSON): Histogram {
    const h = new Histogram(j.subBits, j.maxBits);
    for (let k = 0; k + 1 < j.buckets.length; k += 2) h.counts[j.buckets[k]] = j.buckets[k + 1];
    h.count = j.count;
    h.min = j.count ? j.min : Infinity;
    h.max = j.max;
    h.sum = j.sum;
    return h;
  }
}
