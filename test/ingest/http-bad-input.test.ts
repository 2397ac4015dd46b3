// SPEC §1 and §3 over real HTTP: POST /v1/events:batch refusing bad input with exact statuses
// and codes, per-event rejections that never hold back the good events, tenant isolation, and
// the read, probe, metrics and admin endpoints. Two tenants (acme, demo) on one node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support.js';
import {
  ACME_TOKEN, ADMIN_TOKEN, DEMO_TOKEN, MAX_FRAME_BYTES, MEDIUM_VITALS, SEVERE_VITALS, errorCode, http, metricValue, postBatch,
  startTwoTenantNode, telemetry, vitals, type TestNode,
} from './node-fixture.js';

let t: TestNode;
beforeAll(async () => {
  t = await startTwoTenantNode();
});
afterAll(async () => {
  await t?.close();
});

const node = () => t.node;

describe('POST /v1/events:batch refuses a body it cannot take', () => {
  it('malformed JSON: 400 invalid_json with the error shape', async () => {
    for (const body of ['{"event_id": "x",', '{bad', '']) {
      const a = await postBatch(node(), body);
      expect(a.status, body).toBe(400);
      expect(errorCode(a)).toBe('invalid_json');
    }
  });

  it('a content-type other than application/json: 415', async () => {
    const body = JSON.stringify([vitals('ct-1', 'ct-p', { heart_rate: 70 })]);
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', null]) {
      const a = await http(node(), '/v1/events:batch', { body, contentType });
      expect(a.status, String(contentType)).toBe(415);
      expect(errorCode(a)).toBe('unsupported_media_type');
    }
    // "application/json; charset=utf-8" is JSON.
    const ok = await http(node(), '/v1/events:batch', { body, contentType: 'application/json; charset=utf-8' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ accepted: 1 });
  });

  it('1001 events: 413 too_many_events; 1000 are read event by event', async () => {
    // `{}` items keep the body far below maxFrameBytes, so the event count is what is refused.
    const over = await postBatch(node(), Array.from({ length: 1001 }, () => ({})));
    expect(over.status).toBe(413);
    expect(errorCode(over)).toBe('too_many_events');
    const wrapped = await postBatch(node(), { batch_id: 'big', events: Array.from({ length: 1001 }, () => ({})) });
    expect(wrapped.status).toBe(413);
    expect(errorCode(wrapped)).toBe('too_many_events');

    const limit = await postBatch(node(), Array.from({ length: 1000 }, () => ({})));
    expect(limit.status).toBe(200);
    expect(limit.body.accepted).toBe(0);
    expect(limit.body.rejected).toHaveLength(1000);
    expect(limit.body.rejected.every((r, i) => r.index === i && r.code === 'missing_field' && r.event_id === null)).toBe(true);
  });

  it('a body over maxFrameBytes: 413 payload_too_large; exactly maxFrameBytes is read', async () => {
    const ev = JSON.stringify([vitals('size-1', 'size-p', { heart_rate: 71 })]);
    const exact = ev + ' '.repeat(MAX_FRAME_BYTES - Buffer.byteLength(ev));
    expect(Buffer.byteLength(exact)).toBe(MAX_FRAME_BYTES);
    const ok = await postBatch(node(), exact);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });

    for (const size of [MAX_FRAME_BYTES + 1, 4 * MAX_FRAME_BYTES]) {
      const a = await postBatch(node(), ev + ' '.repeat(size - Buffer.byteLength(ev)));
      expect(a.status, `${size} bytes`).toBe(413);
      expect(errorCode(a)).toBe('payload_too_large');
    }
  });

  it('no token or an unknown token: 401 unauthorized; ?token= is a token', async () => {
    const body = JSON.stringify([vitals('auth-1', 'auth-p', { heart_rate: 72 })]);
    for (const token of [null, 'not-a-token-at-all', `${DEMO_TOKEN}x`]) {
      const a = await http(node(), '/v1/events:batch', { token, body });
      expect(a.status, String(token)).toBe(401);
      expect(errorCode(a)).toBe('unauthorized');
    }
    const viaQuery = await http(node(), `/v1/events:batch?token=${DEMO_TOKEN}`, { token: null, body });
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.body).toMatchObject({ accepted: 1 });
    const getNoToken = await http(node(), '/v1/patients', { token: null });
    expect(getNoToken.status).toBe(401);
    expect(errorCode(getNoToken)).toBe('unauthorized');
  });

  it('the admin token on /v1: 403 forbidden, for writes and reads', async () => {
    const w = await postBatch(node(), [vitals('adm-1', 'adm-p', { heart_rate: 73 })], ADMIN_TOKEN);
    expect(w.status).toBe(403);
    expect(errorCode(w)).toBe('forbidden');
    const r = await http(node(), '/v1/patients', { token: ADMIN_TOKEN });
    expect(r.status).toBe(403);
    expect(errorCode(r)).toBe('forbidden');
  });

  it('a method other than POST: 405', async () => {
    const a = await http(node(), '/v1/events:batch');
    expect(a.status).toBe(405);
    expect(errorCode(a)).toBe('method_not_allowed');
  });
});

