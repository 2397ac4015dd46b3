import { afterEach, describe, expect, it } from 'vitest';
import type { ActorRuntime, RuntimeEvent } from '../../runtime/runtime.js';
import { startRuntime } from '../support.js';

describe('event dispatch through shard hosts', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('applies every event to its actor, across hosts, and acks after applying', async () => {
    rt = await startRuntime();
    const events: RuntimeEvent[] = [];
    for (let i = 0; i < 5000; i++) {
      events.push({ tenant: i % 2 ? 'a' : 'b', kind: 'counter', id: `c${i % 50}`, time: i, body: { v: i } });
    }
    const res = await rt.submitAsync(events);
    expect(res.events).toBe(5000);
    const expected = new Map<string, { count: number; sum: number }>();
    for (const e of events) {
      const k = `${e.tenant}/${e.id}`;
      const x = expected.get(k) ?? { count: 0, sum: 0 };
      x.count++;
      x.sum += (e.body as { v: number }).v;
      expected.set(k, x);
    }
    // Acked means applied: no settle() before reading.
    for (const [k, x] of expected) {
      const [tenant, id] = k.split('/') as [string, string];
      const got = await rt.inspect('counter', tenant, id);
      expect(got?.state).toMatchObject({ count: x.count, sum: x.sum });
    }
    const stats = await rt.stats();
    expect(stats).toHaveLength(2);
    expect(stats.every((s) => s.active > 0)).toBe(true);
  });

  it('keeps the same tenant/id apart by tenant', async () => {
    rt = await startRuntime();
    await rt.submitAsync([
      { tenant: 't1', kind: 'counter', id: 'x', time: 1, body: { v: 1 } },
      { tenant: 't2', kind: 'counter', id: 'x', time: 1, body: { v: 10 } },
    ]);
    expect((await rt.inspect('counter', 't1', 'x'))?.state).toMatchObject({ sum: 1 });
    expect((await rt.inspect('counter', 't2', 'x'))?.state).toMatchObject({ sum: 10 });
  });

  it("reports each actor's refusals and duplicates to the submitter, by index", async () => {
    rt = await startRuntime();
    const events: RuntimeEvent[] = [];
    for (let i = 0; i < 300; i++) {
      const body = i % 50 === 7 ? { reject: 'too_late' } : i % 30 === 3 ? { dup: true } : { v: 1 };
      events.push({ tenant: 't', kind: 'counter', id: `o${i % 13}`, time: i, body });
    }
    const res = await rt.submitAsync(events);
    const wantRejected = events.flatMap((e, i) => ('reject' in (e.body as object) ? [i] : []));
    const wantDup = events.filter((e) => 'dup' in (e.body as object)).length;
    expect(res.rejected.map((r) => r.index).sort((a, b) => a - b)).toEqual(wantRejected);
    expect(res.rejected.every((r) => r.code === 'too_late' && r.message === 'refused: too_late')).toBe(true);
    expect(res.duplicates).toBe(wantDup);
  });

  it('refuses an unknown actor kind loudly', async () => {
    rt = await startRuntime();
    expect(() => rt!.submit([{ tenant: 't', kind: 'nope', id: 'x', time: 0, body: {} }])).toThrow(/unknown actor kind/);
  });
});
