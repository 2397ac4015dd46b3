// The Grafana dashboard (dashboards/grafana/vigil.json) and the alerting rules
// (deploy/prometheus/alerts.yml) may only name metrics a node really exports: a renamed metric
// must fail here, not show up as an empty panel or an alert that can never fire. The truth is a
// running node's GET /metrics (names and types) and its prom-client registry (label names), plus
// what a node of several adds (runtime/cluster.ts registers vigil_cluster_* when it starts: here
// a coordinator on a leased in-memory runtime, registering into a registry of the node's kind).
// That Prometheus itself accepts each expression is checked by prometheus.integration.test.ts.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { MemoryAlertSink, MemoryEventLog, MemoryLeaseStore, MemoryRollupSink, MemorySnapshotStore } from '../../adapters/memory/index.js';
import { PrometheusMetrics } from '../../adapters/prometheus/metrics.js';
import { systemClock } from '../../runtime/clock.js';
import { ClusterCoordinator } from '../../runtime/cluster.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { http, startDemoNode, type TestNode } from '../ingest/node-fixture.js';
import { startRuntime } from '../support.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARD = path.join(REPO, 'dashboards/grafana/vigil.json');
const RULES = path.join(REPO, 'deploy/prometheus/alerts.yml');
const CONFIG = path.join(REPO, 'deploy/prometheus/prometheus.yml');

// ---------------------------------------------------------------------------------------------
// Grafana dashboard JSON (the subset this file checks)

interface Target {
  refId?: unknown;
  expr?: unknown;
  datasource?: unknown;
}

interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { h?: unknown; w?: unknown; x?: unknown; y?: unknown };
  datasource?: unknown;
  targets?: Target[];
  panels?: Panel[];
}

interface Variable {
  name?: unknown;
  type?: unknown;
  query?: unknown;
}

interface Dashboard {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: Variable[] };
  time?: { from?: unknown; to?: unknown };
}

/** Panel types that ship with Grafana (no plugin needed). */
const CORE_PANELS = new Set(['timeseries', 'stat', 'gauge', 'bargauge', 'table', 'state-timeline', 'status-history', 'heatmap', 'text', 'barchart', 'piechart', 'row']);

/** Variables Grafana defines itself. */
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms', '__from', '__to']);

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

// ---------------------------------------------------------------------------------------------
// alerts.yml: groups[].rules[], read with the `yaml` library. Alerting rules only (a recording
// rule has `record:` instead of `alert:`); the checks below say which fields must be there.

interface Rule {
  alert: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown> | null;
  annotations?: Record<string, unknown> | null;
}

function parseRules(text: string): Rule[] {
  const file = parseYaml(text) as { groups?: { rules?: (Rule | { record: unknown })[] | null }[] | null } | null;
  return (file?.groups ?? []).flatMap((g) => g.rules ?? []).filter((r): r is Rule => 'alert' in r);
}

// ---------------------------------------------------------------------------------------------
// PromQL, just enough to find metric and label names

/** Replaces string literals by "" so their contents are never taken for names. */
function withoutStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
}

function vigilMetrics(expr: string): string[] {
  return [...new Set(withoutStrings(expr).match(/(?<![\w:])vigil_[A-Za-z0-9_]*/g) ?? [])];
}

/** Label names in selectors (`name{a="x", b=~"y"}`) and in by / without / on / ignoring / group_x clauses. */
function labelNames(expr: string): string[] {
  const names = new Set<string>();
  const plain = withoutStrings(expr);
  for (const m of plain.matchAll(/\{([^}]*)\}/g)) {
    for (const lm of m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) names.add(lm[1]!);
  }
  for (const m of plain.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',').map((s) => s.trim()).filter(Boolean)) names.add(l);
  }
  return [...names];
}

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const c of withoutStrings(expr)) {
    if (c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0;
}

// ---------------------------------------------------------------------------------------------
// What the node exports

interface Exported {
  /** Every series name a query can use: counters and gauges as is, histograms as _bucket/_sum/_count. */
  series: Map<string, { family: string; type: string }>;
  /** Label names of each family, from the registry (families without samples have none in the text). */
  labels: Map<string, Set<string>>;
}

/** Labels every scraped series carries, or that a histogram's buckets carry. */
const TARGET_LABELS = ['job', 'instance'];
/** Series Prometheus makes itself for each target. */
const SYNTHETIC = new Map([['up', new Set(TARGET_LABELS)]]);

function exported(text: string, labelsOf: (family: string) => readonly string[]): Exported {
  const series = new Map<string, { family: string; type: string }>();
  const labels = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, family, type] = m as unknown as [string, string, string];
    const names = type === 'histogram' ? [`${family}_bucket`, `${family}_sum`, `${family}_count`]
      : type === 'summary' ? [family, `${family}_sum`, `${family}_count`]
        : [family];
    for (const n of names) series.set(n, { family, type });
    labels.set(family, new Set([...labelsOf(family), ...TARGET_LABELS, ...(type === 'histogram' ? ['le'] : type === 'summary' ? ['quantile'] : [])]));
  }
  return { series, labels };
}