describe('per-event rejections inside a 200 ack', () => {
  const reject = async (ev: unknown): Promise<{ index: number | null; event_id: string | null; code: string; message: string }> => {
    const a = await postBatch(node(), [ev]);
    expect(a.status).toBe(200);
    expect(a.body.accepted).toBe(0);
    expect(a.body.duplicates).toBe(0);
    expect(a.body.rejected).toHaveLength(1);
    expect(a.body.rejected[0]!.index).toBe(0);
    expect(typeof a.body.rejected[0]!.message).toBe('string');
    return a.body.rejected[0]!;
  };

  it('wrong types', async () => {
    expect(await reject(vitals('wt-1', 'wt-p', { heart_rate: 'fast' }))).toMatchObject({ event_id: 'wt-1', code: 'invalid_type' });
    expect(await reject({ ...vitals('x', 'wt-p', { heart_rate: 70 }), event_id: 42 })).toMatchObject({ event_id: null, code: 'invalid_type' });
    expect(await reject(vitals('wt-3', 'wt-p', { heart_rate: 70 }, { schema_version: '1' }))).toMatchObject({ event_id: 'wt-3', code: 'invalid_type' });
    expect(await reject(vitals('wt-4', 'wt-p', { heart_rate: 70 }, { payload: [1, 2] }))).toMatchObject({ event_id: 'wt-4', code: 'invalid_type' });
    expect(await reject(vitals('wt-5', 'wt-p', { heart_rate: 70 }, { site_id: 7 }))).toMatchObject({ event_id: 'wt-5', code: 'invalid_type' });
    expect(await reject(vitals('wt-6', 'wt-p', { heart_rate: 70 }, { event_time: 'yesterday' }))).toMatchObject({ event_id: 'wt-6', code: 'invalid_event_time' });
    expect(await reject(vitals('wt-7', 'wt-p', { heart_rate: 70, consciousness: 'Z' }))).toMatchObject({ event_id: 'wt-7', code: 'invalid_enum' });
    expect(await reject(vitals('wt-8', 'wt-p', { heart_rate: 400 }))).toMatchObject({ event_id: 'wt-8', code: 'out_of_range' });
    expect(await reject('just a string')).toMatchObject({ event_id: null, code: 'not_an_object' });
  });

  it('missing fields', async () => {
    const base = vitals('mf', 'mf-p', { heart_rate: 70 });
    for (const field of ['event_id', 'tenant_id', 'event_type', 'schema_version', 'event_time', 'payload']) {
      const ev: Record<string, unknown> = { ...base, event_id: `mf-${field}` };
      delete ev[field];
      const r = await reject(ev);
      expect(r.code, field).toBe('missing_field');
      expect(r.event_id, field).toBe(field === 'event_id' ? null : `mf-${field}`);
      expect(r.message, field).toContain(field);
    }
    // The payload's own required fields, and the "at least one vital sign" rule.
    expect(await reject(vitals('mf-pid', 'mf-p', { heart_rate: 70 }, { payload: { heart_rate: 70 } }))).toMatchObject({ code: 'missing_field' });
    expect(await reject(vitals('mf-novitals', 'mf-p', { on_oxygen: true }))).toMatchObject({ code: 'missing_field' });
  });

  it('unknown event type and unknown schema version', async () => {
    expect(await reject(vitals('uk-1', 'uk-p', { heart_rate: 70 }, { event_type: 'vitals.unknown' }))).toMatchObject({ event_id: 'uk-1', code: 'unknown_event_type' });
    expect(await reject(vitals('uk-2', 'uk-p', { heart_rate: 70 }, { schema_version: 2 }))).toMatchObject({ event_id: 'uk-2', code: 'unknown_schema_version' });
    // acme's configured type is not demo's.
    const vent = { event_id: 'uk-3', tenant_id: 'demo', event_type: 'ventilator.reading', schema_version: 1, event_time: Date.now(), payload: { patient_id: 'uk-p', peep_cm_h2o: 5, fio2: 0.4, tidal_volume_ml: 450, mode: 'VC' } };
    expect(await reject(vent)).toMatchObject({ event_id: 'uk-3', code: 'unknown_event_type' });
    const asAcme = await postBatch(node(), [{ ...vent, tenant_id: 'acme' }], ACME_TOKEN);
    expect(asAcme.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it('a tenant_id other than the token\'s: tenant_mismatch', async () => {
    expect(await reject(vitals('tm-1', 'tm-p', { heart_rate: 70 }, { tenant_id: 'acme' }))).toMatchObject({ event_id: 'tm-1', code: 'tenant_mismatch' });
    const a = await postBatch(node(), [vitals('tm-2', 'tm-p', { heart_rate: 70 })], ACME_TOKEN);
    expect(a.body.rejected).toEqual([{ index: 0, event_id: 'tm-2', code: 'tenant_mismatch', message: expect.any(String) as string }]);
    // Nothing reached either tenant's patient.
    expect((await http(node(), '/v1/patients/tm-p/risk-summary')).status).toBe(404);
    expect((await http(node(), '/v1/patients/tm-p/risk-summary', { token: ACME_TOKEN })).status).toBe(404);
  });

  it('the same batch twice: the second ack counts every event as a duplicate', async () => {
    const batch = {
      batch_id: 'dup-batch',
      events: [
        vitals('dup-1', 'dup-p1', { heart_rate: 80 }),
        vitals('dup-2', 'dup-p2', { heart_rate: 81 }),
        telemetry('dup-3', 'dup-p1', 'dup-proc'),
      ],
    };
    const first = await postBatch(node(), batch);
    expect(first.body).toEqual({ type: 'ack', batch_id: 'dup-batch', accepted: 3, duplicates: 0, rejected: [] });
    const second = await postBatch(node(), batch);
    expect(second.body).toEqual({ type: 'ack', batch_id: 'dup-batch', accepted: 0, duplicates: 3, rejected: [] });
    // Applied once.
    const p = await http(node(), '/v1/patients/dup-p1/risk-summary');
    expect(p.body.events).toBe(1);
    const proc = await http(node(), '/v1/procedures/dup-proc/risk-summary');
    expect(proc.body.events).toBe(1);
  });

  it('the same event id twice in one batch: one accepted, one duplicate', async () => {
    const ev = vitals('twice-1', 'twice-p', { heart_rate: 90 });
    const a = await postBatch(node(), [ev, ev]);
    expect(a.body).toMatchObject({ accepted: 1, duplicates: 1, rejected: [] });
  });

  it('a mixed batch: every good event is applied, every bad one is answered with its index', async () => {
    const now = Date.now();
    const events: unknown[] = [
      vitals('mix-0', 'mix-pat', { heart_rate: 88, resp_rate: 18, spo2: 97, systolic_bp: 120, temperature_c: 37, consciousness: 'A' }, { event_time: now - 2000 }),
      vitals('mix-1', 'mix-pat', { heart_rate: 'x' }),
      telemetry('mix-2', 'mix-pat', 'mix-proc', { force_newtons: 12, latency_ms: 30 }, { event_time: now - 1500 }),
      { ...telemetry('mix-3', 'mix-pat', 'mix-proc'), event_type: 'surgical.unknown' },
      telemetry('mix-4', 'mix-pat', 'mix-proc', { force_newtons: 20, latency_ms: 50, error_code: 'E42' }, { event_time: now - 1000 }),
      vitals('mix-5', 'mix-pat', { heart_rate: 70 }, { tenant_id: 'acme' }),
      42,
      vitals('mix-7', 'mix-pat', { heart_rate: 92 }, { event_time: now - 500 }),
      telemetry('mix-8', 'mix-pat', 'mix-proc', { force_newtons: -1 }),
      vitals('mix-9', 'mix-pat', { heart_rate: 70 }, { schema_version: 9 }),
      telemetry('mix-10', 'mix-pat', 'mix-proc', { force_newtons: 30, latency_ms: 40 }, { event_time: now }),
    ];
    const a = await postBatch(node(), { batch_id: 'mixed', events });
    expect(a.status).toBe(200);
    expect(a.body.type).toBe('ack');
    expect(a.body.batch_id).toBe('mixed');
    expect(a.body.accepted).toBe(5);
    expect(a.body.duplicates).toBe(0);
    expect(a.body.rejected.map(({ index, event_id, code }) => ({ index, event_id, code }))).toEqual([
      { index: 1, event_id: 'mix-1', code: 'invalid_type' },
      { index: 3, event_id: 'mix-3', code: 'unknown_event_type' },
      { index: 5, event_id: 'mix-5', code: 'tenant_mismatch' },
      { index: 6, event_id: null, code: 'not_an_object' },
      { index: 8, event_id: 'mix-8', code: 'invalid_value' },
      { index: 9, event_id: 'mix-9', code: 'unknown_schema_version' },
    ]);
    for (const r of a.body.rejected) expect(r.message.length).toBeGreaterThan(0);

    const p = await http(node(), '/v1/patients/mix-pat/risk-summary');
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      patient_id: 'mix-pat',
      events: 2,
      latest_vitals: { heart_rate: 92, resp_rate: 18, spo2: 97, systolic_bp: 120, temperature_c: 37, consciousness: 'A' },
      updated_at: new Date(now - 500).toISOString(),
    });
    // NEWS2 from the latest values: pulse 92 scores 1, the rest 0; on_oxygen was not sent.
    expect(p.body.news2).toMatchObject({ score: 1, level: 'low', complete: false, missing: ['air_or_oxygen'] });
    expect(p.body.news2).toMatchObject({ components: { heart_rate: 1, resp_rate: 0, spo2: 0, systolic_bp: 0, temperature: 0, consciousness: 0, air_or_oxygen: null } });

    const proc = await http(node(), '/v1/procedures/mix-proc/risk-summary');
    expect(proc.status).toBe(200);
    expect(proc.body).toMatchObject({
      procedure_id: 'mix-proc', patient_id: 'mix-pat', events: 3, max_force_newtons: 30, errors: 1,
      error_codes: { E42: 1 }, critical_count: 0, force_spikes: 0, level: 'low', updated_at: new Date(now).toISOString(),
    });
    // p95 of latencies {30, 50, 40}: the sketch answers the lower nearest rank, floor(0.95 * 2) = 1,
    // i.e. 40, within its 1 % relative accuracy (actors/sketch.ts).
    expect(Math.abs((proc.body.p95_latency_ms as number) - 40) / 40).toBeLessThanOrEqual(0.01);
    expect(proc.body.max_risk as number).toBeGreaterThanOrEqual(proc.body.avg_risk as number);

    // The procedure reports to its patient (at most once a second).
    await waitFor(async () => {
      const s = await http<{ procedures: { procedure_id: string; events: number }[] }>(node(), '/v1/patients/mix-pat/risk-summary');
      return s.body.procedures.some((x) => x.procedure_id === 'mix-proc' && x.events === 3);
    }, 10_000, 'the procedure summary to reach its patient');
  });
});

describe('tenant isolation', () => {
  it('a tenant never reads another tenant\'s patients or alerts', async () => {
    const a = await postBatch(node(), [vitals('iso-1', 'iso-demo-pat', SEVERE_VITALS), telemetry('iso-2', 'iso-demo-pat', 'iso-demo-proc')]);
    expect(a.body).toMatchObject({ accepted: 2, rejected: [] });

    // demo reads its own ...
    expect((await http(node(), '/v1/patients/iso-demo-pat/risk-summary')).status).toBe(200);
    expect((await http(node(), '/v1/procedures/iso-demo-proc/risk-summary')).status).toBe(200);
    expect((await http(node(), '/v1/patients/iso-demo-pat/trends')).status).toBe(200);
    const demoAlerts = await http<{ alerts: { alert_id: string; subject: { id: string } }[] }>(node(), '/v1/alerts/recent');
    const demoAlert = demoAlerts.body.alerts.find((x) => x.subject.id === 'iso-demo-pat');
    expect(demoAlert).toBeDefined();

    // ... acme does not.
    for (const p of ['/v1/patients/iso-demo-pat/risk-summary', '/v1/procedures/iso-demo-proc/risk-summary', '/v1/patients/iso-demo-pat/trends']) {
      const r = await http(node(), p, { token: ACME_TOKEN });
      expect(r.status, p).toBe(404);
      expect(errorCode(r)).toBe('not_found');
    }
    for (const p of ['/v1/alerts/recent', '/v1/alerts/top', '/v1/alerts/recent?min_level=low&limit=1000']) {
      const r = await http<{ alerts: { alert_id: string; tenant_id: string }[] }>(node(), p, { token: ACME_TOKEN });
      expect(r.status).toBe(200);
      expect(r.body.alerts.some((x) => x.alert_id === demoAlert!.alert_id)).toBe(false);
      expect(r.body.alerts.every((x) => x.tenant_id === 'acme')).toBe(true);
    }
    const list = await http<{ patients: string[] }>(node(), '/v1/patients?limit=1000', { token: ACME_TOKEN });
    expect(list.body.patients).not.toContain('iso-demo-pat');

    // The same patient id under acme is a different actor.
    const acme = await postBatch(node(), [vitals('iso-1', 'iso-demo-pat', { heart_rate: 60 }, { tenant_id: 'acme' })], ACME_TOKEN);
    expect(acme.body).toMatchObject({ accepted: 1, duplicates: 0 });
    const acmeView = await http(node(), '/v1/patients/iso-demo-pat/risk-summary', { token: ACME_TOKEN });
    expect(acmeView.body).toMatchObject({ events: 1, latest_vitals: { heart_rate: 60 } });
    const demoView = await http(node(), '/v1/patients/iso-demo-pat/risk-summary');
    expect(demoView.body).toMatchObject({ events: 1, latest_vitals: { heart_rate: 135 } });
  });
});

describe('read endpoints', () => {
  it('an unknown route: 404 with the error shape', async () => {
    for (const p of ['/v1/nothing', '/v1/patients/x/unknown', '/nowhere', '/admin/nothing']) {
      const r = await http(node(), p, { token: p.startsWith('/admin') ? ADMIN_TOKEN : DEMO_TOKEN });
      expect(r.status, p).toBe(404);
      expect(errorCode(r)).toBe('not_found');
    }
    const missing = await http(node(), '/v1/patients/never-seen/risk-summary');
    expect(missing.status).toBe(404);
    expect(errorCode(missing)).toBe('not_found');
  });

  it('a bad limit: 400 invalid_parameter', async () => {
    for (const limit of ['0', '-1', '1001', 'ten', '2.5']) {
      for (const p of [`/v1/patients?limit=${limit}`, `/v1/alerts/recent?limit=${limit}`, `/v1/alerts/top?limit=${limit}`]) {
        const r = await http(node(), p);
        expect(r.status, p).toBe(400);
        expect(errorCode(r)).toBe('invalid_parameter');
      }
    }
    const lvl = await http(node(), '/v1/alerts/recent?min_level=urgent');
    expect(lvl.status).toBe(400);
    expect(errorCode(lvl)).toBe('invalid_parameter');
  });

  it('/v1/patients pages through every patient with a cursor', async () => {
    const ids = ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e'];
    const acme = (id: string, i: number) => vitals(`pg-${i}`, id, { heart_rate: 70 + i }, { tenant_id: 'acme' });
    expect((await postBatch(node(), ids.map(acme), ACME_TOKEN)).body).toMatchObject({ accepted: 5 });

    const everyone = await http<{ patients: string[]; total: number; next_cursor: string | null }>(node(), '/v1/patients?limit=1000', { token: ACME_TOKEN });
    const all = everyone.body.patients;
    expect(all).toEqual([...all].sort());
    for (const id of ids) expect(all).toContain(id);
    expect(everyone.body.total).toBe(all.length);
    expect(everyone.body.next_cursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/patients?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const r = await http<{ patients: string[]; total: number; next_cursor: string | null }>(node(), q, { token: ACME_TOKEN });
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(all.length);
      expect(r.body.patients.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.patients);
      cursor = r.body.next_cursor;
      if (cursor !== null) expect(cursor).toBe(r.body.patients[1]);
      pages++;
    } while (cursor !== null && pages < 100);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));
  });

  it('/v1/patients/{id}/trends classifies each series', async () => {
    const now = Date.now();
    const hr = [60, 70, 80, 90, 100, 110];
    const evs = hr.map((v, i) => vitals(`tr-${i}`, 'tr-pat', { heart_rate: v, spo2: 97 }, { event_time: now - (hr.length - i) * 60_000 }));
    expect((await postBatch(node(), evs)).body).toMatchObject({ accepted: 6 });
    const r = await http<{ patient_id: string; trends: Record<string, { trend: string; points: number; slope_per_hour: number; mean: number }> }>(node(), '/v1/patients/tr-pat/trends');
    expect(r.status).toBe(200);
    expect(r.body.patient_id).toBe('tr-pat');
    expect(r.body.trends.heart_rate).toMatchObject({ trend: 'increasing', points: 6, mean: 85 });
    expect(r.body.trends.heart_rate!.slope_per_hour).toBeGreaterThan(0);
    expect(r.body.trends.spo2).toMatchObject({ trend: 'stable', points: 6, mean: 97 });
  });

  it('/v1/alerts/recent?min_level=high and /v1/alerts/top', async () => {
    // Two posts: within one batch, alerts of actors on different shard hosts arrive in either
    // order; an ack comes only after its events' alerts are published.
    expect((await postBatch(node(), [vitals('al-med', 'al-med-pat', MEDIUM_VITALS)])).body).toMatchObject({ accepted: 1 });
    expect((await postBatch(node(), [vitals('al-crit', 'al-crit-pat', SEVERE_VITALS)])).body).toMatchObject({ accepted: 1 });

    type Alerts = { alerts: { alert_id: string; tenant_id: string; level: string; reason: string; value: number; subject: { kind: string; id: string } }[] };
    const all = await http<Alerts>(node(), '/v1/alerts/recent?min_level=low&limit=1000');
    const med = all.body.alerts.find((x) => x.subject.id === 'al-med-pat');
    const crit = all.body.alerts.find((x) => x.subject.id === 'al-crit-pat');
    expect(med).toMatchObject({ tenant_id: 'demo', level: 'medium', reason: 'news2', value: 3, subject: { kind: 'patient' } });
    expect(crit).toMatchObject({ tenant_id: 'demo', level: 'critical', reason: 'news2', value: 17, subject: { kind: 'patient' } });
    // Newest first: the critical one came second.
    expect(all.body.alerts.indexOf(crit!)).toBeLessThan(all.body.alerts.indexOf(med!));

    const high = await http<Alerts>(node(), '/v1/alerts/recent?min_level=high&limit=1000');
    expect(high.status).toBe(200);
    expect(high.body.alerts.some((x) => x.alert_id === crit!.alert_id)).toBe(true);
    expect(high.body.alerts.some((x) => x.alert_id === med!.alert_id)).toBe(false);
    expect(high.body.alerts.every((x) => x.level === 'high' || x.level === 'critical')).toBe(true);

    const one = await http<Alerts>(node(), '/v1/alerts/recent?limit=1');
    expect(one.body.alerts).toHaveLength(1);

    const top = await http<Alerts>(node(), '/v1/alerts/top?limit=1000');
    expect(top.status).toBe(200);
    const rank = { low: 0, medium: 1, high: 2, critical: 3 } as Record<string, number>;
    const ranks = top.body.alerts.map((x) => rank[x.level]!);
    expect(ranks).toEqual([...ranks].sort((x, y) => y - x));
    expect(top.body.alerts[0]!.level).toBe('critical');
    expect(top.body.alerts.findIndex((x) => x.alert_id === crit!.alert_id)).toBeLessThan(top.body.alerts.findIndex((x) => x.alert_id === med!.alert_id));
  });

  it('/healthz and /readyz', async () => {
    const h = await http(node(), '/healthz', { token: null });
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'ok', pid: process.pid });
    const r = await http(node(), '/readyz', { token: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ready: true, reasons: [] });
  });

  it('/metrics counts events and rejections by code', async () => {
    const before = (await http<string>(node(), '/metrics', { token: null })).body;
    const a = await postBatch(node(), [
      vitals('met-0', 'met-pat', { heart_rate: 70 }),
      vitals('met-1', 'met-pat', { heart_rate: 70 }, { event_type: 'nope.nope' }),
      vitals('met-2', 'met-pat', { heart_rate: 70 }, { event_type: 'nope.nope' }),
      vitals('met-3', 'met-pat', { heart_rate: 70 }, { tenant_id: 'acme' }),
    ]);
    expect(a.body).toMatchObject({ accepted: 1 });
    const m = await http<string>(node(), '/metrics', { token: null });
    expect(m.status).toBe(200);
    expect(m.contentType).toMatch(/^text\/plain/);
    const after = m.body;
    expect(after).toMatch(/^# TYPE vigil_ingest_events_total counter$/m);
    expect(after).toMatch(/^# TYPE vigil_ingest_rejected_total counter$/m);
    const delta = (s: string) => metricValue(after, s) - metricValue(before, s);
    expect(delta('vigil_ingest_events_total')).toBe(4);
    expect(delta('vigil_ingest_rejected_total{code="unknown_event_type"}')).toBe(2);
    expect(delta('vigil_ingest_rejected_total{code="tenant_mismatch"}')).toBe(1);
    expect(delta('vigil_ingest_accepted_total')).toBe(1);
    expect(delta('vigil_ingest_frames_total')).toBe(1);
  });

  it('/admin/shards needs the admin token', async () => {
    const r = await http<{ key_groups: number; shards: { shard: number; key_groups: [number, number] }[]; epoch: number }>(node(), '/admin/shards', { token: ADMIN_TOKEN });
    expect(r.status).toBe(200);
    expect(r.body.key_groups).toBe(4096);
    expect(r.body.shards.map((s) => s.shard)).toEqual([0, 1]);
    // The ranges cover every key group exactly once.
    expect(r.body.shards[0]!.key_groups[0]).toBe(0);
    expect(r.body.shards[0]!.key_groups[1]).toBe(r.body.shards[1]!.key_groups[0]);
    expect(r.body.shards[1]!.key_groups[1]).toBe(4096);

    const tenant = await http(node(), '/admin/shards', { token: DEMO_TOKEN });
    expect(tenant.status).toBe(403);
    expect(errorCode(tenant)).toBe('forbidden');
    const none = await http(node(), '/admin/shards', { token: null });
    expect(none.status).toBe(401);
    expect(errorCode(none)).toBe('unauthorized');
  });

  it('/admin/actors/{kind}/{id}?tenant= shows one actor', async () => {
    expect((await postBatch(node(), [vitals('act-1', 'act-pat', { heart_rate: 77 })])).body).toMatchObject({ accepted: 1 });
    const r = await http<{ kind: string; tenant: string; id: string; status: string; state: { events: number; latest: Record<string, [number, number]> } }>(
      node(), '/admin/actors/patient/act-pat?tenant=demo', { token: ADMIN_TOKEN });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ kind: 'patient', tenant: 'demo', id: 'act-pat', status: 'active' });
    expect(r.body.state.events).toBe(1);
    expect(r.body.state.latest.heart_rate![1]).toBe(77);

    const otherTenant = await http(node(), '/admin/actors/patient/act-pat?tenant=acme', { token: ADMIN_TOKEN });
    expect(otherTenant.status).toBe(404);
    expect(errorCode(otherTenant)).toBe('not_found');
    const noTenant = await http(node(), '/admin/actors/patient/act-pat', { token: ADMIN_TOKEN });
    expect(noTenant.status).toBe(400);
    expect(errorCode(noTenant)).toBe('invalid_parameter');
    const badKind = await http(node(), '/admin/actors/robot/act-pat?tenant=demo', { token: ADMIN_TOKEN });
    expect(badKind.status).toBe(404);
    expect(errorCode(badKind)).toBe('not_found');
    const asTenant = await http(node(), '/admin/actors/patient/act-pat?tenant=demo', { token: DEMO_TOKEN });
    expect(asTenant.status).toBe(403);
    expect(errorCode(asTenant)).toBe('forbidden');
  });
});
