// signal_lost only for continuously monitored patients (a steady cadence of vitals), never for
// nurse spot checks; the alert carries when it fired, the silence, and the last reading's time.
import { describe, expect, it } from 'vitest';
import { createPatient, patientSummary, type PatientState } from '../../actors/patient.js';
import { ActorDriver } from './driver.js';
import { cfg, T0, vitals } from './fixtures.js';

const lost = (d: ActorDriver<PatientState>) => d.alerts.filter((a) => a.reason === 'signal_lost');

describe('signal_lost by cadence', () => {
  it('spot checks every 4 h never raise signal_lost', () => {
    const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
    for (let i = 0; i < 12; i++) {
      d.event(T0 + i * 4 * 3_600_000, vitals({ heart_rate: 72, resp_rate: 14 }));
      d.advance(4 * 3_600_000);
    }
    expect(lost(d)).toEqual([]);
    expect(d.state.monitored).toBe(false);
  });

  it('a single reading is a spot check', () => {
    const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
    d.event(T0, vitals({ heart_rate: 72 }));
    d.advance(10 * cfg.patient.signalLostMs);
    expect(lost(d)).toEqual([]);
  });

  it('a 1 Hz patient that stops raises it within the threshold + 1 s, carrying fired time, silence and last reading; resolves on resumption', () => {
    const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
    d.now = 1_000_000;
    for (let i = 0; i < 30; i++) {
      if (i > 0) d.advance(1000);
      d.event(T0 + i * 1000, vitals({ heart_rate: 70 + (i % 3) }));
    }
    expect(d.state.monitored).toBe(true);
    const stoppedAt = d.now;
    let fired = -1;
    for (let ms = 0; ms <= cfg.patient.signalLostMs + 1000; ms += 100) {
      d.advance(100);
      if (lost(d).length > 0) {
        fired = d.now;
        break;
      }
    }
    expect(fired).toBeGreaterThan(0);
    expect(fired - stoppedAt).toBeLessThanOrEqual(cfg.patient.signalLostMs + 1000);
    const a = lost(d)[0]!;
    expect(a).toMatchObject({ state: 'open', level: 'high', eventTime: fired, value: (fired - stoppedAt) / 1000 });
    const open = patientSummary('p1', d.state, d.now).open_alerts as { reason: string; since: string; last_reading_at?: string }[];
    const shown = open.find((x) => x.reason === 'signal_lost');
    expect(shown?.last_reading_at).toBe(new Date(T0 + 29_000).toISOString());
    expect(shown?.since).toBe(new Date(fired).toISOString());
    // Still silent: no second alert.
    d.advance(10 * cfg.patient.signalLostMs);
    expect(lost(d)).toHaveLength(1);
    d.event(T0 + 600_000, vitals({ heart_rate: 71 }));
    expect(lost(d).at(-1)).toMatchObject({ state: 'resolved', alertId: a.alertId });
  });

  it('a patient moved from a monitor to spot checks stops being watched at its first spot check', () => {
    const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
    for (let i = 0; i < 10; i++) {
      d.advance(1000);
      d.event(T0 + i * 1000, vitals({ heart_rate: 70 }));
    }
    d.advance(cfg.patient.signalLostMs);
    expect(lost(d).map((a) => a.state)).toEqual(['open']);
    for (let k = 1; k <= 6; k++) {
      d.event(T0 + k * 4 * 3_600_000, vitals({ heart_rate: 70 }));
      d.advance(4 * 3_600_000);
    }
    expect(lost(d).map((a) => a.state)).toEqual(['open', 'resolved']);
  });

  it('the rule is configurable beside signalLostMs', () => {
    const c = { ...cfg, patient: { ...cfg.patient, monitoredMinReadings: 3, monitoredMaxIntervalMs: 5 * 60_000, signalLostMs: 10 * 60_000 } };
    const d = new ActorDriver<PatientState>(createPatient(c), 't1', 'p1');
    for (let i = 0; i < 3; i++) {
      if (i > 0) d.advance(60_000);
      d.event(T0 + i * 120_000, vitals({ heart_rate: 70 }));
    }
    expect(d.state.monitored).toBe(true);
    d.advance(c.patient.signalLostMs);
    expect(lost(d)).toHaveLength(1);
  });

  it('state from a snapshot without the ring loads; the patient re-qualifies on its next readings', () => {
    const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
    d.event(T0, vitals({ heart_rate: 70 }));
    const old = JSON.parse(d.snapshot()) as Record<string, unknown>;
    delete old.vt;
    delete old.vp;
    old.monitored = true;
    d.restore(JSON.stringify(old));
    expect(d.state.vt).toEqual([]);
    for (let i = 1; i <= 5; i++) {
      d.advance(1000);
      d.event(T0 + i * 1000, vitals({ heart_rate: 70 }));
    }
    expect(d.state.monitored).toBe(true);
    d.restore(d.snapshot());
    expect(d.state.vt).toHaveLength(cfg.patient.monitoredMinReadings);
  });
});
