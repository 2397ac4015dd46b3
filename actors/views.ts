// Public response shapes shared by the risk summaries (SPEC §3). One rule for every answer:
// field names are snake_case; an instant is an ISO-8601 UTC string (`*_at`, `*_time`, `since`);
// a number with a `_ms` suffix is a duration in milliseconds, never an epoch.
import type { AlertBookState } from './alerts.js';
import { openAlerts } from './alerts.js';
import type { News2Components, News2Parameter } from './news2.js';
import type { WindowStats } from './windows.js';

export function isoOrNull(ms: number | undefined): string | null {
  return ms !== undefined && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** Internal (camelCase, as the NEWS2 chart names them) → public component names. */
const NEWS2_PUBLIC = {
  respRate: 'resp_rate',
  spo2: 'spo2',
  airOrOxygen: 'air_or_oxygen',
  systolicBp: 'systolic_bp',
  heartRate: 'heart_rate',
  consciousness: 'consciousness',
  temperature: 'temperature',
} as const satisfies Record<News2Parameter, string>;

export type News2PublicComponents = { [K in News2Parameter as (typeof NEWS2_PUBLIC)[K]]: number | null };

export function news2View(n: { score: number; risk: string; level: string; complete: boolean; components: News2Components; missing: readonly string[] } | null) {
  if (n === null) return null;
  const components = {} as Record<string, number | null>;
  for (const k of Object.keys(NEWS2_PUBLIC) as News2Parameter[]) components[NEWS2_PUBLIC[k]] = n.components[k] ?? null;
  return {
    score: n.score, risk: n.risk, level: n.level, complete: n.complete,
    components: components as News2PublicComponents,
    missing: n.missing.map((m) => NEWS2_PUBLIC[m as News2Parameter] ?? m),
  };
}

/** Open alerts of a subject as answers show them: instants as ISO strings. */
export function openAlertsView(b: AlertBookState): Record<string, unknown>[] {
  return openAlerts(b).map((a) => {
    const { since, last_reading_at, ...rest } = a;
    return last_reading_at === undefined
      ? { ...rest, since: isoOrNull(since) }
      : { ...rest, since: isoOrNull(since), last_reading_at: isoOrNull(last_reading_at) };
  });
}

/** One recent reading: a blood pressure carries both values; anything else `value`. */
export function readingView(r: { t: number; type: string; v: number; unit: string; d?: number }): Record<string, unknown> {
  return r.d === undefined
    ? { event_time: isoOrNull(r.t), type: r.type, value: r.v, unit: r.unit }
    : { event_time: isoOrNull(r.t), type: r.type, systolic: r.v, diastolic: r.d, unit: r.unit };
}

/** The newest minute and hour windows of a series, their start as an instant. */
export function windowView(w: { minute: WindowStats | null; hour: WindowStats | null }): Record<string, unknown> {
  const one = (s: WindowStats | null) => (s === null ? null : { start: isoOrNull(s.start), count: s.count, min: s.min, max: s.max, avg: s.avg });
  return { minute: one(w.minute), hour: one(w.hour) };
}
