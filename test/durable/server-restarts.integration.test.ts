import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { expectedCounts, makeFrames, procedureEvents, sendAll, spawnNode } from './producer.js';

describe('durable mode: Redis or NATS restarted under load', () => {
  const redis = useRedis({ appendonly: true });
  const nats = useNats();

  for (const which of ['redis', 'nats'] as const) {
    it(`${which} restarted mid-stream: nothing acked is lost or counted twice`, async () => {
      const port = await freePort();
      const env = { VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: `r${randomBytes(4).toString('hex')}` };
      const frames = makeFrames(1500, 40, 10, `${which}-${randomBytes(3).toString('hex')}`);
      const node = await spawnNode(env, port);
      let bounced: Promise<void> | null = null;
      let ackedWhenBack = -1;
      let acked = 0;
      try {
        const res = await sendAll(port, frames, {
          window: 4,
          deadlineMs: 90_000,
          onAck: (n) => {
            acked = n;
            if (n === 80 && !bounced) bounced = (which === 'redis' ? redis() : nats()).restart().then(() => void (ackedWhenBack = acked));
          },
        });
        await bounced;
        // The outage overlapped the stream: the server came back before the last frame was acked.
        expect(ackedWhenBack).toBeGreaterThan(0);
        expect(ackedWhenBack).toBeLessThan(frames.length);
        expect(res.acked.size).toBe(frames.length);
        console.log(`${which}: acked when back ${ackedWhenBack}/${frames.length}, not taken ${res.notTaken}, reconnects ${res.reconnects}, duplicates ${res.duplicates}`);
        for (const [proc, count] of expectedCounts(frames)) expect(await procedureEvents(port, proc), proc).toBe(count);
        // And the state is durable after the bounce: a clean restart of the node shows the same.
        await node.stop('SIGKILL');
        const again = await spawnNode(env, port);
        try {
          for (const [proc, count] of expectedCounts(frames)) {
            expect(await procedureEvents(port, proc), `${proc} after restart; node log:\n${again.log()}\nfirst node log:\n${node.log()}`).toBe(count);
          }
        } finally {
          await again.stop();
        }
      } finally {
        await node.stop();
      }
    }, 150_000);
  }
});
