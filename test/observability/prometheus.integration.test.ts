// A real Prometheus (Debian's `prometheus` package) scrapes a real node with the committed
// deploy/prometheus/prometheus.yml (target and intervals rewritten) and loads the committed
// alerts.yml; the values it stores must be the ones the test sent. promtool checks the committed
// files and unit-tests every alert (it fires on a bad series, stays quiet on a healthy one).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/servers.js';
import { postBatch, startDemoNode, vitals, type TestNode } from '../ingest/node-fixture.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PROM_DIR = path.join(REPO, 'deploy/prometheus');
const CONFIG = path.join(PROM_DIR, 'prometheus.yml');
const RULES = path.join(PROM_DIR, 'alerts.yml');
const DASHBOARD = path.join(REPO, 'dashboards/grafana/vigil.json');
const INSTALL_HINT = 'Install it with `apt-get install --no-install-recommends prometheus` (Debian 12 ships 2.42, with promtool); .ci/run should do this.';

// ---------------------------------------------------------------------------------------------
// Binaries

const BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function findBinary(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean), ...BIN_DIRS];
  for (const d of dirs) {
    const candidate = path.join(d, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const PROMETHEUS = findBinary('prometheus');
const PROMTOOL = findBinary('promtool');

function promtool(args: string[], cwd = REPO): { ok: boolean; output: string } {
  const r = spawnSync(PROMTOOL!, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `$ promtool ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

// ---------------------------------------------------------------------------------------------
// The generated configuration: the committed file with the node's port and 1 s intervals.

/** Replaces exactly one occurrence, so a reshaped committed file fails loudly instead of silently. */
function replaceOnce(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`${path.relative(REPO, CONFIG)}: expected exactly one "${from}", found ${n}`);
  return text.replace(from, to);
}

function testConfig(committed: string, nodePort: number): string {
  let t = replaceOnce(committed, 'localhost:8080', `127.0.0.1:${nodePort}`);
  t = replaceOnce(t, 'scrape_interval: 15s', 'scrape_interval: 1s');
  t = replaceOnce(t, 'scrape_timeout: 10s', 'scrape_timeout: 1s');
  t = replaceOnce(t, 'evaluation_interval: 15s', 'evaluation_interval: 1s');
  return t;
}

// ---------------------------------------------------------------------------------------------
// A Prometheus child process on a free port.

interface RunningPrometheus {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function ready(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
    await r.text();
    return r.status === 200;
  } catch {
    return false;
  }
}

async function startPrometheus(binary: string, configFile: string, dir: string): Promise<RunningPrometheus> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let out = '';
    const child: ChildProcess = spawn(binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer): void => {
      out = (out + b.toString('utf8')).slice(-32_768);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err) => {
        out += `\nspawn error: ${err.message}`;
        resolve();
      });
    });
    const alive = (): boolean => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
    // A test runner that dies must not leave a Prometheus behind.
    const reap = (): void => {
      if (alive()) child.kill('SIGKILL');
    };
    process.once('exit', reap);
    const stop = async (): Promise<void> => {
      if (alive()) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 15_000)))]);
        clearTimeout(timer);
        if (timedOut && alive()) child.kill('SIGKILL');
      }
      await exited;
      process.removeListener('exit', reap);
    };

    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!alive()) break;
      if (await ready(url)) return { url, output: () => out, stop };
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`prometheus (${binary}) not ready at ${url} after 30 s:\n${out}`);
      }
      await sleep(100);
    }
    await stop();
    if (/address already in use/i.test(out) && attempt < 3) continue;
    throw new Error(`prometheus (${binary}) exited during startup (code ${child.exitCode ?? '-'}, signal ${child.signalCode ?? '-'}):\n${out}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The HTTP API

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

type QueryAnswer =
  | { status: 'success'; data: { resultType: 'vector'; result: Sample[] } | { resultType: 'scalar'; result: [number, string] } | { resultType: string; result: unknown } }
  | { status: 'error'; errorType: string; error: string };

async function query(prom: RunningPrometheus, expr: string): Promise<QueryAnswer> {
  const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await r.json()) as QueryAnswer;
}

async function vector(prom: RunningPrometheus, expr: string): Promise<Sample[]> {
  const a = await query(prom, expr);
  if (a.status !== 'success') throw new Error(`query ${expr} failed: ${a.errorType}: ${a.error}`);
  if (a.data.resultType !== 'vector') throw new Error(`query ${expr}: expected a vector, got ${a.data.resultType}`);
  return a.data.result as Sample[];
}

/** The single value of `expr`, or null while its result is empty. */
async function scalar(prom: RunningPrometheus, expr: string): Promise<number | null> {
  const v = await vector(prom, expr);
  if (v.length === 0) return null;
  if (v.length > 1) throw new Error(`query ${expr}: expected one series, got ${JSON.stringify(v)}`);
  return Number(v[0]!.value[1]);
}

/** Polls `expr` until `ok(value)`; the error names the last value and Prometheus' output. */
async function waitFor(prom: RunningPrometheus, expr: string, ok: (v: number | null) => boolean, what: string, timeoutMs = 30_000): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  let last: number | null = null;
  for (;;) {
    last = await scalar(prom, expr);
    if (ok(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: ${expr} = ${last} after ${timeoutMs} ms\n--- prometheus output ---\n${prom.output().slice(-4000)}`);
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions of the committed dashboard and rules (both checked structurally by the unit test
// test/observability/grafana-dashboard.test.ts; here Prometheus itself must accept them).

interface DashboardJson {
  panels: { title: string; targets?: { expr: string }[] }[];
}

async function dashboardExprs(): Promise<{ where: string; expr: string }[]> {
  const d = JSON.parse(await readFile(DASHBOARD, 'utf8')) as DashboardJson;
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
}

/** Grafana's variables as Grafana would expand them for "All" over a short range. */
function expandGrafana(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?instance\}?/g, '.*');
}

// ---------------------------------------------------------------------------------------------
// promtool unit tests of alerts.yml: every alert fires on its bad series and stays quiet on a
// healthy node. Histogram: half of the acks between 10 and 25 ms puts p99 near 25 ms.

const RULE_TESTS = `rule_files:
  - alerts.yml
evaluation_interval: 1m
tests:
  - name: every alert fires on its bad series
    interval: 1m
    input_series:
      - series: 'vigil_host_restarts_total{job="vigil",instance="n1:8080",host="1"}'
        values: '_x12 1x10'
      - series: 'vigil_port_up{job="vigil",instance="n1:8080",port="event_log"}'
        values: '1 1 0x20'
      - series: 'vigil_port_up{job="vigil",instance="n1:8080",port="snapshot_store"}'
        values: '1x22'
      - series: 'up{job="vigil",instance="n1:8080"}'
        values: '1 0x20'
      - series: 'vigil_ingest_events_total{job="vigil",instance="n1:8080"}'
        values: '0+600x20'
      - series: 'vigil_ingest_rejected_total{job="vigil",instance="n1:8080",code="invalid_type"}'
        values: '0+120x20'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="0.01"}'
        values: '0+50x20'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="0.025"}'
        values: '0+100x20'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="+Inf"}'
        values: '0+100x20'
      - series: 'vigil_log_retained_events{job="vigil",instance="n1:8080"}'
        values: '3500000x20'
      - series: 'vigil_cluster_slots_unowned{job="vigil",instance="n1:8080"}'
        values: '0 0 21x20'
      - series: 'vigil_cluster_slots_unowned{job="vigil",instance="n2:8080"}'
        values: '0 0 21x20'
    promql_expr_test:
      - expr: count by (alertname) (ALERTS{alertstate="firing"})
        eval_time: 15m
        exp_samples:
          - labels: '{alertname="VigilShardHostRestarted"}'
            value: 1
          - labels: '{alertname="VigilPortDown"}'
            value: 1
          - labels: '{alertname="VigilTargetDown"}'
            value: 1
          - labels: '{alertname="VigilIngestRejectionsSpike"}'
            value: 1
          - labels: '{alertname="VigilAckLatencyP99High"}'
            value: 1
          - labels: '{alertname="VigilLogRetainedEventsHigh"}'
            value: 1
          - labels: '{alertname="VigilClusterSlotsUnowned"}'
            value: 1
      - expr: ALERTS{alertname="VigilPortDown",alertstate="firing"}
        eval_time: 15m
        exp_samples:
          - labels: 'ALERTS{alertname="VigilPortDown",alertstate="firing",job="vigil",instance="n1:8080",port="event_log",severity="critical"}'
            value: 1

  - name: a host restart on a counter that already existed fires, then clears
    interval: 1m
    input_series:
      - series: 'vigil_host_restarts_total{job="vigil",instance="n1:8080",host="0"}'
        values: '1x20 2x40'
    promql_expr_test:
      - expr: ALERTS{alertstate="firing"}
        eval_time: 25m
        exp_samples:
          - labels: 'ALERTS{alertname="VigilShardHostRestarted",alertstate="firing",job="vigil",instance="n1:8080",host="0",severity="warning"}'
            value: 1
      - expr: ALERTS
        eval_time: 50m
        exp_samples: []

  - name: slots a survivor takes over within one sample raise nothing; slots left unowned fire once per cluster, then clear
    interval: 1m
    input_series:
      - series: 'vigil_cluster_slots_unowned{job="vigil",instance="n1:8080"}'
        values: '0 21 0x10 21 21 21 0x10'
      - series: 'vigil_cluster_slots_unowned{job="vigil",instance="n2:8080"}'
        values: '0 21 0x10 0 21 21 0x10'
    promql_expr_test:
      - expr: ALERTS
        eval_time: 1m
        exp_samples:
          - labels: 'ALERTS{alertname="VigilClusterSlotsUnowned",alertstate="pending",job="vigil",severity="critical"}'
            value: 1
      - expr: ALERTS
        eval_time: 2m
        exp_samples: []
      - expr: ALERTS{alertstate="firing"}
        eval_time: 14m
        exp_samples:
          - labels: 'ALERTS{alertname="VigilClusterSlotsUnowned",alertstate="firing",job="vigil",severity="critical"}'
            value: 1
      - expr: ALERTS
        eval_time: 20m
        exp_samples: []

  - name: a healthy busy node raises nothing
    interval: 1m
    input_series:
      - series: 'vigil_host_restarts_total{job="vigil",instance="n1:8080",host="0"}'
        values: '0x40'
      - series: 'vigil_port_up{job="vigil",instance="n1:8080",port="event_log"}'
        values: '1x40'
      - series: 'up{job="vigil",instance="n1:8080"}'
        values: '1x40'
      - series: 'vigil_ingest_events_total{job="vigil",instance="n1:8080"}'
        values: '0+60000x40'
      - series: 'vigil_ingest_rejected_total{job="vigil",instance="n1:8080",code="too_late"}'
        values: '0+60x40'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="0.005"}'
        values: '0+1000x40'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="0.01"}'
        values: '0+1000x40'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="0.025"}'
        values: '0+1000x40'
      - series: 'vigil_ingest_ack_latency_seconds_bucket{job="vigil",instance="n1:8080",le="+Inf"}'
        values: '0+1000x40'
      - series: 'vigil_log_retained_events{job="vigil",instance="n1:8080"}'
        values: '20000x40'
      - series: 'vigil_cluster_slots_unowned{job="vigil",instance="n1:8080"}'
        values: '0x40'
    promql_expr_test:
      - expr: ALERTS
        eval_time: 35m
        exp_samples: []
