// Durable timers (reminders), in-process on a ManualClock: a passivated actor's processing-time
// timers are in its snapshot and in its key group's due index, written by the same commit; a host
// that restarts (gracefully or not), takes key groups over in a rescale or restores them after a
// crash reads the index and wakes the actor when due, with nothing else to wake it. A timer
// fires once: its firing is committed at once, and a restart from that commit does not repeat it.
import { describe, expect, it } from 'vitest';
import { actorKey } from '../../runtime/ids.js';
import { decodeSnapshot } from '../../runtime/snapshot-codec.js';
import { HostHarness, type HarnessOptions } from './shard-host-harness.js';

type Log = { log: string[] };
const T0 = 1_000_000;
const idle = { idleAfterMs: 100, passivationSweepMs: 50 };
const KEY_A = actorKey('t', 'rec', 'a');

/** A host on the store `from` left behind (as a restarted node or another host would find it). */
function successor(from: HostHarness, opts: HarnessOptions): HostHarness {
  const h = new HostHarness(opts);
  for (const [k, v] of from.store) h.store.set(k, v);
  for (const [k, v] of from.checkpoints) h.checkpoints.set(k, v);
  for (const [kg, idx] of from.dueIndex) h.dueIndex.set(kg, new Map(idx));
  return h;
}

/** The timers actor `a` saw: from memory when resident, else from its committed snapshot. */
function timerLines(h: HostHarness): string[] {
  const i = h.inspect('a', 'rec');
  const data = i?.data ?? (h.store.has(KEY_A) ? decodeSnapshot(h.store.get(KEY_A)!.data).body : null);
  if (data === null) return [];
  return (JSON.parse(data) as Log).log.filter((l) => l.startsWith('t:'));
}

/** Whether the host asked the store for actor `a` (activated it) since `from` posts. */
function loadedA(h: HostHarness, from = 0): boolean {
  return h.posted.slice(from).some((m) => m.t === 'load' && m.keys.includes(KEY_A));
}

/** Actor `a` arms `late` at T0 + `inMs` (> 160) and passivates at T0 + 150 (its snapshot committed). */
function armedAndPassivated(inMs: number, init: HarnessOptions['init'] = {}): HostHarness {
  const h = new HostHarness({ start: T0, init: { ...idle, ...init } });
  h.events([{ id: 'a', kind: 'rec', body: { n: 'arm', timer: { name: 'late', in: inMs } } }]);
  h.settle();
  h.advance(160);
  expect(h.inspect('a', 'rec')).toBeNull();
  return h;
}

