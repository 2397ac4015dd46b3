// Issue 16, the ops page's last 15 minutes: a ring of 10-second samples kept on the node (events/s,
// ack p99, dead letters), dead letters by code, failed actors, and the true open-alert total, from
// fake clocks and counters.
import { describe, expect, it } from 'vitest';
import { CodeCounts, createOpsApi, FailedActorLog, OpsHistory, type OpenCounts, type OpsDeps } from '../../adapters/http/ops.js';
import { ShardMap } from '../../runtime/keygroups.js';
import { kDefaultRuntimeOptions } from '../../runtime/options.js';

const SLOT = 10_000;
const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);

function ring(o: { slotMs?: number; windowMs?: number } = {}) {
  const clock = { now: T0 };
  const src = { events: 0, deadLetters: new CodeCounts() };
  const h = new OpsHistory({ eventsTotal: () => src.events, deadLetters: src.deadLetters }, { ...o, now: () => clock.now });
  /** Moves to the next slot's end, with `events` accepted and these acks and dead letters in it. */
  const slot = (events: number, acks: number[] = [], dead: string[] = []): void => {
    src.events += events;
    for (const a of acks) h.noteAck(a);
    for (const c of dead) src.deadLetters.note(c);
    clock.now += h.options.slotMs;
    h.sample();
  };
  return { h, clock, src, slot };
}

describe('OpsHistory (the 15-minute ring)', () => {
  it('keeps 90 samples of 10 s by default, oldest first, and drops the oldest beyond 15 minutes', () => {
    const { h, slot } = ring();
    expect(h.slots).toBe(90);
    expect(h.view()).toEqual({ slot_ms: 10_000, window_ms: 900_000, samples: [] });
    for (let i = 1; i <= 100; i++) slot(i * 10); // slot i: i*10 events in 10 s = i events/s
    const v = h.view();
    expect(v.samples).toHaveLength(90);
    // Slots 11..100 are left: events/s 11..100, at their end times.
    expect(v.samples.map((s) => s.events_per_sec)).toEqual(Array.from({ length: 90 }, (_, i) => i + 11));
    expect(v.samples.map((s) => s.t)).toEqual(Array.from({ length: 90 }, (_, i) => T0 + (i + 11) * SLOT));
    expect(v.samples.at(-1)!.t - v.samples[0]!.t).toBe(89 * SLOT);
  });

  it('derives events/s from the counter over the time that actually passed', () => {
    const { clock, src } = ring();
    src.events = 500; // before the ring started: not counted
    const h2 = new OpsHistory({ eventsTotal: () => src.events, deadLetters: src.deadLetters }, { now: () => clock.now });
    src.events += 1234;
    clock.now += 4000; // a first, partial slot (the timer aligns to wall-clock multiples of 10 s)
    h2.sample();
    expect(h2.view().samples).toEqual([{ t: T0 + 4000, events_per_sec: 308.5, ack_p99_ms: null, acks: 0, dead_letters: 0 }]);
    // A second call at the same instant adds nothing.
    h2.sample();
    expect(h2.view().samples).toHaveLength(1);
  });

  it('computes each slot\'s ack p99 from that slot\'s acks only (within 8%, never past the slot\'s max)', () => {
    const { h, slot } = ring();
    // 1,000 acks of 1..1000 ms, shuffled: the true p99 is 990 ms.
    const acks = Array.from({ length: 1000 }, (_, i) => i + 1).sort((a, b) => ((a * 7919) % 1000) - ((b * 7919) % 1000));
    slot(1000, acks);
    slot(50, Array.from({ length: 50 }, () => 2)); // a quiet slot: every ack 2 ms
    slot(0); // no acks at all
    slot(10, [0.3, 0.4, 120]); // few acks: p99 is the worst of them
    const s = h.view().samples;
    expect(s[0]!.acks).toBe(1000);
    expect(s[0]!.ack_p99_ms!).toBeGreaterThanOrEqual(990);
    expect(s[0]!.ack_p99_ms!).toBeLessThanOrEqual(990 * 1.08);
    expect(s[1]!.ack_p99_ms).toBe(2);
    expect(s[2]).toMatchObject({ acks: 0, ack_p99_ms: null, events_per_sec: 0 });
    expect(s[3]!.ack_p99_ms).toBe(120);
    // Tiny and huge latencies land in the end buckets, still clamped to what was seen.
    slot(1, [0.001]);
    slot(1, [500_000]);
    expect(h.view().samples.slice(-2).map((x) => x.ack_p99_ms)).toEqual([0.001, 500_000]);
  });

  it('counts dead letters per slot, and per code over the window (baseline moves as slots leave)', () => {
    const { h, slot, src } = ring({ slotMs: 1000, windowMs: 3000 }); // 3 slots
    slot(0, [], ['invalid_field', 'invalid_field']);
    slot(0, [], ['too_late']);
    slot(0, [], []);
    expect(h.view().samples.map((s) => s.dead_letters)).toEqual([2, 1, 0]);
    expect(h.baseline()).toEqual({});
    slot(0, [], ['too_late']); // the first slot leaves the window
    expect(h.view().samples.map((s) => s.dead_letters)).toEqual([1, 0, 1]);
    expect(h.baseline()).toEqual({ invalid_field: 2 });
    expect(src.deadLetters.snapshot()).toEqual({ invalid_field: 2, too_late: 2 });
  });

  it('refuses a window that is not a whole number of slots, naming the option', () => {
    const src = { eventsTotal: () => 0, deadLetters: new CodeCounts() };
    expect(() => new OpsHistory(src, { slotMs: 10_000, windowMs: 15_000 })).toThrow(/windowMs/);
    expect(() => new OpsHistory(src, { slotMs: 1 })).toThrow(/slotMs/);
  });

  it('samples by itself at wall-clock slot ends once started, until stopped', async () => {
    const src = { n: 0, eventsTotal: () => src.n, deadLetters: new CodeCounts() };
    const h = new OpsHistory(src, { slotMs: 50, windowMs: 1000 });
    h.start();
    src.n = 10;
    await new Promise((r) => setTimeout(r, 400));
    h.stop();
    const n = h.view().samples.length;
    // Timers fire late on a busy machine, so only a lower bound; each sample is at or just after a slot end.
    expect(n).toBeGreaterThanOrEqual(2);
    expect(h.view().samples[0]!.events_per_sec).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(h.view().samples).toHaveLength(n);
  });
});

