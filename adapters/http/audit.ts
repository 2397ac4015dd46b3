// Audit rows: one per HTTP batch (written by the ingest path of the transport) and one per
// `vigil import` run, which posts its own summary to POST /v1/imports when it is done.
import { ApiError } from './errors.js';

export interface AuditRow {
  batch_id: string;
  tenant_id: string;
  source: string;
  input_rows: number;
  output_rows: number;
  dlq_rows: number;
  duplicates: number;
  latency_ms: number;
  status: string;
  started_at_ms: number;
}

/** The row for an import summary (the body of POST /v1/imports); throws ApiError when unusable. */
export function importAuditRow(tenant: string, text: string, now: number): AuditRow {
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ApiError('invalid_json', 'import summary is not valid JSON');
  }
  // `null`, an array or a number parse too, and must not reach the field reads as one.
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new ApiError('invalid_json', 'import summary must be a JSON object');
  const n = (k: string): number => (typeof b[k] === 'number' && Number.isFinite(b[k]) ? (b[k] as number) : 0);
  if (typeof b.import_id !== 'string' || b.import_id.length === 0 || b.import_id.length > 256) {
    throw new ApiError('invalid_field', 'import_id must be a string of 1-256 characters');
  }
  return {
    batch_id: b.import_id, tenant_id: tenant, source: 'import', input_rows: n('input_rows'), output_rows: n('output_rows'),
    dlq_rows: n('dlq_rows'), duplicates: n('duplicates'), latency_ms: n('latency_ms'),
    status: typeof b.status === 'string' ? b.status.slice(0, 32) : 'ok', started_at_ms: now - n('latency_ms'),
  };
}
