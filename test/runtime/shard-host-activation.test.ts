// Activation and mailboxes, in-process: input for an activating actor is parked in arrival
// order and applied when its snapshot comes back, while every other actor proceeds.
import { describe, expect, it } from 'vitest';
import { actorKey } from '../../runtime/ids.js';
import { encodeSnapshot } from '../../runtime/snapshot-codec.js';
import { HostHarness } from './shard-host-harness.js';

type Log = { log: string[] };

describe('ShardHost activation and mailboxes', () => {
  it('parks a new actor\'s input until its load is answered, then applies it in order', () => {
    const h = new HostHarness();
    h.events([{ id: 'a', kind: 'rec', body: { n: 'x' } }, { id: 'a', kind: 'rec', body: { n: 'y' } }]);
    expect(h.loads()).toEqual([{ t: 'load', req: 1, keys: [actorKey('t', 'rec', 'a')] }]);
    expect(h.inspect('a', 'rec')).toMatchObject({ status: 'activating', data: null });
    expect(h.host.counts()).toMatchObject({ parked: 2, active: 0, appliedSeq: 0 });

    h.settle();
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1:x', 'e2:y']);
    expect(h.host.counts()).toMatchObject({ parked: 0, active: 1, appliedSeq: 2 });
    expect(h.appliedSeq()).toBe(2);
    expect(h.total('activations')).toBe(1);
  });

  it('keeps events and messages for an activating actor in arrival order', () => {
    const h = new HostHarness();
    h.events([{ id: 'b', kind: 'rec' }]);
    h.settle();
    // `a` is new: its event, then b's message to it, then its second event all wait in one mailbox.
    h.events([
      { id: 'a', kind: 'rec', body: { n: 'first' } },
      { id: 'b', kind: 'rec', body: { to: 'a', n: 'hello' } },
      { id: 'a', kind: 'rec', body: { n: 'second' } },
    ]);
    h.message('a', 'remote', { kind: 'rec', id: 'far' }, 'rec');
    expect(h.host.counts().parked).toBe(4);
    h.settle();
    expect(h.state<Log>('a', 'rec').log).toEqual(['e2:first', 'e4:second', 'm:b:hello', 'm:far:remote']);
  });

  it('local messages run after the batch that sent them; the batch applies in event order', () => {
    const h = new HostHarness();
    h.events([{ id: 'a', kind: 'rec' }, { id: 'b', kind: 'rec' }]);
    h.settle();
    h.events([
      { id: 'a', kind: 'rec', body: { to: 'b', n: 'ping' } },
      { id: 'b', kind: 'rec', body: { n: 'own' } },
    ]);
    expect(h.state<Log>('b', 'rec').log).toEqual(['e2', 'e4:own', 'm:a:ping']);
  });

  it('other actors proceed while one activates, but appliedSeq waits for the parked batch', () => {
    const h = new HostHarness();
    h.events([{ id: 'busy', body: { v: 1 } }]);
    h.settle();
    h.events([{ id: 'new', body: { v: 5 } }, { id: 'busy', body: { v: 2 } }]); // seq 2, 3
    h.events([{ id: 'busy', body: { v: 3 } }]); // seq 4
    expect(h.state<{ sum: number }>('busy').sum).toBe(6);
    // Batch 2 still has a parked event: nothing after seq 1 counts as applied yet.
    expect(h.appliedSeq()).toBe(1);
    h.settle();
    expect(h.appliedSeq()).toBe(4);
    expect(h.state<{ sum: number }>('new').sum).toBe(5);
  });

  it('rehydrates from the store and skips replayed events the snapshot already reflects', () => {
    const h = new HostHarness();
    h.seed('counter', 't', 'r', encodeSnapshot(100, null, JSON.stringify({ count: 3, sum: 30, seen: [], timers: 0, pings: 0 })), 5);
    h.events([4, 5, 6].map((seq) => ({ id: 'r', seq, time: 200, body: { v: 1 } })));
    h.settle();
    expect(h.inspect('r')).toMatchObject({ status: 'active', lastSeq: 6, watermark: 200 });
    expect(h.state<{ count: number; sum: number }>('r')).toMatchObject({ count: 4, sum: 31 });
    expect(h.verdicts()).toEqual([]);
    expect(h.total('events')).toBe(1);
  });

  it('retries a load the store failed on the next tick instead of starting empty', () => {
    const h = new HostHarness();
    h.seed('counter', 't', 'x', encodeSnapshot(0, null, JSON.stringify({ count: 7, sum: 70, seen: [], timers: 0, pings: 0 })), 0);
    h.loadError = { code: 'store_unavailable', message: 'down' };
    h.events([{ id: 'x', body: { v: 1 } }]);
    h.settle();
    expect(h.inspect('x')?.status).toBe('activating');
    expect(h.loads()).toHaveLength(1);
    h.advance(10);
    expect(h.loads()).toHaveLength(2);
    expect(h.state<{ count: number; sum: number }>('x')).toMatchObject({ count: 8, sum: 71 });
  });

  it('holds whole batches in the inbox while a mailbox is full, and applies them in order after', () => {
    const h = new HostHarness({ init: { mailboxLimit: 2, maxParkedEvents: 2 } });
    h.events([{ id: 'a', kind: 'rec', body: { n: '1' } }, { id: 'a', kind: 'rec', body: { n: '2' } }]);
    h.events([{ id: 'a', kind: 'rec', body: { n: '3' } }]);
    h.events([{ id: 'b', kind: 'rec', body: { n: '4' } }]);
    expect(h.host.counts()).toMatchObject({ parked: 2, inbox: 2 });
    h.settle();
    expect(h.host.counts()).toMatchObject({ parked: 0, inbox: 0, appliedSeq: 4 });
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1:1', 'e2:2', 'e3:3']);
    expect(h.state<Log>('b', 'rec').log).toEqual(['e4:4']);
  });

  it('asks for every actor new in one batch with a single load', () => {
    const h = new HostHarness();
    h.events(['p', 'q', 'r'].map((id) => ({ id })));
    expect(h.loads()).toHaveLength(1);
    expect(h.loads()[0]!.keys).toEqual(['p', 'q', 'r'].map((id) => actorKey('t', 'counter', id)));
  });
});
