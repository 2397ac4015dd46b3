// Per-event verdicts and reports, in-process: a handler's reject/duplicate reaches the report as
// an outcome for that event's sequence; applied events and replays the snapshot covers do not.
import { describe, expect, it } from 'vitest';
import { defineActor } from '../../runtime/actor.js';
import { HostHarness } from './shard-host-harness.js';

/** Remembers event ids: a second event with a known id is a duplicate (a bounded set in real actors). */
const deduper = defineActor<{ ids: string[]; n: number }, { eventId: string; late?: boolean }>({
  kind: 'dedup',
  initialState: () => ({ ids: [], n: 0 }),
  onEvent(s, e, ctx) {
    if (e.late) {
      ctx.reject('too_late', `event ${e.eventId} is past the allowed lateness`);
      return s;
    }
    if (s.ids.includes(e.eventId)) {
      ctx.duplicate();
      return s;
    }
    s.ids.push(e.eventId);
    s.n++;
    return s;
  },
  onMessage(s, m: string, _from, ctx) {
    if (m === 'reject') ctx.reject('nope', 'not for messages');
    if (m === 'dup') ctx.duplicate();
    return s;
  },
});

describe('ShardHost verdicts and reports', () => {
  it('reports duplicates and rejections by sequence; applied events get no verdict', () => {
    const h = new HostHarness({ actors: [deduper] });
    const seqs = h.events([
      { id: 'd', kind: 'dedup', body: { eventId: 'e1' } },
      { id: 'd', kind: 'dedup', body: { eventId: 'e2' } },
      { id: 'd', kind: 'dedup', body: { eventId: 'e1' } },
      { id: 'd', kind: 'dedup', body: { eventId: 'e3', late: true } },
    ]);
    h.settle();
    expect(h.verdicts()).toEqual([
      { seq: seqs[2], code: 'duplicate', message: '' },
      { seq: seqs[3], code: 'too_late', message: 'event e3 is past the allowed lateness' },
    ]);
    expect(h.state<{ n: number }>('d', 'dedup').n).toBe(2);
    // Each verdict is reported once.
    h.events([{ id: 'd', kind: 'dedup', body: { eventId: 'e4' } }]);
    expect(h.verdicts()).toHaveLength(2);
  });

  it('a replayed event the actor\'s snapshot covers is skipped silently, not reported as a duplicate', () => {
    const h = new HostHarness({ actors: [deduper] });
    h.events([{ id: 'd', kind: 'dedup', body: { eventId: 'e1' } }, { id: 'd', kind: 'dedup', body: { eventId: 'e2' } }]);
    h.settle();
    h.events([1, 2].map((seq) => ({ seq, id: 'd', kind: 'dedup', body: { eventId: `e${seq}` } })));
    expect(h.verdicts()).toEqual([]);
    expect(h.inspect('d', 'dedup')?.lastSeq).toBe(2);
    expect(h.total('events')).toBe(2);
  });

  it('reject or duplicate outside an event handler fails the actor instead of recording a verdict', () => {
    const h = new HostHarness({ actors: [deduper] });
    h.events([{ id: 'd', kind: 'dedup', body: { eventId: 'e1' } }]);
    h.settle();
    h.message('d', 'reject', { kind: 'dedup', id: 'x' }, 'dedup');
    expect(h.verdicts()).toEqual([]);
    expect(h.inspect('d', 'dedup')).toMatchObject({ status: 'failed', error: { code: 'actor_failed', message: 'dedup d: ctx.reject is only for events' } });
  });

  it('reports when something changed, with counters since the last report and gauges as of now', () => {
    const h = new HostHarness();
    h.events([{ id: 'a', body: { v: 1 } }, { id: 'b', body: { v: 1 } }]);
    expect(h.reports()).toHaveLength(1);
    expect(h.reports()[0]).toMatchObject({ appliedSeq: 0, stats: { events: 0, active: 0, parked: 2 } });
    h.settle();
    const n = h.reports().length;
    expect(h.reports().at(-1)).toMatchObject({ appliedSeq: 2, stats: { events: 2, activations: 2, active: 2, parked: 0 } });
    // Nothing new: ticks send no report.
    h.advance(100);
    expect(h.reports()).toHaveLength(n);
    h.events([{ id: 'a', body: { v: 1, timerIn: 50 } }]);
    expect(h.reports().at(-1)).toMatchObject({ appliedSeq: 3, stats: { events: 1, activations: 0, wheel: 1 } });
    h.advance(50);
    // The timer emits a rollup, so a report goes out with it.
    expect(h.reports().at(-1)).toMatchObject({ stats: { timers: 1, wheel: 0 }, rollups: [{ actorId: 'a', metric: 'timer:t' }] });
  });

  it('messages to actors on other hosts leave in the report; local ones are delivered in place', () => {
    const h = new HostHarness({ init: { ranges: [[0, 32]] } });
    const local = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].find((id) => h.kg(id) < 32)!;
    const remote = ['q0', 'q1', 'q2', 'q3', 'q4', 'q5'].find((id) => h.kg(id) >= 32)!;
    const sender = ['s0', 's1', 's2', 's3', 's4', 's5'].find((id) => h.kg(id) < 32)!;
    h.events([{ id: sender }, { id: local }]);
    h.settle();
    h.events([{ id: sender, body: { ping: local } }, { id: sender, body: { ping: remote } }]);
    expect(h.state<{ pings: number }>(local).pings).toBe(1);
    const out = h.reports().at(-1)!.messages!;
    expect(out).toMatchObject({ n: 1, id: [remote], kg: [h.kg(remote)], fromId: [sender], body: [{ from: sender }] });
  });
});
