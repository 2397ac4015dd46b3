// Supervision inside one host, in-process: a throwing handler or an undecodable snapshot fails
// that actor, which becomes state the host reports (failure, verdicts), never a host crash.
import { describe, expect, it } from 'vitest';
import { defineActor } from '../../runtime/actor.js';
import { actorKey } from '../../runtime/ids.js';
import { encodeSnapshot } from '../../runtime/snapshot-codec.js';
import { counter } from '../fixtures/counter-actor.js';
import { HostHarness } from './shard-host-harness.js';

type Counter = { count: number; sum: number };

const ticking = defineActor<{ n: number }, { arm?: number }>({
  kind: 'ticking',
  initialState: () => ({ n: 0 }),
  onEvent(s, e, ctx) {
    if (e.arm !== undefined) ctx.setTimer('t', ctx.now() + e.arm);
    s.n++;
    return s;
  },
  onTimer() {
    throw new Error('timer went wrong');
  },
});

describe('ShardHost failed actors', () => {
  it('a throwing handler fails its actor; the host and the other actors go on', () => {
    const h = new HostHarness();
    h.events([{ id: 'bad', body: { v: 1 } }, { id: 'good', body: { v: 1 } }]);
    h.settle();
    const [boom, , after] = h.events([
      { id: 'bad', body: { boom: true } },
      { id: 'good', body: { v: 2 } },
      { id: 'bad', body: { v: 5 } },
    ]);
    expect(h.failures()).toEqual([
      { tenant: 't', kind: 'counter', id: 'bad', seq: boom, error: { code: 'actor_failed', message: 'counter bad: boom requested' } },
    ]);
    expect(h.verdicts()).toEqual([
      { seq: boom, code: 'actor_failed', message: 'counter bad: boom requested' },
      { seq: after, code: 'actor_failed', message: 'counter bad has failed: counter bad: boom requested' },
    ]);
    expect(h.inspect('bad')).toMatchObject({ status: 'failed', error: { code: 'actor_failed' } });
    expect(h.state<Counter>('good')).toMatchObject({ count: 2, sum: 3 });
    // The failing event still counts as applied: appliedSeq moves past it.
    expect(h.appliedSeq()).toBe(after);
    expect(h.total('rejected')).toBe(1);
  });

  it('messages to a failed actor are dropped and counted, not delivered', () => {
    const h = new HostHarness();
    h.events([{ id: 'bad', body: { boom: true } }]);
    h.settle();
    h.message('bad', { from: 'x' });
    // Counters ride on the next report: make one.
    h.events([{ id: 'other' }]);
    h.settle();
    expect(h.total('rejected')).toBe(1);
    expect(h.total('messages')).toBe(0);
  });

  it('a throwing timer handler fails the actor with no sequence', () => {
    const h = new HostHarness({ actors: [ticking] });
    h.events([{ id: 'k', kind: 'ticking', body: { arm: 10 } }]);
    h.settle();
    h.advance(20);
    expect(h.failures()).toEqual([
      { tenant: 't', kind: 'ticking', id: 'k', seq: NaN, error: { code: 'actor_failed', message: 'ticking k: timer went wrong' } },
    ]);
    expect(h.verdicts()).toEqual([]);
    expect(h.inspect('k', 'ticking')?.status).toBe('failed');
  });

  it('an undecodable snapshot fails the actor with snapshot_decode_failed and rejects its parked events', () => {
    const h = new HostHarness();
    h.seed('counter', 't', 'c', 'not json\n{"count":', 3);
    const [seq] = h.events([{ id: 'c', body: { v: 1 } }]);
    h.settle();
    expect(h.failures()).toMatchObject([{ id: 'c', seq: NaN, error: { code: 'snapshot_decode_failed' } }]);
    expect(h.verdicts()).toMatchObject([{ seq, code: 'actor_failed', message: expect.stringMatching(/has failed/) }]);
    expect(h.inspect('c')).toMatchObject({ status: 'failed', error: { code: 'snapshot_decode_failed' } });
    expect(h.appliedSeq()).toBe(seq);
  });

  it('a failed actor is not snapshotted; reset drops it and the next event rehydrates the last good snapshot', () => {
    const h = new HostHarness({ actors: [counter], init: { idleAfterMs: 100, passivationSweepMs: 50 } });
    h.events([{ id: 'r', body: { v: 4 } }]);
    h.settle();
    void h.host.snapshotNow();
    h.settle();
    const good = h.store.get(actorKey('t', 'counter', 'r'))!;
    h.events([{ id: 'r', body: { v: 100 } }, { id: 'r', body: { boom: true } }]);
    h.advance(1000);
    // It passivated meanwhile (failed state is dropped, not written): the store still has the good one.
    expect(h.inspect('r')).toBeNull();
    expect(h.store.get(actorKey('t', 'counter', 'r'))).toBe(good);

    h.events([{ id: 'r', body: { boom: true } }]);
    h.settle();
    expect(h.inspect('r')?.status).toBe('failed');
    expect(h.host.resetActor('counter', 't', 'r')).toBe(true);
    expect(h.host.resetActor('counter', 't', 'r')).toBe(false);
    h.events([{ id: 'r', body: { v: 1 } }]);
    h.settle();
    expect(h.state<Counter>('r')).toMatchObject({ count: 2, sum: 5 });
  });

  it('a snapshot with a bad header but the envelope intact still fails cleanly', () => {
    const h = new HostHarness();
    h.seed('counter', 't', 'h', `{bad\n${JSON.stringify({ count: 1 })}`, 1);
    h.events([{ id: 'h', body: { v: 1 } }]);
    h.settle();
    expect(h.inspect('h')?.status).toBe('failed');
    // A well-formed one for another actor is unaffected.
    h.seed('counter', 't', 'ok', encodeSnapshot(-Infinity, null, JSON.stringify({ count: 1, sum: 1, seen: [], timers: 0, pings: 0 })), 1);
    h.events([{ id: 'ok', body: { v: 1 } }]);
    h.settle();
    expect(h.state<Counter>('ok')).toMatchObject({ count: 2, sum: 2 });
  });
});
