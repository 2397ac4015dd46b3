// The analytics read endpoints (SPEC.md §3: timeline, biometrics, search) as the HTTP routes see
// them: what a store must answer and how the time range is read from a request. The store side
// is adapters/clickhouse/reads.ts, wired to this interface in adapters/compose/analytics-reads.ts.
import { ApiError } from './errors.js';

export interface AnalyticsReads {
  timeline(tenant: string, patientId: string, from: number | null, to: number | null, limit: number): Promise<unknown>;
  biometrics(tenant: string, patientId: string, type: string | null, limit: number): Promise<unknown>;
  search(tenant: string, q: string, limit: number): Promise<unknown>;
}

/** Longest `q` accepted by search, in UTF-16 code units. */
export const SEARCH_MAX_CHARS = 200;

/** The range of a JS Date (±100,000,000 days from the epoch): beyond it no time is meant. */
const MAX_TIME_MS = 8.64e15;

function timeParam(name: string, v: string | null): number | null {
  if (v === null || v === '') return null;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  // Out of range is refused here, not left to the store: past 2^53 the number is not even the
  // one the caller wrote, and the store answers it with an error of its own.
  if (!Number.isFinite(n) || Math.abs(n) > MAX_TIME_MS) {
    throw new ApiError('invalid_parameter', `${name} must be an RFC 3339 time or epoch milliseconds (at most ${MAX_TIME_MS})`);
  }
  return n;
}

/** `from` / `to` query parameters (RFC 3339 or epoch ms; absent or empty: open) as epoch ms. */
export function parseRange(from: string | null, to: string | null): { from: number | null; to: number | null } {
  return { from: timeParam('from', from), to: timeParam('to', to) };
}

/** Throws invalid_parameter unless `q` is a usable search text. */
export function checkSearchText(q: string): void {
  if (q.length === 0 || q.length > SEARCH_MAX_CHARS) throw new ApiError('invalid_parameter', `q must be 1-${SEARCH_MAX_CHARS} characters`);
}
