// Mergeable relative-error quantile sketch (DDSketch, Masson et al., VLDB 2019) for latency
// percentiles kept inside actor state.
//
// Guarantee: for a sketch of n values and q in [0, 1], quantile(q) is within a relative error α of
// x[r], the true value at 0-based rank r = quantileRank(q, n) = floor(q·(n-1)) of the sorted
// stream (the "lower nearest rank": no interpolation, so the answer is always tied to one real
// sample — interpolating between two samples would break the per-bucket guarantee). It holds
// because bucket i covers (γ^(i-1), γ^i] with γ = (1+α)/(1-α), counts per bucket are exact, and the
// representative 2γ^i/(γ+1) is within α of every point of its bucket.
//
// Exceptions to the guarantee, by design:
// - values below MIN_INDEXABLE (1e-9 ms) are counted as zero and reported as 0 (absolute error
//   below 1e-9 ms, which is not a latency anyone can measure);
// - once the index range outgrows maxBuckets, the lowest buckets are collapsed into one (standard
//   DDSketch "collapsing lowest" store), so quantiles whose true value is ≤ `collapsedBelow` may be
//   overestimated. Upper quantiles — the ones that matter for latency — stay exact-to-α. At the
//   default α, 0.001 ms … 1e7 ms spans 1280 buckets, under the 2048 default cap (which covers 16
//   decades), so real latency streams never collapse.
//
// α defaults to 0.009 rather than 0.01 so "≤ 1 %" survives the floating-point rounding of log()
// at bucket boundaries with a wide margin.

export const DEFAULT_RELATIVE_ACCURACY = 0.009;
export const DEFAULT_MAX_BUCKETS = 2048;
export const MIN_INDEXABLE = 1e-9;

const INITIAL_CAPACITY = 128;

export interface SketchOptions {
  /** α, the relative accuracy, in (0, 0.5]. */
  relativeAccuracy?: number;
  /** Cap on the number of non-zero-value buckets; the lowest ones collapse beyond it. */
  maxBuckets?: number;
}

/**
 * Serialized form. Short keys because this lives inside actor snapshots that must stay small.
 * `c` holds bucket counts o, o+1, … as base64url of LEB128 varints, where a zero count is written
 * as 0 followed by the length of the zero run (latency histograms have sparse tails).
 */
export interface SketchJSON {
  a: number;
  m?: number;
  o: number;
  c: string;
  z: number;
  n: number;
  min: number;
  max: number;
  /** null only when the sum overflowed to +Infinity, which JSON cannot carry. */
  s: number | null;
  /** Present (1) once a collapse happened, so the weakened guarantee survives a round-trip. */
  k?: 1;
}

/** The 0-based rank quantile(q) answers for; use it to compute exact reference quantiles. */
export function quantileRank(q: number, n: number): number {
  return Math.floor(q * (n - 1));
}

export class QuantileSketch {
  readonly alpha: number;
  readonly maxBuckets: number;
  private readonly gamma: number;
  private readonly lnGamma: number;
  private readonly invLnGamma: number;

  private counts: Float64Array; // Float64, not Uint32: exact to 2^53 so merged fleet-wide sketches cannot wrap
  private offset = 0; // bucket index held at counts[0]
  private lo = 0; // lowest and highest non-empty bucket index; lo > hi while empty
  private hi = -1;
  private collapsed = false;
  private zeroCount = 0;
  private n = 0;
  private total = 0;
  private minV = Infinity;
  private maxV = -Infinity;

  constructor(opts: SketchOptions = {}) {
    const alpha = opts.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
    const maxBuckets = opts.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    if (!(alpha > 0 && alpha <= 0.5)) throw new RangeError(`relativeAccuracy must be in (0, 0.5], got ${alpha}`);
    if (!Number.isInteger(maxBuckets) || maxBuckets < 2) throw new RangeError(`maxBuckets must be an integer ≥ 2, got ${maxBuckets}`);
    this.alpha = alpha;
    this.maxBuckets = maxBuckets;
    this.gamma = (1 + alpha) / (1 - alpha);
    this.lnGamma = Math.log(this.gamma);
    this.invLnGamma = 1 / this.lnGamma;
    this.counts = new Float64Array(Math.min(INITIAL_CAPACITY, maxBuckets));
  }

  get count(): number {
    return this.n;
  }

