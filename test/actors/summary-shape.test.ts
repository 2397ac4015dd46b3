import { describe, expect, it } from 'vitest';
import { createPatient, patientSummary, type PatientState, type ProcedureSummaryMessage } from '../../actors/patient.js';
import { ActorDriver } from './driver.js';
import { bio, cfg, T0, vitals } from './fixtures.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The parts of the answer this file reads. */
interface Shown {
  news2: { components: Record<string, number | null>; missing: string[] };
  updated_at: string;
  open_alerts: { since: string }[];
  procedures: Record<string, unknown>[];
  recent_biometrics: { event_time: string }[];
  window_stats: Record<string, { minute: { start: string }; hour: { start: string } }>;
  freshness_ms: number;
}

/** Every key in an answer, at any depth (array items included). */
function keysOf(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) keysOf(x, out);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.add(k); keysOf(x, out); }
  return out;
}

describe('risk summary: one public shape', () => {
  const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
  d.event(T0, vitals({ heart_rate: 135, resp_rate: 16, spo2: 97, systolic_bp: 120, temperature_c: 37, consciousness: 'A' }));
  d.event(T0 + 1000, { id: 'bp1', type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: 142, diastolic: 91, unit: 'mmHg' } });
  d.event(T0 + 2000, bio('glucose', 6.1, 'mmol/L'));
  const summary: ProcedureSummaryMessage = {
    type: 'procedure.summary', procedure_id: 'pr1', events: 3, avg_risk: 0.2, max_risk: 0.4, p95_latency_ms: 80,
    critical_count: 0, errors: 0, force_spikes: 0, level: 'low', updated_at: T0 + 500,
  };
  d.message(summary);
  const s = patientSummary('p1', d.state, T0 + 5000) as unknown as Shown;

  it('names every field in snake_case, NEWS2 components and missing parameters included', () => {
    for (const k of keysOf(s)) {
      // Series and biometric names are data (a tenant's own types may carry dots and colons).
      if (/^[a-z0-9_.:]+$/.test(k)) continue;
      throw new Error(`field ${k} is not snake_case`);
    }
    expect(Object.keys(s.news2.components).sort()).toEqual(['air_or_oxygen', 'consciousness', 'heart_rate', 'resp_rate', 'spo2', 'systolic_bp', 'temperature']);
    expect(s.news2.components).toMatchObject({ heart_rate: 3, resp_rate: 0 });
    expect(s.news2.missing).toEqual(['air_or_oxygen']);
  });

  it('writes instants as ISO strings: open alerts, procedures, readings, updated_at', () => {
    expect(s.updated_at).toMatch(ISO);
    expect(s.open_alerts.length).toBeGreaterThan(0);
    for (const a of s.open_alerts) expect(a.since).toMatch(ISO);
    expect(s.procedures[0]).toMatchObject({ procedure_id: 'pr1', updated_at: new Date(T0 + 500).toISOString() });
    expect(s.procedures[0]).not.toHaveProperty('type');
    for (const r of s.recent_biometrics) expect(r.event_time).toMatch(ISO);
    expect(s.window_stats.heart_rate!.minute).toMatchObject({ start: new Date(Math.floor(T0 / 60_000) * 60_000).toISOString(), count: 1, min: 135, max: 135 });
    expect(s.window_stats.heart_rate!.hour.start).toMatch(ISO);
    // `_ms` is a duration, never an epoch.
    expect(s.freshness_ms).toBe(3000);
  });

  it('keeps both values of a blood pressure reading', () => {
    expect(s.recent_biometrics).toContainEqual({ event_time: new Date(T0 + 1000).toISOString(), type: 'blood_pressure', systolic: 142, diastolic: 91, unit: 'mmHg' });
    expect(s.recent_biometrics).toContainEqual({ event_time: new Date(T0 + 2000).toISOString(), type: 'glucose', value: 6.1, unit: 'mmol/L' });
  });
});
