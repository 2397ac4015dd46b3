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

// ------------------------------------------------------------------------------ dead letters
// The dlq table has no id column (rows come straight from the writers); a letter is named by a
// hash of its whole row, computed the same way wherever it is needed. Two rows equal in every
// column (the same frame sent twice within one millisecond) are one letter.
const LETTER_ID = 'toString(cityHash64(tenant_id, source, idx, event_id, code, message, event, rejected_at_ms))';
/**
 * A letter that can be replayed holds one whole event: not a frame refused as a whole (idx -1, its
 * text at most 64 KiB of the frame) and not an event over the limits (kept as its top-level
 * scalars only, actors/ingest.ts deadLetterEvent), and its text is a JSON object.
 */
const REPLAYABLE = `(idx >= 0 AND code NOT IN ('too_deep', 'too_large') AND event LIKE '{%')`;

export interface DeadLetterView {
  letter_id: string;
  event_id: string | null;
  code: string;
  message: string;
  /** ws, http, nats, import, replay */
  source: string;
  /** Position in its frame; null when the whole frame was refused. */
  index: number | null;
  /** RFC 3339 */
  rejected_at: string;
  /** The event as received (JSON); for a frame refused whole, its text (a string). */
  event: unknown;
  replayable: boolean;
  /** Set once a replay took the letter: `accepted` (applied, or a duplicate of an applied event) or `rejected` (back in the DLQ as a new letter). */
  replay: { at: string; outcome: string } | null;
}

export interface DeadLetterFilter {
  code: string | null;
  /** Epoch ms, inclusive; null: open. */
  since: number | null;
}

/** Where a page of letters ends: the next page starts after it (newest first). */
export interface DeadLetterCursor {
  ms: number;
  id: string;
}

function letterWhere(tenant: string, f: DeadLetterFilter): string[] {
  const where = [`tenant_id = ${str(tenant)}`];
  if (f.code !== null) where.push(`code = ${str(f.code)}`);
  if (f.since !== null) where.push(`rejected_at_ms >= ${int(f.since)}`);
  return where;
}

function eventOf(idx: number, text: string): unknown {
  if (idx < 0) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

type LetterRow = { letter_id: string; source: string; idx: number | string; event_id: string; code: string; message: string; event: string; rejected_at_ms: string | number; replayable: number | string };

/** A tenant's dead letters, newest first, after `cursor` when given; `next` names the following page. */
export async function readDeadLetters(
  store: AnalyticsStore, tenant: string, filter: DeadLetterFilter, limit: number, cursor: DeadLetterCursor | null,
): Promise<{ dead_letters: DeadLetterView[]; next: DeadLetterCursor | null }> {
  const where = letterWhere(tenant, filter);
  if (cursor !== null) where.push(`(rejected_at_ms < ${int(cursor.ms)} OR (rejected_at_ms = ${int(cursor.ms)} AND ${LETTER_ID} < ${str(cursor.id)}))`);
  const rows = await store.query<LetterRow>(
    `SELECT ${LETTER_ID} AS letter_id, source, idx, event_id, code, message, event, rejected_at_ms, ${REPLAYABLE} AS replayable
     FROM dlq WHERE ${where.join(' AND ')} ORDER BY rejected_at_ms DESC, letter_id DESC LIMIT ${int(limit + 1)}`,
  );
  const page = rows.slice(0, limit);
  const replays = new Map<string, { at: string; outcome: string }>();
  if (page.length > 0) {
    const marks = await store.query<{ letter_id: string; outcome: string; replayed_at_ms: string | number }>(
      `SELECT letter_id, outcome, replayed_at_ms FROM dlq_replays FINAL
       WHERE tenant_id = ${str(tenant)} AND letter_id IN (${page.map((r) => str(r.letter_id)).join(', ')})`,
    );
    for (const m of marks) replays.set(m.letter_id, { at: iso(m.replayed_at_ms), outcome: m.outcome });
  }
  const last = page[page.length - 1];
  return {
    dead_letters: page.map((r) => {
      const idx = Number(r.idx);
      return {
        letter_id: r.letter_id, event_id: r.event_id === '' ? null : r.event_id, code: r.code, message: r.message, source: r.source,
        index: idx < 0 ? null : idx, rejected_at: iso(r.rejected_at_ms), event: eventOf(idx, r.event),
        replayable: Number(r.replayable) === 1, replay: replays.get(r.letter_id) ?? null,
      };
    }),
    next: rows.length > limit && last ? { ms: Number(last.rejected_at_ms), id: last.letter_id } : null,
  };
}

/** A letter a replay will submit: its id and its event's JSON text as stored. */
export interface ReplayableLetter {
  letter_id: string;
  event: string;
}

/**
 * The letters a replay takes: replayable, matching the filter, rejected at or before `until`, not
 * taken by an earlier replay; oldest first (so events replay in the order they first came), at
 * most `limit`. Also counts what it leaves: letters that cannot be replayed and those already replayed.
 */
export async function readReplayable(
  store: AnalyticsStore, tenant: string, filter: DeadLetterFilter, until: number, limit: number,
): Promise<{ letters: ReplayableLetter[]; more: boolean; not_replayable: number; already_replayed: number }> {
  const where = letterWhere(tenant, filter);
  where.push(`rejected_at_ms <= ${int(until)}`);
  const taken = `${LETTER_ID} IN (SELECT letter_id FROM dlq_replays WHERE tenant_id = ${str(tenant)})`;
  const rows = await store.query<{ letter_id: string; event: string }>(
    `SELECT ${LETTER_ID} AS letter_id, event FROM dlq WHERE ${where.join(' AND ')} AND ${REPLAYABLE} AND NOT ${taken}
     ORDER BY rejected_at_ms, idx, letter_id LIMIT ${int(limit + 1)}`,
  );
  const counts = await store.query<{ not_replayable: string | number; already: string | number }>(
    `SELECT countIf(NOT ok) AS not_replayable, countIf(ok AND taken) AS already FROM (
       SELECT ${REPLAYABLE} AS ok, ${taken} AS taken FROM dlq WHERE ${where.join(' AND ')}
     )`,
  );
  return {
    letters: rows.slice(0, limit).map((r) => ({ letter_id: r.letter_id, event: r.event })),
    more: rows.length > limit,
    not_replayable: Number(counts[0]?.not_replayable ?? 0),
    already_replayed: Number(counts[0]?.already ?? 0),
  };
}

/** Records letters as replayed (`outcome`: accepted or rejected), so no later replay takes them again. */
export async function markReplayed(
  store: AnalyticsStore, tenant: string, marks: readonly { letter_id: string; outcome: string }[], at: number,
): Promise<void> {
  if (marks.length === 0) return;
  const s = Math.floor(at / 1000);
  const values = marks.map((m) => `(${str(tenant)}, ${str(m.letter_id)}, ${str(m.outcome)}, ${int(s)}, ${int(at)})`);
  await store.command(`INSERT INTO dlq_replays (tenant_id, letter_id, outcome, replayed_at, replayed_at_ms) VALUES ${values.join(', ')}`);
}
