// Issue 14 item 3: what is derived from the actors (the patient directory, open and recent
// alerts, the alert feed) comes back after a restart of a durable node, graceful or kill -9,
// identical to before. The kill comes right after new events, before the next checkpoint, so the
// restart replays them and re-emits their alerts: the view must not change (nor the feed repeat).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { WsClient } from '../../load/ws-client.js';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { auth, derived, post, round, settled, vitals, type Derived } from './derived.js';
import { spawnNode, type NodeProcess } from './producer.js';

/** After a restart: the same answers, checked again a while later (a replay may still be running). */
async function expectSame(port: number, before: Derived, feed: string[]): Promise<void> {
  await new Promise((r) => setTimeout(r, 1500));
  expect(await derived(port)).toEqual(before);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await derived(port)).toEqual(before);
  // The replay re-emitted transitions already seen: none reached the feed.
  expect(feed).toEqual([]);
}

async function openFeed(port: number, into: string[]): Promise<WsClient> {
  const ws = await WsClient.open({ host: '127.0.0.1', port, path: '/v1/alerts/stream', headers: auth, timeoutMs: 2000 });
  ws.onMessage = (text) => into.push(text);
  return ws;
}

describe('durable mode: derived lists survive a restart', () => {
  const redis = useRedis();
  const nats = useNats();

  it('patients, recent and top alerts are identical after a graceful restart and after kill -9; the feed does not repeat', async () => {
    const port = await freePort();
    // One shard host: one commit schedule, which the test watches in Redis.
    const env = {
      VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: `d${randomBytes(4).toString('hex')}`, VIGIL_ANALYTICS: 'off', VIGIL_HOSTS: '1',
    };
    let node: NodeProcess = await spawnNode(env, port);
    let ws: WsClient | null = null;
    const rc = new Redis(redis().url, { maxRetriesPerRequest: 1 });
    const checkpoint = async (): Promise<string> => JSON.stringify(await rc.hgetall(`vigil:{${env.VIGIL_CLUSTER}}:cp`));
    try {
      const t0 = Date.now() - 60_000;
      await post(port, round(0, 30, t0));
      const first = await settled(port);
      expect(first.total).toBe(30);
      expect(first.patients).toHaveLength(30);
      expect(first.top.length).toBeGreaterThanOrEqual(10);
      expect((first.top[0] as { level: string }).level).toBe('critical');

      // Graceful: a final checkpoint, then a new process.
      await node.stop('SIGTERM');
      node = await spawnNode(env, port);
      let feed: string[] = [];
      ws = await openFeed(port, feed);
      await expectSame(port, first, feed);
      ws.close();

      // The host commits every 5 s (snapshot interval). Readings that change nothing move the
      // applied sequence, so the next commit shows in the checkpoint hash; right after it, new
      // events (new patients, resolutions), then kill -9 before the next commit: they are only in
      // the log, and the restart replays them, re-emitting their alerts.
      const quiet: unknown[] = [];
      for (let i = 2; i < 30; i += 3) quiet.push(vitals(`dp-${String(i).padStart(3, '0')}`, 'normal', t0 + 5_000 + i));
      const cpBefore = await checkpoint();
      await post(port, quiet);
      for (let i = 0; i < 200 && (await checkpoint()) === cpBefore; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await checkpoint()).not.toBe(cpBefore);
      const sentAt = Date.now();
      await post(port, round(30, 15, t0 + 10_000));
      const second = await settled(port);
      expect(second.total).toBe(45);
      expect(second.recent.length).toBeGreaterThan(first.recent.length);
      expect(second.recent.some((a) => (a as { state: string }).state === 'resolved')).toBe(true);
      expect(Date.now() - sentAt).toBeLessThan(4000);
      await node.stop('SIGKILL');
      node = await spawnNode(env, port);
      feed = [];
      ws = await openFeed(port, feed);
      await expectSame(port, second, feed);

      // The feed still carries what is new, once.
      await post(port, [vitals('dp-new', 'high', t0 + 20_000)]);
      const end = Date.now() + 10_000;
      while (feed.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      expect(feed.map((f) => (JSON.parse(f) as { subject: { id: string }; state: string }).subject.id)).toEqual(['dp-new']);
      const third = await derived(port);
      expect(third.total).toBe(46);
      expect((third.recent[0] as { subject: { id: string } }).subject.id).toBe('dp-new');
    } finally {
      ws?.close();
      rc.disconnect();
      await node.stop('SIGTERM');
    }
  }, 180_000);
});
