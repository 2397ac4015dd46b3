import { afterEach, describe, expect, it } from 'vitest';
import { memoryPorts } from '../../adapters/memory/index.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';

describe('virtual actors: activation and passivation', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('passivates idle actors with a snapshot first and rehydrates them on the next message', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ idleAfterMs: 50, passivationSweepMs: 10, snapshotIntervalMs: 10_000 }, ports);
    const ids = Array.from({ length: 100 }, (_, i) => `a${i}`);
    await rt.submitAsync(ids.map((id, i) => ({ tenant: 't', kind: 'counter', id, time: i, body: { v: 2 } })));
    expect((await rt.stats()).reduce((n, s) => n + s.active, 0)).toBe(100);
    await waitFor(async () => (await rt!.stats()).every((s) => s.active === 0), 5000, 'passivation');
    // The interval commit is far away: these snapshots come from passivation itself.
    await waitFor(() => ports.snapshotStore.size() === 100, 5000, 'passivation snapshots');
    const passive = await rt.inspect('counter', 't', 'a7');
    expect(passive).toMatchObject({ resident: false, status: 'passive', state: { count: 1, sum: 2 } });

    await rt.submitAsync(ids.map((id, i) => ({ tenant: 't', kind: 'counter', id, time: 100 + i, body: { v: 3 } })));
    for (const id of ids) {
      expect((await rt.inspect('counter', 't', id))?.state).toMatchObject({ count: 2, sum: 5 });
    }
    expect(ports.metrics.total('vigil_actor_activations_total')).toBe(200);
    expect(ports.metrics.total('vigil_actor_passivations_total')).toBe(100);
  });

  it('an actor reactivated before its passivation snapshot is committed keeps its state', async () => {
    const ports = memoryPorts();
    // Hold commits back so the only copy of the passivated state is the host's pending write.
    const realCommit = ports.snapshotStore.commit.bind(ports.snapshotStore);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    ports.snapshotStore.commit = async (c) => {
      await gate;
      return realCommit(c);
    };
    rt = await startRuntime({ hosts: 1, shards: 1, idleAfterMs: 30, passivationSweepMs: 10, snapshotIntervalMs: 20 }, ports);
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'x', time: 1, body: { v: 5 } }]);
    await waitFor(async () => (await rt!.stats())[0]!.active === 0, 5000, 'passivation');
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'x', time: 2, body: { v: 1 } }]);
    expect((await rt.inspect('counter', 't', 'x'))?.state).toMatchObject({ count: 2, sum: 6 });
    release();
  });

  it('restores snapshots and replays the log when a node starts on existing stores', async () => {
    const ports = memoryPorts();
    rt = await startRuntime({ snapshotIntervalMs: 20 }, ports);
    await rt.submitAsync(Array.from({ length: 300 }, (_, i) => ({ tenant: 't', kind: 'counter', id: `r${i % 30}`, time: i, body: { v: 1 } })));
    await rt.snapshotNow();
    await rt.submitAsync(Array.from({ length: 300 }, (_, i) => ({ tenant: 't', kind: 'counter', id: `r${i % 30}`, time: i, body: { v: 1 } })));
    // Stop the hosts without the final drain: only the log has the second round.
    const rt2Ports = ports;
    await rt.close();
    rt = await startRuntime({ snapshotIntervalMs: 20 }, rt2Ports);
    for (let i = 0; i < 30; i++) {
      expect((await rt.inspect('counter', 't', `r${i}`))?.state).toMatchObject({ count: 20 });
    }
  });
});
