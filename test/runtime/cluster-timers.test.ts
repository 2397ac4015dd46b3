// Durable timers across a takeover (several runtimes sharing a log, a snapshot store and leases,
// as in cluster.test.ts): an actor's processing-time timer armed on node a fires on node b, which
// took its key group over, on time and once, though b never saw the actor and nothing sends it
// anything: b reads the key group's due index once the takeover's replay is applied.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAlertSink, MemoryEventLog, MemoryMetrics, MemoryRollupSink, MemorySnapshotStore } from '../../adapters/memory/index.js';
import { MemoryLeaseStore } from '../../adapters/memory/leases.js';
import { systemClock } from '../../runtime/clock.js';
import { ClusterCoordinator } from '../../runtime/cluster.js';
import { keyGroupOf } from '../../runtime/keygroups.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';

const KG = 256;
const SLOTS = 16;
const TTL = 600;

interface Node {
  rt: ActorRuntime;
  c: ClusterCoordinator;
  rollups: MemoryRollupSink;
}

function shared() {
  return { eventLog: new MemoryEventLog(), snapshotStore: new MemorySnapshotStore(), leases: new MemoryLeaseStore({ ttlMs: TTL }) };
}

async function startNode(id: string, s: ReturnType<typeof shared>): Promise<Node> {
  const metrics = new MemoryMetrics();
  const rollups = new MemoryRollupSink();
  let c: ClusterCoordinator | null = null;
  const rt = await startRuntime(
    { keyGroups: KG, shards: 2, hosts: 2, ownership: 'leased', snapshotIntervalMs: 50, tailIdleMs: 2, idleAfterMs: 300, passivationSweepMs: 50 },
    { eventLog: s.eventLog, snapshotStore: s.snapshotStore, rollupSink: rollups, alertSink: new MemoryAlertSink(), clock: systemClock, metrics },
    { canDeliver: () => c?.canDeliver() ?? false, onFenced: (k) => c?.onFenced(k) },
  );
  c = await ClusterCoordinator.start(rt, { leases: s.leases, eventLog: s.eventLog, snapshotStore: s.snapshotStore, clock: systemClock, metrics }, { nodeId: id, url: `http://${id}.test`, slots: SLOTS });
  return { rt, c, rollups };
}

const firings = (n: Node, id: string) => n.rollups.all().filter((r) => r.actorId === id && r.metric === 'timer:t');

describe('durable timers across a takeover', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      await n.c.abandon();
      await n.rt.close().catch(() => undefined);
    }
  });

  it('a timer armed on a node that goes away fires on the node that takes its key group over, on time, once', async () => {
    const s = shared();
    const a = await startNode('a', s);
    nodes.push(a);
    const armedAt = Date.now();
    await a.rt.submitAsync([
      { tenant: 't', kind: 'counter', id: 'x', time: 1, body: { v: 1, timerIn: 2500 } },
      { tenant: 't', kind: 'counter', id: 'y', time: 1, body: { v: 1 } },
    ]);
    const due = armedAt + 2500;
    // x passivates on a (idle 300 ms): its timer is then only its snapshot and the due index.
    await waitFor(async () => (await a.rt.inspect('counter', 't', 'x'))?.resident === false, 5000, 'x passivated on a');
    const kg = keyGroupOf('t', 'counter', 'x', KG);
    const index = await s.snapshotStore.dueTimers([kg]);
    expect(index.map((d) => d.key.split('\u001f').at(-1))).toEqual(['x']);
    expect(index[0]!.at).toBeGreaterThanOrEqual(due);

    // a goes away (leases left to expire, its hosts drained); b takes every slot.
    await a.c.abandon();
    await a.rt.close();
    nodes.splice(nodes.indexOf(a), 1);
    await new Promise((r) => setTimeout(r, TTL + 50));
    const b = await startNode('b', s);
    nodes.push(b);
    expect(b.c.status().owned).toHaveLength(SLOTS);
    expect(Date.now()).toBeLessThan(due);

    await waitFor(() => firings(b, 'x').length > 0, 5000, 'x\'s timer on b');
    const firedAt = Date.now();
    expect(firedAt - due).toBeLessThanOrEqual(1000);
    expect(firedAt).toBeGreaterThanOrEqual(due);
    // Once, and only for the actor that had a timer; the firing is in x's state and the index is empty.
    await new Promise((r) => setTimeout(r, 1000));
    expect(firings(b, 'x')).toHaveLength(1);
    expect(firings(b, 'y')).toEqual([]);
    expect(((await b.rt.inspect('counter', 't', 'x'))?.state as { timers: number }).timers).toBe(1);
    await waitFor(async () => (await s.snapshotStore.dueTimers([kg])).length === 0, 5000, 'the index entry removed');
  }, 30_000);
});
