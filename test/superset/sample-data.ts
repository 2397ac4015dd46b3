// Sample rows for the analytics tables (event time 2026-11-21, UTC), shared by the Superset
// tests: a late-corrected rollup, an alert opened then resolved, alerts acknowledged, shelved and
// open again after a shelve, duplicates of every deduplicated kind, and rows of a second tenant
// and outside the day, so filters and dedup have work to do.
import type { TimeWindow } from './bundle.js';

export type Row = Record<string, unknown>;

export const DAY: TimeWindow = { from: '2026-11-21 00:00:00', to: '2026-11-22 00:00:00' };
export const ms = (t: string): number => Date.parse(`${t.replace(' ', 'T')}Z`);
export const at = (hms: string): string => `2026-11-21 ${hms}`;

const ev = (tenant: string, id: string, type: string, time: string, ingest: string, kind: string, actor: string, source: string): Row => ({
  tenant_id: tenant, event_id: id, event_type: type, schema_version: 1, event_time: time, event_time_ms: ms(time),
  ingest_time: ingest, actor_kind: kind, actor_id: actor, patient_id: 'p1', site_id: 's1', device_id: 'd1', source,
  payload: JSON.stringify({ patient_id: 'p1' }),
});
const ru = (
  kind: string, actor: string, metric: string, hm: string, revision: number, final: number,
  count: number, min: number, max: number, sum: number, tenant = 't1',
): Row => ({
  tenant_id: tenant, actor_kind: kind, actor_id: actor, metric, window_start: at(`${hm}:00`), window_start_ms: ms(at(`${hm}:00`)),
  window_ms: 60_000, revision, final, count, min, max, sum,
});
const al = (
  id: string, kind: string, subject: string, level: string, rank: number, state: string, reason: string, value: number, time: string,
  tenant = 't1', acted: { acted_by?: string; note?: string; until_ms?: number } = {},
): Row => ({
  alert_id: id, tenant_id: tenant, subject_kind: kind, subject_id: subject, level, level_rank: rank, state, reason, value,
  event_time: time, event_time_ms: ms(time), ...acted,
});
const dl = (source: string, idx: number, id: string, code: string, type: string, time: string): Row => ({
  tenant_id: 't1', source, idx, event_id: id, code, message: `${code} at ${idx}`,
  event: JSON.stringify({ event_id: id, event_type: type, tenant_id: 't1' }), rejected_at: time, rejected_at_ms: ms(time),
});
const ia = (batch: string, tenant: string, source: string, input: number, output: number, dlq: number, dup: number, latency: number, status: string, time: string): Row => ({
  batch_id: batch, tenant_id: tenant, source, input_rows: input, output_rows: output, dlq_rows: dlq, duplicates: dup,
  latency_ms: latency, status, started_at: time, started_at_ms: ms(time),
});

