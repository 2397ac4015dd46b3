// Replayed events run at the processing time they were first appended at (EventBatch.at): a
// processing-time timer they re-arm counts from then, not from the restore. In-process, on a
// ManualClock.
import { describe, expect, it } from 'vitest';
import { emptyBatch, pushEvent, sealBatch } from '../../runtime/batch.js';
import { HostHarness, type RecorderEvent } from './shard-host-harness.js';

type Log = { log: string[] };
const T0 = 1_000_000;
const ALL: [number, number][] = [[0, 64]];

interface Replayed {
  id: string;
  seq: number;
  /** Append time; NaN: unknown. */
  at: number;
  body?: RecorderEvent;
}

/** One batch as a log replay delivers it: sequences from the log, and each event's append time. */
function replay(h: HostHarness, list: Replayed[]): void {
  const b = emptyBatch(list.length);
  b.at = new Float64Array(list.length);
  for (const e of list) {
    pushEvent(b, h.kg(e.id, 'rec'), h.kindIndex('rec'), 't', e.id, 0, e.body ?? {}, e.seq);
    b.at[b.n - 1] = e.at;
  }
  h.send({ t: 'events', batch: sealBatch(b), lastSeq: Math.max(...list.map((e) => e.seq)) });
}

const timersOf = (h: HostHarness, id: string): string[] => h.state<Log>(id, 'rec').log.filter((l) => l.startsWith('t:'));

describe('ShardHost: replayed events and processing time', () => {
  it('a replayed event (actor activating) arms its timer from its append time', () => {
    const h = new HostHarness({ start: T0 });
    replay(h, [{ id: 'a', seq: 1, at: T0 - 3000, body: { timer: { name: 'x', in: 5000 } } }]);
    h.settle(); // the load comes back: the parked event is applied now, still at its append time
    h.send({ t: 'replayed', ranges: ALL });
    h.advance(1990);
    expect(timersOf(h, 'a')).toEqual([]);
    h.advance(20);
    expect(timersOf(h, 'a')).toEqual([`t:x@${T0 + 2000}`]);
  });

  it('a replayed event for a resident actor too; a live event after it uses the clock', () => {
    const h = new HostHarness({ start: T0 });
    h.events([{ id: 'a', kind: 'rec' }]);
    h.settle();
    replay(h, [{ id: 'a', seq: 2, at: T0 - 4000, body: { timer: { name: 'x', in: 5000 } } }]);
    h.send({ t: 'replayed', ranges: ALL });
    h.advance(1010);
    expect(timersOf(h, 'a')).toEqual([`t:x@${T0 + 1000}`]);
    h.events([{ id: 'a', kind: 'rec', seq: 3, body: { timer: { name: 'y', in: 5000 } } }]);
    h.advance(4990);
    expect(timersOf(h, 'a')).toEqual([`t:x@${T0 + 1000}`]);
    h.advance(30);
    expect(timersOf(h, 'a')).toEqual([`t:x@${T0 + 1000}`, `t:y@${T0 + 1010 + 5000}`]);
  });

  it('never later than now: an append time ahead of the clock, or none, counts from the clock', () => {
    const h = new HostHarness({ start: T0 });
    replay(h, [
      { id: 'a', seq: 1, at: T0 + 60_000, body: { timer: { name: 'x', in: 100 } } },
      { id: 'b', seq: 2, at: NaN, body: { timer: { name: 'x', in: 100 } } },
    ]);
    h.settle();
    h.send({ t: 'replayed', ranges: ALL });
    h.advance(110);
    expect(timersOf(h, 'a')).toEqual([`t:x@${T0 + 100}`]);
    expect(timersOf(h, 'b')).toEqual([`t:x@${T0 + 100}`]);
  });

  it('a deadline already past waits for the end of the replay: a later replayed reading re-arms it, none fires in between', () => {
    const h = new HostHarness({ start: T0 });
    // Readings 1 s apart, 10 s before the restore, each re-arming a 5 s timer: every deadline
    // is past, but in the original run none came due before the next reading.
    replay(h, [{ id: 'a', seq: 1, at: T0 - 10_000, body: { timer: { name: 'lost', in: 5000 } } }]);
    h.settle();
    h.advance(200);
    replay(h, [{ id: 'a', seq: 2, at: T0 - 9000, body: { timer: { name: 'lost', in: 5000 } } }]);
    h.advance(200);
    replay(h, [{ id: 'a', seq: 3, at: T0 - 8000, body: { timer: { name: 'lost', in: 5000 } } }]);
    h.advance(200);
    expect(timersOf(h, 'a')).toEqual([]);
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1', 'e2', 'e3']);
    // The replay is applied: the last reading's deadline (past) fires on the next tick, once.
    h.send({ t: 'replayed', ranges: ALL });
    h.advance(10);
    expect(timersOf(h, 'a')).toEqual([`t:lost@${T0 - 3000}`]);
    h.advance(10_000);
    expect(timersOf(h, 'a')).toHaveLength(1);
    expect(h.host.counts().timers).toBe(0);
  });

  it('holds only the key groups being replayed: a live actor elsewhere fires on time', () => {
    const h = new HostHarness({ start: T0 });
    const ids = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
    const replayedId = 'a';
    const live = ids.find((id) => h.kg(id, 'rec') !== h.kg(replayedId, 'rec'))!;
    h.events([{ id: live, kind: 'rec', body: { timer: { name: 'x', in: 50 } } }]);
    h.settle();
    replay(h, [{ id: replayedId, seq: 10, at: T0 - 10_000, body: { timer: { name: 'x', in: 20 } } }]);
    h.settle();
    h.advance(60);
    expect(timersOf(h, live)).toEqual([`t:x@${T0 + 50}`]);
    expect(timersOf(h, replayedId)).toEqual([]);
    h.send({ t: 'replayed', ranges: [[h.kg(replayedId, 'rec'), h.kg(replayedId, 'rec') + 1]] });
    h.advance(10);
    expect(timersOf(h, replayedId)).toEqual([`t:x@${T0 - 9980}`]);
  });

  it('a held timer cancelled before the replay ends never fires', () => {
    const h = new HostHarness({ start: T0 });
    replay(h, [{ id: 'a', seq: 1, at: T0 - 10_000, body: { timer: { name: 'x', in: 1000 } } }]);
    h.settle();
    h.advance(50);
    replay(h, [{ id: 'a', seq: 2, at: T0 - 9500, body: { cancel: 'x' } }]);
    h.send({ t: 'replayed', ranges: ALL });
    h.advance(1000);
    expect(timersOf(h, 'a')).toEqual([]);
    expect(h.host.counts().timers).toBe(0);
  });
});