/** Problems with one expression: unknown metrics, labels the metrics do not have. */
function problems(where: string, expr: string, x: Exported): string[] {
  const out: string[] = [];
  if (!balanced(expr)) out.push(`${where}: unbalanced brackets in ${expr}`);
  const metrics = vigilMetrics(expr);
  const usesUp = /(?<![\w:])up\s*\{/.test(withoutStrings(expr));
  if (metrics.length === 0 && !usesUp) out.push(`${where}: no vigil_* metric (nor up{}) in ${expr}`);
  const allowed = new Set<string>(usesUp ? SYNTHETIC.get('up')! : []);
  for (const m of metrics) {
    const s = x.series.get(m);
    if (!s) {
      const family = [...x.series.values()].find((v) => v.family === m);
      out.push(family
        ? `${where}: ${m} is a ${family.type}; query ${m}_bucket / _sum / _count`
        : `${where}: ${m} is not exported by the node`);
      continue;
    }
    for (const l of x.labels.get(s.family) ?? []) allowed.add(l);
  }
  for (const l of labelNames(expr)) {
    if (!allowed.has(l)) out.push(`${where}: label "${l}" is not a label of ${[...metrics, ...(usesUp ? ['up'] : [])].join(', ')} (has: ${[...allowed].sort().join(', ')})`);
  }
  return out;
}

/** The metrics a node started with VIGIL_NODE_ID registers on top of a lone node's. */
async function startClusterMember(): Promise<{ metrics: PrometheusMetrics; close(): Promise<void> }> {
  const metrics = new PrometheusMetrics({ defaultMetrics: false });
  const eventLog = new MemoryEventLog();
  const snapshotStore = new MemorySnapshotStore();
  let c: ClusterCoordinator | null = null;
  const rt: ActorRuntime = await startRuntime(
    { keyGroups: 64, shards: 1, hosts: 1, ownership: 'leased' },
    { eventLog, snapshotStore, rollupSink: new MemoryRollupSink(), alertSink: new MemoryAlertSink(), clock: systemClock, metrics },
    { canDeliver: () => c?.canDeliver() ?? false, onFenced: (k) => c?.onFenced(k) },
  );
  c = await ClusterCoordinator.start(rt, { leases: new MemoryLeaseStore({ ttlMs: 3000 }), eventLog, snapshotStore, clock: systemClock, metrics }, { nodeId: 'n1', url: 'http://n1.test', slots: 4 });
  return {
    metrics,
    async close() {
      await c?.close();
      await rt.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------

describe('Grafana dashboard and Prometheus alerts name only what the node exports', () => {
  let tn: TestNode | undefined;
  let member: Awaited<ReturnType<typeof startClusterMember>> | undefined;
  let x: Exported;
  let dashboard: Dashboard;
  let rules: Rule[];

  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
    rules = parseRules(await readFile(RULES, 'utf8'));
    tn = await startDemoNode();
    const m = await http(tn.node, '/metrics', { token: null });
    expect(m.status).toBe(200);
    member = await startClusterMember();
    const registries = [tn.node.metrics.registry, member.metrics.registry];
    x = exported(`${m.text}\n${await member.metrics.text()}`, (family) => {
      // prom-client keeps the configured label names on the metric object (not in its types).
      const metric = registries.map((r) => r.getSingleMetric(family)).find((mt) => mt !== undefined);
      const names = (metric as unknown as { labelNames?: unknown } | undefined)?.labelNames;
      if (!Array.isArray(names)) throw new Error(`prom-client metric ${family} has no labelNames array`);
      return names as string[];
    });
  }, 60_000);

  afterAll(async () => {
    await member?.close();
    await tn?.close();
  });

  it('the node exports the metrics the brief names (sanity of the source of truth)', () => {
    for (const s of [
      'vigil_ingest_events_total', 'vigil_ingest_rejected_total', 'vigil_ingest_ack_latency_seconds_bucket',
      'vigil_actors_active', 'vigil_actor_activations_total', 'vigil_actor_passivations_total', 'vigil_mailbox_parked',
      'vigil_host_restarts_total', 'vigil_log_retained_events', 'vigil_port_up',
    ]) expect(x.series.has(s), s).toBe(true);
    expect(x.series.has('vigil_ingest_ack_latency_seconds')).toBe(false);
    // A node of several adds the cluster's gauges and counters.
    for (const s of ['vigil_cluster_members', 'vigil_cluster_slots_owned', 'vigil_cluster_slots_unowned', 'vigil_cluster_slot_lost_total', 'vigil_fenced_commits_total']) expect(x.series.has(s), s).toBe(true);
    expect(x.series.get('vigil_cluster_slots_unowned')!.type).toBe('gauge');
    expect([...x.labels.get('vigil_ingest_rejected_total')!]).toContain('code');
    expect([...x.labels.get('vigil_port_up')!]).toContain('port');
  });

  it('the checker itself catches unknown metrics, bare histogram names and foreign labels', () => {
    expect(problems('t', 'rate(vigil_no_such_total[5m])', x)).toEqual(['t: vigil_no_such_total is not exported by the node']);
    expect(problems('t', 'vigil_ingest_ack_latency_seconds > 1', x)[0]).toMatch(/is a histogram/);
    expect(problems('t', 'sum by (code) (vigil_actors_active)', x)[0]).toMatch(/label "code"/);
    expect(problems('t', 'vigil_port_up{port="x", host="1"} == 0', x)[0]).toMatch(/label "host"/);
    expect(problems('t', 'sum(rate(vigil_ingest_events_total{job="vigil_x_total"}[1m]))', x)).toEqual([]);
    expect(problems('t', 'sum(rate(vigil_ingest_events_total[1m])', x)[0]).toMatch(/unbalanced/);
  });

  it('is a Grafana dashboard: uid, title, schemaVersion, time, a Prometheus data source variable', () => {
    expect(typeof dashboard.uid).toBe('string');
    expect(typeof dashboard.title).toBe('string');
    expect(typeof dashboard.schemaVersion).toBe('number');
    expect(dashboard.schemaVersion as number).toBeGreaterThanOrEqual(36); // Grafana 9+ (datasource refs as objects)
    expect(typeof dashboard.time?.from).toBe('string');
    const vars = dashboard.templating?.list ?? [];
    const ds = vars.find((v) => v.type === 'datasource');
    expect(ds, 'a data source variable').toBeDefined();
    expect(ds!.query).toBe('prometheus');
    expect(Array.isArray(dashboard.panels) && dashboard.panels.length > 0).toBe(true);
  });

  it('every panel is a core panel with an id, a title, a position in the 24-column grid, and no overlap', () => {
    const panels = allPanels(dashboard.panels!);
    const ids = new Set<unknown>();
    const cells = new Map<string, string>();
    for (const p of panels) {
      const where = `panel ${JSON.stringify(p.title)}`;
      expect(typeof p.id, where).toBe('number');
      expect(ids.has(p.id), `${where}: duplicate id ${String(p.id)}`).toBe(false);
      ids.add(p.id);
      expect(typeof p.title === 'string' && p.title !== '', where).toBe(true);
      expect(CORE_PANELS.has(p.type as string), `${where}: type ${String(p.type)}`).toBe(true);
      const g = p.gridPos;
      for (const k of ['h', 'w', 'x', 'y'] as const) expect(Number.isInteger(g?.[k]), `${where}: gridPos.${k}`).toBe(true);
      const { h, w, x: gx, y } = g as { h: number; w: number; x: number; y: number };
      expect(gx >= 0 && w > 0 && gx + w <= 24 && h > 0 && y >= 0, `${where}: gridPos ${JSON.stringify(g)}`).toBe(true);
      for (let r = y; r < y + h; r++) {
        for (let c = gx; c < gx + w; c++) {
          const other = cells.get(`${r},${c}`);
          expect(other, `${where} overlaps ${other}`).toBeUndefined();
          cells.set(`${r},${c}`, where);
        }
      }
    }
  });

  it('every data panel queries Prometheus through the data source variable, each target with a refId and an expr', () => {
    const dsVar = (dashboard.templating?.list ?? []).find((v) => v.type === 'datasource')!.name as string;
    const ref = { type: 'prometheus', uid: `\${${dsVar}}` };
    const data = allPanels(dashboard.panels!).filter((p) => p.type !== 'row' && p.type !== 'text');
    expect(data.length).toBeGreaterThan(0);
    for (const p of data) {
      const where = `panel ${JSON.stringify(p.title)}`;
      expect(p.datasource, where).toEqual(ref);
      expect(Array.isArray(p.targets) && p.targets.length > 0, `${where}: targets`).toBe(true);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${where}: refIds ${JSON.stringify(refIds)}`).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(typeof t.refId === 'string' && t.refId !== '', where).toBe(true);
        expect(typeof t.expr === 'string' && t.expr.trim() !== '', `${where}: target ${String(t.refId)} expr`).toBe(true);
        if (t.datasource !== undefined) expect(t.datasource, where).toEqual(ref);
      }
    }
  });

  it('dashboard expressions use only defined variables', () => {
    const defined = new Set((dashboard.templating?.list ?? []).map((v) => v.name as string));
    for (const p of allPanels(dashboard.panels!)) {
      for (const t of p.targets ?? []) {
        for (const m of (t.expr as string).matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
          expect(defined.has(m[1]!) || GRAFANA_BUILTINS.has(m[1]!), `panel ${JSON.stringify(p.title)}: $${m[1]} in ${String(t.expr)}`).toBe(true);
        }
      }
    }
  });

  it('every vigil_* metric and label in the dashboard is exported by the node', () => {
    const found: string[] = [];
    const used = new Set<string>();
    for (const p of allPanels(dashboard.panels!)) {
      for (const t of p.targets ?? []) {
        found.push(...problems(`panel ${JSON.stringify(p.title)} ${String(t.refId)}`, t.expr as string, x));
        for (const m of vigilMetrics(t.expr as string)) used.add(m);
      }
    }
    expect(found).toEqual([]);
    // The panels the dashboard exists for.
    for (const m of [
      'vigil_ingest_events_total', 'vigil_ingest_rejected_total', 'vigil_ingest_ack_latency_seconds_bucket', 'vigil_actors_active',
      'vigil_actor_activations_total', 'vigil_actor_passivations_total', 'vigil_mailbox_parked', 'vigil_host_restarts_total',
      'vigil_log_retained_events', 'vigil_port_up',
    ]) expect(used.has(m), `no panel shows ${m}`).toBe(true);
  });

  it('alerts.yml: every rule is complete and names only exported metrics and labels', () => {
    expect(rules.length).toBeGreaterThan(0);
    const found: string[] = [];
    for (const r of rules) {
      expect(typeof r.alert === 'string' && r.alert !== '', `alert name ${JSON.stringify(r.alert)}`).toBe(true);
      const name = r.alert as string;
      expect(typeof r.expr === 'string' && r.expr.trim() !== '', `${name}: expr`).toBe(true);
      expect(['critical', 'warning', 'info'], `${name}: labels.severity`).toContain(r.labels?.['severity']);
      const summary = r.annotations?.['summary'];
      expect(typeof summary === 'string' && summary !== '', `${name}: annotations.summary`).toBe(true);
      if (r.for !== undefined) expect(typeof r.for === 'string' && /^\d+[smh]$/.test(r.for), `${name}: for ${JSON.stringify(r.for)}`).toBe(true);
      found.push(...problems(`alert ${name}`, r.expr as string, x));
    }
    expect(found).toEqual([]);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it('alerts.yml covers restarts, port down, rejections, ack p99 > 15 ms and the retained log', () => {
    const byName = new Map(rules.map((r) => [r.alert, r.expr as string]));
    expect(byName.get('VigilShardHostRestarted')).toMatch(/vigil_host_restarts_total/);
    expect(byName.get('VigilPortDown')).toMatch(/vigil_port_up\s*==\s*0/);
    expect(byName.get('VigilIngestRejectionsSpike')).toMatch(/rate\(vigil_ingest_rejected_total/);
    expect(byName.get('VigilAckLatencyP99High')).toMatch(/histogram_quantile\(0\.99,[\s\S]*vigil_ingest_ack_latency_seconds_bucket[\s\S]*>\s*0\.015\b/);
    expect(byName.get('VigilLogRetainedEventsHigh')).toMatch(/vigil_log_retained_events\s*>/);
    expect(byName.get('VigilClusterSlotsUnowned')).toMatch(/vigil_cluster_slots_unowned\)?\s*>\s*0\b/);
  });

  it('the dashboard and the alerts select the scrape job that prometheus.yml defines', async () => {
    const config = parseYaml(await readFile(CONFIG, 'utf8')) as { scrape_configs?: { job_name?: unknown }[] | null } | null;
    const jobs = (config?.scrape_configs ?? []).map((s) => s.job_name);
    expect(jobs).toEqual(['vigil']);
    const exprs = [...allPanels(dashboard.panels!).flatMap((p) => (p.targets ?? []).map((t) => t.expr as string)), ...rules.map((r) => r.expr as string)];
    const vars = (dashboard.templating?.list ?? []).map((v) => JSON.stringify(v.query ?? ''));
    for (const s of [...exprs, ...vars]) for (const m of s.matchAll(/job\s*=~?\s*\\?"([^"\\]*)/g)) expect(m[1], s).toBe('vigil');
  });
});