// Each inner array is one INSERT (one part), so FINAL/argMax really have to merge across parts.
export const DATA: Record<string, Row[][]> = {
  events_raw: [
    [
      ev('t1', 'e1', 'vitals.observation', at('10:00:05'), at('10:00:07'), 'patient', 'p1', 'ws'),
      ev('t1', 'e2', 'vitals.observation', at('10:01:10'), at('10:01:10'), 'patient', 'p1', 'http'),
      ev('t1', 'e3', 'surgical.telemetry', at('10:00:30'), at('10:00:31'), 'procedure', 'pr1', 'ws'),
      ev('t1', 'e4', 'vitals.observation', '2026-11-20 23:59:59', '2026-11-21 00:00:01', 'patient', 'p1', 'ws'),
      ev('t2', 'e1', 'vitals.observation', at('10:00:05'), at('10:00:07'), 'patient', 'p1', 'ws'),
    ],
    [ev('t1', 'e1', 'vitals.observation', at('10:00:05'), at('10:00:07'), 'patient', 'p1', 'ws')], // replayed
  ],
  rollups_minute: [
    [
      ru('procedure', 'pr1', 'risk', '10:00', 1, 0, 2, 10, 20, 30),
      ru('procedure', 'pr1', 'force_newtons', '10:00', 1, 1, 3, 1, 9, 15),
      ru('procedure', 'pr1', 'velocity_mm_s', '10:00', 1, 1, 3, 2, 6, 12),
      ru('procedure', 'pr1', 'latency_ms', '10:00', 1, 1, 3, 5, 25, 45),
      ru('procedure', 'pr1', 'risk', '10:01', 3, 1, 1, 5, 5, 5),
      ru('procedure', 'pr2', 'risk', '10:00', 1, 1, 1, 30, 30, 30),
      ru('patient', 'p1', 'heart_rate', '10:00', 1, 1, 2, 70, 90, 160),
      ru('patient', 'p1', 'spo2', '10:00', 1, 1, 2, 93, 97, 190),
      ru('patient', 'p1', 'glucose', '10:00', 1, 1, 1, 6.1, 6.1, 6.1),
      ru('patient', 'p1', 'heart_rate', '10:05', 1, 0, 1, 80, 80, 80),
      ru('procedure', 'pr1', 'risk', '10:00', 1, 1, 1, 99, 99, 99, 't2'),
    ],
    [
      // A late event corrected pr1's 10:00 risk window: revision 2 replaces revision 1.
      ru('procedure', 'pr1', 'risk', '10:00', 2, 1, 3, 10, 50, 80),
      // A stale revision arriving after a newer one must lose.
      ru('procedure', 'pr1', 'risk', '10:01', 2, 0, 9, 0, 0, 0),
    ],
  ],
  alerts: [
    [
      al('a1', 'procedure', 'pr1', 'high', 3, 'open', 'high_force', 55, at('10:00:05')),
      al('a2', 'patient', 'p1', 'medium', 2, 'open', 'news2', 5, at('10:01:00')),
      al('a3', 'patient', 'p9', 'high', 3, 'open', 'news2', 7, at('10:00:00'), 't2'),
    ],
    [
      al('a1', 'procedure', 'pr1', 'high', 3, 'resolved', 'high_force', 20, at('10:03:05')),
      al('a2', 'patient', 'p1', 'high', 3, 'open', 'news2', 7, at('10:02:00')),
      al('a1', 'procedure', 'pr1', 'high', 3, 'open', 'high_force', 55, at('10:00:05')), // re-published
    ],
    [
      // Acknowledged: still open.
      al('a4', 'patient', 'p1', 'medium', 2, 'open', 'signal_lost', 0, at('10:04:00')),
      al('a4', 'patient', 'p1', 'medium', 2, 'acknowledged', 'signal_lost', 0, at('10:05:00'), 't1', { acted_by: 'dr.lee', note: 'on my way' }),
      // Shelved until 10:22: still open.
      al('a5', 'procedure', 'pr2', 'high', 3, 'open', 'risk', 80, at('10:06:00')),
      al('a5', 'procedure', 'pr2', 'high', 3, 'shelved', 'risk', 80, at('10:07:00'), 't1', { acted_by: 'nurse.kim', until_ms: ms(at('10:22:00')) }),
      // Shelved for a minute, then open again at the shelve's end: one alert, raised once, three
      // transitions (the alerts table keeps only the later opening of the two).
      al('a6', 'procedure', 'pr1', 'low', 1, 'open', 'high_latency', 30, at('10:08:00')),
      al('a6', 'procedure', 'pr1', 'low', 1, 'shelved', 'high_latency', 30, at('10:09:00'), 't1', { acted_by: 'nurse.kim', until_ms: ms(at('10:10:00')) }),
    ],
    [al('a6', 'procedure', 'pr1', 'low', 1, 'open', 'high_latency', 30, at('10:10:00'))],
  ],
  dlq: [
    [
      dl('ws', 0, 'bad1', 'out_of_range', 'vitals.observation', at('10:00:10')),
      dl('http', 3, 'late1', 'too_late', 'surgical.telemetry', at('10:02:00')),
      dl('ws', 1, 'bad2', 'out_of_range', 'vitals.observation', at('10:07:00')),
      dl('ws', 0, '', 'invalid_json', '', '2026-11-22 00:00:00'), // the first second after the range
    ],
  ],
  ingest_audit: [
    [
      ia('b1', 't1', 'ws', 10, 9, 1, 0, 4.5, 'partial', at('10:00:00')),
      ia('b2', 't1', 'http', 100, 98, 0, 2, 12, 'ok', at('10:01:00')),
      ia('b3', 't2', 'ws', 5, 5, 0, 0, 1, 'ok', at('10:00:00')),
    ],
    [ia('b1', 't1', 'ws', 10, 9, 1, 0, 4.5, 'partial', at('10:00:00'))], // replayed
  ],
};

/** Rows of tenant t1 inside DAY, per view. */
export const EXPECTED_ROWS: Record<string, number> = {
  v_events: 3,
  v_rollups_minute: 10,
  v_alerts: 5,
  v_alert_transitions: 11,
  v_dlq: 3,
  v_ingest_audit: 2,
  v_procedure_minute: 3,
  v_patient_vitals_minute: 2,
};
