// Biometrics are converted to their type's canonical unit (glucose mg/dL, weight kg, blood
// pressure mmHg, temperature °C) before series, trends, window stats, outlier bounds and rollups;
// the reading as sent stays in `recent` (recent_biometrics). An unknown unit, which the contract
// stage refuses (units-contract.test.ts), is kept as sent and not checked (events from before).
import { describe, expect, it } from 'vitest';
import { createPatient, type PatientState } from '../../actors/patient.js';
import { classify } from '../../actors/trend.js';
import { latestStats } from '../../actors/windows.js';
import { ActorDriver } from './driver.js';
import { bio, cfg, T0 } from './fixtures.js';

const patient = () => new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');

describe('biometric units', () => {
  it('7.8 mmol/L glucose is normal, 2.5 and 15 mmol/L are outliers; latest and outliers in mg/dL, recent as sent', () => {
    const d = patient();
    d.event(T0, bio('glucose', 7.8, 'mmol/L'));
    expect(d.state.outliers.glucose).toBeUndefined();
    expect(d.state.latest.glucose).toEqual([T0, 7.8 * 18.016]);
    expect(d.state.recent.at(-1)).toEqual({ t: T0, type: 'glucose', v: 7.8, unit: 'mmol/L' });
    d.event(T0 + 1000, bio('glucose', 2.5, 'mmol/l'));
    d.event(T0 + 2000, bio('glucose', 15, 'MMOL/L'));
    expect(d.state.outliers.glucose).toEqual({ n: 2, last: [T0 + 2000, 15 * 18.016] });
  });

  it('a patient whose glucose arrives in mmol/L and mg/dL gets one series, trend and rollup in mg/dL', () => {
    const d = patient();
    // 100, 110, 120, 130, 140 mg/dL a minute apart, every other one sent in mmol/L. As sent, the
    // series would read 100, 6.1, 120, 7.2, 140: a "volatile" trend and meaningless statistics.
    const mgdl = [100, 110, 120, 130, 140];
    mgdl.forEach((v, i) => d.event(T0 + i * 60_000, i % 2 === 1 ? bio('glucose', v / 18.016, 'mmol/L') : bio('glucose', v, 'mg/dL')));
    const stats = latestStats(d.state.series.glucose!).hour!;
    expect(stats.count).toBe(5);
    expect(stats.min).toBeCloseTo(100, 9);
    expect(stats.max).toBeCloseTo(140, 9);
    expect(stats.avg).toBeCloseTo(120, 9);
    expect(classify(d.state.trends.glucose!).trend).toBe('increasing');
    expect(classify(d.state.trends.glucose!).mean).toBeCloseTo(120, 9);
    expect(d.state.recent.map((r) => r.unit)).toEqual(['mg/dL', 'mmol/L', 'mg/dL', 'mmol/L', 'mg/dL']);
    expect(d.state.recent[1]!.v).toBe(110 / 18.016);
    d.event(T0 + 10 * 60_000 + cfg.patient.latenessMs, bio('glucose', 6, 'mmol/L')); // closes the five minutes
    const rows = d.rollups.filter((x) => x.metric === 'glucose' && x.windowStart < T0 + 5 * 60_000).sort((x, y) => x.windowStart - y.windowStart);
    expect(rows.map((x) => x.count)).toEqual([1, 1, 1, 1, 1]);
    rows.forEach((x, i) => {
      expect(x.sum).toBeCloseTo(mgdl[i]!, 9);
      expect(x.max).toBeCloseTo(mgdl[i]!, 9);
    });
  });

  it('temperature in °F is converted to °C (series and bounds); recent keeps °F', () => {
    const d = patient();
    d.event(T0, bio('temperature_c', 98.6, '°F'));
    expect(d.state.latest.temperature_c![1]).toBeCloseTo(37, 9);
    expect(d.state.outliers.temperature_c).toBeUndefined();
    d.event(T0 + 1000, bio('temperature_c', 104, 'F')); // 40 °C
    expect(d.state.outliers.temperature_c!.n).toBe(1);
    expect(d.state.outliers.temperature_c!.last[1]).toBeCloseTo(40, 9);
    d.event(T0 + 2000, bio('temperature', 100.4, 'fahrenheit'));
    expect(d.state.latest.temperature![1]).toBeCloseTo(38, 9);
    expect(d.state.recent.at(-1)).toEqual({ t: T0 + 2000, type: 'temperature', v: 100.4, unit: 'fahrenheit' });
  });

  it('mg/dL is checked as before', () => {
    const d = patient();
    d.event(T0, bio('glucose', 140, 'mg/dL'));
    d.event(T0 + 1000, bio('glucose', 250, 'mg/dl'));
    expect(d.state.outliers.glucose).toEqual({ n: 1, last: [T0 + 1000, 250] });
  });

  it('weight in lb is converted to kg for the bounds', () => {
    const d = patient();
    d.event(T0, bio('weight', 180, 'lb'));
    expect(d.state.outliers.weight).toBeUndefined();
    d.event(T0 + 1000, bio('weight', 700, 'lbs')); // 317.5 kg
    expect(d.state.outliers.weight).toEqual({ n: 1, last: [T0 + 1000, 700 * 0.45359237] });
    expect(latestStats(d.state.series.weight!).minute!.max).toBeCloseTo(700 * 0.45359237, 9);
  });

  it('blood pressure in kPa is converted to mmHg', () => {
    const d = patient();
    d.event(T0, { id: 'bp1', type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: 16, diastolic: 10.7, unit: 'kPa' } });
    expect(d.state.outliers['blood_pressure.systolic']).toBeUndefined();
    expect(d.state.outliers['blood_pressure.diastolic']).toBeUndefined();
    expect(d.state.latest['blood_pressure.systolic']![1]).toBeCloseTo(120.01, 2);
    expect(latestStats(d.state.series['blood_pressure.diastolic']!).minute!.min).toBeCloseTo(80.26, 2);
    expect(d.state.recent.at(-1)).toEqual({ t: T0, type: 'blood_pressure', v: 16, d: 10.7, unit: 'kPa' });
  });

  it('an unknown unit (an event from before the contract check) is kept as sent with no outlier check', () => {
    const d = patient();
    d.event(T0, bio('glucose', 7.8, 'furlongs'));
    d.event(T0 + 1000, bio('glucose', 900, 'u'));
    expect(d.state.outliers.glucose).toBeUndefined();
    expect(d.state.latest.glucose).toEqual([T0 + 1000, 900]);
    expect(latestStats(d.state.series.glucose!).minute!.max).toBe(900);
  });

  it('a type without a unit table is used as sent', () => {
    const d = patient();
    d.event(T0, bio('lactate', 2.5, 'mmol/L'));
    expect(d.state.latest.lactate).toEqual([T0, 2.5]);
  });
});