  /** Exact smallest value added; NaN when empty. */
  get min(): number {
    return this.n === 0 ? NaN : this.minV;
  }

  /** Exact largest value added; NaN when empty. */
  get max(): number {
    return this.n === 0 ? NaN : this.maxV;
  }

  get sum(): number {
    return this.total;
  }

  /** Number of buckets between the lowest and highest non-empty one (the memory actually in use). */
  get bucketCount(): number {
    return this.hi >= this.lo ? this.hi - this.lo + 1 : 0;
  }

  /** 0 unless buckets collapsed; otherwise quantiles whose true value is ≤ this may be overestimated. */
  get collapsedBelow(): number {
    return this.collapsed ? Math.exp(this.lo * this.lnGamma) : 0;
  }

  add(x: number): void {
    // One comparison pair rejects NaN, negatives and ±Infinity.
    if (!(x >= 0 && x < Infinity)) throw new RangeError(`sketch values must be finite and ≥ 0, got ${x}`);
    this.n++;
    if (x < MIN_INDEXABLE) {
      if (x === 0) x = 0; // folds -0 into 0 so min survives JSON round-trips unchanged
      this.zeroCount++;
    } else {
      let k = Math.ceil(Math.log(x) * this.invLnGamma);
      if (k < this.lo || k > this.hi) k = this.include(k);
      this.counts[k - this.offset]! += 1;
    }
    this.total += x;
    if (x < this.minV) this.minV = x;
    if (x > this.maxV) this.maxV = x;
  }

  /** Adds every value, or none: the batch is validated before the sketch changes. */
  addMany(xs: ArrayLike<number>): void {
    const len = xs.length;
    for (let i = 0; i < len; i++) {
      const x = xs[i]!;
      if (!(x >= 0 && x < Infinity)) throw new RangeError(`sketch values must be finite and ≥ 0, got ${x} at index ${i}`);
    }
    for (let i = 0; i < len; i++) this.add(xs[i]!);
  }

  /** Folds `other` into this sketch; afterwards this answers as if it had seen both streams. */
  merge(other: QuantileSketch): void {
    if (other.alpha !== this.alpha) throw new RangeError(`cannot merge sketches with different α (${this.alpha} vs ${other.alpha})`);
    if (other.n === 0) return;
    if (other.hi >= other.lo) {
      // Self-merge would read counts while they are being rewritten.
      const src = other === this ? this.counts.slice() : other.counts;
      const srcOffset = other.offset;
      const oLo = other.lo;
      const oHi = other.hi;
      // Top first so that, if the union overflows maxBuckets, it is the bottom that collapses.
      if (oHi > this.hi || this.hi < this.lo) this.include(oHi);
      if (oLo < this.lo) this.include(oLo);
      for (let j = oLo; j <= oHi; j++) {
        const c = src[j - srcOffset]!;
        if (c === 0) continue;
        const k = j < this.lo ? this.lo : j;
        this.counts[k - this.offset]! += c;
      }
      if (other.collapsed) this.collapsed = true;
    }
    this.zeroCount += other.zeroCount;
    this.n += other.n;
    this.total += other.total;
    if (other.minV < this.minV) this.minV = other.minV;
    if (other.maxV > this.maxV) this.maxV = other.maxV;
  }

