// Issue 14 item 3: what is derived from the actors (the patient directory, open and recent
// alerts, the alert feed) comes back after a restart of a durable node, graceful or kill -9,
// identical to before. The kill comes right after new events, before the next checkpoint, so the
// restart replays them and re-emits their alerts: the view must not change (nor the feed repeat).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { WsClient } from '../../load/ws-client.js';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { spawnNode, TOKEN, type NodeProcess } from './producer.js';

const auth = { authorization: `Bearer ${TOKEN}` };

async function get(port: number, path: string): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: auth, signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

async function post(port: number, events: unknown[]): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events:batch`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(events), signal: AbortSignal.timeout(10_000),
  });
  const ack = (await r.json()) as { accepted: number; rejected: unknown[] };
  if (!r.ok || ack.rejected.length > 0) throw new Error(`batch: HTTP ${r.status} ${JSON.stringify(ack)}`);
}

interface Derived {
  patients: string[];
  total: number;
  recent: unknown[];
  recentHigh: unknown[];
  top: unknown[];
}

/** Everything derived, the patient list paged through with a small page size. */
async function derived(port: number): Promise<Derived> {
  const patients: string[] = [];
  let cursor: string | null = null;
  let total = -1;
  for (let i = 0; i < 100; i++) {
    const p = (await get(port, `/v1/patients?limit=7${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)) as { patients: string[]; next_cursor: string | null; total: number };
    patients.push(...p.patients);
    total = p.total;
    cursor = p.next_cursor;
    if (cursor === null) break;
  }
  const recent = ((await get(port, '/v1/alerts/recent?limit=1000')) as { alerts: unknown[] }).alerts;
  const recentHigh = ((await get(port, '/v1/alerts/recent?limit=1000&min_level=high')) as { alerts: unknown[] }).alerts;
  const top = ((await get(port, '/v1/alerts/top?limit=1000')) as { alerts: unknown[] }).alerts;
  return { patients, total, recent, recentHigh, top };
}

let eventNo = 0;
const run = randomBytes(3).toString('hex');

/** NEWS2 0 (normal), 5-6 (medium) or >= 7 (high) vitals for one patient. */
function vitals(patient: string, kind: 'normal' | 'medium' | 'high', time: number): unknown {
  const v = kind === 'high'
    ? { heart_rate: 135, resp_rate: 26, spo2: 90, systolic_bp: 88, temperature_c: 39.5, consciousness: 'V' }
    : kind === 'medium'
      ? { heart_rate: 115, resp_rate: 22, spo2: 95, systolic_bp: 105, temperature_c: 38.5, consciousness: 'A' }
      : { heart_rate: 72, resp_rate: 14, spo2: 98, systolic_bp: 120, temperature_c: 36.8, consciousness: 'A' };
  return { event_id: `dr-${run}-${eventNo++}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: time, payload: { patient_id: patient, ...v } };
}

/** A round: `n` patients from `from`, each a high, medium or normal reading; every third earlier one back to normal. */
function round(from: number, n: number, t: number): unknown[] {
  const out: unknown[] = [];
  for (let i = from; i < from + n; i++) out.push(vitals(`dp-${String(i).padStart(3, '0')}`, i % 3 === 0 ? 'high' : i % 3 === 1 ? 'medium' : 'normal', t + i));
  for (let i = 0; i < from; i += 3) out.push(vitals(`dp-${String(i).padStart(3, '0')}`, 'normal', t + 500 + i));
  return out;
}

/** Waits until two reads 300 ms apart agree (the node has applied what it was sent). */
async function settled(port: number): Promise<Derived> {
  let last = await derived(port);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await derived(port);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  throw new Error('derived state never settled');
}

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
