// Trend per series over its most recent minute buckets (by event time, so the answer does not
// depend on arrival order): least-squares slope and residual scatter, classified as
// `increasing`, `decreasing`, `stable` or `volatile`.

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

/** Bucket starts (minutes since epoch), sums and counts, ascending by start. */
export interface TrendState {
  k: number[];
  s: number[];
  c: number[];
}

export function newTrend(): TrendState {
  return { k: [], s: [], c: [] };
}

export function addPoint(tr: TrendState, t: number, v: number, maxPoints: number): void {
  const key = Math.floor(t / 60_000);
  const k = tr.k;
  let i = k.length - 1;
  while (i >= 0 && k[i]! > key) i--;
  if (i >= 0 && k[i] === key) {
    tr.s[i]! += v;
    tr.c[i]!++;
    return;
  }
  // Older than everything kept and already full: it would be evicted at once in any order.
  if (k.length >= maxPoints && i < 0) return;
  k.splice(i + 1, 0, key);
  tr.s.splice(i + 1, 0, v);
  tr.c.splice(i + 1, 0, 1);
  if (k.length > maxPoints) {
    k.shift();
    tr.s.shift();
    tr.c.shift();
  }
}

export interface TrendResult {
  trend: Trend;
  points: number;
  slopePerHour: number;
  mean: number;
}

export function classify(tr: TrendState, cfg: TrendConfig = kDefaultTrendConfig): TrendResult {
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
