// A node paused (SIGSTOP) past its lease while events flow, then resumed: its slots are taken
// over, and it never acts as their owner again once a newer owner exists (fencing); nothing is
// lost or counted twice. Ownership is sampled on every node all along, one node after another,
// so the samples are in real-time order.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useNats, useRedis } from '../harness/servers.js';
import { expectedCounts, makeFrames, sendAll } from '../durable/producer.js';
import { clusterEnv, type ClusterNode, clusterView, eventsWhenSettled, metricValue, startClusterNode, waitSettled } from './support.js';

interface Claim {
  at: number;
  node: string;
  token: number;
}

describe('several nodes: fencing', () => {
  const redis = useRedis();
  const nats = useNats();

  it('a node paused past its lease and resumed never owns a key group alongside its new owner', async () => {
    const LEASE = 1500;
    const base = clusterEnv(nats().url, redis().url, LEASE);
    const nodes: ClusterNode[] = [];
    const claims = new Map<number, Claim[]>();
    let sampling = true;
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        for (const n of nodes) {
          if (!sampling) break;
          try {
            const v = await clusterView(n.port);
            const at = performance.now();
            for (const l of (v as unknown as { leases: { slot: number; token: number }[] }).leases) {
              let c = claims.get(l.slot);
              if (!c) claims.set(l.slot, (c = []));
              c.push({ at, node: n.id, token: l.token });
            }
            samples++;
          } catch {
            // paused (it cannot answer) or busy: no claim observed from it
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      for (const id of ['n1', 'n2', 'n3']) nodes.push(await startClusterNode(id, base));
      await waitSettled(nodes, 3);
      const paused = nodes[1]!;
      const others = [nodes[0]!, nodes[2]!];
      const pausedSlots = (await clusterView(paused.port)).owned;
      expect(pausedSlots.length).toBeGreaterThan(0);

      const tag = randomBytes(3).toString('hex');
      const frames = [0, 1].map((i) => makeFrames(200, 30, 10, `f${i}-${tag}`));
      let stopAt = 0;
      let resumedAt = 0;
      let takeover: Promise<void> | null = null;
      const sends = frames.map((f, i) =>
        sendAll(others[i]!.port, f, {
          window: 3,
          deadlineMs: 120_000,
          onAck: (n) => {
            if (i === 0 && n === 40 && stopAt === 0) {
              stopAt = Date.now();
              paused.proc.proc.kill('SIGSTOP');
              takeover = (async () => {
                // The others see it gone and take its slots, while it sleeps on.
                await waitSettled(others, 2, 15_000);
                await new Promise((r) => setTimeout(r, 500));
                paused.proc.proc.kill('SIGCONT');
                resumedAt = Date.now();
              })();
            }
          },
        }),
      );
      const results = await Promise.all(sends);
      await takeover;
      for (const r of results) expect(r.acked.size).toBe(200);
      expect(resumedAt - stopAt).toBeGreaterThan(LEASE);

      // It comes back as a member and gets a fair share again (handed over by the others).
      await waitSettled(nodes, 3, 20_000);
      expect(await metricValue(paused.port, 'vigil_cluster_slot_lost_total')).toBeGreaterThanOrEqual(pausedSlots.length);

      const want = new Map<string, number>();
      for (const f of frames) for (const [p, c] of expectedCounts(f)) want.set(p, (want.get(p) ?? 0) + c);
      const end = Date.now() + 20_000;
      for (const [proc, count] of want) {
        const got = await eventsWhenSettled(others[0]!.port, proc, count, end);
        expect(got, proc).toBe(count);
      }
    } catch (err) {
      for (const n of nodes) console.error(`---- ${n.id} log:\n${n.proc.log().slice(-4000)}`);
      throw err;
    } finally {
      sampling = false;
      await sampler;
      await Promise.all(nodes.map((n) => n.proc.stop('SIGTERM')));
    }

    // Fencing, as observed: per slot, claims in real-time order never go back to an older
    // token, i.e. once a newer owner has shown up, no older owner acts on that slot again.
    expect(samples).toBeGreaterThan(50);
    let handovers = 0;
    for (const [slot, cs] of claims) {
      let newest = 0;
      let newestNode = '';
      for (const c of cs) {
        expect(c.token, `slot ${slot}: ${c.node} claimed token ${c.token} after ${newestNode} had ${newest}`).toBeGreaterThanOrEqual(newest);
        if (c.token > newest) {
          if (newest > 0) handovers++;
          newest = c.token;
          newestNode = c.node;
        }
      }
    }
    // The pause moved slots (and the return moved some back): the check above saw owners change.
    expect(handovers).toBeGreaterThan(0);
  }, 240_000);
});
