// The Superset export bundle (dashboards/superset/) must import cleanly: every file parses, every
// key is one the importer's schemas accept (it rejects unknown keys), every uuid reference
// resolves (dashboard -> charts -> datasets -> database), and every dataset is a view in
// dashboards/clickhouse/views.sql with exactly the view's columns and one DateTime time column.
// That the views and the SQL Superset generates run on both engines is views.integration.test.ts.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { analyticsDatabase } from '../deploy/support.js';
import {
  buildZip,
  BUNDLE_DIR,
  canBuildZip,
  chartSql,
  parseViews,
  readBundle,
  readBundleText,
  readViews,
  sqlStatements,
  TIME_GRAINS,
  uriDatabase,
  zipBundle,
  zipEntries,
  type Chart,
  type PositionNode,
} from './bundle.js';

const bundle = readBundle();
const { sql: viewsSql, views } = readViews();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Keys every ImportV1*Schema from Superset 2.x to 4.x accepts (marshmallow raises on others).
const KEYS = {
  metadata: ['version', 'type', 'timestamp'],
  database: [
    'database_name', 'sqlalchemy_uri', 'password', 'cache_timeout', 'expose_in_sqllab', 'allow_run_async', 'allow_ctas',
    'allow_cvas', 'extra', 'uuid', 'version',
  ],
  databaseExtra: ['metadata_params', 'engine_params', 'metadata_cache_timeout', 'schemas_allowed_for_csv_upload', 'cost_estimate_enabled'],
  dataset: [
    'table_name', 'main_dttm_col', 'description', 'default_endpoint', 'offset', 'cache_timeout', 'schema', 'sql', 'params',
    'template_params', 'filter_select_enabled', 'fetch_values_predicate', 'extra', 'uuid', 'columns', 'metrics', 'version',
    'database_uuid',
  ],
  column: [
    'column_name', 'verbose_name', 'is_dttm', 'is_active', 'type', 'groupby', 'filterable', 'expression', 'description',
    'python_date_format',
  ],
  metric: ['metric_name', 'verbose_name', 'metric_type', 'expression', 'description', 'd3format', 'extra', 'warning_text'],
  chart: ['slice_name', 'viz_type', 'params', 'query_context', 'cache_timeout', 'uuid', 'version', 'dataset_uuid'],
  dashboard: ['dashboard_title', 'description', 'css', 'slug', 'uuid', 'position', 'metadata', 'version'],
} as const;
const REQUIRED = {
  database: ['database_name', 'sqlalchemy_uri', 'uuid', 'version'],
  dataset: ['table_name', 'uuid', 'version', 'database_uuid'],
  column: ['column_name'],
  metric: ['metric_name', 'expression'],
  chart: ['slice_name', 'viz_type', 'uuid', 'version', 'dataset_uuid'],
  dashboard: ['dashboard_title', 'uuid', 'version'],
} as const;

function expectKeys(obj: object, allowed: readonly string[], required: readonly string[], where: string): void {
  const keys = Object.keys(obj);
  expect(keys.filter((k) => !allowed.includes(k)), `${where}: keys the importer would reject`).toEqual([]);
  expect(required.filter((k) => !keys.includes(k)), `${where}: missing required keys`).toEqual([]);
}

const datasetsByUuid = new Map([...bundle.datasets.values()].map((d) => [d.uuid, d]));
const chartsByUuid = new Map([...bundle.charts.values()].map((c) => [c.uuid, c]));
const database = [...bundle.databases.values()][0]!;
const dashboard = [...bundle.dashboards.values()][0]!;

