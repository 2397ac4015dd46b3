// Back-fill (SPEC §5, issue 14 item 4) on the patient actor: 24 h of history imported newest
// first (and shuffled) into a patient that is streaming live is accepted row for row, gives the
// same minute rollups as one in-order run of the same events, and leaves the watermark, the
// latest values and the open alerts as they were. Beyond the horizon: too_late.
import { describe, expect, it } from 'vitest';
import { resolveClinicalConfig } from '../../actors/config.js';
import type { ActorEvent } from '../../actors/contracts/registry.js';
import { createPatient, patientSummary, type PatientState } from '../../actors/patient.js';
import { ActorDriver } from './driver.js';
import { T0 } from './fixtures.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const cfg = resolveClinicalConfig({});

type Timed = [number, ActorEvent];

function vit(id: string, p: Record<string, unknown>): ActorEvent {
  return { id, type: 'vitals.observation', h: 'vitals', v: 1, p: { patient_id: 'p1', ...p } };
}
function glucose(id: string, value: number): ActorEvent {
  return { id, type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'glucose', value, unit: 'mg/dL' } };
}
function bp(id: string, s: number, d: number): ActorEvent {
  return { id, type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: s, diastolic: d, unit: 'mmHg' } };
}
/** The same event as an import frame's decoder hands it on. */
const imported = (e: ActorEvent): ActorEvent => ({ ...e, bf: 1 } as ActorEvent);

/** Live vitals every 15 s from T0 (heart rate high enough to keep a news2 alert open). */
function liveStream(fromMin: number, toMin: number): Timed[] {
  const out: Timed[] = [];
  for (let t = T0 + fromMin * MIN; t < T0 + toMin * MIN; t += 15_000) {
    const i = (t - T0) / 15_000;
    out.push([t, vit(`live-${i}`, { heart_rate: 132 + (i % 5), resp_rate: 22, spo2: 95, systolic_bp: 118, temperature_c: 37.4, consciousness: 'A', on_oxygen: false })]);
  }
  return out;
}

/** 24 h of history before T0: vitals and glucose every minute, blood pressure every 10 minutes, a few per minute sometimes. */
function history(): Timed[] {
  const out: Timed[] = [];
  for (let k = 1; k <= 24 * 60; k++) {
    const t = T0 - k * MIN + ((k * 7) % 50) * 1000;
    out.push([t, glucose(`g-${k}`, 90 + ((k * 37) % 120))]);
    out.push([t, vit(`h-${k}`, { heart_rate: 60 + ((k * 13) % 50), spo2: 93 + (k % 7) })]);
    if (k % 10 === 0) out.push([t + 2000, bp(`bp-${k}`, 110 + (k % 40), 70 + (k % 15))]);
    if (k % 7 === 0) out.push([t + 5000, vit(`h2-${k}`, { heart_rate: 70 + (k % 30) })]);
  }
  return out;
}

