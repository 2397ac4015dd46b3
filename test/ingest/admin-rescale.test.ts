import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, DEMO_TOKEN, startDemoNode, type TestNode } from './node-fixture.js';

describe('POST /admin/shards: live rescale through the admin API', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startDemoNode();
  });
  afterAll(async () => t?.close());

  const post = (body: string, token = ADMIN_TOKEN) =>
    fetch(`${t.node.url}/admin/shards`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });

  it('rescales and the shard map follows; state is kept across the move', async () => {
    const now = Date.now();
    const events = Array.from({ length: 40 }, (_, i) => ({
      event_id: `rs-${i}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: now,
      payload: { patient_id: `rs-p${i % 20}`, heart_rate: 70 + i },
    }));
    const ack = await fetch(`${t.node.url}/v1/events:batch`, { method: 'POST', headers: { authorization: `Bearer ${DEMO_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(((await ack.json()) as { accepted: number }).accepted).toBe(40);
    const r = await post('{"count":4}');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { from: number; to: number; epoch: number; moved_key_groups: number; pause_ms: number };
    expect(body).toMatchObject({ from: 2, to: 4, epoch: 2 });
    expect(body.moved_key_groups).toBeGreaterThan(0);
    const map = (await (await fetch(`${t.node.url}/admin/shards`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { shards: unknown[]; epoch: number };
    expect(map.shards).toHaveLength(4);
    expect(map.epoch).toBe(2);
    for (let i = 0; i < 20; i++) {
      const s = await fetch(`${t.node.url}/v1/patients/rs-p${i}/risk-summary`, { headers: { authorization: `Bearer ${DEMO_TOKEN}` } });
      expect(((await s.json()) as { events: number }).events, `rs-p${i}`).toBe(2);
    }
  });

  it('answers 400 for a bad count and 403 for a tenant token', async () => {
    expect((await post('{"count":0}')).status).toBe(400);
    expect((await post('{"count":"three"}')).status).toBe(400);
    expect((await post('not json')).status).toBe(400);
    expect((await post('{"count":2}', DEMO_TOKEN)).status).toBe(403);
  });
});
