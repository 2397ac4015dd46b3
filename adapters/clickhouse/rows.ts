// The analytics tables' rows: one type per table (keys = column names), the mappers from what
// the runtime and the front-end know into them, and the read-side inverses.
//
// Values are made safe for both engines here, once, so the writer can serialise rows as they
// come: Float64 NaN and infinities as JSONEachRow spells them, integers clamped to the column's
// range, lone UTF-16 surrogates replaced (JSON would send them escaped, the column holds UTF-8).
import { AlertLevel, type AlertLevelName, type AlertRecord, type RollupRow } from '../../runtime/ports.js';

export interface RollupsMinuteRow {
  tenant_id: string; actor_kind: string; actor_id: string; metric: string;
  window_start: number; window_start_ms: number; window_ms: number;
  revision: number; final: 0 | 1; count: number; min: FloatValue; max: FloatValue; sum: FloatValue;
}

export interface AlertsRow {
  alert_id: string; tenant_id: string; subject_kind: string; subject_id: string;
  level: string; level_rank: number; state: string; reason: string; value: FloatValue;
  event_time: number; event_time_ms: number;
  /** Acknowledged / shelved: who ('' otherwise); their note; when a shelve ends (0 otherwise). Schema v7. */
  acted_by: string; note: string; until_ms: number;
}

export interface EventsRawRow {
  tenant_id: string; event_id: string; event_type: string; schema_version: number;
  event_time: number; event_time_ms: number; ingest_time: number;
  actor_kind: string; actor_id: string; patient_id: string; site_id: string; device_id: string;
  source: string; payload: string;
}

export interface DlqRow {
  tenant_id: string; source: string; idx: number; event_id: string; code: string; message: string;
  event: string; rejected_at: number; rejected_at_ms: number;
}

export interface IngestAuditRow {
  batch_id: string; tenant_id: string; source: string;
  input_rows: number; output_rows: number; dlq_rows: number; duplicates: number;
  latency_ms: FloatValue; status: string; started_at: number; started_at_ms: number;
}

/** A Float64 as JSONEachRow accepts it on both engines: a number, or 'nan' / 'inf' / '-inf'. */
export type FloatValue = number | 'nan' | 'inf' | '-inf';

const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Strings as UTF-8 can hold them: lone surrogates become U+FFFD (JSON would send them escaped). */
// Any surrogate at all: a cheap test first, the lookaround one only for the rare string that has one.
const ANY_SURROGATE = /[\uD800-\uDFFF]/;
function text(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
  if (!ANY_SURROGATE.test(s)) return s;
  return s.replace(LONE_SURROGATES, '\uFFFD');
}
function f64(v: number): FloatValue {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}
function intIn(v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 0 : v > 0 ? hi : lo;
  return Math.min(hi, Math.max(lo, Math.trunc(v)));
}
const INT64_SAFE = Number.MAX_SAFE_INTEGER;
const U32 = 4_294_967_295;
/** A ClickHouse DateTime (UInt32 seconds) from epoch ms. */
export function dateTimeSeconds(ms: number): number {
  return intIn(Math.floor(ms / 1000), 0, U32);
}
const msInt = (ms: number) => intIn(ms, -INT64_SAFE, INT64_SAFE);

export function rollupRow(r: RollupRow): RollupsMinuteRow {
  return {
    tenant_id: text(r.tenant), actor_kind: text(r.actorKind), actor_id: text(r.actorId), metric: text(r.metric),
    window_start: dateTimeSeconds(r.windowStart), window_start_ms: msInt(r.windowStart), window_ms: intIn(r.windowMs, 0, U32),
    revision: intIn(r.revision, 0, U32), final: r.final ? 1 : 0, count: intIn(r.count, 0, INT64_SAFE),
    min: f64(r.min), max: f64(r.max), sum: f64(r.sum),
  };
}

export function alertRow(a: AlertRecord): AlertsRow {
  return {
    alert_id: text(a.alertId), tenant_id: text(a.tenant), subject_kind: text(a.subjectKind), subject_id: text(a.subjectId),
    level: text(a.level), level_rank: AlertLevel[a.level] ?? 0, state: text(a.state), reason: text(a.reason), value: f64(a.value),
    event_time: dateTimeSeconds(a.eventTime), event_time_ms: msInt(a.eventTime),
    acted_by: text(a.by ?? ''), note: text(a.note ?? ''), until_ms: a.until === undefined ? 0 : msInt(a.until),
  };
}

/** One accepted event as the front-end knows it, for events_raw. Times are epoch ms. */
export interface RawEventInput {
  readonly tenant: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly schemaVersion: number;
  readonly eventTime: number;
  readonly ingestTime: number;
  readonly actorKind: string;
  readonly actorId: string;
  readonly patientId?: string | undefined;
  readonly siteId?: string | undefined;
  readonly deviceId?: string | undefined;
  /** Where it came from: 'ws', 'http', 'import:<file>', … */
  readonly source: string;
  /** The payload object (serialised here) or its JSON text. */
  readonly payload: unknown;
}

/**
 * `JSON.stringify(eventRawRow(e))`, written directly: the events_raw line is made once per
 * accepted event, and skipping the row object and its generic stringify halves the cost.
 */