describe('ShardHost reminders (durable timers)', () => {
  it('the passivation commit writes the actor\'s timer into its key group\'s due index', () => {
    const h = armedAndPassivated(5000);
    const kg = h.kg('a', 'rec');
    expect([...(h.dueIndex.get(kg) ?? [])]).toEqual([[KEY_A, T0 + 5000]]);
    expect(decodeSnapshot(h.store.get(KEY_A)!.data).timers).toEqual([['late', 'processing', T0 + 5000]]);
    // In memory meanwhile: one wake-up, not the timer.
    expect(h.host.counts().timers).toBe(1);
  });

  it('after a restart the due index wakes the passivated actor and its timer fires once, on time', () => {
    const before = armedAndPassivated(5000);
    // The process dies (no drain): a new host on the same store, restored at T0 + 1000.
    const h = successor(before, { start: T0 + 1000, init: idle });
    expect(h.host.counts().timers).toBe(0);
    // Nothing is read before the main thread says the key groups are restored (replay applied).
    expect(h.posted.some((m) => m.t === 'due')).toBe(false);
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.settle();
    expect(h.posted.filter((m) => m.t === 'due')).toHaveLength(1);
    expect(h.host.counts()).toMatchObject({ timers: 1, active: 0 });
    h.advance(3990);
    expect(h.inspect('a', 'rec')).toBeNull();
    h.advance(20); // one tick past the deadline: woken, loaded, and the restored timer fires
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1:arm', `t:late@${T0 + 5000}`]);
    expect(h.clock.now() - (T0 + 5000)).toBeLessThanOrEqual(2 * h.init.timerTickMs);
    h.advance(10_000);
    expect(h.inspect('a', 'rec')).toBeNull(); // idle again, passivated with its firing
    expect(timerLines(h)).toEqual([`t:late@${T0 + 5000}`]);
    expect(h.host.counts().timers).toBe(0);
  });

  it('a timer already due when the node comes back fires right after the restore', () => {
    const before = armedAndPassivated(500);
    const h = successor(before, { start: T0 + 60_000, init: idle });
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.settle();
    h.advance(20);
    expect(timerLines(h)).toEqual([`t:late@${T0 + 500}`]);
  });

  it('fires at most once: the firing is committed at once and a restart from that commit does not repeat it', () => {
    // A long snapshot interval: only the firing itself causes the commit.
    const before = armedAndPassivated(500, { snapshotIntervalMs: 600_000 });
    const kg = before.kg('a', 'rec');
    before.advance(100);
    // Another actor, dirty: the prompt commit leaves it (and the checkpoints) to the full one.
    before.events([{ id: 'other', kind: 'rec', body: { n: 'dirty' } }]);
    before.settle();
    const commits = before.commits().length;
    before.advance(500 - 260 + 10);
    expect(timerLines(before)).toEqual([`t:late@${T0 + 500}`]);
    const withA = before.commits().slice(commits).filter((c) => c.snapshots.some((r) => r.key === KEY_A));
    expect(withA).toHaveLength(1);
    expect(withA[0]!.snapshots.map((r) => r.key)).toEqual([KEY_A]);
    expect(withA[0]!.ranges).toEqual([]);
    expect(withA[0]!.checkpointSeq).toBeLessThanOrEqual(before.appliedSeq());
    expect(before.dueIndex.get(kg)?.has(KEY_A) ?? false).toBe(false);
    expect(decodeSnapshot(before.store.get(KEY_A)!.data).timers).toEqual([]);

    // kill -9 right after: the successor finds no timer to fire.
    const h = successor(before, { start: T0 + 1000, init: idle });
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.advance(60_000);
    expect(h.host.counts().timers).toBe(0);
    expect(loadedA(h)).toBe(false);
    expect(timerLines(h)).toEqual([`t:late@${T0 + 500}`]);
  });

  it('an actor busy with uncommitted events is not written on each firing: the interval commit records it', () => {
    const h = new HostHarness({ start: T0, init: { snapshotIntervalMs: 1000 } });
    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 'tick', in: 100 } } }]);
    h.settle();
    const commits = h.commits().length;
    for (let i = 0; i < 5; i++) {
      h.advance(50);
      h.events([{ id: 'a', kind: 'rec', body: { n: `busy${i}` } }]);
    }
    h.advance(50);
    expect(timerLines(h)).toEqual([`t:tick@${T0 + 100}`]);
    expect(h.commits().length).toBe(commits);
    h.advance(1000);
    expect(h.commits().length).toBe(commits + 1);
    expect(h.commits().at(-1)!.ranges).toEqual([[0, 64]]);
  });

  it('a stale index entry wakes the actor but fires nothing its snapshot does not hold', () => {
    const before = armedAndPassivated(500);
    const kg = before.kg('a', 'rec');
    // The index says due (e.g. written by a version that kept entries longer), the snapshot has no timer.
    before.events([{ id: 'a', kind: 'rec', body: { cancel: 'late' } }]);
    before.settle();
    before.advance(160);
    expect(before.dueIndex.get(kg)?.has(KEY_A) ?? false).toBe(false);
    const h = successor(before, { start: T0 + 1000, init: idle });
    h.dueIndex.set(kg, new Map([[KEY_A, T0 + 600]]));
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.advance(100);
    expect(loadedA(h)).toBe(true);
    expect(timerLines(h)).toEqual([]);
    // And the stale entry is removed by the next commit (no wake-up at the next restart).
    h.advance(200);
    expect(h.dueIndex.get(kg)?.has(KEY_A) ?? false).toBe(false);
  });

  it('actors that never had a processing-time timer write nothing to the due index', () => {
    const h = new HostHarness({ start: T0, init: { ...idle, snapshotIntervalMs: 50 } });
    h.events([{ id: 'a', kind: 'rec', body: { n: 'x' } }, { id: 'b', kind: 'rec', body: { eventTimer: { name: 'e', at: 5 } } }, { id: 'c' }]);
    h.settle();
    h.advance(300);
    expect(h.commits().length).toBeGreaterThan(0);
    expect(h.commits().flatMap((c) => c.due ?? [])).toEqual([]);
    // One that had a timer removes its entry once, then nothing more.
    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 't', in: 100 } } }]);
    h.settle();
    h.advance(500);
    const changes = h.commits().flatMap((c) => c.due ?? []).filter((d) => d.key === KEY_A).map((d) => d.at);
    expect(changes).toEqual([T0 + 300 + 100, null]);
  });

  it('an actor that comes back by an event before its due time keeps one timer, fired once', () => {
    const h = armedAndPassivated(1000);
    h.events([{ id: 'a', kind: 'rec', body: { n: 'back' } }]);
    h.settle();
    expect(h.host.counts().timers).toBe(1); // its restored timer; the wake-up is gone
    h.advance(1000);
    expect(timerLines(h)).toEqual([`t:late@${T0 + 1000}`]);
    h.advance(5000);
    expect(timerLines(h)).toEqual([`t:late@${T0 + 1000}`]);
  });

  it('re-arming after a restore moves the index entry with the next commit', () => {
    const h = armedAndPassivated(1000);
    const kg = h.kg('a', 'rec');
    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 'late', in: 9000 } } }]);
    h.settle();
    h.advance(300);
    expect(h.inspect('a', 'rec')).toBeNull();
    expect(h.dueIndex.get(kg)?.get(KEY_A)).toBe(T0 + 160 + 9000);
    h.advance(1000);
    expect(timerLines(h)).toEqual([]);
  });

  it('a rescale hand-over: the old host drops its wake-ups, the new one loads the index and fires on time', () => {
    const old = armedAndPassivated(2000, { ranges: [[0, 64]] });
    const kg = old.kg('a', 'rec');
    old.send({ t: 'release', req: 1, ranges: [[0, 64]], epoch: 2 });
    old.settle();
    expect(old.posted.some((m) => m.t === 'released')).toBe(true);
    expect(old.host.counts().timers).toBe(0);
    expect(old.dueIndex.get(kg)?.get(KEY_A)).toBe(T0 + 2000);

    const next = successor(old, { start: T0 + 400, init: { ...idle, ranges: [] } });
    next.send({ t: 'acquire', ranges: [[0, 64]], epoch: 2 });
    next.settle();
    expect(next.host.counts().timers).toBe(1);
    next.advance(1590);
    expect(next.inspect('a', 'rec')).toBeNull();
    next.advance(20);
    expect(timerLines(next)).toEqual([`t:late@${T0 + 2000}`]);
    // And the old host woke nothing.
    const posted = old.posted.length;
    old.advance(5000);
    expect(loadedA(old, posted)).toBe(false);
  });

  it('a takeover with replay loads the index only once the replay is applied', () => {
    const before = armedAndPassivated(300);
    const h = successor(before, { start: T0 + 1000, init: { ...idle, ranges: [] } });
    h.send({ t: 'acquire', ranges: [[0, 64]], epoch: 2, replaying: true });
    h.settle();
    h.advance(100);
    expect(h.posted.some((m) => m.t === 'due')).toBe(false);
    expect(loadedA(h)).toBe(false);
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.settle();
    h.advance(20);
    expect(timerLines(h)).toEqual([`t:late@${T0 + 300}`]);
  });

  it('a store that cannot read the index is asked again', () => {
    const before = armedAndPassivated(300);
    const h = successor(before, { start: T0 + 1000, init: idle });
    h.loadError = { code: 'store_unavailable', message: 'redis down' };
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.settle();
    expect(h.host.counts().timers).toBe(0);
    h.advance(20);
    expect(h.posted.filter((m) => m.t === 'due')).toHaveLength(2);
    h.advance(20);
    expect(timerLines(h)).toEqual([`t:late@${T0 + 300}`]);
  });

  it('key groups it does not own are not woken', () => {
    const before = armedAndPassivated(300);
    const kg = before.kg('a', 'rec');
    const ranges = ([[0, kg], [kg + 1, 64]] as [number, number][]).filter(([x, y]) => y > x);
    const h = successor(before, { start: T0 + 1000, init: { ...idle, ranges } });
    h.send({ t: 'replayed', ranges: [[0, 64]] });
    h.advance(1000);
    expect(h.posted.filter((m) => m.t === 'due')).toHaveLength(1);
    expect(loadedA(h)).toBe(false);
  });
});
