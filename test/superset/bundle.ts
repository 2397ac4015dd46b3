// Helpers shared by the Superset bundle tests: reading the bundle, reading views.sql, and
// building the SQL that Superset generates for ClickHouse.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE_DIR = join(REPO, 'dashboards', 'superset');
export const VIEWS_SQL = join(REPO, 'dashboards', 'clickhouse', 'views.sql');

export interface DatasetColumn {
  column_name: string;
  type: string;
  is_dttm: boolean;
  groupby: boolean;
  filterable: boolean;
  expression: string | null;
  [key: string]: unknown;
}
export interface DatasetMetric {
  metric_name: string;
  expression: string;
  [key: string]: unknown;
}
export interface Dataset {
  table_name: string;
  main_dttm_col: string;
  schema: string | null;
  uuid: string;
  database_uuid: string;
  version: string;
  columns: DatasetColumn[];
  metrics: DatasetMetric[];
  [key: string]: unknown;
}
export interface AdhocFilter {
  clause: string;
  subject: string;
  operator: string;
  comparator: string | number;
  expressionType: string;
}
export interface ChartParams {
  viz_type: string;
  datasource: string;
  x_axis?: string;
  granularity_sqla?: string;
  time_grain_sqla?: string | null;
  time_range?: string;
  metrics: string[];
  groupby: string[];
  adhoc_filters: AdhocFilter[];
  timeseries_limit_metric?: string;
  row_limit: number;
  [key: string]: unknown;
}
export interface Chart {
  slice_name: string;
  viz_type: string;
  params: ChartParams;
  uuid: string;
  dataset_uuid: string;
  version: string;
  [key: string]: unknown;
}
export interface PositionNode {
  id: string;
  type: string;
  children?: string[];
  parents?: string[];
  meta?: { chartId?: number; uuid?: string; width?: number; height?: number; sliceName?: string; [key: string]: unknown };
}
export interface NativeFilter {
  id: string;
  filterType: string;
  targets: { datasetUuid?: string; column?: { name: string } }[];
  scope: { rootPath: string[]; excluded: number[] };
  [key: string]: unknown;
}
export interface Dashboard {
  dashboard_title: string;
  uuid: string;
  version: string;
  position: Record<string, PositionNode | string>;
  metadata: { native_filter_configuration?: NativeFilter[]; [key: string]: unknown };
  [key: string]: unknown;
}
export interface Database {
  database_name: string;
  sqlalchemy_uri: string;
  uuid: string;
  version: string;
  [key: string]: unknown;
}

