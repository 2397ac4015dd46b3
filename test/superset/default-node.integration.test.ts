// The Superset bundle as an analyst gets it, against a node on its defaults: the zip is built with
// no environment (build-zip.sh without SUPERSET_CLICKHOUSE_URI), the schema is made by
// `vigil migrate` run as a user runs it (no VIGIL_* but where the data lives), and then every
// dataset's table as Superset names it (`<schema>.<view>`, in the connection's database) answers
// Superset's time-grain queries and every chart's query, on chDB and on a ClickHouse server.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChdb, openClickHouseServer, type AnalyticsStore } from '../../adapters/clickhouse/index.js';
import { useClickHouse } from '../harness/servers.js';
import { buildZip, canBuildZip, chartSql, grainExpr, rangeClause, readBundle, REPO, TIME_GRAINS, uriDatabase, zipBundle, type Dataset } from './bundle.js';
import { DATA, DAY, EXPECTED_ROWS } from './sample-data.js';

const VIGIL = join(REPO, 'bin', 'vigil.js');
const built = canBuildZip();
const zip = built ? zipBundle(buildZip()) : null;
const charts = [...readBundle().charts.values()];

function chdbLoads(): boolean {
  try {
    createRequire(import.meta.url)('chdb');
    return true;
  } catch {
    return false;
  }
}

/** `vigil migrate` in a clean environment: only the settings given here. */
function vigilMigrate(cwd: string, settings: Record<string, string>): void {
  expect(existsSync(join(REPO, 'dist', 'adapters', 'compose', 'cli.js')), 'dist/ is missing: run npm run build').toBe(true);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_')));
  const r = spawnSync(process.execPath, [VIGIL, 'migrate'], { cwd, env: { ...env, ...settings }, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^schema at version \d+/);
}

interface Target {
  /** Opens the engine with `database` as the session's database (a Superset connection's). */
  open(database: string): Promise<AnalyticsStore>;
  migrate(): void;
}

function defaultNodeSuite(target: () => Target): void {
  let t: Target;
  let store: AnalyticsStore;
  const database = zip ? uriDatabase(zip.database.sqlalchemy_uri) : '';

  beforeAll(async () => {
    t = target();
    t.migrate();
    // Looked up from `default`: opening a store creates its database, which would hide a mismatch.
    const probe = await t.open('default');
    try {
      const dbs = (await probe.query<{ name: string }>('SELECT name FROM system.databases')).map((r) => r.name);
      expect(dbs, `the node's migration did not create ${database}, the database of the bundle's connection`).toContain(database);
    } finally {
      await probe.close();
    }
    store = await t.open(database);
    for (const [table, batches] of Object.entries(DATA)) for (const rows of batches) await store.insert(table, rows);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('every dataset\'s schema is the connection\'s database, which holds its view', async () => {
    const tables = new Set((await store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}'`)).map((r) => r.name));
    for (const ds of zip!.datasets) {
      expect(ds.schema, ds.table_name).toBe(database);
      expect(tables.has(ds.table_name), `${database}.${ds.table_name}`).toBe(true);
    }
  });

  it('the open-alerts chart counts acknowledged and shelved alerts as open', async () => {
    const chart = charts.find((c) => c.slice_name === 'Open alerts by level and reason')!;
    const ds = zip!.datasets.find((d) => d.uuid === chart.dataset_uuid)!;
    const sql = chartSql(chart, ds, 'alias', DAY, ["tenant_id = 't1'"]).replace(`FROM ${ds.table_name}`, `FROM ${ds.schema}.${ds.table_name}`);
    const rows = await store.query<{ state: string; open_alerts: string | number }>(sql);
    const byState = new Map<string, number>();
    for (const r of rows) byState.set(r.state, (byState.get(r.state) ?? 0) + Number(r.open_alerts));
    // sample-data.ts: two open, one acknowledged, one shelved, one resolved.
    expect(Object.fromEntries([...byState].sort())).toEqual({ acknowledged: 1, open: 2, shelved: 1 });
  });

  describe.each((zip?.datasets ?? []).map((d) => [d.table_name, d] as const))('%s as Superset queries it', (view, ds: Dataset) => {
    const table = `${ds.schema}.${view}`;
    const col = ds.main_dttm_col;
    const where = `${rangeClause(col, DAY)} AND tenant_id = 't1'`;

    it('every time grain buckets every row of the range', async () => {
      for (const grain of Object.keys(TIME_GRAINS)) {
        const g = grainExpr(grain, col);
        const rows = await store.query<{ count: string | number }>(
          `SELECT ${g} AS \`__timestamp\`, COUNT(*) AS \`count\` FROM ${table} WHERE ${where} GROUP BY ${g} ORDER BY \`__timestamp\` ASC LIMIT 10000`,
        );
        expect(rows.reduce((s, r) => s + Number(r.count), 0), `${view} ${grain}`).toBe(EXPECTED_ROWS[view]);
      }
    });

    it('every chart on it runs', async () => {
      for (const c of charts.filter((x) => x.dataset_uuid === ds.uuid)) {
        const sql = chartSql(c, ds, 'alias', DAY, ["tenant_id = 't1'"]).replace(`FROM ${view}`, `FROM ${table}`);
        expect(sql).toContain(`FROM ${table}`);
        expect((await store.query(sql)).length, c.slice_name).toBeGreaterThan(0);
      }
    });
  });
}

describe.skipIf(!built)('the Superset bundle against a default node', () => {
  describe('clickhouse-server (Debian 18.16), VIGIL_CLICKHOUSE_URL', () => {
    const server = useClickHouse();
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'vigil-superset-node-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    defaultNodeSuite(() => ({
      migrate: () => vigilMigrate(dir, { VIGIL_CLICKHOUSE_URL: server().url, VIGIL_DATA_DIR: join(dir, 'data') }),
      open: (database) => openClickHouseServer({ url: server().url, database }),
    }));
  });

  describe.skipIf(!chdbLoads())('chDB (ClickHouse 26) in VIGIL_DATA_DIR', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'vigil-superset-node-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    defaultNodeSuite(() => ({
      migrate: () => vigilMigrate(dir, { VIGIL_DATA_DIR: join(dir, '.vigil') }),
      // Where a node keeps it: <VIGIL_DATA_DIR>/chdb.
      open: (database) => openChdb({ dataDir: join(dir, '.vigil', 'chdb'), database }),
    }));
  });
});