describe('CodeCounts and FailedActorLog', () => {
  it('counts dead letters by code', () => {
    const c = new CodeCounts();
    for (const code of ['a', 'b', 'a', 'a']) c.note(code);
    c.note('b', 5);
    expect(c.snapshot()).toEqual({ a: 3, b: 6 });
    expect(c.total).toBe(9);
  });

  it('keeps the newest failure per actor, newest first, bounded, with the total of all failures', () => {
    let now = T0;
    const log = new FailedActorLog(3, () => now);
    const fail = (id: string, message: string, seq = 1) => {
      now += 1000;
      log.note({ tenant: 'demo', kind: 'patient', id, seq, error: { code: 'actor_failed', message } });
    };
    fail('p1', 'boom 1');
    fail('p2', 'boom 2', NaN); // a timer: no event
    fail('p1', 'boom 3');
    fail('p3', 'boom 4');
    fail('p4', 'boom 5');
    const v = log.view(10);
    expect(v.total).toBe(5);
    expect(v.actors.map((a) => [a.id, a.message])).toEqual([['p4', 'boom 5'], ['p3', 'boom 4'], ['p1', 'boom 3']]);
    expect(v.actors[2]).toEqual({ at: new Date(T0 + 3000).toISOString(), tenant: 'demo', kind: 'patient', id: 'p1', seq: 1, code: 'actor_failed', message: 'boom 3' });
    expect(log.view(1).actors).toHaveLength(1);
    const timer = new FailedActorLog();
    timer.note({ tenant: 't', kind: 'k', id: 'i', seq: NaN, error: { code: 'c', message: 'm' } });
    expect(timer.view(1).actors[0]!.seq).toBeNull();
  });
});

