// Removing a node: SIGTERM hands its slots over (passivate, final commit, release the leases),
// so the others own them at once rather than after a lease expiry, and nothing is lost or
// counted twice. Then a node joins again and takes its fair share back.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useNats, useRedis } from '../harness/servers.js';
import { expectedCounts, makeFrames, sendAll } from '../durable/producer.js';
import { clusterEnv, type ClusterNode, clusterView, eventsWhenSettled, metricValue, startClusterNode, waitSettled } from './support.js';

describe('several nodes: leaving and joining', () => {
  const redis = useRedis();
  const nats = useNats();

  it('a node stopped with SIGTERM under load hands its slots over; a new node takes a fair share', async () => {
    // A long lease: if the hand-over relied on expiry, the survivors would wait 20 s for it.
    const LEASE = 20_000;
    const base = clusterEnv(nats().url, redis().url, LEASE);
    const nodes: ClusterNode[] = [];
    try {
      nodes.push(await startClusterNode('a', base));
      nodes.push(await startClusterNode('b', base));
      await waitSettled(nodes, 2);
      const [a, b] = nodes as [ClusterNode, ClusterNode];
      const tag = randomBytes(3).toString('hex');
      const frames = makeFrames(200, 25, 8, `l-${tag}`);
      let stoppedIn = 0;
      let leave: Promise<void> | null = null;
      const res = await sendAll(a.port, frames, {
        window: 3,
        onAck: (n) => {
          if (n === 60 && leave === null) {
            const t0 = Date.now();
            leave = b.proc.stop('SIGTERM').then(async () => {
              await waitSettled([a], 1, 10_000);
              stoppedIn = Date.now() - t0;
            });
          }
        },
      });
      await leave;
      expect(res.acked.size).toBe(200);
      // Owned again well inside the lease: handed over, not expired.
      expect(stoppedIn).toBeGreaterThan(0);
      expect(stoppedIn).toBeLessThan(LEASE / 2);
      expect((await clusterView(a.port)).owned).toHaveLength(64);
      const end = Date.now() + 20_000;
      for (const [proc, count] of expectedCounts(frames)) {
        const got = await eventsWhenSettled(a.port, proc, count, end);
        expect(got, proc).toBe(count);
      }

      // A node joins: a hands half the slots over (a's counter of hand-overs moves) and the
      // counts are unchanged, now read through the newcomer too.
      const c = await startClusterNode('c', base);
      nodes.push(c);
      const views = await waitSettled([a, c], 2);
      for (const v of views) expect(v.owned).toHaveLength(32);
      expect(await metricValue(a.port, 'vigil_cluster_slot_handed_over_total')).toBeGreaterThanOrEqual(32);
      for (const [proc, count] of expectedCounts(frames)) {
        const got = await eventsWhenSettled(c.port, proc, count, end);
        expect(got, `${proc} via c`).toBe(count);
      }
    } catch (err) {
      for (const n of nodes) console.error(`---- ${n.id} log:\n${n.proc.log().slice(-4000)}`);
      throw err;
    } finally {
      await Promise.all(nodes.map((n) => n.proc.stop('SIGTERM')));
    }
  }, 180_000);
});
