// `vigil import FILE --tenant T`: a scheduled batch feed through the same contracts and actors
// as the stream. Reads CSV (the biometrics layout of seed 002: patient_id, biometric_type,
// timestamp, value, systolic, diastolic, unit) or NDJSON envelopes, posts them to a running
// node in batches of up to 1000 (`POST /v1/events:batch` with `"mode": "import"`: history is
// back-filled within the horizon, SPEC §5, actors/backfill.ts), then records one
// audit row for the whole file (`POST /v1/imports`). Invalid rows are answered by the node with
// their codes and land in its dead-letter queue; re-importing a file is idempotent (CSV rows
// get deterministic event ids from the seed's unique key: patient, type, timestamp).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { CliError, isFetchFailure, reason, unreachableNode } from '../adapters/compose/cli-errors.js';

export const IMPORT_USAGE = `usage: vigil import FILE --tenant T [--url URL] [--token TOKEN] [--format csv|ndjson]

  FILE                      CSV (header: patient_id, biometric_type, timestamp, value, systolic,
                            diastolic, unit) or NDJSON (one event envelope per line)
  --tenant T                tenant of the events (CSV rows get it as tenant_id)
  --url URL                 the node (default http://127.0.0.1:$VIGIL_PORT, port 8080)
  --token TOKEN             the tenant's token (default $VIGIL_TOKEN, then $VIGIL_DEMO_TOKEN)
  --format csv|ndjson       default: csv for *.csv, else ndjson

Rows are sent as history ("mode": "import"): older than a patient's live readings, they are
back-filled within the horizon (clinical.patient.backfillHorizonMs, VIGIL_BACKFILL_HORIZON_MS,
default 7 days) without moving live values or alerts; older still is refused too_late.

Prints a JSON summary (status ok, partial or failed). Exit status: 0 when some rows were
accepted or all were duplicates, 1 when every row was rejected or the node refused the batch.`;

/**
 * CSV text as rows of cells (RFC 4180 through csv-parse: quoted fields may hold commas, quotes
 * and line breaks; a UTF-8 BOM is dropped; LF, CRLF and CR line ends; blank lines skipped). Rows
 * may be shorter or longer than the header: the node answers for what is missing. A malformed
 * file (an unclosed quote) throws with the line csv-parse names.
 */
export function parseCsv(text: string): string[][] {
  try {
    return parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch (err) {
    throw new Error(`not valid CSV: ${(err as Error).message}`);
  }
}

/** A CSV cell as JSON: numbers when numeric, empty cells omitted, anything else kept as text (the node rejects it with a code). */
function cell(v: string | undefined): unknown {
  if (v === undefined || v.trim() === '' || v.trim().toLowerCase() === 'null') return undefined;
  const t = v.trim();
  return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t) ? Number(t) : t;
}

/** Seed timestamps carry no zone ("2025-06-02T23:00:00"): they are taken as UTC. */
function csvTime(v: string | undefined): unknown {
  const t = v?.trim() ?? '';
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(t)) return `${t.replace(' ', 'T')}Z`;
  return t;
}

export function csvToEnvelopes(text: string, tenant: string): unknown[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  const col = (name: string) => header.findIndex((h) => h.trim().toLowerCase() === name);
  const idx = { patient: col('patient_id'), type: col('biometric_type'), ts: col('timestamp'), value: col('value'), sys: col('systolic'), dia: col('diastolic'), unit: col('unit') };
  for (const [k, i] of Object.entries(idx)) {
    if (i < 0 && k !== 'value' && k !== 'sys' && k !== 'dia') throw new Error(`CSV header must have a ${k === 'ts' ? 'timestamp' : k === 'type' ? 'biometric_type' : k === 'patient' ? 'patient_id' : k} column`);
  }
  return rows.map((r) => {
    const payload: Record<string, unknown> = {
      patient_id: r[idx.patient]?.trim(),
      biometric_type: r[idx.type]?.trim(),
      value: idx.value >= 0 ? cell(r[idx.value]) : undefined,
      systolic: idx.sys >= 0 ? cell(r[idx.sys]) : undefined,
      diastolic: idx.dia >= 0 ? cell(r[idx.dia]) : undefined,
      unit: r[idx.unit]?.trim(),
    };
    for (const k of Object.keys(payload)) if (payload[k] === undefined || payload[k] === '') delete payload[k];
    const ts = csvTime(r[idx.ts]);
    return {
      event_id: `csv:${payload.patient_id ?? ''}:${payload.biometric_type ?? ''}:${String(ts)}`,
      tenant_id: tenant, event_type: 'biometric.reading', schema_version: 1, event_time: ts, source_system: 'csv-import', payload,
    };
  });
}

