import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BUCKETS, MIN_INDEXABLE, QuantileSketch, quantileRank, type SketchJSON } from '../../actors/sketch.js';
import { DISTRIBUTIONS, generate, measureErrors, mulberry32, Q_GRID } from '../../load/sketch-bench.js';

const N = 1_000_000;
const TARGET = 0.01;

function sketchOf(xs: ArrayLike<number>, opts?: ConstructorParameters<typeof QuantileSketch>[0]): QuantileSketch {
  const sk = new QuantileSketch(opts);
  sk.addMany(xs);
  return sk;
}

/** Every rank, not just a grid: the guarantee is per rank. */
function maxErrorAllRanks(sk: QuantileSketch, xs: ArrayLike<number>): number {
  // Ranks inside a collapsed range carry no guarantee, by design; collapsedBelow is 0 otherwise.
  const floor = sk.collapsedBelow;
  const sorted = Float64Array.from(xs).sort();
  const n = sorted.length;
  let worst = 0;
  for (let r = 0; r < n; r++) {
    // A q that lands exactly on rank r under quantileRank's floor.
    const q = n === 1 ? 0.5 : r / (n - 1);
    const exact = sorted[quantileRank(q, n)]!;
    if (exact <= floor) continue;
    const est = sk.quantile(q);
    const e = exact < MIN_INDEXABLE ? (Math.abs(est - exact) <= MIN_INDEXABLE ? 0 : Infinity) : Math.abs(est - exact) / exact;
    worst = Math.max(worst, e);
  }
  return worst;
}

const internals = (sk: QuantileSketch): { counts: Float64Array } => sk as unknown as { counts: Float64Array };

describe('QuantileSketch accuracy over 1 M samples', () => {
  for (const d of DISTRIBUTIONS) {
    it(`${d.name}: p50/p95/p99 and every q on the grid within 1 % of the exact nearest-rank value`, () => {
      const xs = generate(d, N);
      const sk = new QuantileSketch();
      for (let i = 0; i < xs.length; i++) sk.add(xs[i]!);
      expect(sk.count).toBe(N);
      const sorted = Float64Array.from(xs).sort();
      expect(sk.min).toBe(sorted[0]);
      expect(sk.max).toBe(sorted[N - 1]);
      expect(sk.collapsedBelow).toBe(0);
      const err = measureErrors(sk, xs, Q_GRID);
      expect(err.at.p50.relError).toBeLessThanOrEqual(TARGET);
      expect(err.at.p95.relError).toBeLessThanOrEqual(TARGET);
      expect(err.at.p99.relError).toBeLessThanOrEqual(TARGET);
      expect(err.maxRelError).toBeLessThanOrEqual(sk.alpha + 1e-12);
    });
  }

  it('constant and integer streams answer exactly where ties make the bucket hold a single value', () => {
    const c = sketchOf(generate(DISTRIBUTIONS.find((d) => d.name === 'constant')!, 10_000));
    for (const q of [0, 0.5, 0.95, 1]) expect(c.quantile(q)).toBe(42.5);
    const ints = generate(DISTRIBUTIONS.find((d) => d.name === 'integer')!, 100_000);
    const sk = sketchOf(ints);
    // Zero is the most common value and is kept exactly in the zero count.
    expect(sk.quantile(0.01)).toBe(0);
  });
});