`;

// ---------------------------------------------------------------------------------------------

describe('Prometheus scraping a node with deploy/prometheus', () => {
  let dir = '';
  let tn: TestNode | undefined;
  let prom: RunningPrometheus | undefined;
  let generated = '';

  beforeAll(async () => {
    if (!PROMETHEUS) {
      throw new Error(`prometheus: executable not found (looked in PATH and ${BIN_DIRS.join(', ')}). ${INSTALL_HINT}`);
    }
    dir = await mkdtemp(path.join(tmpdir(), 'vigil-prometheus-'));
    tn = await startDemoNode();
    generated = path.join(dir, 'prometheus.yml');
    await writeFile(generated, testConfig(await readFile(CONFIG, 'utf8'), tn.node.port));
    // rule_files are relative to the configuration file.
    await copyFile(RULES, path.join(dir, 'alerts.yml'));
    prom = await startPrometheus(PROMETHEUS, generated, dir);
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await tn?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const p = (): RunningPrometheus => {
    if (!prom) throw new Error('prometheus not started');
    return prom;
  };

  it.skipIf(!PROMTOOL)('promtool accepts the committed config and rules, and the generated config', () => {
    for (const args of [
      ['check', 'config', path.relative(REPO, CONFIG)],
      ['check', 'rules', path.relative(REPO, RULES)],
      ['check', 'config', generated],
    ]) {
      const r = promtool(args);
      expect(r.ok, r.output).toBe(true);
    }
  });

  it.skipIf(!PROMTOOL)('promtool test rules: every alert fires on its bad series and none on a healthy node', async () => {
    await writeFile(path.join(dir, 'alerts.test.yml'), RULE_TESTS);
    const r = promtool(['test', 'rules', 'alerts.test.yml'], dir);
    expect(r.ok, r.output).toBe(true);
  });

  it('stores what the node counted: events, accepted, rejections by code, ack latency', async () => {
    // A first scrape before any event, so every counter has a 0 sample and rate() sees the rise.
    await waitFor(p(), 'up{job="vigil"}', (v) => v === 1, 'the node is never scraped');
    await waitFor(p(), 'vigil_ingest_events_total{job="vigil"}', (v) => v === 0, 'no zero sample before sending');

    const batches = [
      Array.from({ length: 20 }, (_, i) => vitals(`obs-a-${i}`, `p${i % 5}`, { heart_rate: 70 + i, resp_rate: 16 })),
      Array.from({ length: 10 }, (_, i) => vitals(`obs-b-${i}`, `p${i % 3}`, { heart_rate: 80, spo2: 97 })),
      [
        vitals('obs-c-0', 'p7', { heart_rate: 90 }),
        vitals('obs-c-1', 'p7', { heart_rate: 'fast' }),
        vitals('obs-c-2', 'p8', { resp_rate: 18 }),
      ],
    ];
    let sent = 0;
    let accepted = 0;
    const rejectedByCode = new Map<string, number>();
    for (const b of batches) {
      const a = await postBatch(tn!.node, b);
      expect(a.status, a.text).toBe(200);
      sent += b.length;
      accepted += a.body.accepted;
      for (const r of a.body.rejected) rejectedByCode.set(r.code, (rejectedByCode.get(r.code) ?? 0) + 1);
    }
    expect(accepted).toBe(sent - 1);
    expect([...rejectedByCode.values()]).toEqual([1]);

    await waitFor(p(), 'vigil_ingest_events_total{job="vigil"}', (v) => v === sent, 'events never reach Prometheus');
    expect(await scalar(p(), 'vigil_ingest_accepted_total{job="vigil"}')).toBe(accepted);
    expect(await scalar(p(), 'vigil_ingest_frames_total{job="vigil"}')).toBe(batches.length);
    const rejected = await vector(p(), 'sum by (code) (vigil_ingest_rejected_total{job="vigil"})');
    expect(new Map(rejected.map((s) => [s.metric['code']!, Number(s.value[1])]))).toEqual(rejectedByCode);
    expect(await scalar(p(), 'up{job="vigil"}')).toBe(1);
    expect(await scalar(p(), 'vigil_ingest_ack_latency_seconds_count{job="vigil"}')).toBe(batches.length);

    // The dashboard's and the alert's form of the quantile: over a rate, so it needs the zero
    // sample and one after the acks; NaN until then.
    const finite = (v: number | null): boolean => v !== null && Number.isFinite(v);
    for (const q of [0.5, 0.99]) {
      const v = await waitFor(
        p(),
        `histogram_quantile(${q}, sum by (le) (rate(vigil_ingest_ack_latency_seconds_bucket{job="vigil"}[30s])))`,
        finite,
        `p${q * 100} ack latency never becomes a number`,
      );
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThanOrEqual(2.5); // the highest finite bucket
    }
  });

  it('accepts every dashboard and alert expression, and evaluates every rule without error', async () => {
    const fromDashboard = await dashboardExprs();
    expect(fromDashboard.length).toBeGreaterThan(0);
    for (const { where, expr } of fromDashboard) {
      const q = expandGrafana(expr);
      const a = await query(p(), q);
      expect(a.status, `${where}: ${q} -> ${JSON.stringify(a)}`).toBe('success');
    }

    // Loaded from the generated config's rule_files; health turns "ok" once evaluated cleanly.
    type Rule = { name: string; type: string; query: string; health: string; lastError?: string };
    type Rules = { status: string; data: { groups: { name: string; file: string; rules: Rule[] }[] } };
    const deadline = Date.now() + 30_000;
    let rules: Rule[] = [];
    for (;;) {
      const r = (await (await fetch(`${p().url}/api/v1/rules`)).json()) as Rules;
      expect(r.status).toBe('success');
      rules = r.data.groups.flatMap((g) => g.rules);
      if (rules.length > 0 && rules.every((x) => x.health !== 'unknown')) break;
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    expect(rules.map((r) => r.name).sort()).toEqual([
      'VigilAckLatencyP99High', 'VigilClusterSlotsUnowned', 'VigilIngestRejectionsSpike', 'VigilLogRetainedEventsHigh',
      'VigilPortDown', 'VigilShardHostRestarted', 'VigilTargetDown',
    ]);
    for (const r of rules) {
      expect(r.type).toBe('alerting');
      expect(r.health, `${r.name}: ${r.lastError ?? ''}`).toBe('ok');
    }
  });
});
