import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { expectedCounts, makeFrames, procedureEvents, sendAll, spawnNode, type NodeProcess } from './producer.js';

describe('durable mode: kill -9 of the node mid-stream', () => {
  const redis = useRedis();
  const nats = useNats();

  it('after a restart every acked event is reflected exactly once, and nothing sent is lost', async () => {
    const port = await freePort();
    const env = { VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: `k${randomBytes(4).toString('hex')}` };
    const frames = makeFrames(300, 50, 12, `kill-${randomBytes(3).toString('hex')}`);
    let node: NodeProcess = await spawnNode(env, port);
    let killedAt = -1;
    let restart: Promise<void> | null = null;
    try {
      const res = await sendAll(port, frames, {
        window: 6,
        onAck: (n) => {
          if (n === 120 && killedAt < 0) {
            killedAt = n;
            // SIGKILL: no drain, no final snapshot; only JetStream and Redis remember.
            restart = node.stop('SIGKILL').then(async () => {
              node = await spawnNode(env, port);
            });
          }
        },
      });
      await restart;
      expect(killedAt).toBe(120);
      expect(res.acked.size).toBe(frames.length);
      const want = expectedCounts(frames);
      for (const [proc, count] of want) {
        expect(await procedureEvents(port, proc), proc).toBe(count);
      }
      // Frames in flight at the kill were resent; those JetStream already had are duplicates,
      // not double counts (the counts above are exact).
      expect(res.accepted + res.duplicates).toBeGreaterThanOrEqual(frames.length * 50);
    } finally {
      await node.stop('SIGTERM');
    }
  }, 120_000);
});