describe('merge', () => {
  it('a merge of two sketches equals the sketch of the concatenated stream', () => {
    const a = generate(DISTRIBUTIONS.find((d) => d.name === 'bimodal')!, 300_000);
    const b = generate(DISTRIBUTIONS.find((d) => d.name === 'pareto')!, 200_000);
    const ints = generate(DISTRIBUTIONS.find((d) => d.name === 'integer')!, 50_000);
    const all = new Float64Array(a.length + b.length + ints.length);
    all.set(a);
    all.set(b, a.length);
    all.set(ints, a.length + b.length);

    const whole = sketchOf(all);
    const left = sketchOf(a);
    const right = sketchOf(b);
    right.merge(sketchOf(ints));
    left.merge(right);

    expect(left.count).toBe(whole.count);
    expect(left.min).toBe(whole.min);
    expect(left.max).toBe(whole.max);
    expect(left.sum).toBeCloseTo(whole.sum, 3);
    const { s: ls, ...lRest } = left.toJSON();
    const { s: ws, ...wRest } = whole.toJSON();
    expect(lRest).toEqual(wRest);
    expect(Math.abs(ls! - ws!) / ws!).toBeLessThan(1e-12);
    for (const q of Q_GRID) expect(left.quantile(q)).toBe(whole.quantile(q));
    expect(measureErrors(left, all).maxRelError).toBeLessThanOrEqual(TARGET);
  });

  it('merging into an empty sketch, from an empty sketch, and into itself', () => {
    const xs = generate(DISTRIBUTIONS.find((d) => d.name === 'lognormal')!, 10_000);
    const full = sketchOf(xs);
    const empty = new QuantileSketch();
    empty.merge(full);
    expect(empty.toJSON()).toEqual(full.toJSON());
    full.merge(new QuantileSketch());
    expect(full.toJSON()).toEqual(empty.toJSON());

    const doubled = sketchOf([...xs, ...xs]);
    full.merge(full);
    expect(full.count).toBe(20_000);
    for (const q of Q_GRID) expect(full.quantile(q)).toBe(doubled.quantile(q));
  });

  it('refuses sketches with a different α', () => {
    const a = new QuantileSketch({ relativeAccuracy: 0.009 });
    const b = new QuantileSketch({ relativeAccuracy: 0.01 });
    expect(() => a.merge(b)).toThrow(RangeError);
  });

  it('property: merging any split of a stream answers like the whole stream', () => {
    const value = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: 5000 }));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.array(value, { maxLength: 300 }), (xs, ys) => {
        const merged = sketchOf(xs);
        merged.merge(sketchOf(ys));
        const whole = sketchOf([...xs, ...ys]);
        expect(merged.count).toBe(whole.count);
        for (const q of [0, 0.1, 0.5, 0.95, 0.99, 1]) expect(merged.quantile(q)).toBe(whole.quantile(q));
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('serialization', () => {
  it('round-trips exactly, through JSON text', () => {
    for (const d of DISTRIBUTIONS) {
      const sk = sketchOf(generate(d, 50_000));
      const json = sk.toJSON();
      const back = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(json)) as unknown);
      expect(back.toJSON()).toEqual(json);
      expect(back.count).toBe(sk.count);
      expect(Object.is(back.min, sk.min)).toBe(true);
      expect(Object.is(back.max, sk.max)).toBe(true);
      expect(Object.is(back.sum, sk.sum)).toBe(true);
      for (const q of Q_GRID) expect(back.quantile(q)).toBe(sk.quantile(q));
      // A restored sketch keeps accepting values like the original.
      back.add(123.4);
      sk.add(123.4);
      expect(back.toJSON()).toEqual(sk.toJSON());
    }
  });

  it('a day of per-second latency samples serializes to well under the 16 KB actor budget', () => {
    const sizes: Record<string, number> = {};
    for (const name of ['lognormal', 'bimodal', 'pareto']) {
      const d = DISTRIBUTIONS.find((x) => x.name === name)!;
      sizes[name] = JSON.stringify(sketchOf(generate(d, 86_400, d.seed + 100))).length;
    }
    for (const bytes of Object.values(sizes)) expect(bytes).toBeLessThan(2048);
  });

  it('worst case (every one of 2048 buckets occupied) still fits the budget', () => {
    const sk = new QuantileSketch();
    const gamma = (1 + sk.alpha) / (1 - sk.alpha);
    // One value in the middle of each of 2048 consecutive buckets, 42 times each (86,016 samples).
    for (let rep = 0; rep < 42; rep++) for (let i = 0; i < DEFAULT_MAX_BUCKETS; i++) sk.add(1e-3 * Math.pow(gamma, i + 0.5));
    expect(sk.bucketCount).toBe(DEFAULT_MAX_BUCKETS);
    expect(sk.collapsedBelow).toBe(0);
    expect(JSON.stringify(sk).length).toBeLessThan(4096);
  });

  it('empty, overflowed-sum and collapsed sketches round-trip', () => {
    const empty = new QuantileSketch();
    const e2 = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(empty)) as unknown);
    expect(e2.count).toBe(0);
    expect(e2.quantile(0.5)).toBeNaN();

    const huge = sketchOf([Number.MAX_VALUE, Number.MAX_VALUE]);
    expect(huge.sum).toBe(Infinity);
    const h2 = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(huge)) as unknown);
    expect(h2.sum).toBe(Infinity);
    expect(h2.quantile(0.5)).toBe(Number.MAX_VALUE);

    const small = sketchOf([1e-6, 1, 1e6], { maxBuckets: 64 });
    expect(small.collapsedBelow).toBeGreaterThan(0);
    const s2 = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(small)) as unknown);
    expect(s2.toJSON()).toEqual(small.toJSON());
    expect(s2.maxBuckets).toBe(64);
    expect(s2.collapsedBelow).toBe(small.collapsedBelow);
  });

  it('rejects malformed snapshots', () => {
    const good = sketchOf([1, 2, 3, 0]).toJSON();
    const bad = (patch: Partial<Record<keyof SketchJSON, unknown>>): unknown => ({ ...good, ...patch });
    expect(() => QuantileSketch.fromJSON(null)).toThrow(TypeError);
    expect(() => QuantileSketch.fromJSON(bad({ n: 5 }))).toThrow(RangeError);
    expect(() => QuantileSketch.fromJSON(bad({ c: 'A*' }))).toThrow(RangeError);
    expect(() => QuantileSketch.fromJSON(bad({ a: 2 }))).toThrow(RangeError);
    // A zero run of 2^20 buckets must be refused before it is expanded.
    expect(() => QuantileSketch.fromJSON(bad({ c: 'AQCAgEA', n: 4 }))).toThrow(RangeError);
  });
});

