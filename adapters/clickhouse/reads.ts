// The reads served from the analytics store (SPEC.md §3: timeline, biometrics, search), as SQL
// over events_raw, with the rows turned into the documents the API returns.
//
// Every value from a request reaches SQL through the quoting helpers in quote.ts: ClickHouse
// 18.16 has no query parameters, so quoting is the one line of defence, and it is tested on its
// own and through these reads (test/ingest/analytics-injection). Checking the request itself
// (time formats, lengths) is the caller's job; these functions take what they are given.
import { int, str } from './quote.js';
import type { AnalyticsStore } from './store.js';

export interface TimelineEvent {
  event_id: string;
  event_type: string;
  /** RFC 3339 */
  event_time: string;
  actor: { kind: string; id: string };
  payload: unknown;
}

export interface BiometricReading {
  event_id: string;
  /** RFC 3339 */
  timestamp: string;
  biometric_type: unknown;
  value: unknown;
  systolic: unknown;
  diastolic: unknown;
  unit: unknown;
}

export interface SearchMatch {
  kind: string;
  value: string;
  events: number;
  procedures: number;
  /** RFC 3339 */
  last_seen: string;
}

// Both engines return 64-bit integers as strings.
const iso = (ms: string | number) => new Date(Number(ms)).toISOString();

/** A patient's events, newest first; `from` inclusive, `to` exclusive (epoch ms, null: open). */
export async function readTimeline(
  store: AnalyticsStore, tenant: string, patientId: string, from: number | null, to: number | null, limit: number,
): Promise<{ patient_id: string; events: TimelineEvent[] }> {
  const where = [`tenant_id = ${str(tenant)}`, `patient_id = ${str(patientId)}`];
  if (from !== null) where.push(`event_time_ms >= ${int(from)}`);
  if (to !== null) where.push(`event_time_ms < ${int(to)}`);
  const rows = await store.query<{ event_id: string; event_type: string; event_time_ms: string | number; actor_kind: string; actor_id: string; payload: string }>(
    `SELECT event_id, event_type, event_time_ms, actor_kind, actor_id, payload FROM events_raw FINAL
     WHERE ${where.join(' AND ')} ORDER BY event_time_ms DESC, event_id LIMIT ${int(limit)}`,
  );
  return {
    patient_id: patientId,
    events: rows.map((r) => ({
      event_id: r.event_id, event_type: r.event_type, event_time: iso(r.event_time_ms),
      actor: { kind: r.actor_kind, id: r.actor_id }, payload: JSON.parse(r.payload) as unknown,
    })),
  };
}

/** A patient's biometric readings, newest first, optionally of one `biometric_type`. */
export async function readBiometrics(
  store: AnalyticsStore, tenant: string, patientId: string, type: string | null, limit: number,
): Promise<{ patient_id: string; readings: BiometricReading[] }> {
  const where = [`tenant_id = ${str(tenant)}`, `patient_id = ${str(patientId)}`, `event_type = 'biometric.reading'`];
  if (type !== null) where.push(`visitParamExtractString(payload, 'biometric_type') = ${str(type)}`);
  const rows = await store.query<{ event_id: string; event_time_ms: string | number; payload: string }>(
    `SELECT event_id, event_time_ms, payload FROM events_raw FINAL WHERE ${where.join(' AND ')}
     ORDER BY event_time_ms DESC, event_id LIMIT ${int(limit)}`,
  );
  return {
    patient_id: patientId,
    readings: rows.map((r) => {
      const p = JSON.parse(r.payload) as Record<string, unknown>;
      return {
        event_id: r.event_id, timestamp: iso(r.event_time_ms), biometric_type: p.biometric_type,
        value: p.value ?? null, systolic: p.systolic ?? null, diastolic: p.diastolic ?? null, unit: p.unit,
      };
    }),
  };
}

/** Surgical steps and error codes containing `q` (case-insensitive), most frequent first. */
export async function readSearch(store: AnalyticsStore, tenant: string, q: string, limit: number): Promise<{ q: string; matches: SearchMatch[] }> {
  const needle = str(q);
  const rows = await store.query<{ kind: string; value: string; events: string | number; procedures: string | number; last_ms: string | number }>(
    `SELECT kind, value, count() AS events, uniqExact(actor_id) AS procedures, max(event_time_ms) AS last_ms FROM (
       SELECT 'step' AS kind, visitParamExtractString(payload, 'step') AS value, actor_id, event_time_ms
         FROM events_raw FINAL WHERE tenant_id = ${str(tenant)} AND event_type = 'surgical.telemetry'
       UNION ALL
       SELECT 'error_code' AS kind, visitParamExtractString(payload, 'error_code') AS value, actor_id, event_time_ms
         FROM events_raw FINAL WHERE tenant_id = ${str(tenant)} AND event_type = 'surgical.telemetry'
     ) WHERE value != '' AND positionCaseInsensitiveUTF8(value, ${needle}) > 0
     GROUP BY kind, value ORDER BY events DESC, value LIMIT ${int(limit)}`,
  );
  return {
    q,
    matches: rows.map((r) => ({ kind: r.kind, value: r.value, events: Number(r.events), procedures: Number(r.procedures), last_seen: iso(r.last_ms) })),
  };
}
