// Biometric bounds are in canonical units (glucose mg/dL, weight kg, blood pressure mmHg): a
// reading in another known unit is converted for the outlier check and kept as sent; an unknown
// unit is not checked at all (no false alarm).
import { describe, expect, it } from 'vitest';
import { createPatient, type PatientState } from '../../actors/patient.js';
import { ActorDriver } from './driver.js';
import { bio, cfg, T0 } from './fixtures.js';

const patient = () => new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');

describe('biometric units', () => {
  it('7.8 mmol/L glucose is normal, 2.5 and 15 mmol/L are outliers; values kept as sent', () => {
    const d = patient();
    d.event(T0, bio('glucose', 7.8, 'mmol/L'));
    expect(d.state.outliers.glucose).toBeUndefined();
    expect(d.state.latest.glucose).toEqual([T0, 7.8]);
    expect(d.state.recent.at(-1)).toEqual({ t: T0, type: 'glucose', v: 7.8, unit: 'mmol/L' });
    d.event(T0 + 1000, bio('glucose', 2.5, 'mmol/l'));
    d.event(T0 + 2000, bio('glucose', 15, 'MMOL/L'));
    expect(d.state.outliers.glucose).toEqual({ n: 2, last: [T0 + 2000, 15] });
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
    expect(d.state.outliers.weight).toEqual({ n: 1, last: [T0 + 1000, 700] });
  });

  it('blood pressure in kPa is converted to mmHg', () => {
    const d = patient();
    d.event(T0, { id: 'bp1', type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: 16, diastolic: 10.7, unit: 'kPa' } });
    expect(d.state.outliers['blood_pressure.systolic']).toBeUndefined();
    expect(d.state.outliers['blood_pressure.diastolic']).toBeUndefined();
  });

  it('an unknown unit gets no outlier check', () => {
    const d = patient();
    d.event(T0, bio('glucose', 7.8, 'furlongs'));
    d.event(T0 + 1000, bio('glucose', 900, 'u'));
    expect(d.state.outliers.glucose).toBeUndefined();
    expect(d.state.latest.glucose).toEqual([T0 + 1000, 900]);
  });
});
