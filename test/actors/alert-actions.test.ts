// Acknowledge and shelve in the owning actor (issue 14 item 6): the alert stays open in the
// actor's book with who and why, every transition is emitted, a shelved alert comes back when
// its time is up, an escalation notifies again, and the state survives a snapshot.
import { describe, expect, it } from 'vitest';
import { ALERT_ACTION, type AlertActionEvent } from '../../actors/alerts.js';
import { createPatient, patientSummary, type PatientState } from '../../actors/patient.js';
import { createProcedure, type ProcedureState } from '../../actors/procedure.js';
import { ActorDriver } from './driver.js';
import { cfg, T0, tel, vitals } from './fixtures.js';

const NORMAL = { heart_rate: 72, resp_rate: 14, spo2: 98, systolic_bp: 120, temperature_c: 37, consciousness: 'A' };
const MEDIUM = { ...NORMAL, resp_rate: 25 }; // a single red 3: `medium`
const HIGH = { ...NORMAL, resp_rate: 25, heart_rate: 115 }; // aggregate 5: `high`
const SEVERE = { heart_rate: 135, resp_rate: 25, spo2: 91, systolic_bp: 90, temperature_c: 39.5, consciousness: 'V' };

const ack = (alertId: string, at: number, by = 'nurse.kim', note?: string): AlertActionEvent =>
  ({ h: ALERT_ACTION, p: note === undefined ? { action: 'acknowledge', alert_id: alertId, by, at } : { action: 'acknowledge', alert_id: alertId, by, note, at } });
const shelve = (alertId: string, at: number, minutes: number, by = 'nurse.kim'): AlertActionEvent =>
  ({ h: ALERT_ACTION, p: { action: 'shelve', alert_id: alertId, by, minutes, at } });

function patient(): ActorDriver<PatientState> {
  const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
  d.now = T0;
  return d;
}

const shown = (d: ActorDriver<PatientState>) => (patientSummary('p1', d.state, d.now).open_alerts as Record<string, unknown>[]);

describe('acknowledge', () => {
  it('open → acknowledged (with who and the note) → resolved; the alert stays open until its condition resolves', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const opened = d.alerts.at(-1)!;
    expect(opened).toMatchObject({ reason: 'news2', level: 'high', state: 'open' });
    expect(opened.by).toBeUndefined();

    d.event(T0 + 1, ack(opened.alertId, T0 + 5000, 'nurse.kim', 'on my way'));
    expect(d.rejected).toEqual([]);
    expect(d.alerts.at(-1)).toEqual({
      ...opened, state: 'acknowledged', by: 'nurse.kim', note: 'on my way', eventTime: T0 + 5000,
    });
    expect(shown(d)).toEqual([expect.objectContaining({ alert_id: opened.alertId, state: 'acknowledged', by: 'nurse.kim', note: 'on my way', level: 'high' })]);

    // Same level again: nothing new to notify.
    const n = d.alerts.length;
    d.event(T0 + 2000, vitals(HIGH));
    expect(d.alerts).toHaveLength(n);
    expect(shown(d)[0]).toMatchObject({ state: 'acknowledged' });

    d.event(T0 + 3000, vitals(NORMAL));
    expect(d.alerts.at(-1)).toMatchObject({ alertId: opened.alertId, state: 'resolved', eventTime: T0 + 3000 });
    expect(d.alerts.at(-1)!.by).toBeUndefined();
    expect(shown(d)).toEqual([]);
  });

  it('refuses an alert that is resolved (alert_resolved) or that this subject never had (not_found)', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const id = d.alerts.at(-1)!.alertId;
    d.event(T0 + 1000, vitals(NORMAL));
    // A second episode opens with a new id; the first stays resolved.
    d.event(T0 + 2000, vitals(HIGH));
    const second = d.alerts.at(-1)!.alertId;
    expect(second).not.toBe(id);
    const before = d.alerts.length;
    d.event(T0 + 3000, ack(id, T0 + 3000));
    d.event(T0 + 3001, ack('al_00000000000000', T0 + 3001));
    expect(d.rejected.map((r) => r.code)).toEqual(['alert_resolved', 'not_found']);
    expect(d.alerts).toHaveLength(before);
    expect(shown(d)[0]).toMatchObject({ alert_id: second, state: 'open' });
  });

  it('an action is not a reading: it moves neither the watermark nor the event count', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const { wm, events } = d.state;
    d.event(0, ack(d.alerts.at(-1)!.alertId, T0 + 10 * 86_400_000));
    expect(d.state.wm).toBe(wm);
    expect(d.state.events).toBe(events);
  });

  it('an escalation notifies again as open and clears the acknowledgement; a de-escalation keeps it', () => {
    const d = patient();
    d.event(T0, vitals(MEDIUM));
    const id = d.alerts.at(-1)!.alertId;
    d.event(T0 + 1, ack(id, T0 + 100, 'dr.lee'));
    d.event(T0 + 1000, vitals(SEVERE));
    expect(d.alerts.at(-1)).toEqual(expect.objectContaining({ alertId: id, state: 'open', level: 'critical', eventTime: T0 + 1000 }));
    expect(d.alerts.at(-1)!.by).toBeUndefined();
    expect(shown(d)[0]).toMatchObject({ state: 'open', level: 'critical' });
    expect(shown(d)[0]).not.toHaveProperty('by');

    d.event(T0 + 2000, ack(id, T0 + 2000, 'dr.lee', 'escalated to ICU'));
    d.event(T0 + 3000, vitals(HIGH));
    // Lower: re-published at its new level, still acknowledged by the same person.
    expect(d.alerts.at(-1)).toEqual(expect.objectContaining({ alertId: id, state: 'acknowledged', level: 'high', by: 'dr.lee', note: 'escalated to ICU' }));
  });
});