export function ndjsonToEnvelopes(text: string): unknown[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '').map((l) => {
    try {
      return JSON.parse(l) as unknown;
    } catch {
      return l; // the node answers "not_an_object" for it, with its line's index
    }
  });
}

export interface ImportSummary {
  import_id: string;
  file: string;
  input_rows: number;
  output_rows: number;
  duplicates: number;
  dlq_rows: number;
  rejected_by_code: Record<string, number>;
  latency_ms: number;
  status: 'ok' | 'partial' | 'failed';
}

export async function runImport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      tenant: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, format: { type: 'string' }, json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(IMPORT_USAGE);
    return 0;
  }
  const file = positionals[0];
  if (!file || !values.tenant) throw new CliError('FILE and --tenant are required (vigil import --help for usage)', 2);
  const url = values.url ?? `http://127.0.0.1:${process.env.VIGIL_PORT ?? 8080}`;
  const token = values.token ?? process.env.VIGIL_TOKEN ?? process.env.VIGIL_DEMO_TOKEN;
  if (!token) throw new CliError('a tenant token is required (--token or VIGIL_TOKEN)', 2);
  const format = values.format ?? (/\.csv$/i.test(file) ? 'csv' : 'ndjson');
  if (format !== 'csv' && format !== 'ndjson') throw new CliError(`--format ${format}: csv or ndjson`, 2);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${reason(err)}`);
  }
  let events: unknown[];
  try {
    events = format === 'csv' ? csvToEnvelopes(text, values.tenant) : ndjsonToEnvelopes(text);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  const summary = await importEvents(url, token, basename(file), events);
  console.log(JSON.stringify(summary, null, 2));
  if (summary.status === 'failed') {
    console.error(`vigil import: every row of ${file} was rejected (${summary.dlq_rows} of ${summary.input_rows}; see rejected_by_code above)`);
    return 1;
  }
  return 0;
}

/** fetch, with "the node cannot be reached" named by its URL. */
async function post(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (isFetchFailure(err)) throw unreachableNode(new URL(url).origin, err);
    throw err;
  }
}

export async function importEvents(url: string, token: string, file: string, events: readonly unknown[]): Promise<ImportSummary> {
  const started = performance.now();
  const importId = `import-${file}-${Date.now().toString(36)}`;
  const s: ImportSummary = { import_id: importId, file, input_rows: events.length, output_rows: 0, duplicates: 0, dlq_rows: 0, rejected_by_code: {}, latency_ms: 0, status: 'ok' };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-vigil-source': 'import' };
  for (let i = 0, b = 0; i < events.length; i += 1000, b++) {
    const res = await post(`${url}/v1/events:batch`, { method: 'POST', headers, body: JSON.stringify({ batch_id: `${importId}:${b}`, mode: 'import', events: events.slice(i, i + 1000) }) });
    if (!res.ok) {
      s.status = 'failed';
      const body = await res.text();
      throw new CliError(`import batch ${b} refused by ${url}: HTTP ${res.status} ${body.replace(/\s+/g, ' ').slice(0, 500)}`);
    }
    const ack = (await res.json()) as { accepted: number; duplicates: number; rejected: { code: string }[] };
    s.output_rows += ack.accepted;
    s.duplicates += ack.duplicates;
    s.dlq_rows += ack.rejected.length;
    for (const r of ack.rejected) s.rejected_by_code[r.code] = (s.rejected_by_code[r.code] ?? 0) + 1;
  }
  // Every row refused is a failed import, not a partial one (a re-import of duplicates is ok).
  if (s.dlq_rows > 0) s.status = s.dlq_rows === s.input_rows ? 'failed' : 'partial';
  s.latency_ms = Math.round(performance.now() - started);
  const audit = await post(`${url}/v1/imports`, { method: 'POST', headers, body: JSON.stringify(s) });
  if (!audit.ok) throw new CliError(`import audit refused by ${url}: HTTP ${audit.status} ${(await audit.text()).replace(/\s+/g, ' ').slice(0, 500)}`);
  return s;
}
