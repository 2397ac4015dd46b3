import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { spawnNode } from './producer.js';

async function readyz(port: number): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: r.status, body: (await r.json()) as { ready: boolean; reasons: string[] } };
}

async function until(f: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('durable mode: readiness follows the outside dependencies', () => {
  const redis = useRedis({ appendonly: true });
  const nats = useNats();

  it('/readyz is 503 naming the store while Redis is down, and 200 again when it is back', async () => {
    const port = await freePort();
    const node = await spawnNode({ VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: `z${randomBytes(4).toString('hex')}` }, port);
    try {
      expect((await readyz(port)).status).toBe(200);
      redis().kill('SIGKILL');
      await until(async () => (await readyz(port)).status === 503, 5000, 'readyz 503');
      expect((await readyz(port)).body.reasons.join()).toMatch(/snapshot_store/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/vigil_port_up\{port="snapshot_store"\} 0/);
      await redis().restart();
      await until(async () => (await readyz(port)).status === 200, 10_000, 'readyz 200');
    } finally {
      await node.stop();
    }
  }, 60_000);
});
