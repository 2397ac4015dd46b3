// Back-fill in durable mode: the import mark rides in the event body, so it is in the JetStream
// log and its replay. A patient streaming live gets 24 h of history as an import; after kill -9
// and a restart (snapshot + log replay) its state is the same, and a re-import is all duplicates.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { spawnNode, TOKEN, type NodeProcess } from './producer.js';

const MIN = 60_000;

async function post(port: number, body: unknown): Promise<{ accepted: number; duplicates: number; rejected: { code: string }[] }> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events:batch`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  expect(r.status).toBe(200);
  return (await r.json()) as { accepted: number; duplicates: number; rejected: { code: string }[] };
}

async function summary(port: number, id: string): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/patients/${id}/risk-summary`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status).toBe(200);
  const s = (await r.json()) as Record<string, unknown>;
  // Everything but how old it is now.
  return { events: s.events, latest: s.latest_vitals, windows: s.window_stats, trends: s.trends, news2: s.news2, open: s.open_alerts, recent: s.recent_biometrics, updated: s.updated_at };
}

describe('durable mode: back-fill survives kill -9', () => {
  const redis = useRedis();
  const nats = useNats();

  it('history imported into a live patient is all there after a kill -9 and restart, and a re-import is duplicates', async () => {
    const port = await freePort();
    const env = { VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: `b${randomBytes(4).toString('hex')}`, VIGIL_ANALYTICS: 'off' };
    const patient = `bfd-${randomBytes(3).toString('hex')}`;
    const liveFrom = Math.floor((Date.now() - 10 * MIN) / MIN) * MIN;
    const live = [];
    for (let t = liveFrom, i = 0; t < liveFrom + 10 * MIN; t += 10_000, i++) {
      live.push({ event_id: `l-${i}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: t,
        payload: { patient_id: patient, heart_rate: 130 + (i % 3), resp_rate: 22, spo2: 95, systolic_bp: 118, temperature_c: 37, consciousness: 'A', on_oxygen: false } });
    }
    const history = [];
    for (let k = 1; k <= 24 * 60; k++) {
      const t = liveFrom - k * MIN + (k % 50) * 1000;
      history.push({ event_id: `g-${k}`, tenant_id: 'demo', event_type: 'biometric.reading', schema_version: 1, event_time: t,
        payload: { patient_id: patient, biometric_type: 'glucose', value: 80 + ((k * 31) % 130), unit: 'mg/dL' } });
      if (k % 5 === 0) {
        history.push({ event_id: `h-${k}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: t + 1000,
          payload: { patient_id: patient, heart_rate: 60 + (k % 40) } });
      }
    }
    let node: NodeProcess = await spawnNode(env, port);
    try {
      expect((await post(port, live)).rejected).toEqual([]);
      const liveOnly = await summary(port, patient);
      for (let i = 0; i < history.length; i += 1000) {
        const ack = await post(port, { batch_id: `imp-${i}`, mode: 'import', events: history.slice(i, i + 1000) });
        expect(ack).toMatchObject({ accepted: Math.min(1000, history.length - i), duplicates: 0, rejected: [] });
      }
      const before = await summary(port, patient);
      expect(before.events).toBe(live.length + history.length);
      expect(before.latest).toEqual(liveOnly.latest);
      expect(before.open).toEqual(liveOnly.open);
      expect(before.updated).toBe(liveOnly.updated);

      await node.stop('SIGKILL');
      node = await spawnNode(env, port);
      expect(await summary(port, patient)).toEqual(before);

      for (let i = 0; i < history.length; i += 1000) {
        const ack = await post(port, { batch_id: `again-${i}`, mode: 'import', events: history.slice(i, i + 1000) });
        expect(ack).toMatchObject({ accepted: 0, duplicates: Math.min(1000, history.length - i), rejected: [] });
      }
      expect(await summary(port, patient)).toEqual(before);
    } finally {
      await node.stop('SIGTERM');
    }
  }, 180_000);
});
