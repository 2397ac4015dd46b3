// The analytics schema (SPEC.md §5) as numbered, idempotent steps. Every statement runs
// unchanged on ClickHouse 18.16 and chDB 26, which rules out LowCardinality, DateTime64, query
// parameters, `CREATE OR REPLACE` and `DROP VIEW` (18.16 drops views with DROP TABLE).
//
// Idempotence: every step is `CREATE TABLE IF NOT EXISTS`, so a step that ran but was not
// recorded (crash in between, two nodes migrating at once) is simply run again.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { AnalyticsStore } from './store.js';
import { int, str } from './quote.js';

/** Table names: fixed, other modules and the Superset views code against them. */
export const Tables = {
  eventsRaw: 'events_raw',
  rollups: 'rollups_minute',
  alerts: 'alerts',
  alertTransitions: 'alert_transitions',
  dlq: 'dlq',
  ingestAudit: 'ingest_audit',
  dlqReplays: 'dlq_replays',
  migrations: 'schema_migrations',
} as const;
export type TableName = (typeof Tables)[keyof typeof Tables];

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

// ReplacingMergeTree only collapses rows inside one partition, so each table is partitioned by
// a month derived from a column of its sorting key (or not at all): two copies of one key can
// never land in different partitions.
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events_raw',
    statements: [
      `CREATE TABLE IF NOT EXISTS events_raw (
        tenant_id String, event_id String, event_type String, schema_version UInt16,
        event_time DateTime, event_time_ms Int64, ingest_time DateTime,
        actor_kind String, actor_id String, patient_id String, site_id String, device_id String,
        source String, payload String
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(event_time)
      ORDER BY (tenant_id, patient_id, event_time_ms, event_id)`,
    ],
  },
  {
    version: 2,
    name: 'rollups_minute',
    statements: [
      `CREATE TABLE IF NOT EXISTS rollups_minute (
        tenant_id String, actor_kind String, actor_id String, metric String,
        window_start DateTime, window_start_ms Int64, window_ms UInt32,
        revision UInt32, final UInt8, count UInt64, min Float64, max Float64, sum Float64
      ) ENGINE = ReplacingMergeTree(revision)
      PARTITION BY toYYYYMM(window_start)
      ORDER BY (tenant_id, actor_kind, actor_id, metric, window_start_ms)`,
    ],
  },
  {
    version: 3,
    name: 'alerts',
    // Not partitioned: event_time is not part of the key, so a re-published alert with another
    // event time must still meet its first copy.
    statements: [
      `CREATE TABLE IF NOT EXISTS alerts (
        alert_id String, tenant_id String, subject_kind String, subject_id String,
        level String, level_rank UInt8, state String, reason String, value Float64,
        event_time DateTime, event_time_ms Int64
      ) ENGINE = ReplacingMergeTree
      ORDER BY (tenant_id, alert_id, state, level)`,
    ],
  },
  {
    version: 4,
    name: 'dlq',
    statements: [
      `CREATE TABLE IF NOT EXISTS dlq (
        tenant_id String, source String, idx Int32, event_id String, code String, message String,
        event String, rejected_at DateTime, rejected_at_ms Int64
      ) ENGINE = MergeTree
      PARTITION BY toYYYYMM(rejected_at)
      ORDER BY (tenant_id, rejected_at_ms)`,
    ],
  },
  {
    version: 5,
    name: 'ingest_audit',
    statements: [
      `CREATE TABLE IF NOT EXISTS ingest_audit (
        batch_id String, tenant_id String, source String,
        input_rows UInt64, output_rows UInt64, dlq_rows UInt64, duplicates UInt64,
        latency_ms Float64, status String, started_at DateTime, started_at_ms Int64
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(started_at)
      ORDER BY (tenant_id, started_at_ms, batch_id)`,
    ],
  },
  {
    version: 6,
    name: 'dlq_replays',
    // One row per dead letter replayed (letter_id: the hash of its dlq row, see reads.ts), so a
    // replay skips letters an earlier one took. Not partitioned: the key holds no time.
    statements: [
      `CREATE TABLE IF NOT EXISTS dlq_replays (
        tenant_id String, letter_id String, outcome String, replayed_at DateTime, replayed_at_ms Int64
      ) ENGINE = ReplacingMergeTree
      ORDER BY (tenant_id, letter_id)`,
    ],
  },
  {
    version: 7,
    name: 'alert_transitions',
    // Acknowledge and shelve (issue 14 item 6). `alerts` gains who acted, their note and when a
    // shelve ends (defaults for older rows). Its key keeps one row per (alert, state, level), so an
    // alert open again after a shelve would replace its first opening there: every transition is
    // also kept in `alert_transitions`, keyed by time too, filled by a materialized view on each
    // insert into `alerts` (so the writers are unchanged) and, once, from the rows already there
    // (a re-run inserts them again; the key collapses them). 18.16 has no ADD COLUMN IF NOT
    // EXISTS: runStatement skips an ADD COLUMN whose column is there.
    statements: [
      "ALTER TABLE alerts ADD COLUMN acted_by String DEFAULT ''",
      "ALTER TABLE alerts ADD COLUMN note String DEFAULT ''",
      'ALTER TABLE alerts ADD COLUMN until_ms Int64 DEFAULT 0',
      `CREATE TABLE IF NOT EXISTS alert_transitions (
        alert_id String, tenant_id String, subject_kind String, subject_id String,
        level String, level_rank UInt8, state String, reason String, value Float64,
        event_time DateTime, event_time_ms Int64, acted_by String, note String, until_ms Int64
      ) ENGINE = ReplacingMergeTree
      ORDER BY (tenant_id, alert_id, event_time_ms, state, level)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS alert_transitions_mv TO alert_transitions AS
      SELECT alert_id, tenant_id, subject_kind, subject_id, level, level_rank, state, reason, value, event_time, event_time_ms, acted_by, note, until_ms FROM alerts`,
      'INSERT INTO alert_transitions SELECT alert_id, tenant_id, subject_kind, subject_id, level, level_rank, state, reason, value, event_time, event_time_ms, acted_by, note, until_ms FROM alerts',
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

// version 0 rows record the views file (name 'views', checksum of its text).
const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32, name String, checksum String, applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY (version, name, checksum)`;

const VIEWS_VERSION = 0;

/** dashboards/clickhouse/views.sql of this checkout, from source (adapters/…) or build (dist/adapters/…). */
export function defaultViewsFile(): string | undefined {
  for (const rel of ['../../dashboards/clickhouse/views.sql', '../../../dashboards/clickhouse/views.sql']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Splits a SQL script into statements on `;`, ignoring semicolons inside quotes, backquotes and
 * comments. Empty statements (only whitespace/comments) are dropped.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  const n = script.length;
  let meaningful = false;
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      cur += script.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      cur += script.slice(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < n && script[j] !== c) j += script[j] === '\\' ? 2 : 1;
      cur += script.slice(i, j + 1);
      i = j + 1;
      meaningful = true;
    } else if (c === ';') {
      if (meaningful) out.push(cur.trim());
      cur = '';
      meaningful = false;
      i++;
    } else {
      if (!/\s/.test(c)) meaningful = true;
      cur += c;
      i++;
    }
  }
  if (meaningful) out.push(cur.trim());
  return out;
}

function stripLeadingComments(sql: string): string {
  let s = sql;
  for (;;) {
    s = s.trimStart();
    if (s.startsWith('--')) {
      const e = s.indexOf('\n');
      s = e < 0 ? '' : s.slice(e + 1);
    } else if (s.startsWith('/*')) {
      const e = s.indexOf('*/');
      s = e < 0 ? '' : s.slice(e + 2);
    } else return s;
  }
}

const CREATE_VIEW = /^CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?((?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*))?)/i;

export interface ViewStatement {
  /** As written, possibly database-qualified and backquoted. */
  readonly name: string;
  /** The statement to run after dropping the view (OR REPLACE / IF NOT EXISTS removed). */
  readonly create: string;
}

/** Parses a views script into (name, create) pairs; other statements are returned with name ''. */
export function parseViews(script: string): ViewStatement[] {
  return splitStatements(script).map((stmt) => {
    const body = stripLeadingComments(stmt);
    const m = CREATE_VIEW.exec(body);
    if (!m) return { name: '', create: stmt };
    const name = m[3]!;
    return { name, create: `CREATE VIEW ${name}${body.slice(m[0].length)}` };
  });
}

function bareName(name: string): { db: string | undefined; table: string } {
  const parts = name.match(/`[^`]+`|[^.]+/g) ?? [name];
  const unq = parts.map((p) => (p.startsWith('`') ? p.slice(1, -1) : p));
  return unq.length > 1 ? { db: unq[0], table: unq[1]! } : { db: undefined, table: unq[0]! };
}

export interface MigrateOptions {
  /** Views script applied after the tables; default dashboards/clickhouse/views.sql if present; null skips. */
  viewsFile?: string | null;
}

export interface MigrateResult {
  /** Names of the steps applied by this call, in order ('views' when the views were (re)created). */
  applied: string[];
  /** Schema version after the call. */
  version: number;
}

/** Creates or upgrades the schema. Safe to run at every start, concurrently, and twice. */
export async function migrate(store: AnalyticsStore, options: MigrateOptions = {}): Promise<MigrateResult> {
  await store.command(MIGRATIONS_TABLE);
  const done = await store.query<{ version: number | string; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations',
  );
  const doneVersions = new Set(done.map((r) => Number(r.version)).filter((v) => v !== VIEWS_VERSION));
  const applied: string[] = [];
  for (const m of MIGRATIONS) {
    if (doneVersions.has(m.version)) continue;
    for (const stmt of m.statements) await runStatement(store, stmt);
    await recordStep(store, m.version, m.name, '');
    applied.push(m.name);
    doneVersions.add(m.version);
  }

  const viewsFile = options.viewsFile === undefined ? defaultViewsFile() : options.viewsFile;
  if (viewsFile !== null && viewsFile !== undefined && existsSync(viewsFile)) {
    const script = await readFile(viewsFile, 'utf8');
    const checksum = createHash('sha256').update(script).digest('hex');
    const views = parseViews(script);
    const recorded = done.some((r) => Number(r.version) === VIEWS_VERSION && r.checksum === checksum);
    if (!recorded || !(await allViewsExist(store, views))) {
      await applyViews(store, views);
      await recordStep(store, VIEWS_VERSION, 'views', checksum);
      applied.push('views');
    }
  }
  return { applied, version: Math.max(0, ...doneVersions) };
}

const ADD_COLUMN = /^ALTER TABLE (\w+) ADD COLUMN (\w+) /;

/**
 * One migration statement, idempotent: an `ALTER TABLE t ADD COLUMN c ...` is skipped when `t`
 * already has `c` (a step that ran but was not recorded runs again after a crash).
 */
export async function runStatement(store: AnalyticsStore, stmt: string): Promise<void> {
  const add = ADD_COLUMN.exec(stmt);
  if (add) {
    const rows = await store.query<{ n: number | string }>(
      `SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = ${str(add[1]!)} AND name = ${str(add[2]!)}`,
    );
    if (Number(rows[0]?.n ?? 0) > 0) return;
  }
  await store.command(stmt);
}

async function recordStep(store: AnalyticsStore, version: number, name: string, checksum: string): Promise<void> {
  await store.insert(Tables.migrations, [{ version, name, checksum, applied_at: Math.floor(Date.now() / 1000) }]);
}

async function allViewsExist(store: AnalyticsStore, views: readonly ViewStatement[]): Promise<boolean> {
  const names = views.filter((v) => v.name !== '').map((v) => bareName(v.name));
  if (names.length === 0) return true;
  for (const { db, table } of names) {
    const rows = await store.query<{ n: number | string }>(
      `SELECT count() AS n FROM system.tables WHERE database = ${db === undefined ? 'currentDatabase()' : str(db)} AND name = ${str(table)}`,
    );
    if (Number(rows[0]?.n ?? 0) === 0) return false;
  }
  return true;
}

/** Drops and re-creates each view (neither engine version shares CREATE OR REPLACE VIEW). */
export async function applyViews(store: AnalyticsStore, views: readonly ViewStatement[]): Promise<void> {
  for (const v of views) {
    if (v.name !== '') await store.command(`DROP TABLE IF EXISTS ${v.name}`);
    await store.command(v.create);
  }
}

/** Schema version recorded in the store (0 for an empty database). */
export async function schemaVersion(store: AnalyticsStore): Promise<number> {
  await store.command(MIGRATIONS_TABLE);
  const rows = await store.query<{ v: number | string }>(`SELECT max(version) AS v FROM schema_migrations WHERE version > ${int(VIEWS_VERSION)}`);
  return Number(rows[0]?.v ?? 0);
}
