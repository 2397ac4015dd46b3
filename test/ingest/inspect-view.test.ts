// Issue 16: `vigil inspect` / GET /admin/actors shows state a person can read: no packed
// encodings, and for the clinical kinds the same summary the public API answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, http, postBatch, startDemoNode, telemetry, vitals, type TestNode } from './node-fixture.js';

type Inspected = { state: Record<string, unknown> & { dedup?: unknown }; summary: Record<string, unknown> };

let t: TestNode;
beforeAll(async () => {
  t = await startDemoNode();
});
afterAll(async () => {
  await t?.close();
});

describe('admin inspect', () => {
  it('replaces the packed dedup block with its size and adds the risk summary', async () => {
    const ack = await postBatch(t.node, [
      vitals('iv-1', 'iv-pat', { heart_rate: 80 }), vitals('iv-2', 'iv-pat', { heart_rate: 82 }, { event_time: Date.now() + 1 }),
      telemetry('iv-3', 'iv-pat', 'iv-proc'),
    ]);
    expect(ack.body).toMatchObject({ accepted: 3 });
    const p = await http<Inspected>(t.node, '/admin/actors/patient/iv-pat?tenant=demo', { token: ADMIN_TOKEN });
    expect(p.status).toBe(200);
    expect(p.body.state).not.toHaveProperty('dd');
    expect(p.body.state.dedup).toEqual({ remembered_event_ids: 2 });
    expect(p.body.summary).toMatchObject({ patient_id: 'iv-pat', events: 2, latest_vitals: { heart_rate: 82 } });
    // Nothing in the answer looks like a base64 block.
    expect(JSON.stringify(p.body)).not.toMatch(/"[A-Za-z0-9+/]{40,}={0,2}"/);
    const pr = await http<Inspected>(t.node, '/admin/actors/procedure/iv-proc?tenant=demo', { token: ADMIN_TOKEN });
    expect(pr.body.state.dedup).toEqual({ remembered_event_ids: 1 });
    expect(pr.body.summary).toMatchObject({ procedure_id: 'iv-proc', events: 1 });
  });
});

describe('admin shard map', () => {
  it('answers host stats in the API’s snake_case', async () => {
    const r = await http<{ hosts: Record<string, unknown>[] }>(t.node, '/admin/shards', { token: ADMIN_TOKEN });
    expect(r.status).toBe(200);
    expect(r.body.hosts.length).toBeGreaterThan(0);
    for (const h of r.body.hosts) {
      expect(h).toMatchObject({ host_id: expect.any(Number), applied_seq: expect.any(Number), in_flight: expect.any(Number), key_groups: expect.any(Number) });
      for (const k of Object.keys(h)) expect(k).toMatch(/^[a-z0-9_]+$/);
    }
  });
});
