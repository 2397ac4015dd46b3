import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryAlertSink, MemoryMetrics, MemoryRollupSink } from '../../adapters/memory/index.js';
import { JetStreamEventLog } from '../../adapters/nats/event-log.js';
import { RedisSnapshotStore } from '../../adapters/redis/snapshot-store.js';
import { systemClock } from '../../runtime/clock.js';
import type { RuntimeEvent } from '../../runtime/runtime.js';
import { useNats, useRedis } from '../harness/servers.js';
import { startRuntime, waitFor } from '../support.js';

describe('durable mode: a worker crash', () => {
  const redis = useRedis();
  const nats = useNats();

  it('a shard host that dies mid-stream is restored from Redis and replayed from JetStream, exactly once', async () => {
    const id = randomBytes(4).toString('hex');
    const eventLog = await JetStreamEventLog.open({ servers: nats().url, stream: `W_${id}`, subjectPrefix: `w.${id}` });
    const snapshotStore = new RedisSnapshotStore({ client: redis().url, prefix: `vigil:{w${id}}:` });
    const restarts: number[] = [];
    const rt = await startRuntime(
      { hosts: 2, shards: 4, snapshotIntervalMs: 50 },
      { eventLog, snapshotStore, rollupSink: new MemoryRollupSink(), alertSink: new MemoryAlertSink(), clock: systemClock, metrics: new MemoryMetrics() },
      { onHostRestarted: (i) => restarts.push(i.hostId) },
    );
    try {
      const sent = new Map<string, number>();
      const pending: Promise<unknown>[] = [];
      for (let k = 0; k < 300; k++) {
        const frame: RuntimeEvent[] = [];
        for (let i = 0; i < 40; i++) {
          const actor = `c${(k * 13 + i) % 150}`;
          frame.push({ tenant: 't', kind: 'counter', id: actor, time: k, body: { v: 1 } });
          sent.set(actor, (sent.get(actor) ?? 0) + 1);
        }
        if (k === 150) await rt.crashHost(1, 'exit');
        pending.push(rt.submitAsync(frame));
        if (k % 25 === 0) await new Promise((r) => setTimeout(r, 10));
      }
      await Promise.all(pending);
      await waitFor(() => restarts.length > 0, 10_000, 'host restart');
      for (const [actor, n] of sent) {
        expect(((await rt.inspect('counter', 't', actor))?.state as { count: number }).count, actor).toBe(n);
      }
    } finally {
      await rt.close();
      await eventLog.close();
      await snapshotStore.close();
    }
  }, 60_000);
});
