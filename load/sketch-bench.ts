// Quantile sketch benchmark: add throughput, and the worst relative error against exact
// (sort-based) quantiles over 1 M samples of several latency-shaped distributions, plus the
// snapshot size of a day of per-second samples. Writes load/reports/sketch.json.
// The generators and error measure are exported so the unit tests check the very same streams.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QuantileSketch, quantileRank } from '../actors/sketch.js';
import { reportPath } from './paths.js';

/** mulberry32: tiny, fast, and good enough to make test streams reproducible from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  // Box–Muller; 1 - u keeps log() away from 0.
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const lognormal = (rand: () => number, median: number, sigma: number): number => median * Math.exp(sigma * normal(rand));
const exponential = (rand: () => number, mean: number): number => -mean * Math.log(1 - rand());

export interface Distribution {
  name: string;
  description: string;
  seed: number;
  sample: (rand: () => number) => number;
}

export const DISTRIBUTIONS: readonly Distribution[] = [
  { name: 'uniform', description: 'uniform [0, 1000) ms', seed: 1, sample: (r) => r() * 1000 },
  { name: 'exponential', description: 'exponential, mean 50 ms', seed: 2, sample: (r) => exponential(r, 50) },
  { name: 'lognormal', description: 'lognormal, median 40 ms, σ 0.8', seed: 3, sample: (r) => lognormal(r, 40, 0.8) },
  { name: 'pareto', description: 'Pareto, x_m 5 ms, shape 1.16 (80/20 heavy tail)', seed: 4, sample: (r) => 5 / Math.pow(1 - r(), 1 / 1.16) },
  {
    name: 'bimodal',
    description: '85 % lognormal(10 ms, σ 0.2) cache hits, 15 % lognormal(400 ms, σ 0.5) misses',
    seed: 5,
    sample: (r) => (r() < 0.85 ? lognormal(r, 10, 0.2) : lognormal(r, 400, 0.5)),
  },
  { name: 'constant', description: 'every sample 42.5 ms', seed: 6, sample: () => 42.5 },
  { name: 'integer', description: 'round(exponential, mean 20 ms): whole ms, many ties and zeros', seed: 7, sample: (r) => Math.round(exponential(r, 20)) },
];

export function generate(d: Distribution, n: number, seed = d.seed): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = d.sample(rand);
  return out;
}

/** q = 0, 0.001, …, 1, plus the far tail, since p99.9+ is where relative-error sketches earn their keep. */
export const Q_GRID: readonly number[] = [...Array.from({ length: 1001 }, (_, i) => i / 1000), 0.9995, 0.9999, 0.99999];

export interface ErrorReport {
  maxRelError: number;
  worstQ: number;
  at: Record<'p50' | 'p95' | 'p99', { exact: number; estimate: number; relError: number }>;
}

function relError(exact: number, estimate: number): number {
  if (exact === 0) return estimate === 0 ? 0 : Infinity;
  return Math.abs(estimate - exact) / exact;
}

/** Compares the sketch with exact quantiles at the same rank definition (quantileRank). */
export function measureErrors(sketch: QuantileSketch, samples: Float64Array, qs: readonly number[] = Q_GRID): ErrorReport {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const exactAt = (q: number): number => sorted[quantileRank(q, n)]!;
  let maxRelError = 0;
  let worstQ = 0;
  for (const q of qs) {
    const e = relError(exactAt(q), sketch.quantile(q));
    if (e > maxRelError) {
      maxRelError = e;
      worstQ = q;
    }
  }
  const point = (q: number): { exact: number; estimate: number; relError: number } => {
    const exact = exactAt(q);
    const estimate = sketch.quantile(q);
    return { exact, estimate, relError: relError(exact, estimate) };
  };
  return { maxRelError, worstQ, at: { p50: point(0.5), p95: point(0.95), p99: point(0.99) } };
}

function addsPerSecond(samples: Float64Array, passes: number, batch: boolean): number {
  const sk = new QuantileSketch();
  sk.addMany(samples); // warm-up: JIT, and the bucket buffer reaches its final size
  let best = 0;
  for (let p = 0; p < passes; p++) {
    sk.clear();
    const t0 = performance.now();
    if (batch) {
      sk.addMany(samples);
    } else {
      for (let i = 0; i < samples.length; i++) sk.add(samples[i]!);
    }
    const secs = (performance.now() - t0) / 1000;
    best = Math.max(best, samples.length / secs);
  }
  return Math.round(best);
}

function main(): void {
  const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
  const n = Number(args.get('samples') ?? 1_000_000);
  const out = args.get('json') ?? reportPath('sketch.json');

  const distributions = DISTRIBUTIONS.map((d) => {
    const samples = generate(d, n);
    const sk = new QuantileSketch();
    const t0 = performance.now();
    for (let i = 0; i < samples.length; i++) sk.add(samples[i]!);
    const secs = (performance.now() - t0) / 1000;
    const err = measureErrors(sk, samples);
    return {
      name: d.name,
      description: d.description,
      buckets: sk.bucketCount,
      collapsed: sk.collapsedBelow > 0,
      coldAddsPerSecond: Math.round(n / secs),
      maxRelError: err.maxRelError,
      worstQ: err.worstQ,
      quantiles: err.at,
      serializedBytes: JSON.stringify(sk).length,
    };
  });

  const lognormal = DISTRIBUTIONS.find((d) => d.name === 'lognormal')!;
  const throughputSamples = generate(lognormal, n);
  const addRate = addsPerSecond(throughputSamples, 5, false);
  const addManyRate = addsPerSecond(throughputSamples, 5, true);

  // A patient actor's day: one latency sample a second.
  const daySamples = 86_400;
  const snapshots = ['lognormal', 'bimodal', 'pareto'].map((name) => {
    const d = DISTRIBUTIONS.find((x) => x.name === name)!;
    const sk = new QuantileSketch();
    sk.addMany(generate(d, daySamples, d.seed + 100));
    const json = JSON.stringify(sk);
    return { distribution: name, samples: daySamples, buckets: sk.bucketCount, serializedBytes: json.length };
  });

  const worst = Math.max(...distributions.map((d) => d.maxRelError));
  const report = {
    benchmark: 'sketch',
    description: 'DDSketch-style quantile sketch: relative error vs exact nearest-rank quantiles (rank floor(q·(n-1))) over a 1004-point q grid, add throughput, snapshot size',
    node: process.version,
    alpha: new QuantileSketch().alpha,
    maxBuckets: new QuantileSketch().maxBuckets,
    samplesPerDistribution: n,
    maxRelErrorOverall: worst,
    targetRelError: 0.01,
    throughput: { distribution: 'lognormal', addsPerSecond: addRate, addManyPerSecond: addManyRate },
    distributions,
    snapshots,
    snapshotBudgetBytes: 16 * 1024,
    meetsTargets: worst <= 0.01 && snapshots.every((s) => s.serializedBytes < 16 * 1024),
    at: new Date().toISOString(),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
}

// Only when run as a script: the tests import the generators from this module.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
