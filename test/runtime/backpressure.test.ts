import { afterEach, describe, expect, it } from 'vitest';
import { memoryPorts } from '../../adapters/memory/index.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { startRuntime } from '../support.js';

describe('bounded mailboxes and backpressure', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('refuses submissions while an activating actor holds its host back, and resumes after', async () => {
    const ports = memoryPorts();
    const realLoad = ports.snapshotStore.load.bind(ports.snapshotStore);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    ports.snapshotStore.load = async (keys) => {
      await gate;
      return realLoad(keys);
    };
    rt = await startRuntime({ hosts: 1, shards: 1, mailboxLimit: 8, maxInFlightBatches: 4 }, ports);
    let refused = false;
    let accepted = 0;
    for (let i = 0; i < 200 && !refused; i++) {
      const ok = rt.submit([{ tenant: 't', kind: 'counter', id: 'slow', time: i, body: { v: 1 } }], () => undefined);
      if (!ok) refused = true;
      else accepted++;
      await new Promise((r) => setImmediate(r));
    }
    expect(refused).toBe(true);
    expect(accepted).toBeLessThan(200);
    const stats = await rt.stats();
    expect(stats[0]!.parked).toBeGreaterThan(0);
    release();
    await rt.whenWritable();
    await rt.settle();
    expect((await rt.inspect('counter', 't', 'slow'))?.state).toMatchObject({ count: accepted });
  });
});
