// SPEC §2: GET /v1/alerts/stream?min_level= pushes a tenant's alerts at or above the level, in
// the SPEC shape, and nothing of another tenant's. Two tenants (acme, demo) on one node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsHandshakeError } from '../../load/ws-client.js';
import type { AlertView } from '../../runtime/alert-view.js';
import {
  ACME_TOKEN, DEMO_TOKEN, MEDIUM_VITALS, SEVERE_VITALS, Stream, http, postBatch, startTwoTenantNode, vitals, type TestNode,
} from './node-fixture.js';

let t: TestNode;
const open: Stream[] = [];
beforeAll(async () => {
  t = await startTwoTenantNode();
});
afterAll(async () => {
  for (const s of open) s.close();
  await t?.close();
});

/** What the feed and the alert endpoints answer (SPEC §2). */
type AlertMsg = AlertView;

async function subscribe(query: string, token = DEMO_TOKEN): Promise<Stream> {
  const s = await Stream.open(t.node, `/v1/alerts/stream${query}`, token);
  open.push(s);
  return s;
}

describe('/v1/alerts/stream', () => {
  it('pushes the alert a vitals event raises, in the SPEC shape', async () => {
    const high = await subscribe('?min_level=high');
    const eventTime = Date.now() - 1000;
    const a = await postBatch(t.node, [vitals('as-1', 'as-pat', SEVERE_VITALS, { event_time: eventTime })]);
    expect(a.body).toMatchObject({ accepted: 1, rejected: [] });

    const msg = await high.next<AlertMsg>();
    expect(Object.keys(msg).sort()).toEqual(['alert_id', 'event_time', 'level', 'reason', 'state', 'subject', 'tenant_id', 'type', 'value']);
    expect(msg).toEqual({
      type: 'alert',
      alert_id: expect.stringMatching(/^al_[0-9a-f]+$/) as string,
      tenant_id: 'demo',
      subject: { kind: 'patient', id: 'as-pat' },
      // NEWS2 17: RCP "high" clinical risk, the product's `critical`, which is >= high.
      level: 'critical',
      state: 'open',
      reason: 'news2',
      value: 17,
      event_time: new Date(eventTime).toISOString(),
    });
    // The same alert the HTTP view shows.
    const recent = await http<{ alerts: AlertMsg[] }>(t.node, '/v1/alerts/recent?min_level=high');
    expect(recent.body.alerts.find((x) => x.subject.id === 'as-pat')).toEqual(msg);
  });

  it('does not push an alert below min_level', async () => {
    const high = await subscribe('?min_level=high');
    const low = await subscribe('?min_level=low');
    const medium = await subscribe('?min_level=medium');
    const critical = await subscribe('?min_level=critical');

    // A single red 3: a `medium` alert.
    expect((await postBatch(t.node, [vitals('lv-1', 'lv-med-pat', MEDIUM_VITALS)])).body).toMatchObject({ accepted: 1 });
    const seenLow = await low.next<AlertMsg>();
    expect(seenLow).toMatchObject({ subject: { id: 'lv-med-pat' }, level: 'medium', value: 3, state: 'open' });
    expect(await medium.next<AlertMsg>()).toEqual(seenLow);

    // Then a critical one: it is the first thing the high and critical subscribers see, so
    // the medium alert was never pushed to them (alerts are pushed in order).
    expect((await postBatch(t.node, [vitals('lv-2', 'lv-crit-pat', SEVERE_VITALS)])).body).toMatchObject({ accepted: 1 });
    for (const s of [high, critical, low, medium]) {
      expect(await s.next<AlertMsg>()).toMatchObject({ subject: { id: 'lv-crit-pat' }, level: 'critical' });
      expect(s.pending).toBe(0);
    }
  });

  it('another tenant\'s subscriber gets nothing of demo\'s', async () => {
    const acme = await subscribe('?min_level=low', ACME_TOKEN);
    const demo = await subscribe('?min_level=low');
    // One batch, two patients (possibly on two shard hosts): their alerts may come in either order.
    expect((await postBatch(t.node, [vitals('xt-1', 'xt-demo-pat', SEVERE_VITALS), vitals('xt-2', 'xt-demo-pat2', MEDIUM_VITALS)])).body).toMatchObject({ accepted: 2 });
    const got = [await demo.next<AlertMsg>(), await demo.next<AlertMsg>()];
    expect(got.map((m) => `${m.tenant_id}/${m.subject.id}/${m.level}`).sort()).toEqual(['demo/xt-demo-pat/critical', 'demo/xt-demo-pat2/medium']);

    // acme's own alert is the first thing acme's subscriber receives.
    const own = await postBatch(t.node, [vitals('xt-3', 'xt-acme-pat', SEVERE_VITALS, { tenant_id: 'acme' })], ACME_TOKEN);
    expect(own.body).toMatchObject({ accepted: 1 });
    expect(await acme.next<AlertMsg>()).toMatchObject({ tenant_id: 'acme', subject: { kind: 'patient', id: 'xt-acme-pat' }, level: 'critical' });
    expect(acme.pending).toBe(0);
    // And demo does not see acme's.
    expect((await postBatch(t.node, [vitals('xt-4', 'xt-demo-pat3', MEDIUM_VITALS)])).body).toMatchObject({ accepted: 1 });
    expect(await demo.next<AlertMsg>()).toMatchObject({ tenant_id: 'demo', subject: { id: 'xt-demo-pat3' } });
  });

  it('pushes the resolution when the score falls back', async () => {
    const s = await subscribe('?min_level=high');
    const t0 = Date.now() - 10_000;
    expect((await postBatch(t.node, [vitals('rs-1', 'rs-pat', SEVERE_VITALS, { event_time: t0 })])).body).toMatchObject({ accepted: 1 });
    const opened = await s.next<AlertMsg>();
    expect(opened).toMatchObject({ subject: { id: 'rs-pat' }, state: 'open', level: 'critical' });
    const normal = { heart_rate: 70, resp_rate: 16, spo2: 97, systolic_bp: 120, temperature_c: 37, consciousness: 'A', on_oxygen: false };
    expect((await postBatch(t.node, [vitals('rs-2', 'rs-pat', normal, { event_time: t0 + 5000 })])).body).toMatchObject({ accepted: 1 });
    expect(await s.next<AlertMsg>()).toMatchObject({ alert_id: opened.alert_id, state: 'resolved', level: 'critical', value: 0 });
  });

  it('a bad min_level is 400 before the upgrade; a bad token 401', async () => {
    const refused = async (query: string, token: string | null): Promise<WsHandshakeError> => {
      const err = await Stream.open(t.node, `/v1/alerts/stream${query}`, token).then(
        (s) => {
          s.close();
          return new Error('the upgrade was accepted');
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WsHandshakeError);
      return err as WsHandshakeError;
    };
    for (const q of ['?min_level=urgent', '?min_level=', '?min_level=HIGH']) {
      const e = await refused(q, DEMO_TOKEN);
      expect(e.status, q).toBe(400);
      expect(JSON.parse(e.body)).toMatchObject({ error: { code: 'invalid_parameter' } });
    }
    const e = await refused('?min_level=high', 'wrong-token-xxxxxxxx');
    expect(e.status).toBe(401);
    expect(JSON.parse(e.body)).toMatchObject({ error: { code: 'unauthorized' } });
  });
});