describe('edge cases', () => {
  it('empty sketch', () => {
    const sk = new QuantileSketch();
    expect(sk.quantile(0.95)).toBeNaN();
    expect(sk.count).toBe(0);
    expect(sk.min).toBeNaN();
    expect(sk.max).toBeNaN();
    expect(sk.sum).toBe(0);
  });

  it('single value answers exactly for every q', () => {
    const sk = sketchOf([17.3]);
    for (const q of [0, 0.5, 0.95, 1]) expect(sk.quantile(q)).toBe(17.3);
  });

  it('zeros and sub-nanosecond values go to the zero count', () => {
    const sk = sketchOf([0, -0, 1e-12, 0, 5, 5, 5, 5]);
    expect(sk.bucketCount).toBe(1);
    expect(Object.is(sk.min, 0)).toBe(true);
    expect(sk.quantile(0)).toBe(0);
    expect(sk.quantile(0.3)).toBe(0);
    expect(sk.quantile(0.95)).toBe(5);
    const tiny = sketchOf([1e-12, 1e-11]);
    expect(tiny.quantile(0)).toBe(1e-12);
    expect(tiny.quantile(1)).toBe(1e-11);
  });

  it('huge values', () => {
    const xs = [1e300, 2e300, 5e305, Number.MAX_VALUE, 1.5e308, 7e307];
    const sk = sketchOf(xs);
    expect(sk.collapsedBelow).toBe(0);
    expect(maxErrorAllRanks(sk, xs)).toBeLessThanOrEqual(sk.alpha + 1e-12);
    expect(sk.max).toBe(Number.MAX_VALUE);
    // 1e-3 … 1.8e308 spans far more than 2048 buckets: the bottom collapses, the top stays accurate.
    const wide = [...xs, 1e-3, 1, 1e200];
    const sk2 = sketchOf(wide);
    expect(sk2.collapsedBelow).toBeGreaterThan(1e200);
    expect(sk2.bucketCount).toBeLessThanOrEqual(sk2.maxBuckets);
    expect(maxErrorAllRanks(sk2, wide)).toBeLessThanOrEqual(sk2.alpha + 1e-12);
    expect(sk2.min).toBe(1e-3);
  });

  it('rejects negative and non-finite values, and addMany is all-or-nothing', () => {
    const sk = new QuantileSketch();
    for (const x of [-1, -1e-300, NaN, Infinity, -Infinity]) expect(() => sk.add(x)).toThrow(RangeError);
    expect(() => sk.addMany([1, 2, -3])).toThrow(RangeError);
    expect(sk.count).toBe(0);
    expect(() => sk.quantile(1.5)).toThrow(RangeError);
    expect(() => sk.quantile(NaN)).toThrow(RangeError);
    expect(() => new QuantileSketch({ relativeAccuracy: 0 })).toThrow(RangeError);
  });

  it('property: every rank of any non-negative stream is within α (absolute 1e-9 below MIN_INDEXABLE, none inside a collapse)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.integer({ min: 0, max: 100 })), { minLength: 1, maxLength: 200 }), (xs) => {
        const sk = sketchOf(xs);
        expect(maxErrorAllRanks(sk, xs)).toBeLessThanOrEqual(sk.alpha + 1e-12);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('bounded memory', () => {
  it('latency from 0.001 ms to 1e7 ms fits without collapsing, at full accuracy on every rank', () => {
    const xs: number[] = [];
    for (let v = 1e-3; v <= 1e7; v *= 1.004) xs.push(v);
    xs.push(1e7);
    const sk = sketchOf(xs);
    expect(sk.bucketCount).toBeLessThan(1300);
    expect(sk.bucketCount).toBeLessThan(sk.maxBuckets);
    expect(sk.collapsedBelow).toBe(0);
    expect(maxErrorAllRanks(sk, xs)).toBeLessThanOrEqual(sk.alpha + 1e-12);
  });

  it('collapses the lowest buckets beyond the cap, keeping counts and upper quantiles', () => {
    const rand = mulberry32(99);
    const xs = Array.from({ length: 20_000 }, () => Math.exp(rand() * 40 - 20)); // e^-20 … e^20
    const sk = sketchOf(xs, { maxBuckets: 256 });
    expect(sk.bucketCount).toBeLessThanOrEqual(256);
    expect(sk.count).toBe(xs.length);
    const floor = sk.collapsedBelow;
    expect(floor).toBeGreaterThan(0);
    const sorted = Float64Array.from(xs).sort();
    for (const q of Q_GRID) {
      const exact = sorted[quantileRank(q, xs.length)]!;
      if (exact <= floor) continue; // inside the collapsed range: no guarantee, by design
      expect(Math.abs(sk.quantile(q) - exact) / exact).toBeLessThanOrEqual(sk.alpha + 1e-12);
    }
    // A stream that first goes low then jumps high collapses everything below the new window.
    const jump = sketchOf([1e-6, 2e-6, 3e-6], { maxBuckets: 32 });
    jump.add(1e6);
    expect(jump.bucketCount).toBeLessThanOrEqual(32);
    expect(jump.quantile(1)).toBe(1e6);
    expect(jump.count).toBe(4);
  });

  it('add does not reallocate the bucket buffer once the range is established', () => {
    const d = DISTRIBUTIONS.find((x) => x.name === 'lognormal')!;
    const sk = sketchOf(generate(d, 100_000, 11));
    const buf = internals(sk).counts;
    const more = generate(d, 200_000, 12).map((x) => Math.min(Math.max(x, sk.min), sk.max));
    sk.addMany(more);
    expect(internals(sk).counts).toBe(buf);
    sk.clear();
    sk.addMany(more);
    expect(internals(sk).counts).toBe(buf);
  });
});
