// Trend per series over its most recent minute buckets (by event time, so the answer does not
// depend on arrival order): least-squares slope and residual scatter, classified as
// `increasing`, `decreasing`, `stable` or `volatile`.
import { dict } from './dict.js';

export const Trend = { increasing: 'increasing', decreasing: 'decreasing', stable: 'stable', volatile: 'volatile' } as const;
export type Trend = (typeof Trend)[keyof typeof Trend];

export interface TrendConfig {
  /** Minute buckets kept per series. */
  points: number;
  /** Residual standard deviation over |mean| above which the series is `volatile`. */
  volatileCv: number;
  /** Fitted change across the kept span, over |mean|, beyond which it is increasing/decreasing. */
  changeRatio: number;
}

export const kDefaultTrendConfig: TrendConfig = { points: 12, volatileCv: 0.1, changeRatio: 0.05 };

/** Bucket starts (minutes since epoch), sums and counts, ascending by start: the snapshot form. */
export interface TrendJSON {
  k: number[];
  s: number[];
  c: number[];
}

/**
 * Live form, one Float64Array (three arrays per series were six objects to touch per reading):
 * [buckets in use], then per bucket [start, sum, count], ascending by start. addPoint may
 * return a larger buffer in its place.
 */
export type TrendState = Float64Array;

const B = 3;

export function newTrend(maxPoints = kDefaultTrendConfig.points): TrendState {
  return new Float64Array(1 + (maxPoints + 1) * B);
}

/** Adds a reading; returns the buffer to keep (a larger copy when it was full). */
export function addPoint(tr: TrendState, t: number, v: number, maxPoints: number): TrendState {
  const key = Math.floor(t / 60_000);
  let n = tr[0]!;
  let i = n - 1;
  while (i >= 0 && tr[1 + i * B]! > key) i--;
  if (i >= 0 && tr[1 + i * B] === key) {
    tr[2 + i * B]! += v;
    tr[3 + i * B]!++;
    return tr;
  }
  // Older than everything kept and already full: it would be evicted at once in any order.
  if (n >= maxPoints && i < 0) return tr;
  if (1 + (n + 1) * B > tr.length) {
    const bigger = new Float64Array(1 + 2 * (n + 1) * B);
    bigger.set(tr);
    tr = bigger;
  }
  const at = 1 + (i + 1) * B;
  if (i + 1 < n) tr.copyWithin(at + B, at, 1 + n * B);
  tr[at] = key;
  tr[at + 1] = v;
  tr[at + 2] = 1;
  n++;
  if (n > maxPoints) {
    tr.copyWithin(1, 1 + B, 1 + n * B);
    n--;
  }
  tr[0] = n;
  return tr;
}

export function trendToJSON(tr: TrendState): TrendJSON {
  const n = tr[0]!;
  const out: TrendJSON = { k: [], s: [], c: [] };
  for (let i = 0; i < n; i++) {
    out.k.push(tr[1 + i * B]!);
    out.s.push(tr[2 + i * B]!);
    out.c.push(tr[3 + i * B]!);
  }
  return out;
}

export function trendFromJSON(j: TrendJSON): TrendState {
  const n = j.k.length;
  const tr = new Float64Array(1 + Math.max(n + 1, kDefaultTrendConfig.points + 1) * B);
  tr[0] = n;
  for (let i = 0; i < n; i++) {
    tr[1 + i * B] = j.k[i]!;
    tr[2 + i * B] = j.s[i]!;
    tr[3 + i * B] = j.c[i]!;
  }
  return tr;
}

/** Snapshot form of a record of trends (same keys, same order). */
export function trendRecordToJSON(r: Record<string, TrendState>): Record<string, TrendJSON> {
  const out = dict<TrendJSON>();
  for (const k in r) out[k] = trendToJSON(r[k]!);
  return out;
}

export function trendRecordFromJSON(r: Record<string, TrendJSON>): Record<string, TrendState> {
  const out = dict<TrendState>();
  for (const k of Object.keys(r)) out[k] = trendFromJSON(r[k]!);
  return out;
}

export interface TrendResult {
  trend: Trend;
  points: number;
  slopePerHour: number;
  mean: number;
}

export function classify(state: TrendState | TrendJSON, cfg: TrendConfig = kDefaultTrendConfig): TrendResult {
  // Summaries are not per event: reading the live form through its snapshot form is fine.
  const tr = state instanceof Float64Array ? trendToJSON(state) : state;
  const n = tr.k.length;
  if (n === 0) return { trend: 'stable', points: 0, slopePerHour: 0, mean: NaN };
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += tr.k[i]!;
    sy += tr.s[i]! / tr.c[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  if (n < 3) return { trend: 'stable', points: n, slopePerHour: 0, mean: my };
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = tr.k[i]! - mx;
    sxx += dx * dx;
    sxy += dx * (tr.s[i]! / tr.c[i]! - my);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx; // per minute
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const r = tr.s[i]! / tr.c[i]! - (my + slope * (tr.k[i]! - mx));
    ss += r * r;
  }
  const resid = Math.sqrt(ss / (n - 2));
  const scale = Math.max(Math.abs(my), 1e-9);
  const span = tr.k[n - 1]! - tr.k[0]!;
  let trend: Trend = 'stable';
  if (resid / scale > cfg.volatileCv) trend = 'volatile';
  else if ((slope * span) / scale > cfg.changeRatio) trend = 'increasing';
  else if ((slope * span) / scale < -cfg.changeRatio) trend = 'decreasing';
  return { trend, points: n, slopePerHour: slope * 60, mean: my };
}
