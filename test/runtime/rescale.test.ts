import { afterEach, describe, expect, it } from 'vitest';
import { memoryPorts } from '../../adapters/memory/index.js';
import type { ActorRuntime, RescaleReport, RuntimeEvent } from '../../runtime/runtime.js';
import { startRuntime } from '../support.js';

describe('live rescale', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('2 → 4 → 1 → 3 shards under continuous load: nothing lost, nothing counted twice', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ shards: 2, hosts: 2, snapshotIntervalMs: 200 }, ports);
    const sent = new Map<string, number>();
    let stop = false;
    let frames = 0;
    const producer = (async () => {
      const pending: Promise<unknown>[] = [];
      while (!stop) {
        const f: RuntimeEvent[] = [];
        for (let i = 0; i < 50; i++) {
          const id = `r${(frames * 31 + i * 7) % 400}`;
          f.push({ tenant: 't', kind: 'counter', id, time: frames, body: { v: 1, ping: i === 0 ? `r${(frames * 13) % 400}` : undefined } });
          sent.set(id, (sent.get(id) ?? 0) + 1);
        }
        frames++;
        pending.push(rt!.submitAsync(f));
        if (pending.length >= 8) await pending.shift();
        if (frames % 10 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
    })();
    const reports: RescaleReport[] = [];
    for (const to of [4, 1, 3]) {
      await new Promise((r) => setTimeout(r, 150));
      reports.push(await rt.rescale(to));
      expect(rt.shardMap.shardCount).toBe(to);
    }
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await producer;
    expect(frames).toBeGreaterThan(20);
    expect(reports.map((r) => [r.from, r.to])).toEqual([[2, 4], [4, 1], [1, 3]]);
    expect(reports.every((r) => r.movedKeyGroups > 0 && r.movedActors > 0)).toBe(true);
    expect(reports.map((r) => r.epoch)).toEqual([2, 3, 4]);
    let total = 0;
    for (const [id, n] of sent) {
      const s = (await rt.inspect('counter', 't', id))?.state as { count: number };
      expect(s.count, id).toBe(n);
      total += s.count;
    }
    expect(total).toBe(frames * 50);
    // After 1 shard on 2 hosts, host 1 owned nothing; after 3 it owns shard 1 again.
    const stats = await rt.stats();
    expect(stats.map((s) => s.keyGroups)).toEqual([2731, 1365]);
  });

  it('refuses a second rescale while one runs, and an invalid count', async () => {
    rt = await startRuntime({ shards: 2, hosts: 2 });
    await rt.submitAsync(Array.from({ length: 200 }, (_, i) => ({ tenant: 't', kind: 'counter', id: `q${i}`, time: i, body: { v: 1 } })));
    const first = rt.rescale(4);
    await expect(rt.rescale(3)).rejects.toMatchObject({ code: 'rescale_in_progress' });
    await first;
    await expect(rt.rescale(0)).rejects.toMatchObject({ code: 'invalid_option' });
    const none = await rt.rescale(4);
    expect(none.movedKeyGroups).toBe(0);
  });
});
