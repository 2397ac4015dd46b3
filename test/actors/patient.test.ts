import { describe, expect, it } from 'vitest';
import { createPatient, patientSummary, type PatientState, type ProcedureSummaryMessage } from '../../actors/patient.js';
import { ActorDriver } from './driver.js';
import { bio, cfg, T0, vitals } from './fixtures.js';

const MIN = 60_000;
const patient = () => new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');

describe('patient actor', () => {
  it('scores NEWS2 from the latest value of each parameter by event time, with components', () => {
    const d = patient();
    d.event(T0, vitals({ heart_rate: 120, resp_rate: 22, spo2: 95, systolic_bp: 105, temperature_c: 38.5, consciousness: 'A', on_oxygen: false }));
    // Score: HR 120 -> 2, RR 22 -> 2, SpO2 95 -> 1, SBP 105 -> 1, temp 38.5 -> 1, A -> 0, air -> 0 = 7.
    expect(d.state.news2).toMatchObject({ score: 7, risk: 'high', level: 'critical', complete: true });
    expect(d.state.news2!.components).toMatchObject({ heartRate: 2, respRate: 2, spo2: 1, systolicBp: 1, temperature: 1 });
    // An older reading arriving late does not replace a newer one.
    d.event(T0 - 10_000, vitals({ heart_rate: 70 }));
    expect(d.state.latest.heart_rate).toEqual([T0, 120]);
    d.event(T0 + 1000, vitals({ heart_rate: 70, resp_rate: 16, spo2: 97, systolic_bp: 120, temperature_c: 37 }));
    expect(d.state.news2).toMatchObject({ score: 0, risk: 'low' });
  });

  it('uses SpO2 scale 2 for a patient flagged for it', () => {
    const d = patient();
    d.event(T0, vitals({ spo2: 89, spo2_scale: 2, on_oxygen: false, heart_rate: 70, resp_rate: 16, systolic_bp: 120, temperature_c: 37, consciousness: 'A' }));
    expect(d.state.news2!.components.spo2).toBe(0);
    d.event(T0 + 1000, vitals({ spo2: 89, spo2_scale: 1 }));
    expect(d.state.news2!.components.spo2).toBe(3);
  });

  it('opens a news2 alert at medium or above and resolves it when the score falls', () => {
    const d = patient();
    d.event(T0, vitals({ heart_rate: 135, resp_rate: 16, spo2: 97, systolic_bp: 120, temperature_c: 37, consciousness: 'A', on_oxygen: false }));
    expect(d.alerts.at(-1)).toMatchObject({ reason: 'news2', state: 'open', level: 'medium', subjectKind: 'patient', subjectId: 'p1' });
    d.event(T0 + 1000, vitals({ heart_rate: 80 }));
    expect(d.alerts.at(-1)).toMatchObject({ reason: 'news2', state: 'resolved', alertId: d.alerts[0]!.alertId });
    d.event(T0 + 2000, vitals({ heart_rate: 135 }));
    expect(d.alerts.at(-1)!.alertId).not.toBe(d.alerts[0]!.alertId); // a new episode
  });

  it('keeps per-minute and per-hour stats and emits a minute rollup once the watermark passes it', () => {
    const d = patient();
    for (let i = 0; i < 60; i++) d.event(T0 + i * 1000, vitals({ heart_rate: 60 + i }));
    expect(d.rollups).toHaveLength(0);
    d.event(T0 + MIN, vitals({ heart_rate: 100 }));
    expect(d.rollups).toEqual([
      expect.objectContaining({ metric: 'heart_rate', windowStart: T0, windowMs: MIN, count: 60, min: 60, max: 119, sum: 60 * 60 + (59 * 60) / 2, revision: 1, final: true, actorKind: 'patient', actorId: 'p1', tenant: 't1' }),
    ]);
    const summary = patientSummary('p1', d.state, T0 + MIN);
    expect(summary.window_stats).toMatchObject({ heart_rate: { minute: { start: new Date(T0 + MIN).toISOString(), count: 1 }, hour: { start: new Date(T0).toISOString(), count: 61 } } });
  });

  it('corrects a window with a late event inside the lateness and re-emits it with a higher revision', () => {
    const d = patient();
    d.event(T0, vitals({ heart_rate: 60 }));
    d.event(T0 + 2 * MIN, vitals({ heart_rate: 60 }));
    expect(d.rollups.filter((r) => r.windowStart === T0)).toHaveLength(1);
    d.event(T0 + 30_000, vitals({ heart_rate: 90 }));
    const w = d.rollups.filter((r) => r.windowStart === T0 && r.metric === 'heart_rate');
    expect(w.map((r) => [r.revision, r.count, r.max])).toEqual([[1, 1, 60], [2, 2, 90]]);
    expect(d.rejected).toHaveLength(0);
  });

  it('refuses an event beyond the lateness with too_late and changes nothing', () => {
    const d = patient();
    d.event(T0 + 10 * MIN, vitals({ heart_rate: 60 }));
    const before = d.snapshot();
    d.event(T0 + 10 * MIN - cfg.patient.latenessMs - 1, vitals({ heart_rate: 200 }));
    expect(d.rejected).toEqual([expect.objectContaining({ code: 'too_late', message: expect.stringMatching(/allowed lateness is 300 s/) })]);
    expect(d.snapshot()).toBe(before);
  });

  it('drops a duplicate event_id, also after a snapshot round trip', () => {
    const d = patient();
    d.event(T0, vitals({ heart_rate: 60 }, 'dup-1'));
    d.restore(d.snapshot());
    d.event(T0, vitals({ heart_rate: 60 }, 'dup-1'));
    expect(d.duplicates).toBe(1);
    expect(d.state.events).toBe(1);
  });

  it('raises signal_lost when a monitored patient goes quiet, and resolves it when vitals return', () => {
    const d = patient();
    // Monitored: readings at a steady 1 s cadence (a single reading is a spot check).
    for (let i = 0; i < cfg.patient.monitoredMinReadings; i++) {
      if (i > 0) d.advance(1000);
      d.event(T0 + i * 1000, vitals({ heart_rate: 70 }));
    }
    d.advance(cfg.patient.signalLostMs - 1);
    expect(d.alerts.filter((a) => a.reason === 'signal_lost')).toHaveLength(0);
    d.advance(1);
    expect(d.alerts.at(-1)).toMatchObject({ reason: 'signal_lost', state: 'open', level: 'high' });
    d.event(T0 + 120_000, vitals({ heart_rate: 71 }));
    expect(d.alerts.at(-1)).toMatchObject({ reason: 'signal_lost', state: 'resolved' });
  });

  it('does not raise signal_lost for a patient that never sent vitals', () => {
    const d = patient();
    d.event(T0, bio('glucose', 100));
    d.advance(10 * cfg.patient.signalLostMs);
    expect(d.alerts).toHaveLength(0);
  });

  it('flags physiological outliers without dropping the reading', () => {
    const d = patient();
    d.event(T0, bio('glucose', 250));
    d.event(T0 + 1000, bio('glucose', 120));
    expect(d.state.outliers.glucose).toEqual({ n: 1, last: [T0, 250] });
    expect(d.state.latest.glucose).toEqual([T0 + 1000, 120]);
  });

  it.each([
    ['increasing', (i: number) => 100 + i * 5],
    ['decreasing', (i: number) => 200 - i * 5],
    ['stable', () => 100],
    ['volatile', (i: number) => (i % 2 === 0 ? 80 : 160)],
  ])('classifies a %s biometric trend', (want, f) => {
    const d = patient();
    for (let i = 0; i < 12; i++) d.event(T0 + i * MIN, bio('glucose', f(i)));
    expect((patientSummary('p1', d.state, T0).trends as Record<string, string>).glucose).toBe(want);
  });

  it('keeps blood pressure as two series', () => {
    const d = patient();
    d.event(T0, { id: 'bp1', type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: 130, diastolic: 85, unit: 'mmHg' } });
    expect(Object.keys(d.state.series).sort()).toEqual(['blood_pressure.diastolic', 'blood_pressure.systolic']);
  });

  it('collects its procedures’ risk summaries, newest wins', () => {
    const d = patient();
    const m = (at: number, avg: number): ProcedureSummaryMessage => ({
      type: 'procedure.summary', procedure_id: 'pr1', events: 10, avg_risk: avg, max_risk: 90, p95_latency_ms: 55,
      critical_count: 2, errors: 0, force_spikes: 0, level: 'high', updated_at: at,
    });
    d.message(m(T0 + 2000, 40));
    d.message(m(T0 + 1000, 10));
    const s = patientSummary('p1', d.state, T0);
    expect(s).toMatchObject({ avg_risk: 40, p95_latency_ms: 55, critical_count: 2 });
  });
});
