// migrate() on both engines: creates every table with the agreed columns and engines, is a
// no-op the second time, and applies a views script last (drop + create, since neither
// `CREATE OR REPLACE VIEW` nor `DROP VIEW` exists on 18.16).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { str } from '../../adapters/clickhouse/quote.js';
import { applyViews, defaultViewsFile, migrate, MIGRATIONS, parseViews, SCHEMA_VERSION } from '../../adapters/clickhouse/schema.js';
import { useEngines, type FreshStore } from './engines.js';

const EXPECTED: Record<string, string> = {
  events_raw:
    'tenant_id String, event_id String, event_type String, schema_version UInt16, event_time DateTime, event_time_ms Int64, ingest_time DateTime, actor_kind String, actor_id String, patient_id String, site_id String, device_id String, source String, payload String',
  rollups_minute:
    'tenant_id String, actor_kind String, actor_id String, metric String, window_start DateTime, window_start_ms Int64, window_ms UInt32, revision UInt32, final UInt8, count UInt64, min Float64, max Float64, sum Float64',
  alerts:
    'alert_id String, tenant_id String, subject_kind String, subject_id String, level String, level_rank UInt8, state String, reason String, value Float64, event_time DateTime, event_time_ms Int64, acted_by String, note String, until_ms Int64',
  alert_transitions:
    'alert_id String, tenant_id String, subject_kind String, subject_id String, level String, level_rank UInt8, state String, reason String, value Float64, event_time DateTime, event_time_ms Int64, acted_by String, note String, until_ms Int64',
  dlq: 'tenant_id String, source String, idx Int32, event_id String, code String, message String, event String, rejected_at DateTime, rejected_at_ms Int64',
  ingest_audit:
    'batch_id String, tenant_id String, source String, input_rows UInt64, output_rows UInt64, dlq_rows UInt64, duplicates UInt64, latency_ms Float64, status String, started_at DateTime, started_at_ms Int64',
};

const SORTING_KEYS: Record<string, string> = {
  events_raw: 'tenant_id, patient_id, event_time_ms, event_id',
  rollups_minute: 'tenant_id, actor_kind, actor_id, metric, window_start_ms',
  alerts: 'tenant_id, alert_id, state, level',
  alert_transitions: 'tenant_id, alert_id, event_time_ms, state, level',
  dlq: 'tenant_id, rejected_at_ms',
  ingest_audit: 'tenant_id, started_at_ms, batch_id',
};

const ENGINES: Record<string, string> = {
  events_raw: 'ReplacingMergeTree', rollups_minute: 'ReplacingMergeTree', alerts: 'ReplacingMergeTree', alert_transitions: 'ReplacingMergeTree', dlq: 'MergeTree', ingest_audit: 'ReplacingMergeTree',
};

// A views script in the style of dashboards/clickhouse/views.sql, with the awkward bits: a
// comment holding a semicolon, a string literal holding one, CREATE OR REPLACE (rewritten), and
// a view over another view.
const VIEWS = `-- Superset datasets; runs on 18.16 and chDB.
/* header; with a semicolon */
CREATE VIEW IF NOT EXISTS v_rollups AS
SELECT tenant_id, actor_kind, actor_id, metric, window_start AS ts,
       argMax(count, revision) AS count, argMax(sum, revision) AS sum
FROM rollups_minute GROUP BY tenant_id, actor_kind, actor_id, metric, window_start;

CREATE OR REPLACE VIEW v_alerts AS
SELECT alert_id, tenant_id, level, level_rank, state, event_time AS ts, 'a;b' AS marker FROM alerts FINAL;

-- a view on a view
CREATE VIEW v_alert_counts AS SELECT tenant_id, count() AS alerts FROM v_alerts GROUP BY tenant_id;
`;

async function tables(f: FreshStore): Promise<Map<string, { engine: string; sorting_key: string; partition_key: string }>> {
  // sorting_key/partition_key are in system.tables on both 18.16 and 26.
  const rows = await f.store.query<{ name: string; engine: string; sorting_key: string; partition_key: string }>(
    `SELECT name, engine, sorting_key, partition_key FROM system.tables WHERE database = ${str(f.database)}`,
  );
  return new Map(rows.map((r) => [r.name, r]));
}

async function columns(f: FreshStore, table: string): Promise<string> {
  // system.columns has no `position` on 18.16; DESCRIBE lists columns in order on both.
  const rows = await f.store.query<{ name: string; type: string }>(`DESCRIBE TABLE ${f.database}.${table}`);
  return rows.map((r) => `${r.name} ${r.type}`).join(', ');
}

