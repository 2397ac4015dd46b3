// Timers, in-process on a ManualClock: processing-time timers fire from the host's one wheel on
// its tick, event-time timers when the actor's watermark passes them, whatever the clock says.
import { describe, expect, it } from 'vitest';
import { defineActor } from '../../runtime/actor.js';
import { decodeSnapshot } from '../../runtime/snapshot-codec.js';
import { HostHarness, recorder } from './shard-host-harness.js';

type Log = { log: string[] };
const T0 = 1_000_000;

function active(): HostHarness {
  const h = new HostHarness({ start: T0 });
  h.events([{ id: 'a', kind: 'rec' }]);
  h.settle();
  return h;
}

describe('ShardHost timers', () => {
  it('fires a processing-time timer on the first tick at or after its deadline, once', () => {
    const h = active();
    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 'x', in: 45 } } }]);
    expect(h.host.counts().timers).toBe(1);
    h.advance(40);
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1', 'e2']);
    h.advance(10);
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1', 'e2', `t:x@${T0 + 45}`]);
    h.advance(1000);
    expect(h.state<Log>('a', 'rec').log).toHaveLength(3);
    expect(h.host.counts().timers).toBe(0);
    // Counters ride on the next report, and a report goes out only when something changed.
    h.events([{ id: 'a', kind: 'rec' }]);
    expect(h.total('timers')).toBe(1);
  });

  it('re-arming moves the timer instead of adding one; cancel removes it', () => {
    const h = active();
    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 'x', in: 30 } } }]);
    h.advance(20);
    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 'x', in: 30 } } }]);
    expect(h.host.counts().timers).toBe(1);
    h.advance(20);
    expect(h.state<Log>('a', 'rec').log.filter((l) => l.startsWith('t:'))).toEqual([]);
    h.advance(20);
    expect(h.state<Log>('a', 'rec').log.filter((l) => l.startsWith('t:'))).toEqual([`t:x@${T0 + 50}`]);

    h.events([{ id: 'a', kind: 'rec', body: { timer: { name: 'y', in: 10 } } }, { id: 'a', kind: 'rec', body: { cancel: 'y' } }]);
    h.advance(100);
    expect(h.state<Log>('a', 'rec').log.filter((l) => l.startsWith('t:y'))).toEqual([]);
    expect(h.host.counts().timers).toBe(0);
  });

  it('fires event-time timers when the watermark passes them, not on the clock', () => {
    const lagged = defineActor({ ...recorder, kind: 'lagged', watermarkLagMs: 100 });
    const h = new HostHarness({ actors: [recorder, lagged] });
    h.events([{ id: 'a', kind: 'lagged', time: 1000, body: { eventTimer: { name: 'w', at: 2000 } } }]);
    h.settle();
    h.advance(30_000);
    h.events([{ id: 'a', kind: 'lagged', time: 2099 }]);
    expect(h.state<Log>('a', 'lagged').log).toEqual(['e1', 'e2']);
    // Watermark = 2100 - 100: the timer fires inside this event's handling, after the handler.
    h.events([{ id: 'a', kind: 'lagged', time: 2100 }]);
    expect(h.state<Log>('a', 'lagged').log).toEqual(['e1', 'e2', 'e3', 't:w@2000']);
    expect(h.inspect('a', 'lagged')?.watermark).toBe(2000);
  });

  it('a passivated actor\'s processing-time timer re-activates it and is delivered once it is back', () => {
    const h = new HostHarness({ start: T0, init: { idleAfterMs: 100, passivationSweepMs: 50 } });
    h.events([{ id: 'a', kind: 'rec', body: { n: 'arm', timer: { name: 'late', in: 500 } } }]);
    h.settle();
    h.advance(300);
    expect(h.inspect('a', 'rec')).toBeNull();
    expect(h.host.counts()).toMatchObject({ active: 0, timers: 1 });
    const loadsBefore = h.loads().length;
    h.advance(210);
    expect(h.loads().length).toBe(loadsBefore + 1);
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1:arm', `t:late@${T0 + 500}`]);
    expect(h.host.counts().timers).toBe(0);
  });

  it('timers travel in the snapshot and are re-armed on activation', () => {
    const h = new HostHarness({ start: T0, init: { idleAfterMs: 100, passivationSweepMs: 50 } });
    h.events([{ id: 'a', kind: 'rec', time: 10, body: { eventTimer: { name: 'ev', at: 50 } } }]);
    h.settle();
    h.advance(300);
    const snap = decodeSnapshot(h.store.get(h.loads()[0]!.keys[0]!)!.data);
    expect(snap.timers).toEqual([['ev', 'event', 50]]);
    expect(snap.watermark).toBe(10);
    h.events([{ id: 'a', kind: 'rec', time: 60 }]);
    h.settle();
    expect(h.state<Log>('a', 'rec').log).toEqual(['e1', 'e2', 't:ev@50']);
  });
});
