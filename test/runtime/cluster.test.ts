// Several runtimes in one process sharing one log, one snapshot store and one lease store: the
// ownership protocol (leases, fair share, hand-over, lease expiry, fencing, replay) without the
// processes. test/cluster/*.integration.test.ts runs the same with real nodes, NATS and Redis.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAlertSink, MemoryEventLog, MemoryMetrics, MemoryRollupSink, MemorySnapshotStore } from '../../adapters/memory/index.js';
import { MemoryLeaseStore } from '../../adapters/memory/leases.js';
import { systemClock } from '../../runtime/clock.js';
import { assignSlots, ClusterCoordinator, slotKeyGroups, slotOfKeyGroup } from '../../runtime/cluster.js';
import { actorKey } from '../../runtime/ids.js';
import { keyGroupOf } from '../../runtime/keygroups.js';
import type { ActorRuntime, RuntimeEvent } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';

const KG = 256;
const SLOTS = 16;
const TTL = 600;

interface Node {
  id: string;
  rt: ActorRuntime;
  c: ClusterCoordinator;
  metrics: MemoryMetrics;
}

function shared() {
  return { eventLog: new MemoryEventLog(), snapshotStore: new MemorySnapshotStore(), leases: new MemoryLeaseStore({ ttlMs: TTL }) };
}

async function startNode(id: string, s: ReturnType<typeof shared>): Promise<Node> {
  const metrics = new MemoryMetrics();
  let c: ClusterCoordinator | null = null;
  const rt = await startRuntime(
    { keyGroups: KG, shards: 2, hosts: 2, ownership: 'leased', snapshotIntervalMs: 50, tailIdleMs: 2 },
    { eventLog: s.eventLog, snapshotStore: s.snapshotStore, rollupSink: new MemoryRollupSink(), alertSink: new MemoryAlertSink(), clock: systemClock, metrics },
    { canDeliver: () => c?.canDeliver() ?? false, onFenced: (k) => c?.onFenced(k) },
  );
  c = await ClusterCoordinator.start(rt, { leases: s.leases, eventLog: s.eventLog, snapshotStore: s.snapshotStore, clock: systemClock, metrics }, { nodeId: id, url: `http://${id}.test`, slots: SLOTS, trimEveryMs: 200 });
  return { id, rt, c, metrics };
}

function ownedSlots(n: Node): number[] {
  return n.c.status().owned;
}

