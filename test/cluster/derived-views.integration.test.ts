// Issue 14 item 3 on several nodes: the patient list and the open/recent alerts live in the
// shared Redis, so every node answers the same, and a node killed with -9 (its key groups taken
// over and replayed by the survivor) or coming back changes nothing. The alert feed of any node
// carries a new transition once, whichever node's actor raised it.
import { describe, expect, it } from 'vitest';
import { WsClient } from '../../load/ws-client.js';
import { useNats, useRedis } from '../harness/servers.js';
import { auth, derived, post, round, settled, vitals } from '../durable/derived.js';
import { clusterEnv, type ClusterNode, startClusterNode, waitSettled } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('several nodes: derived lists', () => {
  const redis = useRedis();
  const nats = useNats();

  it('every node answers the same patients, recent and top alerts, before and after kill -9 of one and its return', async () => {
    const base = clusterEnv(nats().url, redis().url, 2000);
    const nodes: ClusterNode[] = [];
    let ws: WsClient | null = null;
    try {
      nodes.push(await startClusterNode('n1', base));
      nodes.push(await startClusterNode('n2', base));
      await waitSettled(nodes, 2);
      const [n1, n2] = nodes as [ClusterNode, ClusterNode];
      const t0 = Date.now() - 60_000;

      await post(n1.port, round(0, 30, t0));
      await post(n2.port, round(30, 15, t0 + 10_000));
      const before = await settled(n1.port);
      expect(before.total).toBe(45);
      expect(before.top.length).toBeGreaterThanOrEqual(10);
      expect(before.recent.some((a) => (a as { state: string }).state === 'resolved')).toBe(true);
      expect(await derived(n2.port)).toEqual(before);

      // n2's key groups are taken over by n1, which replays them from their checkpoints.
      await n2.proc.stop('SIGKILL');
      await waitSettled([n1], 1, 15_000);
      await sleep(1500);
      expect(await derived(n1.port)).toEqual(before);

      // n2 comes back and takes its share again (n1 hands those key groups over).
      nodes[1] = await startClusterNode('n2', base, n2.port);
      await waitSettled(nodes, 2, 20_000);
      await sleep(1500);
      expect(await derived(n1.port)).toEqual(before);
      expect(await derived(nodes[1].port)).toEqual(before);

      // A new alert sent to n1 reaches n2's feed once.
      const feed: string[] = [];
      ws = await WsClient.open({ host: '127.0.0.1', port: nodes[1].port, path: '/v1/alerts/stream', headers: auth, timeoutMs: 2000 });
      ws.onMessage = (t) => feed.push(t);
      await post(n1.port, [vitals('dp-cluster-new', 'high', t0 + 20_000)]);
      const end = Date.now() + 10_000;
      while (feed.length === 0 && Date.now() < end) await sleep(100);
      await sleep(500);
      expect(feed.map((f) => (JSON.parse(f) as { subject: { id: string } }).subject.id)).toEqual(['dp-cluster-new']);
      const after = await derived(n1.port);
      expect(after.total).toBe(46);
      expect(await derived(nodes[1].port)).toEqual(after);
    } finally {
      ws?.close();
      for (const n of nodes) await n.proc.stop('SIGTERM');
    }
  }, 180_000);
});
