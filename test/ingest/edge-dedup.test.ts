// Issue 15, dedup scope. SPEC §1 calls event_id "unique per tenant; the idempotency key". Vigil
// drops a repeated id per actor (the actor the event routes to), within that actor's lateness
// horizon: a producer retry always routes to the same actor, so it is always caught, and no
// tenant-wide index of ids (shared by every actor, every host and every node) is kept. An id
// reused for events of two different actors is two events. README "Event time" says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_TOKEN, ADMIN_TOKEN, DEMO_TOKEN, http, postBatch, startTwoTenantNode, telemetry, vitals, type TestNode } from './node-fixture.js';
import { RawWs } from './fuzz-ws.js';

let t: TestNode;
beforeAll(async () => {
  t = await startTwoTenantNode();
});
afterAll(async () => {
  await t?.close();
});

/** The actor exists (admin inspect finds it). */
const expectActor = async (kind: 'procedure' | 'patient', id: string, tenant = 'demo'): Promise<void> => {
  const a = await http(t.node, `/admin/actors/${kind}/${id}?tenant=${tenant}`, { token: ADMIN_TOKEN });
  expect(a.status, `${tenant} ${kind} ${id}`).toBe(200);
};

describe('a repeated event_id is a duplicate per actor, not per tenant', () => {
  it('the same id to two procedures: both accepted; to one of them again: a duplicate', async () => {
    const first = await postBatch(t.node, [telemetry('dd-1', 'dd-pat', 'dd-proc-a')]);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    const second = await postBatch(t.node, [telemetry('dd-1', 'dd-pat', 'dd-proc-b')]);
    expect(second.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    const again = await postBatch(t.node, [telemetry('dd-1', 'dd-pat', 'dd-proc-a'), telemetry('dd-1', 'dd-pat', 'dd-proc-b')]);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2, rejected: [] });
    for (const p of ['dd-proc-a', 'dd-proc-b']) {
      await expectActor('procedure', p);
      const s = await http<{ events: number }>(t.node, `/v1/procedures/${p}/risk-summary`);
      expect(s.body.events, p).toBe(1);
    }
  });

  it('within one frame, and over a WebSocket: the same rule', async () => {
    const both = await postBatch(t.node, [telemetry('dd-2', 'dd-pat', 'dd-proc-c'), telemetry('dd-2', 'dd-pat', 'dd-proc-d'), telemetry('dd-2', 'dd-pat', 'dd-proc-c')]);
    expect(both.body).toMatchObject({ accepted: 2, duplicates: 1, rejected: [] });
    const s = await RawWs.open(t.node.port, '/v1/stream', DEMO_TOKEN);
    s.send(JSON.stringify([telemetry('dd-2', 'dd-pat', 'dd-proc-e'), telemetry('dd-2', 'dd-pat', 'dd-proc-d')]));
    await s.until(1);
    s.close();
    expect(JSON.parse(s.messages[0]!)).toMatchObject({ accepted: 1, duplicates: 1, rejected: [] });
  });

  it('the same id for a patient (vitals) and a procedure (telemetry): two actors, two events', async () => {
    expect((await postBatch(t.node, [vitals('dd-3', 'dd-pat-2', { heart_rate: 80 }), telemetry('dd-3', 'dd-pat-2', 'dd-proc-f')])).body)
      .toMatchObject({ accepted: 2, duplicates: 0 });
    expect((await postBatch(t.node, [vitals('dd-3', 'dd-pat-2', { heart_rate: 81 })])).body).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it('another tenant reusing an id for an actor of the same name is its own event', async () => {
    expect((await postBatch(t.node, [telemetry('dd-1', 'dd-pat', 'dd-proc-a', {}, { tenant_id: 'acme' })], ACME_TOKEN)).body)
      .toMatchObject({ accepted: 1, duplicates: 0 });
    await expectActor('procedure', 'dd-proc-a', 'acme');
  });
});
