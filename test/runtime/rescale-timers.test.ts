// Durable timers across a live rescale: key groups that move to another host take their
// actors' timers with them, resident or passivated, through the hand-over commit and the new
// host's read of the due index. Every timer fires once, on time, on the host that owns it.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryPorts } from '../../adapters/memory/index.js';
import type { ActorRuntime, RuntimeEvent } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';

describe('durable timers across a live rescale', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('timers of moved actors (resident and passivated) fire once each, on time, after 2 → 3 → 1 shards', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ shards: 2, hosts: 2, snapshotIntervalMs: 100, idleAfterMs: 300, passivationSweepMs: 50 }, ports);
    const ids = Array.from({ length: 60 }, (_, i) => `k${i}`);
    const armedAt = Date.now();
    // Half of them arm a timer 1.5 s out and go idle (passivated before it is due); the other
    // half 2.5 s out and are kept resident by later events.
    const events: RuntimeEvent[] = ids.map((id, i) => ({ tenant: 't', kind: 'counter', id, time: 1, body: { v: 1, timerIn: i % 2 === 0 ? 1500 : 2500 } }));
    await rt.submitAsync(events);
    await new Promise((r) => setTimeout(r, 600));
    await rt.submitAsync(ids.filter((_, i) => i % 2 === 1).map((id) => ({ tenant: 't', kind: 'counter', id, time: 2, body: { v: 1 } })));
    expect((await rt.inspect('counter', 't', 'k0'))?.resident).toBe(false);
    const moved1 = await rt.rescale(3);
    await new Promise((r) => setTimeout(r, 200));
    const moved2 = await rt.rescale(1);
    expect(moved1.movedKeyGroups + moved2.movedKeyGroups).toBeGreaterThan(0);
    expect(Date.now() - armedAt).toBeLessThan(1500);

    const timerRows = (id: string) => ports.rollupSink.all().filter((r) => r.actorId === id && r.metric === 'timer:t');
    await waitFor(() => ids.every((id) => timerRows(id).length > 0), 5000, 'every timer fired');
    const firedBy = Date.now() - armedAt;
    expect(firedBy).toBeLessThan(2500 + 1000);
    await new Promise((r) => setTimeout(r, 500));
    for (const id of ids) {
      expect(timerRows(id), id).toHaveLength(1);
      expect(((await rt.inspect('counter', 't', id))?.state as { timers: number }).timers, id).toBe(1);
    }
  }, 30_000);
});