describe('assignSlots', () => {
  it('gives every slot to exactly one member, shares differing by at most one, the same on every node', () => {
    for (const members of [['a'], ['a', 'b'], ['n1', 'n2', 'n3'], ['x', 'y', 'z', 'w', 'v']]) {
      const plan = assignSlots(64, members);
      expect(plan).toHaveLength(64);
      const counts = members.map((m) => plan.filter((p) => p === m).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(assignSlots(64, [...members].reverse())).toEqual(plan);
    }
  });

  it('moves few slots when a member joins (rendezvous, not modulo)', () => {
    const before = assignSlots(64, ['n1', 'n2', 'n3']);
    const after = assignSlots(64, ['n1', 'n2', 'n3', 'n4']);
    const moved = before.filter((m, s) => after[s] !== m).length;
    // The newcomer's fair share is 16; a few more may move to keep the shares even.
    expect(moved).toBeGreaterThanOrEqual(16);
    expect(moved).toBeLessThanOrEqual(24);
  });

  it('slotOfKeyGroup inverts slotKeyGroups for uneven splits', () => {
    for (const [slots, kgs] of [[64, 4096], [7, 100], [16, 256], [3, 3]] as const) {
      const seen = new Set<number>();
      for (let s = 0; s < slots; s++) {
        for (const k of slotKeyGroups(s, slots, kgs)) {
          expect(slotOfKeyGroup(k, slots, kgs)).toBe(s);
          seen.add(k);
        }
      }
      expect(seen.size).toBe(kgs);
    }
  });
});

describe('several runtimes sharing a log, a store and leases', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      await n.c.abandon();
      await n.rt.close().catch(() => undefined);
    }
  });

  it('a joining node takes a fair share; a dead one is taken over; every event counts once', async () => {
    const s = shared();
    const sent = new Map<string, { count: number; sum: number }>();
    const actors = 120;
    let seq = 0;
    const send = async (via: Node): Promise<void> => {
      const batch: RuntimeEvent[] = [];
      for (let i = 0; i < 40; i++) {
        const id = `a${(seq * 13 + i) % actors}`;
        const v = (seq % 7) + 1;
        batch.push({ tenant: 't', kind: 'counter', id, time: seq, body: { v } });
        const o = sent.get(id) ?? { count: 0, sum: 0 };
        o.count++;
        o.sum += v;
        sent.set(id, o);
      }
      seq++;
      await via.rt.submitAsync(batch);
    };

    const a = await startNode('a', s);
    nodes.push(a);
    expect(ownedSlots(a)).toHaveLength(SLOTS);
    for (let i = 0; i < 20; i++) await send(a);

    const b = await startNode('b', s);
    nodes.push(b);
    const c = await startNode('c', s);
    nodes.push(c);
    // Producers write to any node while the slots move.
    const all = [a, b, c];
    for (let i = 0; i < 60; i++) await send(all[i % 3]!);
    await waitFor(() => all.every((n) => ownedSlots(n).length >= 5), 10_000, 'a fair share on every node');
    const owned = all.flatMap(ownedSlots).sort((x, y) => x - y);
    expect(owned).toEqual(Array.from({ length: SLOTS }, (_, i) => i));

    // b dies (stops renewing; its runtime lingers like a paused process): a and c take over.
    const bSlots = ownedSlots(b);
    await b.c.abandon();
    for (let i = 0; i < 60; i++) await send(i % 2 === 0 ? a : c);
    await waitFor(() => ownedSlots(a).length + ownedSlots(c).length === SLOTS, 10_000, 'b\'s slots taken over');
    expect(bSlots.every((sl) => ownedSlots(a).includes(sl) || ownedSlots(c).includes(sl))).toBe(true);
    // b no longer trusts its leases: it delivers nothing and the store refuses its commits.
    expect(b.c.canDeliver()).toBe(false);
    for (let i = 0; i < 10; i++) await send(b); // b's front-end still accepts: the log is shared

    const live = [a, c];
    await waitFor(async () => {
      for (const n of live) await n.rt.settle();
      return live.every((n) => n.rt.tailPosition >= Math.max(...all.map((x) => x.rt.tailPosition)));
    }, 10_000, 'tails caught up');
    await waitFor(async () => {
      for (const [id, want] of sent) {
        const owner = live.find((n) => n.rt.owns('counter', 't', id));
        if (!owner) return false;
        const got = (await owner.rt.inspect('counter', 't', id))?.state as { count: number; sum: number } | undefined;
        if (!got || got.count !== want.count || got.sum !== want.sum) return false;
      }
      return true;
    }, 10_000, 'every actor equal to the oracle on its owner');
    // The shared log is trimmed to the cluster's lowest checkpoint (by the lowest-id member).
    const total = [...sent.values()].reduce((x, o) => x + o.count, 0);
    await waitFor(() => s.eventLog.retained() < total / 2, 10_000, 'the shared log trimmed');
    for (const [id] of sent) {
      const kg = keyGroupOf('t', 'counter', id, KG);
      expect(live.filter((n) => n.rt.owns('counter', 't', id)).length, `key group ${kg} owned once`).toBe(1);
    }
  }, 60_000);

  it('a shard host that dies on a leased node is replaced and restored up to the tail, exactly once', async () => {
    const s = shared();
    const restarts: number[] = [];
    const metrics = new MemoryMetrics();
    let c: ClusterCoordinator | null = null;
    const rt = await startRuntime(
      { keyGroups: KG, shards: 2, hosts: 2, ownership: 'leased', snapshotIntervalMs: 50, tailIdleMs: 2 },
      { eventLog: s.eventLog, snapshotStore: s.snapshotStore, rollupSink: new MemoryRollupSink(), alertSink: new MemoryAlertSink(), clock: systemClock, metrics },
      { canDeliver: () => c?.canDeliver() ?? false, onHostRestarted: (i) => restarts.push(i.hostId) },
    );
    c = await ClusterCoordinator.start(rt, { leases: s.leases, eventLog: s.eventLog, snapshotStore: s.snapshotStore, clock: systemClock, metrics }, { nodeId: 'solo', url: 'http://solo.test', slots: SLOTS });
    nodes.push({ id: 'solo', rt, c, metrics });
    const want = new Map<string, number>();
    for (let f = 0; f < 80; f++) {
      const batch: RuntimeEvent[] = [];
      for (let i = 0; i < 25; i++) {
        const id = `w${(f * 7 + i) % 60}`;
        batch.push({ tenant: 't', kind: 'counter', id, time: f, body: { v: 1 } });
        want.set(id, (want.get(id) ?? 0) + 1);
      }
      await rt.submitAsync(batch);
      if (f === 40) await rt.crashHost(0, 'exit');
    }
    await waitFor(() => restarts.length === 1, 10_000, 'host 0 replaced');
    await waitFor(async () => {
      await rt.settle();
      for (const [id, n] of want) if (((await rt.inspect('counter', 't', id))?.state as { count: number } | undefined)?.count !== n) return false;
      return true;
    }, 10_000, 'every counter equal to the oracle');
  }, 30_000);

  it('a stale owner that wakes up after losing its lease cannot commit over the new owner', async () => {
    const s = shared();
    const a = await startNode('a', s);
    nodes.push(a);
    await a.rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'x', time: 1, body: { v: 1 } }]);
    await a.rt.settle();
    await a.rt.snapshotNow();
    // a stops renewing but keeps its in-memory actors (as if paused); b takes everything.
    await a.c.abandon();
    await new Promise((r) => setTimeout(r, TTL + 50));
    const b = await startNode('b', s);
    nodes.push(b);
    expect(ownedSlots(b)).toHaveLength(SLOTS);
    await b.rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'x', time: 2, body: { v: 10 } }]);
    await waitFor(async () => ((await b.rt.inspect('counter', 't', 'x'))?.state as { sum: number } | undefined)?.sum === 11, 5000, 'b applied');
    await b.rt.snapshotNow();
    const kg = keyGroupOf('t', 'counter', 'x', KG);
    const [tokenB] = await s.snapshotStore.fences([kg]);
    expect(tokenB).toBeGreaterThan(0);
    const [cpB] = await s.snapshotStore.checkpoints([kg]);
    // a, still holding x with its old state and an older checkpoint, commits: the store refuses
    // (fenced) and keeps b's snapshot and checkpoint.
    const [recA] = await s.snapshotStore.load([actorKey('t', 'counter', 'x')]);
    expect(recA?.data).toMatch(/"sum":11/);
    void a.rt.snapshotNow();
    await waitFor(() => (a.metrics.values.get('vigil_fenced_commits_total') ?? 0) > 0, 5000, 'a\'s commit refused');
    const [rec] = await s.snapshotStore.load([actorKey('t', 'counter', 'x')]);
    expect(rec?.data).toMatch(/"sum":11/);
    expect(await s.snapshotStore.checkpoints([kg])).toEqual([cpB]);
  }, 30_000);
});
