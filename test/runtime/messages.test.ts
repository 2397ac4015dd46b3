import { afterEach, describe, expect, it } from 'vitest';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { keyGroupOf, ShardMap } from '../../runtime/keygroups.js';
import { startRuntime, waitFor } from '../support.js';

describe('actor-to-actor messages', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('reach actors on the same host and on other workers', async () => {
    rt = await startRuntime({ shards: 4, hosts: 2 });
    const map = new ShardMap(4096, 4);
    const hostOf = (id: string) => map.shardOf(keyGroupOf('t', 'counter', id, 4096)) % 2;
    const targets = Array.from({ length: 40 }, (_, i) => `dst${i}`);
    const hosts = new Set(targets.map(hostOf));
    expect(hosts.size).toBe(2); // both local and remote deliveries happen
    await rt.submitAsync(targets.map((to, i) => ({ tenant: 't', kind: 'counter', id: 'src', time: i, body: { ping: to } })));
    for (const to of targets) {
      await waitFor(async () => ((await rt!.inspect('counter', 't', to))?.state as { pings: number } | null)?.pings === 1, 5000, `ping to ${to}`);
    }
  });
});