const newestFirst = (xs: Timed[]) => [...xs].sort((a, b) => b[0] - a[0]);
const oldestFirst = (xs: Timed[]) => [...xs].sort((a, b) => a[0] - b[0]);
function shuffled(xs: Timed[], seed: number): Timed[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Final (highest-revision) windows as [metric, start, count, min, max, sum], sorted. */
function windows(d: ActorDriver<PatientState>, before = Infinity): string[] {
  return [...d.finalRollups().values()]
    .filter((r) => r.windowStart + r.windowMs <= before)
    .map((r) => JSON.stringify([r.metric, r.windowStart, r.count, r.min, r.max, r.sum]))
    .sort();
}

const openAlerts = (d: ActorDriver<PatientState>) => JSON.stringify(d.state.alerts.open);

function patient(): ActorDriver<PatientState> {
  const d = new ActorDriver<PatientState>(createPatient(cfg), 't1', 'p1');
  d.now = T0;
  return d;
}

/** Live for 30 min, then the history in `order` in two halves around 10 more live minutes. */
function runWithImport(order: Timed[], snapshotMidway = false): ActorDriver<PatientState> {
  const d = patient();
  for (const [t, e] of liveStream(0, 30)) d.event(t, e);
  const half = Math.floor(order.length / 2);
  for (const [t, e] of order.slice(0, half)) d.event(t, imported(e));
  if (snapshotMidway) d.restore(d.snapshot());
  for (const [t, e] of liveStream(30, 40)) d.event(t, e);
  for (const [t, e] of order.slice(half)) d.event(t, imported(e));
  for (const [t, e] of liveStream(40, 45)) d.event(t, e);
  return d;
}

/** The same events, all live, in event-time order. */
function runInOrder(): ActorDriver<PatientState> {
  const d = patient();
  for (const [t, e] of oldestFirst([...history(), ...liveStream(0, 45)])) d.event(t, e);
  return d;
}

describe('back-fill on a live patient', () => {
  it('accepts 24 h of history newest first: rollups equal an in-order run; watermark, latest values and open alerts unchanged', () => {
    const d = patient();
    for (const [t, e] of liveStream(0, 30)) d.event(t, e);
    const wm = d.state.wm;
    const latest = JSON.stringify(d.state.latest);
    const alerts = openAlerts(d);
    const news2 = JSON.stringify(d.state.news2);
    const alertRecords = d.alerts.length;
    expect(JSON.parse(alerts)).toHaveProperty('news2'); // a live alert is open

    const hist = history();
    for (const [t, e] of newestFirst(hist)) d.event(t, imported(e));

    expect(d.rejected).toEqual([]);
    expect(d.duplicates).toBe(0);
    expect(d.state.events).toBe(liveStream(0, 30).length + hist.length);
    expect(d.state.wm).toBe(wm);
    // Every latest value the live stream set is untouched; parameters only history has (glucose,
    // blood pressure here) get history's newest value, as an in-order run would have them.
    const before = JSON.parse(latest) as Record<string, unknown>;
    for (const k of Object.keys(before)) expect(d.state.latest[k], k).toEqual(before[k]);
    expect(Object.keys(d.state.latest).sort()).toEqual([...Object.keys(before), 'blood_pressure.diastolic', 'blood_pressure.systolic', 'glucose'].sort());
    expect(openAlerts(d)).toBe(alerts);
    expect(JSON.stringify(d.state.news2)).toBe(news2);
    expect(d.alerts.length).toBe(alertRecords); // no alert opened, resolved or re-raised for the past
    expect(d.state.monitored).toBe(true);

    // Finish both runs the same way and compare every window the in-order run closed.
    for (const [t, e] of liveStream(30, 45)) d.event(t, e);
    const ref = runInOrder();
    const closed = ref.state.wm - cfg.patient.latenessMs;
    expect(windows(d, closed)).toEqual(windows(ref, closed));
    expect(windows(d, closed).length).toBeGreaterThan(3 * 24 * 60);
    // The live summary's window stats (newest minute and hour) too.
    const sa = patientSummary('p1', d.state, T0 + 45 * MIN);
    const sb = patientSummary('p1', ref.state, T0 + 45 * MIN);
    expect(sa.window_stats).toEqual(sb.window_stats);
    expect({ ...d.state.latest }).toEqual({ ...ref.state.latest });
  });

  it('gives the same rollups whatever the file order, and across a snapshot taken mid-import', () => {
    const hist = history();
    const ref = runInOrder();
    const closed = ref.state.wm - cfg.patient.latenessMs;
    const want = windows(ref, closed);
    for (const order of [newestFirst(hist), oldestFirst(hist), shuffled(hist, 7), shuffled(hist, 99)]) {
      const d = runWithImport(order);
      expect(d.rejected).toEqual([]);
      expect(windows(d, closed)).toEqual(want);
    }
    const d = runWithImport(shuffled(hist, 3), true);
    expect(d.rejected).toEqual([]);
    expect(windows(d, closed)).toEqual(want);
  });

  it('re-emits a back-filled window with a higher revision each time it changes', () => {
    const d = patient();
    for (const [t, e] of liveStream(0, 10)) d.event(t, e);
    const w = T0 - 3 * HOUR;
    d.event(w + 1000, imported(glucose('a', 100)));
    d.event(w + 2000, imported(glucose('b', 140)));
    const rows = d.rollups.filter((r) => r.metric === 'glucose' && r.windowStart === w);
    expect(rows.map((r) => [r.revision, r.count, r.min, r.max, r.sum, r.final])).toEqual([[1, 1, 100, 100, 100, true], [2, 2, 100, 140, 240, true]]);
  });

  it('treats a re-imported file as duplicates and changes nothing', () => {
    const d = patient();
    for (const [t, e] of liveStream(0, 10)) d.event(t, e);
    const hist = history().slice(0, 300);
    for (const [t, e] of hist) d.event(t, imported(e));
    const rows = d.rollups.length;
    const snap = d.snapshot();
    for (const [t, e] of newestFirst(hist)) d.event(t, imported(e));
    expect(d.duplicates).toBe(hist.length);
    expect(d.rollups.length).toBe(rows);
    expect(d.snapshot()).toBe(snap);
    // A live copy of a back-filled id is a duplicate too.
    d.event(hist[0]![0], hist[0]![1]);
    expect(d.duplicates).toBe(hist.length + 1);
  });

  it('refuses history beyond the horizon with too_late, naming the setting', () => {
    const d = patient();
    for (const [t, e] of liveStream(0, 5)) d.event(t, e);
    const wm = d.state.wm;
    d.event(wm - cfg.patient.backfillHorizonMs + 1000, imported(glucose('in', 100)));
    d.event(wm - cfg.patient.backfillHorizonMs - 1000, imported(glucose('out', 100)));
    expect(d.rejected).toEqual([expect.objectContaining({ code: 'too_late', message: expect.stringMatching(/back-fill horizon \(clinical\.patient\.backfillHorizonMs\) is 604800 s/) })]);
    // The same history sent live is refused by the live rule (5 min).
    d.event(wm - 10 * MIN, glucose('live-late', 100));
    expect(d.rejected.at(-1)).toMatchObject({ code: 'too_late', message: expect.stringMatching(/allowed lateness is 300 s/) });
  });

  it('honours a smaller horizon from the configuration', () => {
    const d = new ActorDriver<PatientState>(createPatient(resolveClinicalConfig({ patient: { backfillHorizonMs: 2 * HOUR } })), 't1', 'p1');
    d.event(T0, vit('x', { heart_rate: 70 }));
    d.event(T0 - HOUR, imported(glucose('a', 100)));
    d.event(T0 - 3 * HOUR, imported(glucose('b', 100)));
    expect(d.rejected.map((r) => r.code)).toEqual(['too_late']);
  });

  it('forgets its back-fill state once the horizon has passed it, and is a plain live patient again', () => {
    const d = new ActorDriver<PatientState>(createPatient(resolveClinicalConfig({ patient: { backfillHorizonMs: HOUR } })), 't1', 'p1');
    d.event(T0, vit('x0', { heart_rate: 70 }));
    d.event(T0 - 30 * MIN, imported(glucose('a', 100)));
    expect(d.state.bf).toBeDefined();
    expect(d.snapshot()).toContain('"bf"');
    d.event(T0 + 20 * MIN, vit('x1', { heart_rate: 71 }));
    expect(d.state.bf).toBeDefined(); // still within the hour
    d.event(T0 + 40 * MIN, vit('x2', { heart_rate: 72 }));
    expect(d.state.bf).toBeUndefined();
    expect(d.snapshot()).not.toContain('"bf"');
    expect(d.rejected).toEqual([]);
  });

  it('refuses history for a minute whose live window was already closed and released, and changes nothing', () => {
    const d = patient();
    for (const [t, e] of liveStream(0, 30)) d.event(t, e);
    const snap = d.snapshot();
    d.event(T0 + 2 * MIN + 5000, imported(vit('gap', { heart_rate: 80 })));
    expect(d.rejected).toEqual([expect.objectContaining({ code: 'too_late', message: expect.stringMatching(/minute of heart_rate .* had live readings/) })]);
    expect(d.snapshot()).toBe(snap);
    // A minute still held (inside the lateness) is corrected like a late live reading.
    const t = d.state.wm - 2 * MIN;
    d.event(t, imported(vit('held', { heart_rate: 200 })));
    expect(d.rejected).toHaveLength(1);
    expect(d.state.latest.heart_rate![1]).not.toBe(200);
    // History of another series in that same old minute is fine (its window was never live).
    d.event(T0 + 2 * MIN + 5000, imported(glucose('g-old', 120)));
    expect(d.rejected).toHaveLength(1);
  });

  it('fills a gap in the live stream, and a live reading for a back-filled minute joins that window', () => {
    const d = patient();
    for (const [t, e] of liveStream(0, 5)) d.event(t, e);
    for (const [t, e] of liveStream(20, 30)) d.event(t, e); // a 15-minute outage
    for (let k = 5; k < 20; k++) d.event(T0 + k * MIN + 1000, imported(vit(`gap-${k}`, { heart_rate: 90 })));
    expect(d.rejected).toEqual([]);
    const gap = [...d.finalRollups().values()].filter((r) => r.metric === 'heart_rate' && r.windowStart >= T0 + 5 * MIN && r.windowStart < T0 + 20 * MIN);
    expect(gap).toHaveLength(15);
    expect(gap.every((r) => r.count === 1 && r.sum === 90)).toBe(true);

    // History newer than the watermark (a device's own upload) owns its minute; a live reading for it merges there.
    const next = d.state.wm + MIN;
    const m = next - (next % MIN);
    d.event(m + 1000, imported(glucose('ahead', 100)));
    d.event(m + 2000, glucose('live-same-minute', 300));
    const w = [...d.finalRollups().values()].find((r) => r.metric === 'glucose' && r.windowStart === m)!;
    expect([w.count, w.min, w.max, w.sum]).toEqual([2, 100, 300, 400]);
  });
});
