// Dead letters over HTTP (SPEC.md §3 `GET /v1/dlq`, and `POST /v1/dlq:replay`): what the store
// side must answer and how requests are read and refused. The store side is
// adapters/clickhouse/reads.ts (readDeadLetters, readReplayable, markReplayed), the replay itself
// (through the ingest path) adapters/compose/dlq.ts.
import { ApiError } from './errors.js';

export interface DlqQuery {
  /** Exact rejection code; null: every code. */
  code: string | null;
  /** Epoch ms, inclusive; null: open. */
  since: number | null;
  /** From a previous page's `next`; null: the newest letters. */
  cursor: { ms: number; id: string } | null;
}

export interface ReplayRequest {
  code: string;
  since: number;
  /** At most this many letters in this call (`more` says whether others wait). */
  limit: number;
}

/** The answer of POST /v1/dlq:replay. */
export interface ReplayResult {
  /** Letters submitted again. */
  replayed: number;
  /** Of those, applied now. */
  accepted: number;
  /** Of those, duplicates of an event already applied (same event_id): taken, not applied twice. */
  duplicates: number;
  /** Of those, refused again: each is one new dead letter (source `replay`). */
  rejected: number;
  /** Letters in the range an earlier replay already took (skipped). */
  already_replayed: number;
  /** Letters in the range that hold no whole event (a frame refused whole, an event over the limits): never replayed. */
  not_replayable: number;
  /** More replayable letters wait in the range: call again. */
  more: boolean;
  /** RFC 3339: letters rejected after this (the replay's own among them) were not considered. */
  until: string;
}

export interface DlqApi {
  list(tenant: string, q: DlqQuery, limit: number): Promise<unknown>;
  replay(tenant: string, r: ReplayRequest): Promise<ReplayResult>;
}

/** Rejection codes are snake_case words (actors/contracts RejectCode and the HTTP codes). */
const CODE = /^[a-z][a-z0-9_.]{0,63}$/;
const MAX_TIME_MS = 8.64e15;
export const REPLAY_DEFAULT_LIMIT = 1000;
export const REPLAY_MAX_LIMIT = 10_000;
const CURSOR = /^(-?\d{1,16})\.(\d{1,20})$/;

function codeParam(v: string | null, required: boolean): string | null {
  if (v === null || v === '') {
    if (required) throw new ApiError('invalid_parameter', 'code is required (a rejection code such as unknown_event_type)');
    return null;
  }
  if (!CODE.test(v)) throw new ApiError('invalid_parameter', 'code must be a rejection code: lowercase letters, digits and _ (at most 64), e.g. unknown_event_type');
  return v;
}

function sinceParam(v: string | number | null, required: boolean): number | null {
  if (v === null || v === '') {
    if (required) throw new ApiError('invalid_parameter', 'since is required (an RFC 3339 time or epoch milliseconds)');
    return null;
  }
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(Math.trunc(n)) || !Number.isFinite(n) || Math.abs(n) > MAX_TIME_MS) {
    throw new ApiError('invalid_parameter', `since must be an RFC 3339 time or epoch milliseconds (at most ${MAX_TIME_MS})`);
  }
  return Math.trunc(n);
}

/** The cursor as `next` spells it: `<rejected_at_ms>.<letter_id>`. */
export function cursorText(c: { ms: number; id: string }): string {
  return `${c.ms}.${c.id}`;
}

/** `code`, `since` and `cursor` of GET /v1/dlq (`limit` is read by the route table). */
export function parseDlqQuery(q: URLSearchParams): DlqQuery {
  const code = codeParam(q.get('code'), false);
  const since = sinceParam(q.get('since'), false);
  const c = q.get('cursor');
  let cursor: DlqQuery['cursor'] = null;
  if (c !== null && c !== '') {
    const m = CURSOR.exec(c);
    if (!m) throw new ApiError('invalid_parameter', 'cursor must be the next value of a previous answer');
    cursor = { ms: Number(m[1]), id: m[2]! };
  }
  return { code, since, cursor };
}

/** The body of POST /v1/dlq:replay: `{"code": C, "since": T, "limit"?: N}`. */
export function parseReplayBody(body: string): ReplayRequest {
  let b: unknown;
  try {
    b = JSON.parse(body);
  } catch {
    throw new ApiError('invalid_json', 'body must be JSON: {"code": "...", "since": "RFC 3339 or epoch ms", "limit": N}');
  }
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new ApiError('invalid_json', 'body must be a JSON object: {"code": "...", "since": "..."}');
  const o = b as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'code' && k !== 'since' && k !== 'limit') throw new ApiError('invalid_field', `unknown field ${JSON.stringify(k)}: the body takes code, since and limit`);
  }
  if (o.code !== undefined && typeof o.code !== 'string') throw new ApiError('invalid_parameter', 'code must be a string');
  if (o.since !== undefined && typeof o.since !== 'string' && typeof o.since !== 'number') throw new ApiError('invalid_parameter', 'since must be an RFC 3339 string or epoch milliseconds');
  const code = codeParam((o.code as string | undefined) ?? null, true)!;
  const since = sinceParam((o.since as string | number | undefined) ?? null, true)!;
  let limit = REPLAY_DEFAULT_LIMIT;
  if (o.limit !== undefined) {
    if (typeof o.limit !== 'number' || !Number.isInteger(o.limit) || o.limit < 1 || o.limit > REPLAY_MAX_LIMIT) {
      throw new ApiError('invalid_parameter', `limit must be an integer from 1 to ${REPLAY_MAX_LIMIT}`);
    }
    limit = o.limit;
  }
  return { code, since, limit };
}
