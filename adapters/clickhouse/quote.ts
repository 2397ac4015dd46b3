// The one way a value reaches ClickHouse SQL. ClickHouse 18.16 (the Debian server the tests
// run) rejects query parameters (`{x:String}` → "Unknown setting param_x"), so every value
// that may come from a user is rendered as a literal by one of these functions, and nothing
// else in the code base builds SQL from user data. Each output is a single self-contained
// token (negative numbers are parenthesised, so `a-${int(-1)}` can never become a `--`
// comment), and the same text parses identically on ClickHouse 18.16 and on chDB 26.
//
// Row data never goes through here: inserts send JSONEachRow bodies (see store.ts).

import { VigilError } from '../../runtime/errors.js';

/** Thrown for a value that has no safe literal; never caught and turned into SQL. */
export class SqlValueError extends VigilError {
  constructor(message: string) {
    super(SQL_VALUE, message);
    this.name = 'SqlValueError';
  }
}

/** The code of a SqlValueError: a bug in the caller (it passed a value no literal can hold). */
export const SQL_VALUE = 'invalid_sql_value' as const;

// Lone UTF-16 surrogates have no UTF-8 encoding: sent as is they would turn into U+FFFD (or
// be rejected), so the literal would not mean the string the caller holds.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Backslash and quote are the only characters with meaning inside a ClickHouse string
// literal; control characters are escaped too so that a literal is always one printable line
// (logs, error messages) and no NUL reaches a C string anywhere.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\'\u0000-\u001f\u007f]/g;

function escapeChar(c: string): string {
  if (c === '\\') return '\\\\';
  if (c === "'") return "\\'";
  return `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

/** A single-quoted ClickHouse string literal whose value is exactly `v`. */
export function str(v: string): string {
  if (typeof v !== 'string') throw new SqlValueError(`str(): expected a string, got ${typeof v}`);
  if (LONE_SURROGATE.test(v)) throw new SqlValueError('str(): the string holds a lone UTF-16 surrogate, which has no UTF-8 form');
  return `'${v.replace(NEEDS_ESCAPE, escapeChar)}'`;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** An integer literal: a safe-integer number or a bigint in the Int64/UInt64 range. */
export function int(v: number | bigint): string {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else throw new SqlValueError(`int(): expected a safe integer or a bigint, got ${typeof v === 'number' ? String(v) : typeof v}`);
  if (b < INT64_MIN || b > UINT64_MAX) throw new SqlValueError(`int(): ${b} is outside Int64/UInt64`);
  return b < 0n ? `(${b})` : String(b);
}

const MIN_NORMAL = 2.2250738585072014e-308;

/**
 * A Float64 literal that reads back as exactly `v`. Finite values only (ClickHouse has no
 * NaN/Inf literal shared by both engines); subnormals are refused because 18.16's parser
 * rejects or flushes them to zero.
 */
export function float(v: number): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SqlValueError(`float(): expected a finite number, got ${String(v)}`);
  if (v !== 0 && Math.abs(v) < MIN_NORMAL) throw new SqlValueError(`float(): ${v} is subnormal; ClickHouse 18.16 cannot parse it`);
  // String() gives the shortest round-tripping decimal; `1e+21` parses on both engines.
  const s = String(Object.is(v, -0) ? 0 : v);
  return v < 0 ? `(${s})` : s;
}

/** Every identifier the adapter may put in SQL: its tables and their columns. */
export const IDENTIFIERS: ReadonlySet<string> = new Set([
  // tables
  'events_raw', 'rollups_minute', 'alerts', 'dlq', 'ingest_audit', 'schema_migrations',
  // events_raw
  'tenant_id', 'event_id', 'event_type', 'schema_version', 'event_time', 'event_time_ms', 'ingest_time',
  'actor_kind', 'actor_id', 'patient_id', 'site_id', 'device_id', 'source', 'payload',
  // rollups_minute
  'metric', 'window_start', 'window_start_ms', 'window_ms', 'revision', 'final', 'count', 'min', 'max', 'sum',
  // alerts
  'alert_id', 'subject_kind', 'subject_id', 'level', 'level_rank', 'state', 'reason', 'value',
  // dlq
  'idx', 'code', 'message', 'event', 'rejected_at', 'rejected_at_ms',
  // ingest_audit
  'batch_id', 'input_rows', 'output_rows', 'dlq_rows', 'duplicates', 'latency_ms', 'status', 'started_at', 'started_at_ms',
  // schema_migrations
  'version', 'name', 'checksum', 'applied_at',
]);

/**
 * An identifier, accepted only if it is on the whitelist (by default the adapter's tables and
 * columns). Use it when a table or column name is chosen at run time, e.g. a sort column
 * picked by a request parameter.
 */
export function ident(v: string, allowed: ReadonlySet<string> = IDENTIFIERS): string {
  if (typeof v !== 'string' || !allowed.has(v)) throw new SqlValueError(`ident(): ${JSON.stringify(v)} is not an allowed identifier`);
  // Whitelisted names are plain words, but quote anyway so a keyword-like column stays a name.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new SqlValueError(`ident(): ${JSON.stringify(v)} is not a plain identifier`);
  return `\`${v}\``;
}

/**
 * A database name from configuration (not a fixed whitelist: tests use one per test), so it
 * is checked against a strict pattern instead: ASCII letters, digits and `_`, at most 64.
 */
export function databaseName(v: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(v)) {
    throw new SqlValueError(`databaseName(): ${JSON.stringify(v)} must match [A-Za-z_][A-Za-z0-9_]{0,63}`);
  }
  return `\`${v}\``;
}
