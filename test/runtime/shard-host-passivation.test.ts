// Passivation and commits, in-process: idle actors leave memory with a snapshot first, come back
// from it, and key groups are handed over only after their actors' snapshots are committed.
import { describe, expect, it } from 'vitest';
import { defineActor } from '../../runtime/actor.js';
import { actorKey } from '../../runtime/ids.js';
import { decodeSnapshot } from '../../runtime/snapshot-codec.js';
import { counter } from '../fixtures/counter-actor.js';
import { HostHarness, recorder } from './shard-host-harness.js';

type Counter = { count: number; sum: number };
const idle = { idleAfterMs: 100, passivationSweepMs: 50 };

describe('ShardHost passivation', () => {
  it('passivates an idle actor at a sweep, committing its snapshot, and rehydrates it on the next event', () => {
    const h = new HostHarness({ init: idle });
    h.events([{ id: 'a', time: 500, body: { v: 2 } }]);
    h.settle();
    h.advance(90);
    expect(h.host.counts().active).toBe(1);
    h.advance(100);
    expect(h.host.counts().active).toBe(0);
    expect(h.inspect('a')).toBeNull();

    const [commit] = h.commits();
    expect(commit!.snapshots.map((s) => s.key)).toEqual([actorKey('t', 'counter', 'a')]);
    const rec = h.store.get(actorKey('t', 'counter', 'a'))!;
    expect(rec.seq).toBe(1);
    const snap = decodeSnapshot(rec.data);
    expect(snap.watermark).toBe(500);
    expect(JSON.parse(snap.body)).toMatchObject({ count: 1, sum: 2 });

    h.events([{ id: 'a', body: { v: 3 } }]);
    h.settle();
    expect(h.state<Counter>('a')).toMatchObject({ count: 2, sum: 5 });
    expect(h.total('activations')).toBe(2);
    expect(h.total('passivations')).toBe(1);
  });

  it('keeps actors that take input resident; idleness is per kind', () => {
    const sleepy = defineActor({ ...recorder, kind: 'sleepy', idleAfterMs: 20 });
    const h = new HostHarness({ actors: [counter, sleepy], init: { idleAfterMs: 1000, passivationSweepMs: 10 } });
    h.events([{ id: 'busy' }, { id: 's', kind: 'sleepy' }]);
    h.settle();
    for (let i = 0; i < 20; i++) {
      h.advance(100);
      h.events([{ id: 'busy' }]);
    }
    expect(h.inspect('busy')?.status).toBe('active');
    expect(h.inspect('s', 'sleepy')).toBeNull();
  });

  it('an actor reactivated before its passivation snapshot is committed reads that snapshot, not the store', () => {
    const h = new HostHarness({ init: idle });
    h.events([{ id: 'x', body: { v: 5 } }]);
    h.settle();
    h.holdCommits = true;
    h.advance(200);
    expect(h.host.counts().active).toBe(0);
    expect(h.store.size).toBe(0);
    const loads = h.loads().length;
    h.events([{ id: 'x', body: { v: 1 } }]);
    // Active at once, from the pending write: no load round trip.
    expect(h.loads().length).toBe(loads);
    expect(h.state<Counter>('x')).toMatchObject({ count: 2, sum: 6 });
    h.releaseCommits();
    expect(h.store.size).toBe(1);
  });

  it('commits dirty actors on the snapshot interval and checkpoints the owned key groups at appliedSeq', () => {
    const h = new HostHarness({ init: { snapshotIntervalMs: 100 } });
    h.events([{ id: 'a', body: { v: 1 } }, { id: 'b', body: { v: 1 } }]);
    h.settle();
    h.advance(100);
    const c = h.commits().at(-1)!;
    expect(c.snapshots).toHaveLength(2);
    expect(c.checkpointSeq).toBe(2);
    expect(c.ranges).toEqual([[0, 64]]);
    // Nothing changed since: the next interval commit writes no snapshot.
    h.advance(100);
    expect(h.commits().at(-1)!.snapshots).toEqual([]);
  });

  it('a failed commit puts its snapshots into the next one', () => {
    const h = new HostHarness({ init: idle });
    h.events([{ id: 'a', body: { v: 1 } }, { id: 'b', body: { v: 1 } }]);
    h.settle();
    h.events([{ id: 'b', body: { v: 1 } }]);
    h.commitError = { code: 'store_unavailable', message: 'down' };
    h.advance(200);
    expect(h.commits().length).toBeGreaterThanOrEqual(2);
    expect(h.store.get(actorKey('t', 'counter', 'a'))).toBeDefined();
    expect(JSON.parse(decodeSnapshot(h.store.get(actorKey('t', 'counter', 'b'))!.data).body)).toMatchObject({ sum: 2 });
  });

  it('release passivates the actors of the key groups, commits, and only then reports released', () => {
    const h = new HostHarness();
    const ids = Array.from({ length: 20 }, (_, i) => `k${i}`);
    h.events(ids.map((id) => ({ id, body: { v: 1 } })));
    h.settle();
    void h.host.snapshotNow();
    h.settle();
    const moving = ids.filter((id) => h.kg(id) < 32);
    // Only the moving actors changed since that commit, so only they have snapshots to write.
    h.events(moving.map((id) => ({ id, body: { v: 1 } })));
    h.holdCommits = true;
    h.send({ t: 'release', req: 77, ranges: [[0, 32]], epoch: 2 });
    expect(h.host.counts().active).toBe(ids.length - moving.length);
    const commit = h.commits().at(-1)!;
    expect(commit.snapshots.map((s) => s.key).sort()).toEqual(moving.map((id) => actorKey('t', 'counter', id)).sort());
    // Released key groups are checkpointed once more, by their last owner.
    expect(commit.ranges).toEqual([[32, 64], [0, 32]]);
    expect(h.posted.some((m) => m.t === 'released')).toBe(false);
    h.releaseCommits();
    expect(h.posted.filter((m) => m.t === 'released')).toEqual([{ t: 'released', req: 77, actors: moving.length }]);
    // No longer owned: the next commit leaves those key groups out.
    h.advance(60_000);
    expect(h.commits().at(-1)!.ranges).toEqual([[32, 64]]);
  });

  it('a release waits behind events still parked for an activating actor', () => {
    const h = new HostHarness();
    h.events([{ id: 'new', body: { v: 1 } }]);
    h.send({ t: 'release', req: 1, ranges: [[0, 64]], epoch: 2 });
    expect(h.host.counts().inbox).toBe(1);
    h.settle();
    expect(h.host.counts()).toMatchObject({ inbox: 0, active: 0 });
    expect(JSON.parse(decodeSnapshot(h.store.get(actorKey('t', 'counter', 'new'))!.data).body)).toMatchObject({ sum: 1 });
    expect(h.posted.some((m) => m.t === 'released')).toBe(true);
  });

  it('does not checkpoint acquired key groups until their replay is marked done', () => {
    const h = new HostHarness({ init: { ranges: [[0, 32]], snapshotIntervalMs: 100 } });
    h.send({ t: 'acquire', ranges: [[32, 64]], epoch: 2, replaying: true });
    h.advance(100);
    expect(h.commits().at(-1)!.ranges).toEqual([[0, 32]]);
    h.send({ t: 'replayed', ranges: [[32, 64]] });
    h.advance(100);
    expect(h.commits().at(-1)!.ranges).toEqual([[0, 64]]);
  });

  it('drain passivates everything with snapshots and stops taking input', async () => {
    const h = new HostHarness();
    h.events([{ id: 'a', body: { v: 1 } }, { id: 'b', body: { v: 2 } }]);
    h.settle();
    const drained = h.host.drain();
    h.settle();
    await drained;
    expect(h.store.size).toBe(2);
    expect(h.host.counts().active).toBe(0);
    const posted = h.posted.length;
    h.events([{ id: 'a' }]);
    h.advance(1000);
    expect(h.posted.length).toBe(posted);
  });
});
