// Issue 14 item 6 on several nodes: an alert can be acknowledged or shelved through any node,
// whichever node's actor owns it. The action goes into the shared log (answered 202: the owner
// applies it); every node's /v1/alerts/top and the patient's risk summary show the new state, and
// a shelve made through one node comes back open on time.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useNats, useRedis } from '../harness/servers.js';
import { auth, get, post, vitals } from '../durable/derived.js';
import { clusterEnv, type ClusterNode, startClusterNode, waitSettled } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface TopAlert { alert_id: string; subject: { id: string }; state: string; by?: string; until?: string }

async function action(port: number, alertId: string, kind: 'acknowledge' | 'shelve', body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/alerts/${alertId}/${kind}`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const top = async (port: number): Promise<TopAlert[]> => ((await get(port, '/v1/alerts/top?limit=1000')) as { alerts: TopAlert[] }).alerts;

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

describe('several nodes: acknowledge and shelve', () => {
  const redis = useRedis();
  const nats = useNats();

  it('through any node, for alerts owned by either; every node shows the states; a shelve ends on time', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vigil-caa-'));
    const configFile = path.join(dir, 'vigil.json');
    await writeFile(configFile, JSON.stringify({ clinical: { alerts: { shelveMinMinutes: 0.05, shelveMaxMinutes: 60 } } }));
    const base = { ...clusterEnv(nats().url, redis().url, 2000), VIGIL_CONFIG: configFile };
    const nodes: ClusterNode[] = [];
    try {
      nodes.push(await startClusterNode('n1', base));
      nodes.push(await startClusterNode('n2', base));
      await waitSettled(nodes, 2);
      const [n1, n2] = nodes as [ClusterNode, ClusterNode];
      const patients = Array.from({ length: 8 }, (_, i) => `caa-${i}`);
      await post(n1.port, patients.map((p, i) => vitals(p, 'high', Date.now() - 5000 + i)));
      const opened = await until('8 open alerts on n2', async () => {
        const t = (await top(n2.port)).filter((a) => patients.includes(a.subject.id));
        return t.length === patients.length ? t : undefined;
      });

      // Each alert acknowledged through the node that is not the one it was sent to, alternating.
      for (const [i, a] of opened.entries()) {
        const r = await action(i % 2 === 0 ? n1.port : n2.port, a.alert_id, 'acknowledge', { by: `nurse.${i}` });
        expect(r.status).toBe(202);
        expect(r.body).toMatchObject({ alert_id: a.alert_id, state: 'acknowledged', applied: false });
      }
      for (const n of [n1, n2]) {
        await until(`every alert acknowledged on ${n.id}`, async () => {
          const t = (await top(n.port)).filter((a) => patients.includes(a.subject.id));
          return t.length === patients.length && t.every((a) => a.state === 'acknowledged' && a.by === `nurse.${opened.findIndex((o) => o.alert_id === a.alert_id)}`) ? t : undefined;
        });
      }
      // The owners' state, read through either node (forwarded to the owner).
      for (const [i, a] of opened.entries()) {
        const s = (await get(i % 2 === 0 ? n2.port : n1.port, `/v1/patients/${a.subject.id}/risk-summary`)) as { open_alerts: { alert_id: string; state: string; by?: string }[] };
        expect(s.open_alerts).toEqual([expect.objectContaining({ alert_id: a.alert_id, state: 'acknowledged', by: `nurse.${i}` })]);
      }

      // A shelve through n2 of an alert whichever node owns; 0.05 min = 3 s later it is open again everywhere.
      const target = opened[3]!;
      const shelved = await action(n2.port, target.alert_id, 'shelve', { by: 'dr.lee', minutes: 0.05 });
      expect(shelved.status).toBe(202);
      await until('shelved on n1', async () => ((await top(n1.port)).find((a) => a.alert_id === target.alert_id)?.state === 'shelved' ? true : undefined));
      const back = await until('open again on n1', async () => {
        const a = (await top(n1.port)).find((x) => x.alert_id === target.alert_id);
        return a?.state === 'open' ? a : undefined;
      });
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(shelved.body.until as string));
      expect(back.by).toBeUndefined();
    } finally {
      for (const n of nodes) await n.proc.stop('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