  /** Value at rank quantileRank(q, n), within α relative error; NaN when empty. */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.n === 0) return NaN;
    const rank = quantileRank(q, this.n);
    // Ranks 0 and n-1 are min and max, which are tracked exactly.
    if (rank === 0) return this.minV;
    if (rank === this.n - 1) return this.maxV;
    let cum = this.zeroCount;
    if (rank < cum) return this.clamp(0);
    for (let i = this.lo; i <= this.hi; i++) {
      cum += this.counts[i - this.offset]!;
      if (cum > rank) return this.clamp(this.valueOf(i));
    }
    return this.maxV; // unreachable while counts are consistent with n
  }

  /** Empties the sketch but keeps its buffer, so a reused sketch does not reallocate. */
  clear(): void {
    this.counts.fill(0);
    this.lo = 0;
    this.hi = -1;
    this.collapsed = false;
    this.zeroCount = 0;
    this.n = 0;
    this.total = 0;
    this.minV = Infinity;
    this.maxV = -Infinity;
  }

  toJSON(): SketchJSON {
    const empty = this.hi < this.lo;
    const out: SketchJSON = {
      a: this.alpha,
      o: empty ? 0 : this.lo,
      c: empty ? '' : encodeCounts(this.counts, this.lo - this.offset, this.hi - this.offset + 1),
      z: this.zeroCount,
      n: this.n,
      min: this.n === 0 ? 0 : this.minV,
      max: this.n === 0 ? 0 : this.maxV,
      s: Number.isFinite(this.total) ? this.total : null,
    };
    if (this.maxBuckets !== DEFAULT_MAX_BUCKETS) out.m = this.maxBuckets;
    if (this.collapsed) out.k = 1;
    return out;
  }

  static fromJSON(json: unknown): QuantileSketch {
    const j = json as Partial<SketchJSON> | null;
    if (typeof j !== 'object' || j === null) throw new TypeError('sketch JSON must be an object');
    const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (typeof j.a !== 'number') throw new TypeError('sketch JSON: a (alpha) must be a number');
    if (!Number.isSafeInteger(j.o) || typeof j.c !== 'string') throw new TypeError('sketch JSON: o and c are required');
    if (!isCount(j.z) || !isCount(j.n)) throw new TypeError('sketch JSON: z and n must be non-negative integers');
    if (typeof j.min !== 'number' || typeof j.max !== 'number') throw new TypeError('sketch JSON: min and max must be numbers');
    if (j.s !== null && typeof j.s !== 'number') throw new TypeError('sketch JSON: s must be a number or null');
    const sk = new QuantileSketch({ relativeAccuracy: j.a, ...(j.m === undefined ? {} : { maxBuckets: j.m }) });
    const decoded = decodeCounts(j.c, sk.maxBuckets);
    if (decoded.length > 0 && (decoded[0] === 0 || decoded[decoded.length - 1] === 0)) {
      throw new RangeError('sketch JSON: bucket run must start and end with a non-zero count');
    }
    let inBuckets = 0;
    for (let i = 0; i < decoded.length; i++) inBuckets += decoded[i]!;
    if (inBuckets + j.z !== j.n) throw new RangeError(`sketch JSON: counts add up to ${inBuckets + j.z}, n is ${j.n}`);
    if (decoded.length > 0) {
      const o = j.o as number;
      if (decoded.length > sk.counts.length) sk.counts = new Float64Array(decoded.length);
      sk.counts.set(decoded);
      sk.offset = o;
      sk.lo = o;
      sk.hi = o + decoded.length - 1;
    }
    sk.collapsed = j.k === 1;
    sk.zeroCount = j.z;
    sk.n = j.n;
    sk.total = j.s ?? Infinity;
    if (j.n > 0) {
      sk.minV = j.min;
      sk.maxV = j.max;
    }
    return sk;
  }

  private valueOf(i: number): number {
    // γ^(i-1)·2γ/(γ+1) rather than γ^i·2/(γ+1): the lower edge cannot overflow for finite inputs.
    return Math.exp((i - 1) * this.lnGamma) * ((2 * this.gamma) / (this.gamma + 1));
  }

  private clamp(v: number): number {
    // The true value lies in [min, max], so clamping only ever moves the estimate closer.
    return v < this.minV ? this.minV : v > this.maxV ? this.maxV : v;
  }

  /**
   * Cold path of add/merge: makes bucket k addressable, growing, shifting or collapsing the
   * store, and returns the index to count into (k itself unless k fell below a collapse).
   */
  private include(k: number): number {
    if (this.hi < this.lo) {
      // Empty store: centre the existing buffer on k, no copy needed since it is all zeros.
      this.offset = k - (this.counts.length >> 1);
      this.lo = this.hi = k;
      return k;
    }
    if (k >= this.lo && k <= this.hi) return k;
    let newLo = Math.min(this.lo, k);
    const newHi = Math.max(this.hi, k);
    let collapsedTotal = 0;
    if (newHi - newLo + 1 > this.maxBuckets) {
      newLo = newHi - this.maxBuckets + 1;
      this.collapsed = true;
      if (k < newLo) {
        k = newLo; // below the window: counts into the collapsed bottom bucket
      } else {
        // Growing upwards: fold everything under the new window into its lowest bucket.
        const end = Math.min(this.hi, newLo - 1);
        for (let i = this.lo; i <= end; i++) {
          const p = i - this.offset;
          collapsedTotal += this.counts[p]!;
          this.counts[p] = 0;
        }
        if (end === this.hi) {
          this.hi = this.lo - 1; // whole old range collapsed: nothing live left to move
        } else {
          this.lo = newLo;
        }
      }
    }
    const span = newHi - newLo + 1;
    if (newLo < this.offset || newHi >= this.offset + this.counts.length) {
      this.reposition(newLo, span);
    }
    if (collapsedTotal > 0) this.counts[newLo - this.offset]! += collapsedTotal;
    this.lo = newLo;
    this.hi = newHi;
    return k;
  }

  /** Moves live buckets so [newLo, newLo+span) fits, growing the buffer geometrically up to the cap. */
  private reposition(newLo: number, span: number): void {
    const old = this.counts;
    const cap = span <= old.length ? old.length : Math.min(this.maxBuckets, Math.max(span, old.length * 2));
    // Leave slack on both sides so a stream drifting either way does not shift on every new bucket.
    const newOffset = newLo - ((cap - span) >> 1);
    if (this.hi < this.lo) {
      // Nothing live to carry over, and the buffer is all zeros by invariant.
      if (cap !== old.length) this.counts = new Float64Array(cap);
      this.offset = newOffset;
      return;
    }
    const from = this.lo - this.offset;
    const to = this.hi - this.offset + 1;
    const dest = this.lo - newOffset;
    if (cap === old.length) {
      old.copyWithin(dest, from, to);
      old.fill(0, 0, dest);
      old.fill(0, dest + (to - from));
    } else {
      const next = new Float64Array(cap);
      next.set(old.subarray(from, to), dest);
      this.counts = next;
    }
    this.offset = newOffset;
  }
}

