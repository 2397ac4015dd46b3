import { afterEach, describe, expect, it } from 'vitest';
import { memoryPorts } from '../../adapters/memory/index.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';

describe('timers: one wheel per host, event-time and processing-time', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('fires processing-time timers for many actors once each', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ timerTickMs: 5 }, ports);
    await rt.submitAsync(Array.from({ length: 500 }, (_, i) => ({ tenant: 't', kind: 'counter', id: `k${i}`, time: 0, body: { timerIn: 30 + (i % 50) } })));
    await waitFor(() => ports.rollupSink.all().length === 500, 5000, 'timer rollups');
    await new Promise((r) => setTimeout(r, 100));
    const st = (await rt.inspect('counter', 't', 'k3'))?.state as { timers: number };
    expect(st.timers).toBe(1);
    expect((await rt.stats()).reduce((n, s) => n + s.timers, 0)).toBe(0);
  });

  it('re-arming a timer moves it instead of adding another', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ timerTickMs: 5 }, ports);
    for (let i = 0; i < 5; i++) {
      await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'r', time: i, body: { timerIn: 60 } }]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(async () => ((await rt!.inspect('counter', 't', 'r'))?.state as { timers: number }).timers === 1, 3000, 'timer');
    await new Promise((r) => setTimeout(r, 150));
    expect(((await rt.inspect('counter', 't', 'r'))?.state as { timers: number }).timers).toBe(1);
  });

  it('fires event-time timers when the actor watermark passes them, not on the wall clock', async () => {
    rt = await startRuntime();
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'e', time: 1000, body: { eventTimerAt: 5000 } }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(((await rt.inspect('counter', 't', 'e'))?.state as { timers: number }).timers).toBe(0);
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'e', time: 4999, body: {} }]);
    expect(((await rt.inspect('counter', 't', 'e'))?.state as { timers: number }).timers).toBe(0);
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'e', time: 5000, body: {} }]);
    expect(((await rt.inspect('counter', 't', 'e'))?.state as { timers: number }).timers).toBe(1);
  });

  it('a processing-time timer of a passivated actor reactivates it', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ timerTickMs: 5, idleAfterMs: 20, passivationSweepMs: 5, hosts: 1, shards: 1 }, ports);
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'sleepy', time: 0, body: { v: 4, timerIn: 200 } }]);
    await waitFor(async () => (await rt!.stats())[0]!.active === 0, 3000, 'passivation');
    await waitFor(() => ports.rollupSink.all().length === 1, 3000, 'timer after passivation');
    expect(ports.rollupSink.all()[0]).toMatchObject({ actorId: 'sleepy', sum: 4, count: 1 });
  });
});