/** Every .yaml file of the bundle: path relative to dashboards/superset -> raw text. */
export function readBundleText(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e)) out.set(relative(BUNDLE_DIR, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(BUNDLE_DIR);
  return out;
}

export interface Bundle {
  metadata: Record<string, unknown>;
  databases: Map<string, Database>;
  datasets: Map<string, Dataset>;
  charts: Map<string, Chart>;
  dashboards: Map<string, Dashboard>;
}

/** The files are YAML written in JSON syntax, so JSON.parse reads them (and fails on anything else). */
export function readBundle(): Bundle {
  const b: Bundle = { metadata: {}, databases: new Map(), datasets: new Map(), charts: new Map(), dashboards: new Map() };
  for (const [path, text] of readBundleText()) {
    const obj = JSON.parse(text) as unknown;
    if (path === 'metadata.yaml') b.metadata = obj as Record<string, unknown>;
    else if (path.startsWith('databases/')) b.databases.set(path, obj as Database);
    else if (path.startsWith('datasets/')) b.datasets.set(path, obj as Dataset);
    else if (path.startsWith('charts/')) b.charts.set(path, obj as Chart);
    else if (path.startsWith('dashboards/')) b.dashboards.set(path, obj as Dashboard);
    else throw new Error(`unexpected bundle file ${path}`);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// The zip build-zip.sh writes

/** build-zip.sh can run here: it needs zip or python3 to write the archive. */
export function canBuildZip(): boolean {
  return spawnSync('sh', ['-c', 'command -v zip || command -v python3'], { encoding: 'utf8' }).status === 0;
}

/**
 * Runs build-zip.sh with `env` and without any SUPERSET_CLICKHOUSE_URI of the test's own
 * environment (so "no environment" means the bundle as committed) and returns the archive.
 */
export function buildZip(env: Record<string, string> = {}): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-superset-'));
  try {
    const out = join(dir, 'bundle.zip');
    const base: NodeJS.ProcessEnv = { ...process.env };
    delete base['SUPERSET_CLICKHOUSE_URI'];
    const r = spawnSync('bash', [join(BUNDLE_DIR, 'build-zip.sh'), out], { encoding: 'utf8', env: { ...base, ...env } });
    if (r.status !== 0) throw new Error(`build-zip.sh exited ${r.status}: ${r.stderr}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  localHeader: number;
}

function centralDirectory(buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0; i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    entries.push({
      name: buf.toString('utf8', p + 46, p + 46 + nameLen), method: buf.readUInt16LE(p + 10),
      compressedSize: buf.readUInt32LE(p + 20), localHeader: buf.readUInt32LE(p + 42),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** File names in a zip's central directory. */
export function zipEntries(buf: Buffer): string[] {
  return centralDirectory(buf).map((e) => e.name);
}

/** The files of a zip (stored or deflated, as zip and Python's zipfile write them): name -> text. */
export function zipFiles(buf: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of centralDirectory(buf)) {
    if (e.name.endsWith('/')) continue;
    const h = e.localHeader;
    if (buf.readUInt32LE(h) !== 0x04034b50) throw new Error(`bad local header for ${e.name}`);
    const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28);
    const raw = buf.subarray(start, start + e.compressedSize);
    if (e.method !== 0 && e.method !== 8) throw new Error(`${e.name}: compression method ${e.method}`);
    out.set(e.name, (e.method === 8 ? inflateRawSync(raw) : raw).toString('utf8'));
  }
  return out;
}

/** The datasets and the database of a built zip. */
export function zipBundle(buf: Buffer): { database: Database; datasets: Dataset[] } {
  const files = zipFiles(buf);
  const pick = <T>(re: RegExp): T[] => [...files].filter(([n]) => re.test(n)).map(([, t]) => JSON.parse(t) as T);
  const databases = pick<Database>(/^vigil_superset_bundle\/databases\/[^/]+\.yaml$/);
  if (databases.length !== 1) throw new Error(`expected one database in the zip, found ${databases.length}`);
  return { database: databases[0]!, datasets: pick<Dataset>(/^vigil_superset_bundle\/datasets\/[^/]+\/[^/]+\.yaml$/) };
}

/** The database a Superset connection URI names (its path). */
export const uriDatabase = (uri: string): string => decodeURIComponent(new URL(uri).pathname.replace(/^\//, ''));

// ---------------------------------------------------------------------------------------------
// views.sql

/** Statements of a SQL file written to the views.sql rules: whole-line `--` comments, `;` ends a statement. */
export function sqlStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Top-level pieces of `text` split at `sep` (outside parentheses and quotes). */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '`' || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && ch === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** Index of the first top-level `FROM` keyword after the select list. */
function topLevelFrom(text: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '`' || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && /\s/.test(text[i - 1] ?? ' ') && /^FROM\b/i.test(text.slice(i))) return i;
  }
  throw new Error('no top-level FROM');
}

/** View name -> its output column names, in order, from the outermost SELECT list. */
export function parseViews(sql: string): Map<string, string[]> {
  const views = new Map<string, string[]>();
  for (const stmt of sqlStatements(sql)) {
    const m = /^CREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+AS\s+SELECT\s/i.exec(stmt);
    if (!m) continue;
    const body = stmt.slice(m[0].length);
    const list = body.slice(0, topLevelFrom(body));
    const cols = splitTopLevel(list, ',').map((item) => {
      const alias = /\bAS\s+(\w+)$/i.exec(item);
      if (alias) return alias[1]!;
      if (/^\w+$/.test(item)) return item;
      throw new Error(`view ${m[1]}: select item without a name: ${item}`);
    });
    views.set(m[1]!, cols);
  }
  return views;
}

export function readViews(): { sql: string; views: Map<string, string[]> } {
  const sql = readFileSync(VIEWS_SQL, 'utf8');
  return { sql, views: parseViews(sql) };
}

// ---------------------------------------------------------------------------------------------
// The SQL Superset generates for ClickHouse (superset/db_engine_specs/clickhouse.py).

/** Superset's ClickHouse time grains; `{col}` is the time column. */
export const TIME_GRAINS: Record<string, string> = {
  PT1M: 'toStartOfMinute(toDateTime({col}))',
  PT5M: 'toDateTime(intDiv(toUInt32(toDateTime({col})), 300)*300)',
  PT10M: 'toDateTime(intDiv(toUInt32(toDateTime({col})), 600)*600)',
  PT15M: 'toDateTime(intDiv(toUInt32(toDateTime({col})), 900)*900)',
  PT30M: 'toDateTime(intDiv(toUInt32(toDateTime({col})), 1800)*1800)',
  PT1H: 'toStartOfHour(toDateTime({col}))',
  P1D: 'toStartOfDay(toDateTime({col}))',
  P1W: 'toMonday(toDateTime({col}))',
  P1M: 'toStartOfMonth(toDateTime({col}))',
  P3M: 'toStartOfQuarter(toDateTime({col}))',
  P1Y: 'toStartOfYear(toDateTime({col}))',
  // Date-typed grain some Superset versions and hand-written charts use for days.
  toDate: 'toDate({col})',
};

export const grainExpr = (grain: string, col: string): string => {
  const g = TIME_GRAINS[grain];
  if (!g) throw new Error(`unknown grain ${grain}`);
  return g.replace('{col}', col);
};

/**
 * How a Superset version labels and groups:
 * - `mutated`: releases before 6 with clickhouse-connect: every alias gets `_<md5[:6]>`, GROUP BY repeats
 *   the expressions;
 * - `alias`: 6.x with clickhouse-connect >= 0.13: aliases are the plain labels, GROUP BY uses them;
 * - `legacy`: the time bucket is labelled `__timestamp` (charts without generic x-axes).
 */
export type SupersetShape = 'mutated' | 'alias' | 'legacy';

export function label(name: string, shape: SupersetShape): string {
  const l = shape === 'mutated' ? `${name}_${createHash('md5').update(name).digest('hex').slice(0, 6)}` : name;
  return `\`${l}\``;
}

export interface TimeWindow {
  from: string;
  to: string;
}

export const rangeClause = (col: string, w: TimeWindow): string =>
  `${col} >= toDateTime('${w.from}') AND ${col} < toDateTime('${w.to}')`;

/** A simple adhoc filter as Superset writes it: numbers bare, strings quoted. */
function filterClause(f: AdhocFilter): string {
  const value = typeof f.comparator === 'number' ? String(f.comparator) : `'${f.comparator.replace(/'/g, "\\'")}'`;
  if (f.operator === '==') return `${f.subject} = ${value}`;
  if (f.operator === '!=') return `${f.subject} != ${value}`;
  throw new Error(`filter operator ${f.operator} not modelled`);
}

/** The query Superset runs for a chart, with the time range replaced by `w` (unless the chart has none). */
export function chartSql(chart: Chart, ds: Dataset, shape: SupersetShape, w: TimeWindow, extraWhere: string[] = []): string {
  const p = chart.params;
  const metricByName = new Map(ds.metrics.map((m) => [m.metric_name, m.expression]));
  const select: string[] = [];
  const groupExprs: string[] = [];
  const groupLabels: string[] = [];
  const x = p.x_axis;
  if (x !== undefined) {
    const expr = grainExpr(p.time_grain_sqla ?? 'PT1M', x);
    const l = shape === 'legacy' ? '`__timestamp`' : label(x, shape);
    select.push(`${expr} AS ${l}`);
    groupExprs.push(expr);
    groupLabels.push(l);
  }
  for (const g of p.groupby) {
    const l = label(g, shape);
    select.push(`${g} AS ${l}`);
    groupExprs.push(g);
    groupLabels.push(l);
  }
  for (const m of p.metrics) {
    const e = metricByName.get(m);
    if (e === undefined) throw new Error(`chart ${chart.slice_name}: metric ${m} not in ${ds.table_name}`);
    select.push(`${e} AS ${label(m, shape)}`);
  }
  const where: string[] = [...extraWhere];
  for (const f of p.adhoc_filters) {
    if (f.operator === 'TEMPORAL_RANGE') {
      if (f.comparator !== 'No filter') where.push(rangeClause(f.subject, w));
    } else where.push(filterClause(f));
  }
  const orderMetric = p.timeseries_limit_metric ?? p.metrics[0]!;
  const orderBy = p.metrics.includes(orderMetric) ? label(orderMetric, shape) : metricByName.get(orderMetric)!;
  const group = shape === 'alias' ? groupLabels : groupExprs;
  return [
    `SELECT ${select.join(', ')}`,
    `FROM ${ds.table_name}`,
    where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
    group.length > 0 ? `GROUP BY ${group.join(', ')}` : '',
    `ORDER BY ${orderBy} DESC`,
    `LIMIT ${p.row_limit}`,
  ]
    .filter(Boolean)
    .join('\n');
}