let viewsDir: string;
beforeAll(async () => {
  viewsDir = await mkdtemp(join(tmpdir(), 'vigil-views-'));
});
afterAll(async () => {
  await rm(viewsDir, { recursive: true, force: true });
});

for (const engine of useEngines()) {
  describe(`migrate on ${engine.name}`, () => {
    let f: FreshStore | undefined;
    afterEach(async () => {
      await f?.cleanup();
      f = undefined;
    });

    it('creates every table with the agreed columns, engines and keys; a second run is a no-op', async () => {
      f = await engine.fresh();
      const first = await migrate(f.store, { viewsFile: null });
      expect(first).toEqual({ applied: MIGRATIONS.map((m) => m.name), version: SCHEMA_VERSION });
      const t = await tables(f);
      for (const [name, cols] of Object.entries(EXPECTED)) {
        expect(t.get(name)?.engine, name).toBe(ENGINES[name]);
        expect(t.get(name)?.sorting_key, name).toBe(SORTING_KEYS[name]);
        expect(await columns(f, name), name).toBe(cols);
      }
      expect(t.get('rollups_minute')?.partition_key).toBe('toYYYYMM(window_start)');
      expect(t.get('alerts')?.partition_key).toBe('');
      expect(t.has('schema_migrations')).toBe(true);

      const second = await migrate(f.store, { viewsFile: null });
      expect(second).toEqual({ applied: [], version: SCHEMA_VERSION });
      const recorded = await f.store.query<{ n: string | number }>('SELECT count() AS n FROM schema_migrations');
      expect(Number(recorded[0]!.n)).toBe(MIGRATIONS.length);
    });

    it('keeps data across a second migrate, also from another connection', async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      await f.store.insert('dlq', [{ tenant_id: 't', source: 'ws', idx: 3, event_id: 'e', code: 'bad', message: 'm', event: '{}', rejected_at: 1_700_000_000, rejected_at_ms: 1_700_000_000_000 }]);
      const other = await engine.open(f.database);
      try {
        expect(await migrate(other, { viewsFile: null })).toEqual({ applied: [], version: SCHEMA_VERSION });
      } finally {
        await other.close();
      }
      const n = await f.store.query<{ n: string | number }>('SELECT count() AS n FROM dlq');
      expect(Number(n[0]!.n)).toBe(1);
    });

    it('applies a views script last, re-applies it only when it changes', async () => {
      f = await engine.fresh();
      const file = join(viewsDir, `${engine.name}-views.sql`);
      await writeFile(file, VIEWS);
      const first = await migrate(f.store, { viewsFile: file });
      expect(first.applied).toEqual([...MIGRATIONS.map((m) => m.name), 'views']);
      const t = await tables(f);
      for (const v of ['v_rollups', 'v_alerts', 'v_alert_counts']) expect(t.get(v)?.engine, v).toBe('View');

      await f.store.insert('rollups_minute', [
        { tenant_id: 'acme', actor_kind: 'patient', actor_id: 'p', metric: 'hr', window_start: 1_700_000_040, window_start_ms: 1_700_000_040_000, window_ms: 60_000, revision: 1, final: 0, count: 3, min: 1, max: 3, sum: 6 },
        { tenant_id: 'acme', actor_kind: 'patient', actor_id: 'p', metric: 'hr', window_start: 1_700_000_040, window_start_ms: 1_700_000_040_000, window_ms: 60_000, revision: 2, final: 1, count: 4, min: 1, max: 4, sum: 10 },
      ]);
      const v = await f.store.query<{ count: string | number; sum: number }>('SELECT count, sum FROM v_rollups');
      expect(v.map((r) => [Number(r.count), r.sum])).toEqual([[4, 10]]);

      expect((await migrate(f.store, { viewsFile: file })).applied).toEqual([]);

      // A changed script is applied again: drop and create.
      await writeFile(file, VIEWS.replace("'a;b' AS marker", "'c;d' AS marker"));
      expect((await migrate(f.store, { viewsFile: file })).applied).toEqual(['views']);
      await f.store.insert('alerts', [{ alert_id: 'x', tenant_id: 'acme', subject_kind: 'patient', subject_id: 'p', level: 'high', level_rank: 3, state: 'open', reason: '', value: 1, event_time: 1, event_time_ms: 1000 }]);
      const marker = await f.store.query<{ marker: string }>('SELECT marker FROM v_alerts');
      expect(marker).toEqual([{ marker: 'c;d' }]);

      // A view dropped behind migrate's back is re-created even though the script is unchanged.
      await f.store.command('DROP TABLE IF EXISTS v_alert_counts');
      expect((await migrate(f.store, { viewsFile: file })).applied).toEqual(['views']);
      expect((await tables(f)).get('v_alert_counts')?.engine).toBe('View');
    });

    const repoViews = defaultViewsFile();
    it.skipIf(repoViews === undefined)('applies the repository views (dashboards/clickhouse/views.sql) and they can be queried', async () => {
      f = await engine.fresh();
      const res = await migrate(f.store);
      expect(res.applied.at(-1)).toBe('views');
      const views = await f.store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${str(f.database)} AND engine = 'View'`);
      expect(views.length).toBeGreaterThan(0);
      for (const { name } of views) {
        // Each view must at least run on an empty schema.
        await f.store.query(`SELECT * FROM ${f.database}.${name} LIMIT 1`);
      }
      expect((await migrate(f.store)).applied).toEqual([]);
    });

    it.skipIf(repoViews === undefined)('upgrading a v6 database re-creates the alert views over alert_transitions', async () => {
      f = await engine.fresh();
      // A v6 database as a node left it: the steps before v7 and the views of that time (over
      // `alerts`, without who acted), all recorded.
      const oldViews = `DROP TABLE IF EXISTS v_alert_transitions;
CREATE VIEW IF NOT EXISTS v_alert_transitions AS
SELECT tenant_id, alert_id, subject_kind, subject_id, level, level_rank, state, reason, value, event_time, event_time_ms
FROM alerts FINAL;
`;
      await f.store.command('CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY (version, name, checksum)');
      for (const m of MIGRATIONS.filter((x) => x.version < 7)) {
        for (const s of m.statements) await f.store.command(s);
        await f.store.insert('schema_migrations', [{ version: m.version, name: m.name, checksum: '', applied_at: 1_700_000_000 }]);
      }
      await applyViews(f.store, parseViews(oldViews));
      await f.store.insert('schema_migrations', [{ version: 0, name: 'views', checksum: createHash('sha256').update(oldViews).digest('hex'), applied_at: 1_700_000_000 }]);
      const T = 1_795_000_000_000;
      const row = (state: string, t: number) => ({
        alert_id: 'a', tenant_id: 'acme', subject_kind: 'patient', subject_id: 'p', level: 'high', level_rank: 3, state, reason: 'news2', value: 1,
        event_time: Math.floor(t / 1000), event_time_ms: t,
      });
      await f.store.insert('alerts', [row('open', T)]);

      expect((await migrate(f.store)).applied).toEqual(['alert_transitions', 'views']);
      const cols = (await f.store.query<{ name: string; type: string }>('DESCRIBE TABLE v_alert_transitions')).map((c) => `${c.name} ${c.type}`);
      expect(cols.slice(-5)).toEqual(['acted_by String', 'note String', 'until Nullable(DateTime)', 'until_ms Int64', 'reopened UInt8']);

      // Shelved for a minute, then open again: three transitions, where `alerts` keeps two rows.
      await f.store.insert('alerts', [{ ...row('shelved', T + 1000), acted_by: 'kim', note: '', until_ms: T + 61_000 }]);
      await f.store.insert('alerts', [{ ...row('open', T + 61_000), acted_by: '', note: '', until_ms: 0 }]);
      const t = await f.store.query<{ state: string; acted_by: string; until_ms: string | number; reopened: string | number }>(
        'SELECT state, acted_by, until_ms, reopened FROM v_alert_transitions ORDER BY event_time_ms',
      );
      expect(t.map((r) => [r.state, r.acted_by, Number(r.until_ms), Number(r.reopened)])).toEqual([
        ['open', '', 0, 0], ['shelved', 'kim', T + 61_000, 0], ['open', '', 0, 1],
      ]);
      const a = await f.store.query<{ state: string; opened_at_ms: string | number; transitions: string | number }>(
        'SELECT state, opened_at_ms, transitions FROM v_alerts',
      );
      expect(a.map((r) => [r.state, Number(r.opened_at_ms), Number(r.transitions)])).toEqual([['open', T, 3]]);
      // Recorded: the next start changes nothing, and the views are the repository's.
      expect((await migrate(f.store)).applied).toEqual([]);
      const recorded = await f.store.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = 0 ORDER BY applied_at DESC LIMIT 1');
      expect(recorded.map((r) => r.checksum)).toContain(createHash('sha256').update(await readFile(repoViews!, 'utf8')).digest('hex'));
    });
  });
}