describe('/ops/data: the true open-alert total, the ring, failures and dead letters', () => {
  const counts = (c: Partial<OpenCounts>): OpenCounts => {
    const o = { low: 0, medium: 0, high: 0, critical: 0, ...c };
    return { ...o, total: o.low + o.medium + o.high + o.critical };
  };
  const runtime: OpsDeps['runtime'] = {
    stats: async () => [], shardMap: new ShardMap(16, 2), options: { ...kDefaultRuntimeOptions, keyGroups: 16, shards: 2, hosts: 1 }, generation: [1],
  };

  it('reports every open alert, not the rows it carries', async () => {
    const by_tenant = { demo: counts({ high: 2000, critical: 1000 }), acme: counts({ medium: 200 }) };
    const api = createOpsApi({
      runtime, recentAlerts: () => [], eventsTotal: () => 0, freshness: () => ({}),
      openAlerts: async () => ({ total: counts({ medium: 200, high: 2000, critical: 1000 }), by_tenant }),
    });
    const d = await api.data();
    expect(d.open_alerts).toEqual({
      total: 3200, by_level: { low: 0, medium: 200, high: 2000, critical: 1000 },
      by_tenant: [{ tenant: 'demo', total: 3000, critical: 1000 }, { tenant: 'acme', total: 200, critical: 0 }],
    });
    expect(d.open_alerts_error).toBeNull();
  });

  it('says why the total is missing when the count fails or is slow', async () => {
    const base = { runtime, recentAlerts: () => [], eventsTotal: () => 0, freshness: () => ({}), statsTimeoutMs: 50 };
    const failing = await createOpsApi({ ...base, openAlerts: async () => Promise.reject(new Error('redis: connection refused')) }).data();
    expect(failing).toMatchObject({ open_alerts: null, open_alerts_error: 'redis: connection refused' });
    const slow = await createOpsApi({ ...base, openAlerts: () => new Promise(() => {}) }).data();
    expect(slow.open_alerts_error).toMatch(/within 50 ms/);
    expect((await createOpsApi(base).data()).open_alerts).toBeNull();
  });

  it('reads the newest alerts asynchronously (the alert index), and says why they are missing', async () => {
    const base = { runtime, eventsTotal: () => 0, freshness: () => ({}), statsTimeoutMs: 50 };
    const row = { type: 'alert', alert_id: 'al_1' } as unknown as Awaited<ReturnType<OpsDeps['recentAlerts']>>[number];
    const ok = await createOpsApi({ ...base, recentAlerts: async (limit) => Array.from({ length: Math.min(limit, 30) }, () => row) }).data();
    expect(ok.alerts).toHaveLength(25);
    expect(ok.alerts_error).toBeNull();
    const down = await createOpsApi({ ...base, recentAlerts: () => Promise.reject(new Error('redis: timeout')) }).data();
    expect(down).toMatchObject({ alerts: [], alerts_error: 'redis: timeout' });
    const slow = await createOpsApi({ ...base, recentAlerts: () => new Promise(() => {}) }).data();
    expect(slow.alerts_error).toMatch(/newest alerts did not arrive within 50 ms/);
  });

  it('carries the ring, failed actors and dead letters by code (window first, then overall)', async () => {
    const { h, slot, src } = ring({ slotMs: 1000, windowMs: 2000 });
    slot(100, [5], ['old_code', 'old_code', 'old_code']);
    slot(50, [7], ['too_late']);
    slot(20, [], ['invalid_field', 'invalid_field']); // old_code's slot leaves the window
    const failed = new FailedActorLog();
    failed.note({ tenant: 'demo', kind: 'patient', id: 'p9', seq: 42, error: { code: 'actor_failed', message: 'patient p9: boom' } });
    const d = await createOpsApi({
      runtime, recentAlerts: () => [], eventsTotal: () => src.events, freshness: () => ({}),
      history: h, failedActors: failed, deadLetters: src.deadLetters,
    }).data();
    expect(d.history.samples.map((s) => [s.events_per_sec, s.ack_p99_ms, s.dead_letters])).toEqual([[50, 7, 1], [20, null, 2]]);
    expect(d.dead_letters).toEqual({
      total: 6, last_15m: 3,
      by_code: [{ code: 'invalid_field', total: 2, last_15m: 2 }, { code: 'too_late', total: 1, last_15m: 1 }, { code: 'old_code', total: 3, last_15m: 0 }],
    });
    expect(d.failed_actors.total).toBe(1);
    expect(d.failed_actors.actors[0]).toMatchObject({ tenant: 'demo', kind: 'patient', id: 'p9', seq: 42, message: 'patient p9: boom' });
  });
});