describe('files', () => {
  it('has the layout of a dashboard export', () => {
    const paths = [...readBundleText().keys()];
    expect(paths).toContain('metadata.yaml');
    expect(paths).toContain('databases/Vigil_ClickHouse.yaml');
    expect(paths).toContain('dashboards/Clinical_Operations.yaml');
    for (const p of paths) expect(p).toMatch(/^(metadata\.yaml|databases\/[^/]+\.yaml|datasets\/Vigil_ClickHouse\/v_\w+\.yaml|charts\/[^/]+\.yaml|dashboards\/[^/]+\.yaml)$/);
    expect(bundle.databases.size).toBe(1);
    expect(bundle.dashboards.size).toBe(1);
    expect(bundle.datasets.size).toBeGreaterThanOrEqual(6);
    expect(bundle.charts.size).toBeGreaterThanOrEqual(5);
  });

  it('every file is a JSON document, so any YAML loader reads it as written', () => {
    for (const [path, text] of readBundleText()) {
      expect(() => JSON.parse(text), path).not.toThrow();
      expect(text.includes('\t'), `${path} has a tab`).toBe(false);
      expect(text.endsWith('\n')).toBe(true);
    }
  });

  it("PyYAML's safe_load (what Superset uses) reads the same objects, where python3 has yaml", () => {
    const script = [
      'import json, sys, yaml',
      'for p in sys.argv[1:]:',
      '    with open(p) as f: text = f.read()',
      '    assert yaml.safe_load(text) == json.loads(text), p',
      'print("ok")',
    ].join('\n');
    const probe = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log('python3 with PyYAML not available: skipped the safe_load cross-check');
      return;
    }
    const files = [...readBundleText().keys()].map((p) => join(BUNDLE_DIR, p));
    const r = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
  });

  it('is what generate.mjs produces (no stale, missing or stray files)', () => {
    const r = spawnSync(process.execPath, [join(BUNDLE_DIR, 'generate.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('every uuid is well formed and unique', () => {
    const uuids = [database.uuid, dashboard.uuid, ...datasetsByUuid.keys(), ...chartsByUuid.keys()];
    for (const u of uuids) expect(u).toMatch(UUID);
    expect(new Set(uuids).size).toBe(uuids.length);
  });
});

describe('metadata and database', () => {
  it('metadata.yaml is a 1.0.0 Dashboard export', () => {
    expectKeys(bundle.metadata, KEYS.metadata, ['version'], 'metadata.yaml');
    expect(bundle.metadata['version']).toBe('1.0.0');
    expect(bundle.metadata['type']).toBe('Dashboard');
    expect(Number.isNaN(Date.parse(String(bundle.metadata['timestamp'])))).toBe(false);
  });

  it('the database is ClickHouse through clickhouse-connect', () => {
    expectKeys(database, KEYS.database, REQUIRED.database, 'database');
    expectKeys(database['extra'] as object, KEYS.databaseExtra, [], 'database extra');
    expect(database.database_name).toBe('Vigil ClickHouse');
    expect(database.sqlalchemy_uri).toBe('clickhousedb://default@clickhouse:8123/vigil_default');
    expect(database.version).toBe('1.0.0');
  });
});

describe('datasets', () => {
  const entries = [...bundle.datasets.entries()];

  it.each(entries)('%s matches its view in views.sql', (path, ds) => {
    expectKeys(ds, KEYS.dataset, REQUIRED.dataset, path);
    expect(path).toBe(`datasets/Vigil_ClickHouse/${ds.table_name}.yaml`);
    expect(ds.database_uuid).toBe(database.uuid);
    expect(ds.version).toBe('1.0.0');
    // The dataset's schema is the ClickHouse database of the connection.
    expect(ds.schema).toBe(new URL(database.sqlalchemy_uri).pathname.slice(1));
    expect(ds.sql, 'physical dataset: the view is the query').toBeNull();

    const viewCols = views.get(ds.table_name);
    expect(viewCols, `${ds.table_name} is not created in views.sql`).toBeDefined();
    expect(ds.columns.map((c) => c.column_name)).toEqual(viewCols);
    for (const c of ds.columns) {
      expectKeys(c, KEYS.column, REQUIRED.column, `${path} column ${c.column_name}`);
      expect(c.expression, 'columns are the view columns, not expressions').toBeNull();
    }

    // One time column: main_dttm_col, a plain DateTime (not DateTime64, no time zone argument).
    // A second instant most rows lack (a shelve's end) is Nullable(DateTime) and no time column.
    expect(viewCols).toContain(ds.main_dttm_col);
    const dttm = ds.columns.filter((c) => c.is_dttm);
    expect(dttm.map((c) => c.column_name)).toEqual([ds.main_dttm_col]);
    expect(ds.columns.filter((c) => c.type === 'DateTime').map((c) => c.column_name)).toEqual([ds.main_dttm_col]);
    for (const c of ds.columns.filter((x) => /Date/.test(x.type) && x.type !== 'DateTime')) {
      expect(c.type, `${path}: ${c.column_name}`).toBe('Nullable(DateTime)');
    }
    expect(dttm[0]!.type).toBe('DateTime');
    // No aggregate-function state columns.
    for (const c of ds.columns) expect(c.type).not.toMatch(/AggregateFunction|State/);
  });

  it.each(entries)('%s has COUNT/SUM/AVG-style saved metrics whose names are not column names', (path, ds) => {
    const names = ds.metrics.map((m) => m.metric_name);
    expect(new Set(names).size).toBe(names.length);
    expect(ds.metrics.map((m) => m.expression)).toContain('COUNT(*)');
    const columns = new Set(ds.columns.map((c) => c.column_name));
    for (const m of ds.metrics) {
      expectKeys(m, KEYS.metric, REQUIRED.metric, `${path} metric ${m.metric_name}`);
      // Superset labels a metric with its name; a label equal to a column name would shadow the
      // column for the rest of ClickHouse's query (COUNT(*) AS count breaks SUM(count)).
      expect(columns.has(m.metric_name), `${path}: metric ${m.metric_name} is named like a column`).toBe(false);
      expect(m.expression).toMatch(/^[A-Za-z0-9_ ().,*'=!<>/-]+$/);
    }
  });

  it('an alert is open until it is resolved: acknowledged and shelved alerts count as open', () => {
    // SPEC §2: open, acknowledged, shelved, resolved. "Open" is every state but resolved.
    const alerts = [...bundle.datasets.values()].find((d) => d.table_name === 'v_alerts')!;
    expect(alerts.metrics.find((m) => m.metric_name === 'open_alerts')?.expression).toBe("countIf(state != 'resolved')");
    for (const m of alerts.metrics) expect(m.expression, m.metric_name).not.toMatch(/state\s*=\s*'open'/);
    for (const c of [...bundle.charts.values()].filter((x) => x.dataset_uuid === alerts.uuid)) {
      for (const f of c.params.adhoc_filters.filter((x) => x.subject === 'state')) {
        expect([f.operator, f.comparator], `${c.slice_name} filters alerts on state`).toEqual(['!=', 'resolved']);
      }
    }
  });

  it('covers every view the dashboards need', () => {
    expect([...bundle.datasets.values()].map((d) => d.table_name).sort()).toEqual(
      expect.arrayContaining(['v_alerts', 'v_dlq', 'v_events', 'v_ingest_audit', 'v_patient_vitals_minute', 'v_procedure_minute', 'v_rollups_minute']),
    );
  });
});

describe('charts', () => {
  const entries = [...bundle.charts.entries()];
  const VIZ = new Set(['echarts_timeseries_line', 'echarts_timeseries_bar', 'table', 'big_number_total', 'pie']);

  it.each(entries)('%s references its dataset, metrics and columns', (path, chart: Chart) => {
    expectKeys(chart, KEYS.chart, REQUIRED.chart, path);
    expect(chart.version).toBe('1.0.0');
    expect(VIZ.has(chart.viz_type)).toBe(true);
    expect(chart.params.viz_type).toBe(chart.viz_type);
    expect(chart.params.datasource).toMatch(/^\d+__table$/);
    const ds = datasetsByUuid.get(chart.dataset_uuid);
    expect(ds, `${path}: dataset ${chart.dataset_uuid} is not in the bundle`).toBeDefined();
    const metrics = new Set(ds!.metrics.map((m) => m.metric_name));
    const columns = new Set(ds!.columns.map((c) => c.column_name));
    expect(chart.params.metrics.length).toBeGreaterThan(0);
    for (const m of chart.params.metrics) expect(metrics.has(m), `${path}: metric ${m}`).toBe(true);
    if (chart.params.timeseries_limit_metric) expect(metrics.has(chart.params.timeseries_limit_metric)).toBe(true);
    for (const g of chart.params.groupby) expect(columns.has(g), `${path}: groupby ${g}`).toBe(true);
    for (const f of chart.params.adhoc_filters) expect(columns.has(f.subject), `${path}: filter on ${f.subject}`).toBe(true);
    if (chart.viz_type.startsWith('echarts_timeseries')) {
      expect(chart.params.x_axis).toBe(ds!.main_dttm_col);
      expect(chart.params.granularity_sqla).toBe(ds!.main_dttm_col);
      expect(Object.keys(TIME_GRAINS)).toContain(chart.params.time_grain_sqla);
    }
    // The time filter is on the dataset's time column.
    const temporal = chart.params.adhoc_filters.filter((f) => f.operator === 'TEMPORAL_RANGE');
    expect(temporal.map((f) => f.subject)).toEqual([ds!.main_dttm_col]);
    // And the query Superset would build from these params can be written down.
    expect(chartSql(chart, ds!, 'mutated', { from: '2026-11-21 00:00:00', to: '2026-11-22 00:00:00' })).toContain(`FROM ${ds!.table_name}`);
  });
});

describe('dashboard', () => {
  const pos = dashboard.position;
  const nodes = Object.entries(pos).filter((e): e is [string, PositionNode] => typeof e[1] === 'object');

  it('has the import keys and a v2 layout', () => {
    expectKeys(dashboard, KEYS.dashboard, REQUIRED.dashboard, 'dashboard');
    expect(dashboard.dashboard_title).toBe('Clinical Operations');
    expect(dashboard.version).toBe('1.0.0');
    expect(pos['DASHBOARD_VERSION_KEY']).toBe('v2');
    for (const [key, node] of nodes) expect(node.id).toBe(key);
  });

  it('is a tree from ROOT_ID whose children all exist, with rows at most 12 columns wide', () => {
    const seen = new Set<string>();
    const visit = (id: string, parents: string[]): void => {
      const node = pos[id];
      expect(typeof node, `position has no ${id}`).toBe('object');
      const n = node as PositionNode;
      expect(seen.has(id), `${id} reached twice`).toBe(false);
      seen.add(id);
      if (n.parents) expect(n.parents).toEqual(parents);
      if (n.type === 'ROW') {
        const width = (n.children ?? []).reduce((s, c) => s + Number((pos[c] as PositionNode).meta?.width ?? 0), 0);
        expect(width).toBeLessThanOrEqual(12);
      }
      for (const c of n.children ?? []) visit(c, [...parents, id]);
    };
    visit('ROOT_ID', []);
    const unreachable = nodes.map(([k]) => k).filter((k) => !seen.has(k) && k !== 'HEADER_ID');
    expect(unreachable).toEqual([]);
  });

  it('places every chart of the bundle exactly once, by uuid', () => {
    const charts = nodes.filter(([, n]) => n.type === 'CHART').map(([, n]) => n);
    for (const n of charts) {
      expect(chartsByUuid.has(n.meta?.uuid ?? ''), `position chart ${n.id} has unknown uuid ${n.meta?.uuid}`).toBe(true);
      expect(Number.isInteger(n.meta?.chartId)).toBe(true);
      expect(n.meta?.sliceName).toBe(chartsByUuid.get(n.meta!.uuid!)!.slice_name);
      expect(n.children ?? []).toEqual([]);
    }
    expect(charts.map((n) => n.meta!.uuid).sort()).toEqual([...chartsByUuid.keys()].sort());
    const ids = charts.map((n) => n.meta!.chartId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('native filters target bundle datasets and exclude only charts on the dashboard', () => {
    const filters = dashboard.metadata.native_filter_configuration ?? [];
    expect(filters.map((f) => f.filterType).sort()).toEqual(['filter_select', 'filter_time']);
    const chartIds = new Set(nodes.filter(([, n]) => n.type === 'CHART').map(([, n]) => n.meta!.chartId));
    for (const f of filters) {
      expect(f.id).toMatch(/^NATIVE_FILTER-/);
      for (const t of f.targets) {
        if (t.datasetUuid === undefined) continue;
        const ds = datasetsByUuid.get(t.datasetUuid);
        expect(ds, `filter ${f.id} targets unknown dataset`).toBeDefined();
        expect(ds!.columns.map((c) => c.column_name)).toContain(t.column!.name);
      }
      for (const id of f.scope.excluded) expect(chartIds.has(id)).toBe(true);
    }
    // The tenant filter applies to every chart: every dataset has the column.
    for (const d of datasetsByUuid.values()) expect(d.columns.map((c) => c.column_name)).toContain('tenant_id');
  });

  it('metadata id lists are consistent with the position (the importer remaps them)', () => {
    const m = dashboard.metadata;
    expect(m['timed_refresh_immune_slices']).toEqual([]);
    expect(m['expanded_slices']).toEqual({});
    expect(m['filter_scopes']).toEqual({});
    expect(JSON.parse(String(m['default_filters']))).toEqual({});
  });
});

describe('views.sql', () => {
  it('defines each dataset view once, each after a DROP TABLE IF EXISTS (re-runnable)', () => {
    const stmts = sqlStatements(viewsSql);
    const created = stmts.map((s) => /^CREATE VIEW IF NOT EXISTS (\w+) AS/.exec(s)?.[1]).filter((v): v is string => v !== undefined);
    expect(created.length).toBe(views.size);
    expect(new Set(created).size).toBe(created.length);
    for (const v of created) {
      const drop = stmts.indexOf(`DROP TABLE IF EXISTS ${v}`);
      expect(drop, `no DROP TABLE IF EXISTS ${v}`).toBeGreaterThanOrEqual(0);
      expect(drop).toBeLessThan(stmts.findIndex((s) => s.startsWith(`CREATE VIEW IF NOT EXISTS ${v} `)));
    }
    for (const s of stmts) expect(s).toMatch(/^(DROP TABLE IF EXISTS \w+|CREATE VIEW IF NOT EXISTS \w+ AS\s)/);
    for (const d of datasetsByUuid.values()) expect(created).toContain(d.table_name);
  });

  it('uses nothing that clickhouse-server 18.16 or chDB 26 would reject', () => {
    const code = viewsSql
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('--'))
      .join('\n');
    const forbidden: [RegExp, string][] = [
      [/CREATE\s+OR\s+REPLACE/i, '18.16 has no CREATE OR REPLACE VIEW'],
      [/DateTime64/i, 'the schema is DateTime + epoch-ms Int64'],
      [/\{\s*\w+\s*:\s*\w+\s*\}/, '18.16 has no query parameters'],
      [/\w+If?Or(Null|Default)\s*\(/, 'no -OrNull/-OrDefault combinators on 18.16'],
      [/toStartOfSecond|toStartOfInterval|dateTrunc|date_trunc/i, 'newer functions'],
      [/\w+State\s*\(|\w+Merge\s*\(/, 'no aggregate-function states'],
      [/\b(vigil|default)\.\w+/i, 'tables stay unqualified: the views live in the store database'],
      [/\bILIKE\b|\bQUALIFY\b|\bWINDOW\b|\bOVER\s*\(/i, 'newer syntax'],
    ];
    for (const [re, why] of forbidden) expect(re.test(code), why).toBe(false);
    expect(code.trimEnd().endsWith(';')).toBe(true);
  });

  it('parses view columns the way the tests rely on', () => {
    const parsed = parseViews(`
      -- a comment; with a semicolon is ignored as a whole line
      CREATE VIEW IF NOT EXISTS v_x AS
      SELECT a, f(b, c) AS d, (SELECT 1) AS e, tuple(x, y).1 AS g FROM (SELECT 1) WHERE z IN (1, 2);`);
    expect(parsed.get('v_x')).toEqual(['a', 'd', 'e', 'g']);
  });
});

describe('build-zip.sh', () => {
  const zipTools = canBuildZip();
  if (!zipTools) console.log('neither zip nor python3: build-zip.sh tests skipped');

  it.skipIf(!zipTools)('zips the bundle under one top folder with only the YAML files', () => {
    const names = zipEntries(buildZip());
    const expected = [...readBundleText().keys()].map((p) => `vigil_superset_bundle/${p}`);
    expect(names.filter((n) => !n.endsWith('/')).sort()).toEqual(expected.sort());
  });

  it.skipIf(!zipTools)('built with no environment, every dataset reads the database a default node writes', () => {
    // A node on the defaults (no VIGIL_CLUSTER) writes vigil_<cluster>; that the database really
    // is created under this name, and the datasets' queries run in it, is default-node.integration.test.ts.
    const nodeDatabase = analyticsDatabase(parseNodeConfig({}, {}).cluster);
    expect(nodeDatabase).toBe('vigil_default');
    const { database, datasets } = zipBundle(buildZip());
    expect(uriDatabase(database.sqlalchemy_uri)).toBe(nodeDatabase);
    expect(datasets.length).toBe(bundle.datasets.size);
    for (const ds of datasets) expect(ds.schema, ds.table_name).toBe(nodeDatabase);
  });

  it.skipIf(!zipTools)('SUPERSET_CLICKHOUSE_URI moves the connection and every dataset to its database', () => {
    const uri = 'clickhousedb://analyst:secret@ch.internal:8123/vigil_ward_a';
    const { database, datasets } = zipBundle(buildZip({ SUPERSET_CLICKHOUSE_URI: uri }));
    expect(database.sqlalchemy_uri).toBe(uri);
    for (const ds of datasets) expect(ds.schema, ds.table_name).toBe('vigil_ward_a');
    // The committed files are left as they are.
    expect(database.uuid).toBe([...bundle.databases.values()][0]!.uuid);
    expect([...bundle.datasets.values()].every((d) => d.schema === 'vigil_default')).toBe(true);
  });
});
