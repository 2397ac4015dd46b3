// docs/runbook.md must keep up with what the node exports and what the deployment files name:
// every metric the code registers, every alert rule (and only those), every Grafana panel, every
// repository path it cites, and the settings and endpoint of several-node mode. A new metric or
// alert without a runbook line fails here.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV } from '../../adapters/compose/config.js';
import { exists, readRepo, REPO } from './support.js';

const RUNBOOK = readRepo('docs/runbook.md');

/** Metric names registered in the sources (`metrics.counter('vigil_...'`, gauges, histograms). */
function registeredMetrics(): string[] {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts') && !rel.endsWith('.test.ts')) {
        for (const m of readRepo(rel).matchAll(/\.(?:counter|gauge|histogram)\(\s*'(vigil_[a-z0-9_]+)'/g)) names.add(m[1]!);
      }
    }
  };
  for (const d of ['runtime', 'actors', 'adapters']) walk(d);
  return [...names].sort();
}

describe('docs/runbook.md', () => {
  it('explains every metric the node registers', () => {
    const metrics = registeredMetrics();
    expect(metrics.length).toBeGreaterThan(20);
    expect(metrics.filter((m) => !RUNBOOK.includes(m))).toEqual([]);
  });

  it('maps every alert rule of deploy/prometheus/alerts.yml', () => {
    const alerts = [...readRepo('deploy/prometheus/alerts.yml').matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.filter((a) => !RUNBOOK.includes(`\`${a}\``))).toEqual([]);
  });

  it('names only alerts that deploy/prometheus/alerts.yml defines', () => {
    const alerts = new Set([...readRepo('deploy/prometheus/alerts.yml').matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]!));
    const named = [...new Set([...RUNBOOK.matchAll(/`(Vigil[A-Z]\w+)`/g)].map((m) => m[1]!))];
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((a) => !alerts.has(a))).toEqual([]);
  });

  it('documents several nodes: their settings, /admin/cluster, and no longer calls them unsupported', () => {
    const settings = Object.keys(CONFIG_ENV).filter((k) => ['nodeId', 'advertiseUrl', 'leaseMs', 'clusterSlots', 'keyGroups'].includes(CONFIG_ENV[k]!));
    expect(settings).toHaveLength(5);
    expect(settings.filter((k) => !RUNBOOK.includes(`\`${k}\``))).toEqual([]);
    for (const s of ['/admin/cluster', 'VIGIL_<cluster>_leases', '### 5.1 Add a node', '### 5.2 Remove a node', '### 5.3 A node dies', '### 5.4 A node was paused']) expect(RUNBOOK, s).toContain(s);
    const k8sReadme = readRepo('deploy/k8s/README.md');
    for (const [where, text] of [['docs/runbook.md', RUNBOOK], ['deploy/k8s/README.md', k8sReadme]] as const) {
      expect(text, where).not.toMatch(/not built|not supported yet|never more than 1|keep `?replicas: 1`?|issue 8/i);
    }
  });

  it('names every panel of the Grafana dashboard', () => {
    interface Panel { type?: string; title?: string; panels?: Panel[] }
    const dash = JSON.parse(readRepo('dashboards/grafana/vigil.json')) as { panels: Panel[] };
    const titles = new Set<string>();
    const walk = (ps: Panel[]) => {
      for (const p of ps) {
        if (p.type !== 'row' && p.title) titles.add(p.title);
        walk(p.panels ?? []);
      }
    };
    walk(dash.panels);
    expect([...titles].filter((t) => !RUNBOOK.includes(`*${t}*`))).toEqual([]);
  });

  it('cites only repository paths that exist', () => {
    const cited = [...RUNBOOK.matchAll(/`((?:deploy|dashboards|docs|test|adapters|runtime|actors|load)\/[A-Za-z0-9_./-]+|docker-compose\.yml|Dockerfile)`/g)].map((m) => m[1]!);
    expect(cited.length).toBeGreaterThan(5);
    expect(cited.filter((c) => !exists(c.replace(/\/$/, '')))).toEqual([]);
    expect(statSync(path.join(REPO, 'docs/runbook.md')).size).toBeGreaterThan(0);
  });
});
