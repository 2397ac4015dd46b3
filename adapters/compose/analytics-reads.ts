// Read endpoints served from the analytics store (SPEC.md §3: timeline, biometrics, search).
// Every value from a request reaches SQL through the quoting helpers in clickhouse/quote.ts:
// ClickHouse 18.16 has no query parameters, so quoting is the one line of defence, and it is
// tested on its own and through these endpoints (test/ingest/analytics-injection).
import { int, str } from '../clickhouse/quote.js';
import type { AnalyticsStore } from '../clickhouse/store.js';
import { ApiError } from '../uws/server.js';

export interface AnalyticsReads {
  timeline(tenant: string, patientId: string, from: number | null, to: number | null, limit: number): Promise<unknown>;
  biometrics(tenant: string, patientId: string, type: string | null, limit: number): Promise<unknown>;
  search(tenant: string, q: string, limit: number): Promise<unknown>;
}

function timeParam(name: string, v: string | null): number | null {
  if (v === null || v === '') return null;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new ApiError(400, 'invalid_parameter', `${name} must be an RFC 3339 time or epoch milliseconds`);
  return n;
}

export function parseRange(from: string | null, to: string | null): { from: number | null; to: number | null } {
  return { from: timeParam('from', from), to: timeParam('to', to) };
}

export function analyticsReads(store: AnalyticsStore): AnalyticsReads {
  return {
    async timeline(tenant, patientId, from, to, limit) {
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
          event_id: r.event_id, event_type: r.event_type, event_time: new Date(Number(r.event_time_ms)).toISOString(),
          actor: { kind: r.actor_kind, id: r.actor_id }, payload: JSON.parse(r.payload) as unknown,
        })),
      };
    },
    async biometrics(tenant, patientId, type, limit) {
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
            event_id: r.event_id, timestamp: new Date(Number(r.event_time_ms)).toISOString(), biometric_type: p.biometric_type,
            value: p.value ?? null, systolic: p.systolic ?? null, diastolic: p.diastolic ?? null, unit: p.unit,
          };
        }),
      };
    },
    async search(tenant, q, limit) {
      if (q.length === 0 || q.length > 200) throw new ApiError(400, 'invalid_parameter', 'q must be 1-200 characters');
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
        matches: rows.map((r) => ({ kind: r.kind, value: r.value, events: Number(r.events), procedures: Number(r.procedures), last_seen: new Date(Number(r.last_ms)).toISOString() })),
      };
    },
  };
}