describe('shelve', () => {
  it('open → shelved → open again (notified) when the time is up, with the time it came back', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const id = d.alerts.at(-1)!.alertId;
    d.now = T0 + 10_000;
    d.event(T0 + 1, shelve(id, d.now, 15));
    const until = T0 + 10_000 + 15 * 60_000;
    expect(d.alerts.at(-1)).toEqual(expect.objectContaining({ alertId: id, state: 'shelved', by: 'nurse.kim', until, eventTime: T0 + 10_000 }));
    expect(d.timers.get('shelve:news2')).toEqual({ at: until, domain: 'processing' });
    expect(shown(d)[0]).toMatchObject({ state: 'shelved', shelved_until: new Date(until).toISOString() });

    d.advance(15 * 60_000 - 1);
    expect(d.alerts.at(-1)!.state).toBe('shelved');
    d.advance(1);
    expect(d.alerts.at(-1)).toEqual({ alertId: id, tenant: 't1', subjectKind: 'patient', subjectId: 'p1', level: 'high', state: 'open', reason: 'news2', value: 5, eventTime: until });
    expect(shown(d)[0]).toMatchObject({ state: 'open' });
    expect(shown(d)[0]).not.toHaveProperty('shelved_until');
  });

  it('comes back on its next reading when its timer did not fire (the time is up all the same)', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const id = d.alerts.at(-1)!.alertId;
    d.event(T0 + 1, shelve(id, T0, 1));
    d.timers.clear(); // as if the timer were lost
    d.now = T0 + 61_000;
    d.event(T0 + 61_000, vitals(HIGH));
    expect(d.alerts.at(-1)).toMatchObject({ alertId: id, state: 'open', eventTime: T0 + 60_000 });
  });

  it('resolving or escalating a shelved alert cancels its timer', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    d.event(T0 + 1, shelve(d.alerts.at(-1)!.alertId, T0, 30));
    d.event(T0 + 1000, vitals(NORMAL));
    expect(d.timers.has('shelve:news2')).toBe(false);

    d.event(T0 + 2000, vitals(HIGH));
    const id = d.alerts.at(-1)!.alertId;
    d.event(T0 + 2001, shelve(id, T0 + 2000, 30));
    d.event(T0 + 3000, vitals(SEVERE));
    expect(d.timers.has('shelve:news2')).toBe(false);
    expect(d.alerts.at(-1)).toMatchObject({ alertId: id, state: 'open', level: 'critical' });
    const n = d.alerts.length;
    d.advance(31 * 60_000);
    expect(d.alerts).toHaveLength(n);
  });

  it('acknowledging a shelved alert ends the shelving', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const id = d.alerts.at(-1)!.alertId;
    d.event(T0 + 1, shelve(id, T0, 30));
    d.event(T0 + 2, ack(id, T0 + 1000, 'dr.lee'));
    expect(d.timers.has('shelve:news2')).toBe(false);
    expect(d.alerts.at(-1)).toMatchObject({ state: 'acknowledged', by: 'dr.lee' });
    expect(d.alerts.at(-1)!.until).toBeUndefined();
  });
});

describe('durability', () => {
  it('acknowledged and shelved alerts survive a snapshot round trip, and the shelve still comes back', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const id = d.alerts.at(-1)!.alertId;
    d.event(T0 + 1, shelve(id, T0, 5));
    const data = d.snapshot();
    const e = patient();
    e.restore(data);
    expect(shown(e)[0]).toMatchObject({ alert_id: id, state: 'shelved', by: 'nurse.kim' });
    // The restored actor's timer comes back with it (the runtime's job); the book alone decides.
    e.timers.set('shelve:news2', { at: T0 + 5 * 60_000, domain: 'processing' });
    e.advance(5 * 60_000);
    expect(e.alerts.at(-1)).toMatchObject({ alertId: id, state: 'open' });
  });

  it('a book from before acknowledgement (no state fields) reads as open', () => {
    const d = patient();
    d.event(T0, vitals(HIGH));
    const snap = JSON.parse(d.snapshot()) as { alerts: { open: Record<string, Record<string, unknown>> } };
    expect(Object.keys(snap.alerts.open.news2!).sort()).toEqual(['id', 'level', 'since', 'value']);
    const e = patient();
    e.restore(JSON.stringify(snap));
    expect(shown(e)[0]).toMatchObject({ state: 'open' });
    e.event(T0 + 1, ack(snap.alerts.open.news2!.id as string, T0 + 1));
    expect(e.alerts.at(-1)).toMatchObject({ state: 'acknowledged' });
  });
});

describe('procedure alerts', () => {
  it('are acknowledged and shelved the same way', () => {
    const d = new ActorDriver<ProcedureState>(createProcedure(cfg), 't1', 'pr1');
    d.now = T0;
    d.event(T0, tel({ force_newtons: 50 }));
    const a = d.alerts.find((x) => x.reason === 'high_force')!;
    d.event(T0 + 1, shelve(a.alertId, T0, 2));
    expect(d.alerts.at(-1)).toMatchObject({ alertId: a.alertId, subjectKind: 'procedure', state: 'shelved' });
    d.advance(2 * 60_000);
    expect(d.alerts.at(-1)).toMatchObject({ alertId: a.alertId, state: 'open' });
    d.event(T0 + 2, ack(a.alertId, T0 + 2 * 60_000));
    expect(d.alerts.at(-1)).toMatchObject({ alertId: a.alertId, state: 'acknowledged' });
  });
});