export function eventRawLine(e: RawEventInput): string {
  const payload = text(typeof e.payload === 'string' ? e.payload : JSON.stringify(e.payload ?? null));
  return `{"tenant_id":${JSON.stringify(text(e.tenant))},"event_id":${JSON.stringify(text(e.eventId))},"event_type":${JSON.stringify(text(e.eventType))},` +
    `"schema_version":${intIn(e.schemaVersion, 0, 65_535)},"event_time":${dateTimeSeconds(e.eventTime)},"event_time_ms":${msInt(e.eventTime)},` +
    `"ingest_time":${dateTimeSeconds(e.ingestTime)},"actor_kind":${JSON.stringify(text(e.actorKind))},"actor_id":${JSON.stringify(text(e.actorId))},` +
    `"patient_id":${JSON.stringify(text(e.patientId))},"site_id":${JSON.stringify(text(e.siteId))},"device_id":${JSON.stringify(text(e.deviceId))},` +
    `"source":${JSON.stringify(text(e.source))},"payload":${JSON.stringify(payload)}}`;
}

export function eventRawRow(e: RawEventInput): EventsRawRow {
  return {
    tenant_id: text(e.tenant), event_id: text(e.eventId), event_type: text(e.eventType), schema_version: intIn(e.schemaVersion, 0, 65_535),
    event_time: dateTimeSeconds(e.eventTime), event_time_ms: msInt(e.eventTime), ingest_time: dateTimeSeconds(e.ingestTime),
    actor_kind: text(e.actorKind), actor_id: text(e.actorId), patient_id: text(e.patientId), site_id: text(e.siteId),
    device_id: text(e.deviceId), source: text(e.source),
    payload: text(typeof e.payload === 'string' ? e.payload : JSON.stringify(e.payload ?? null)),
  };
}

/** One rejected event, for the dlq table. */
export interface DlqInput {
  readonly tenant: string;
  readonly source: string;
  /** Index of the event in its frame/batch (-1 when not from a batch). */
  readonly index: number;
  readonly eventId?: string | undefined;
  readonly code: string;
  readonly message: string;
  /** The rejected event as received (serialised here) or its text. */
  readonly event: unknown;
  readonly rejectedAt: number;
}

export function dlqRow(d: DlqInput): DlqRow {
  let event: string;
  if (typeof d.event === 'string') event = d.event;
  else {
    try {
      event = JSON.stringify(d.event ?? null) ?? 'null';
    } catch {
      event = String(d.event);
    }
  }
  return {
    tenant_id: text(d.tenant), source: text(d.source), idx: intIn(d.index, -2_147_483_648, 2_147_483_647), event_id: text(d.eventId),
    code: text(d.code), message: text(d.message), event: text(event),
    rejected_at: dateTimeSeconds(d.rejectedAt), rejected_at_ms: msInt(d.rejectedAt),
  };
}

/** One ingested batch (frame, HTTP batch or import chunk), for ingest_audit. */
export interface IngestAuditInput {
  readonly batchId: string;
  readonly tenant: string;
  readonly source: string;
  readonly inputRows: number;
  readonly outputRows: number;
  readonly dlqRows: number;
  readonly duplicates: number;
  readonly latencyMs: number;
  /** e.g. 'ok', 'partial', 'rejected', 'failed' */
  readonly status: string;
  readonly startedAt: number;
}

export function ingestAuditRow(a: IngestAuditInput): IngestAuditRow {
  return {
    batch_id: text(a.batchId), tenant_id: text(a.tenant), source: text(a.source),
    input_rows: intIn(a.inputRows, 0, INT64_SAFE), output_rows: intIn(a.outputRows, 0, INT64_SAFE),
    dlq_rows: intIn(a.dlqRows, 0, INT64_SAFE), duplicates: intIn(a.duplicates, 0, INT64_SAFE),
    latency_ms: f64(a.latencyMs), status: text(a.status),
    started_at: dateTimeSeconds(a.startedAt), started_at_ms: msInt(a.startedAt),
  };
}

// Read-side inverses: rows as either engine returns them (64-bit integers as strings, NaN and
// infinities as null) back into the port types.
const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/** Columns to select for rollupFromRow. */
export const ROLLUP_COLUMNS = 'tenant_id, actor_kind, actor_id, metric, window_start_ms, window_ms, revision, final, count, min, max, sum';

export function rollupFromRow(r: Record<string, unknown>): RollupRow {
  return {
    tenant: String(r['tenant_id']), actorKind: String(r['actor_kind']), actorId: String(r['actor_id']), metric: String(r['metric']),
    windowStart: num(r['window_start_ms']), windowMs: num(r['window_ms']), revision: num(r['revision']), final: num(r['final']) === 1,
    count: num(r['count']), min: num(r['min']), max: num(r['max']), sum: num(r['sum']),
  };
}

/** Columns to select for alertFromRow. */
export const ALERT_COLUMNS = 'alert_id, tenant_id, subject_kind, subject_id, level, state, reason, value, event_time_ms, acted_by, note, until_ms';

export function alertFromRow(r: Record<string, unknown>): AlertRecord {
  return {
    alertId: String(r['alert_id']), tenant: String(r['tenant_id']), subjectKind: String(r['subject_kind']), subjectId: String(r['subject_id']),
    level: String(r['level']) as AlertLevelName, state: String(r['state']) as AlertRecord['state'], reason: String(r['reason']),
    value: num(r['value']), eventTime: num(r['event_time_ms']),
    // Rows from before schema v7 read the columns' defaults: no one acted.
    ...(typeof r['acted_by'] === 'string' && r['acted_by'] !== '' ? { by: r['acted_by'] } : {}),
    ...(typeof r['note'] === 'string' && r['note'] !== '' ? { note: r['note'] } : {}),
    ...(num(r['until_ms']) > 0 ? { until: num(r['until_ms']) } : {}),
  };
}