// --- compact count encoding: LEB128 varints (zero runs as 0,len) in base64url -------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

function pushVarint(bytes: number[], v: number): void {
  // Arithmetic rather than bit ops: counts may exceed 2^32 after large merges.
  while (v >= 128) {
    bytes.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
}

function encodeCounts(counts: Float64Array, from: number, to: number): string {
  const bytes: number[] = [];
  for (let i = from; i < to; ) {
    const c = counts[i]!;
    if (c !== 0) {
      pushVarint(bytes, c);
      i++;
      continue;
    }
    let run = 0;
    while (i < to && counts[i] === 0) {
      run++;
      i++;
    }
    bytes.push(0);
    pushVarint(bytes, run);
  }
  return toBase64Url(bytes);
}

function decodeCounts(s: string, maxBuckets: number): number[] {
  const bytes = fromBase64Url(s);
  const out: number[] = [];
  let p = 0;
  const readVarint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (p >= bytes.length) throw new RangeError('sketch JSON: truncated count encoding');
      const b = bytes[p++]!;
      v += (b & 127) * scale;
      if (b < 128) break;
      scale *= 128;
      if (scale > 2 ** 56) throw new RangeError('sketch JSON: count varint too long');
    }
    return v;
  };
  while (p < bytes.length) {
    const v = readVarint();
    const run = v === 0 ? readVarint() : 1;
    if (run === 0) throw new RangeError('sketch JSON: empty zero run');
    // Bounded before expanding, so a hostile snapshot cannot make us allocate a huge run.
    if (out.length + run > maxBuckets) throw new RangeError(`sketch JSON: more than maxBuckets (${maxBuckets}) buckets`);
    if (v !== 0) out.push(v);
    else for (let r = 0; r < run; r++) out.push(0);
  }
  return out;
}

// Hand-rolled rather than Buffer/btoa so actors stay free of host-specific globals (they also run on Deno).
function toBase64Url(bytes: readonly number[]): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[v >> 18]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]! + B64[v & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i]! << 16;
    out += B64[v >> 18]! + B64[(v >> 12) & 63]!;
  } else if (rest === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[v >> 18]! + B64[(v >> 12) & 63]! + B64[(v >> 6) & 63]!;
  }
  return out;
}

function fromBase64Url(s: string): Uint8Array {
  if (s.length % 4 === 1) throw new RangeError('sketch JSON: bad base64url length');
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const d = code < 128 ? B64_INDEX[code]! : -1;
    if (d < 0) throw new RangeError('sketch JSON: bad base64url character');
    acc = ((acc << 6) | d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out;
}
