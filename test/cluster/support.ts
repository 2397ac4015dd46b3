// Several `vigil start` processes forming one cluster over a real NATS and Redis.
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/servers.js';
import { ADMIN, procedureEvents, spawnNode, type NodeProcess } from '../durable/producer.js';

export interface ClusterView {
  node: string;
  members: { node: string; url: string }[];
  slots: number;
  owned: number[];
  owners: ({ node: string; url: string } | null)[];
  unowned: number;
  valid_for_ms: number;
}

export interface ClusterNode {
  id: string;
  port: number;
  env: Record<string, string>;
  proc: NodeProcess;
}

export async function clusterView(port: number): Promise<ClusterView> {
  const r = await fetch(`http://127.0.0.1:${port}/admin/cluster`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`GET /admin/cluster on ${port}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as ClusterView;
}

export async function metricValue(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

export function clusterEnv(nats: string, redis: string, leaseMs: number): Record<string, string> {
  return {
    VIGIL_NATS_URL: nats,
    VIGIL_REDIS_URL: redis,
    VIGIL_CLUSTER: `c${randomBytes(4).toString('hex')}`,
    VIGIL_LEASE_MS: String(leaseMs),
    // The embedded analytics store is one process's folder; not what these tests are about.
    VIGIL_ANALYTICS: 'off',
  };
}

export async function startClusterNode(id: string, base: Record<string, string>, port?: number): Promise<ClusterNode> {
  const p = port ?? (await freePort());
  const env = { ...base, VIGIL_NODE_ID: id, VIGIL_DATA_DIR: join(tmpdir(), `vigil-test-${base.VIGIL_CLUSTER}-${id}`) };
  return { id, port: p, env, proc: await spawnNode(env, p) };
}

/** Waits until every given node sees `members` members and every slot owned by one of them. */
export async function waitSettled(nodes: readonly ClusterNode[], members: number, timeoutMs = 20_000): Promise<ClusterView[]> {
  const end = Date.now() + timeoutMs;
  let last: ClusterView[] = [];
  for (;;) {
    try {
      last = await Promise.all(nodes.map((n) => clusterView(n.port)));
      const ids = new Set(nodes.map((n) => n.id));
      const owned = last.flatMap((v) => v.owned).sort((a, b) => a - b);
      const fair = last.every((v) => v.owned.length >= Math.floor(v.slots / members));
      if (last.every((v) => v.members.length === members && v.unowned === 0 && v.owners.every((o) => o !== null && ids.has(o.node))) &&
        owned.length === last[0]!.slots && new Set(owned).size === owned.length && fair) {
        return last;
      }
    } catch {
      // a node may be busy restoring; ask again
    }
    if (Date.now() > end) throw new Error(`cluster not settled in ${timeoutMs} ms: ${JSON.stringify(last.map((v) => ({ node: v.node, members: v.members.length, owned: v.owned.length, unowned: v.unowned })))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls a procedure's event count on `port` until it is `count` or `deadline` passes; the last count. */
export async function eventsWhenSettled(port: number, proc: string, count: number, deadline: number): Promise<number> {
  let got = await procedureEvents(port, proc);
  // Acks mean "in the log" with several nodes; the owner applies them a moment later.
  while (got !== count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    got = await procedureEvents(port, proc);
  }
  return got;
}
