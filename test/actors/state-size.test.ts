import { describe, expect, it } from 'vitest';
import { createPatient, type PatientState } from '../../actors/patient.js';
import { ActorDriver } from './driver.js';
import { cfg, T0, vitals } from './fixtures.js';

describe('patient state stays small', () => {
  it('24 h of 1 Hz vitals snapshot to under 16 KB', () => {
    const d = new ActorDriver<PatientState>(createPatient(cfg), 'tenant-a', 'patient-000123');
    let peak = 0;
    for (let s = 0; s < 86_400; s++) {
      const hr = 70 + Math.round(10 * Math.sin(s / 600)) + (s % 7);
      d.event(T0 + s * 1000, vitals({
        heart_rate: hr, resp_rate: 14 + (s % 5), spo2: 95 + (s % 4), systolic_bp: 115 + (s % 20),
        diastolic_bp: 75 + (s % 10), temperature_c: 36.5 + (s % 10) / 10, on_oxygen: false, consciousness: 'A',
      }, `evt-${s}`));
      if (s % 3600 === 0) peak = Math.max(peak, d.snapshot().length);
      if (s % 600 === 0) d.advance(1000); // keep signal_lost quiet the way a live clock would
    }
    const size = Buffer.byteLength(d.snapshot());
    peak = Math.max(peak, size);
    // The figure is also in load/reports/state-size.json (npm run bench:state).
    expect(size).toBeLessThan(16 * 1024);
    expect(peak).toBeLessThan(16 * 1024);
    expect(d.state.events).toBe(86_400);
    expect(d.rollups.length).toBe(1439 * 6); // every finished minute of the 6 vital signs, once each
  });
});
