// Issue 14 item 5 through the HTTP API on a real node: a biometric in a unit its type does not
// know is refused `invalid_unit` in the ack (the rest of the batch accepted, the refusal counted
// by code), a corrected resend with the same event_id is accepted (the refusal came before the
// actor's dedup), and a patient whose glucose arrives in mmol/L and mg/dL gets window stats and
// trends in mg/dL while recent_biometrics shows each reading as sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, metricValue, postBatch, startDemoNode, type TestNode } from './node-fixture.js';

let t: TestNode;
beforeAll(async () => {
  t = await startDemoNode();
});
afterAll(async () => {
  await t?.close();
});

const MIN = 60_000;
/** A minute boundary 20 minutes ago: readings a minute apart stay in the past and in order. */
const BASE = Math.floor(Date.now() / MIN) * MIN - 20 * MIN;

function reading(id: string, patient: string, at: number, p: Record<string, unknown>): Record<string, unknown> {
  return {
    event_id: id, tenant_id: 'demo', event_type: 'biometric.reading', schema_version: 1, event_time: new Date(at).toISOString(),
    payload: { patient_id: patient, ...p },
  };
}

const metrics = async (): Promise<string> => (await http<string>(t.node, '/metrics', { token: null })).text;

describe('biometric units over HTTP', () => {
  it('an unknown unit is rejected invalid_unit; the good readings of the batch are accepted', async () => {
    const before = metricValue(await metrics(), 'vigil_ingest_rejected_total{code="invalid_unit"}');
    const ack = await postBatch(t.node, [
      reading('u-1', 'u-pat-1', BASE, { biometric_type: 'glucose', value: 110, unit: 'mg/dL' }),
      reading('u-2', 'u-pat-1', BASE + 1000, { biometric_type: 'glucose', value: 7.8, unit: 'mmol' }),
      reading('u-3', 'u-pat-1', BASE + 2000, { biometric_type: 'weight', value: 180, unit: 'lb' }),
      reading('u-4', 'u-pat-1', BASE + 3000, { biometric_type: 'lactate', value: 2.1, unit: 'mmol/L' }),
    ]);
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ accepted: 3, duplicates: 0 });
    expect(ack.body.rejected).toHaveLength(1);
    const [r] = ack.body.rejected;
    expect(r).toMatchObject({ index: 1, event_id: 'u-2', code: 'invalid_unit' });
    expect(r!.message).toContain('glucose');
    expect(r!.message).toContain('"mmol"');
    expect(r!.message).toContain('mg/dL, mmol/L');
    expect(metricValue(await metrics(), 'vigil_ingest_rejected_total{code="invalid_unit"}') - before).toBe(1);

    const s = await http<{ window_stats: Record<string, { minute: { count: number; max: number } }>; recent_biometrics: unknown[] }>(t.node, '/v1/patients/u-pat-1/risk-summary');
    expect(s.status).toBe(200);
    expect(s.body.window_stats.glucose!.minute.count).toBe(1);
    expect(s.body.window_stats.weight!.minute.max).toBeCloseTo(180 * 0.45359237, 9);
    expect(s.body.recent_biometrics).toContainEqual({ event_time: new Date(BASE + 2000).toISOString(), type: 'weight', value: 180, unit: 'lb' });
  });

  it('a corrected resend with the same event_id is accepted, and a second copy of it is a duplicate', async () => {
    const bad = await postBatch(t.node, [reading('u-fix', 'u-pat-2', BASE, { biometric_type: 'glucose', value: 7.8, unit: 'mmol/dl' })]);
    expect(bad.body).toMatchObject({ accepted: 0, duplicates: 0 });
    expect(bad.body.rejected.map((x) => x.code)).toEqual(['invalid_unit']);
    const fixed = await postBatch(t.node, [reading('u-fix', 'u-pat-2', BASE, { biometric_type: 'glucose', value: 7.8, unit: 'mmol/L' })]);
    expect(fixed.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    const again = await postBatch(t.node, [reading('u-fix', 'u-pat-2', BASE, { biometric_type: 'glucose', value: 7.8, unit: 'mmol/L' })]);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    const s = await http<{ window_stats: Record<string, { minute: { count: number; avg: number } }>; outliers: Record<string, unknown> }>(t.node, '/v1/patients/u-pat-2/risk-summary');
    expect(s.body.window_stats.glucose!.minute.count).toBe(1);
    expect(s.body.window_stats.glucose!.minute.avg).toBeCloseTo(7.8 * 18.016, 9);
    expect(s.body.outliers.glucose).toBeUndefined(); // 140.5 mg/dL is in range
  });

  it('glucose in mmol/L and mg/dL: window stats and trends in mg/dL, recent readings as sent', async () => {
    const mgdl = [100, 110, 120, 130, 140];
    const ack = await postBatch(t.node, mgdl.map((v, i) => reading(`u-mix-${i}`, 'u-pat-3', BASE + i * MIN,
      i % 2 === 1 ? { biometric_type: 'glucose', value: v / 18.016, unit: 'mmol/L' } : { biometric_type: 'glucose', value: v, unit: 'mg/dL' })));
    expect(ack.body).toMatchObject({ accepted: 5, duplicates: 0, rejected: [] });
    type Summary = {
      window_stats: Record<string, { hour: { count: number; min: number; max: number; avg: number } }>;
      trends: Record<string, string>;
      outliers: Record<string, unknown>;
      recent_biometrics: { type: string; value: number; unit: string }[];
    };
    const s = (await http<Summary>(t.node, '/v1/patients/u-pat-3/risk-summary')).body;
    const h = s.window_stats.glucose!.hour;
    expect(h.count).toBe(5);
    expect(h.min).toBeCloseTo(100, 9);
    expect(h.max).toBeCloseTo(140, 9);
    expect(h.avg).toBeCloseTo(120, 9);
    expect(s.trends.glucose).toBe('increasing');
    expect(s.outliers.glucose).toBeUndefined();
    expect(s.recent_biometrics.map((r) => r.unit)).toEqual(['mg/dL', 'mmol/L', 'mg/dL', 'mmol/L', 'mg/dL']);
    expect(s.recent_biometrics[1]!.value).toBe(110 / 18.016);
    const tr = (await http<{ trends: Record<string, { trend: string; points: number; mean: number }> }>(t.node, '/v1/patients/u-pat-3/trends')).body;
    expect(tr.trends.glucose).toMatchObject({ trend: 'increasing', points: 5 });
    expect(tr.trends.glucose!.mean).toBeCloseTo(120, 9);
  });

  it('temperature in °F: stats in °C, an outlier judged in °C', async () => {
    const ack = await postBatch(t.node, [
      reading('u-t1', 'u-pat-4', BASE, { biometric_type: 'temperature', value: 98.6, unit: '°F' }),
      reading('u-t2', 'u-pat-4', BASE + 1000, { biometric_type: 'temperature', value: 104, unit: 'F' }),
      reading('u-t3', 'u-pat-4', BASE + 2000, { biometric_type: 'temperature', value: 310, unit: 'K' }),
    ]);
    expect(ack.body).toMatchObject({ accepted: 2 });
    expect(ack.body.rejected.map((x) => [x.index, x.code])).toEqual([[2, 'invalid_unit']]);
    const s = (await http<{ window_stats: Record<string, { minute: { min: number; max: number } }>; outliers: Record<string, { n: number; last: [string | number, number] }> }>(t.node, '/v1/patients/u-pat-4/risk-summary')).body;
    expect(s.window_stats.temperature!.minute.min).toBeCloseTo(37, 9);
    expect(s.window_stats.temperature!.minute.max).toBeCloseTo(40, 9);
    expect(s.outliers.temperature!.n).toBe(1);
  });
});
