import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActorEvent } from '../../actors/contracts/registry.js';
import { createPatient, patientSummary, type PatientState } from '../../actors/patient.js';
import { createProcedure, procedureSummary, type ProcedureState } from '../../actors/procedure.js';
import type { AnyActorDefinition } from '../../runtime/actor.js';
import { ActorDriver } from './driver.js';
import { cfg, T0 } from './fixtures.js';

interface Timed {
  t: number;
  e: ActorEvent;
}

/**
 * A stream in event-time order, and an arrival order within the allowed lateness: each event is
 * delayed by at most L, so when it arrives no earlier-arriving event is more than L newer.
 */
function streamArb(kind: 'patient' | 'procedure'): fc.Arbitrary<{ sorted: Timed[]; arrived: Timed[] }> {
  const L = kind === 'patient' ? cfg.patient.latenessMs : cfg.procedure.latenessMs;
  const gap = kind === 'patient' ? 20_000 : 2_000;
  const item =
    kind === 'patient'
      ? fc.record({
          gap: fc.integer({ min: 0, max: gap }),
          delay: fc.integer({ min: 0, max: L }),
          which: fc.integer({ min: 0, max: 3 }),
          a: fc.integer({ min: 30, max: 180 }),
          b: fc.integer({ min: 80, max: 100 }),
          c: fc.integer({ min: 50, max: 260 }),
        })
      : fc.record({
          gap: fc.integer({ min: 0, max: gap }),
          delay: fc.integer({ min: 0, max: L }),
          which: fc.integer({ min: 0, max: 9 }),
          a: fc.integer({ min: 0, max: 80 }),
          b: fc.integer({ min: 0, max: 250 }),
          c: fc.integer({ min: 1, max: 400 }),
        });
  return fc.array(item, { minLength: 5, maxLength: 250 }).map((items) => {
    let t = T0;
    const timed: (Timed & { arrive: number; k: number })[] = [];
    items.forEach((x, k) => {
      t += x.gap;
      let p: ActorEvent;
      if (kind === 'procedure') {
        p = { id: `e${k}`, type: 'surgical.telemetry', h: 'telemetry', v: 1, p: {
          patient_id: 'p1', procedure_id: 'pr1', robot_arm: 'a', step: `s${x.which % 3}`,
          force_newtons: x.a, velocity_mm_s: x.b, latency_ms: x.c, ...(x.which === 9 ? { error_code: 'E1' } : {}),
        } };
      } else if (x.which === 0) {
        p = { id: `e${k}`, type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'glucose', value: x.c, unit: 'mg/dL' } };
      } else if (x.which === 1) {
        p = { id: `e${k}`, type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: x.c, diastolic: x.b, unit: 'mmHg' } };
      } else {
        p = { id: `e${k}`, type: 'vitals.observation', h: 'vitals', v: 1, p: {
          patient_id: 'p1', heart_rate: x.a, spo2: x.b, resp_rate: 8 + (x.a % 20), systolic_bp: x.c,
          temperature_c: 35 + (x.b % 5), consciousness: x.which === 3 ? 'V' : 'A', on_oxygen: x.which === 2,
        } };
      }
      timed.push({ t, e: p, arrive: t + x.delay, k });
    });
    const sorted = timed.map(({ t: tt, e }) => ({ t: tt, e }));
    const arrived = [...timed].sort((a, b) => a.arrive - b.arrive || a.k - b.k).map(({ t: tt, e }) => ({ t: tt, e }));
    return { sorted, arrived };
  });
}

/** Float sums depend on addition order in their last bits; compare at 12 significant digits. */
function roundDeep(x: unknown): unknown {
  if (typeof x === 'number') return Number.isInteger(x) || !Number.isFinite(x) ? x : Number(x.toPrecision(12));
  if (Array.isArray(x)) return x.map(roundDeep);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, roundDeep(v)]));
  return x;
}

function run<S>(def: AnyActorDefinition, events: Timed[], id: string): ActorDriver<S> {
  const d = new ActorDriver<S>(def, 't1', id);
  for (const { t, e } of events) d.event(t, e);
  return d;
}

/** The domain-visible result. Alert ids and episode counts are left out on purpose: they follow
 * arrival order (see README, "Event time"); which alerts are open, and at what level, do not. */
function patientView(d: ActorDriver<PatientState>) {
  const s = patientSummary('p1', d.state, T0) as Record<string, unknown> & { open_alerts: { reason: string; level: string }[] };
  return roundDeep({ ...s, open_alerts: s.open_alerts.map((a) => `${a.reason}:${a.level}`).sort() });
}

function rollupView(d: ActorDriver<unknown>) {
  return [...d.finalRollups().values()]
    .map((r) => ({ m: r.metric, w: r.windowStart, c: r.count, min: r.min, max: r.max, sum: roundDeep(r.sum), f: r.final }))
    .sort((a, b) => a.m.localeCompare(b.m) || a.w - b.w);
}

describe('event time: order within the lateness does not change the result', () => {
  it('patient: any arrival order within the lateness gives the sorted stream’s state and rollups', () => {
    const def = createPatient(cfg);
    fc.assert(
      fc.property(streamArb('patient'), ({ sorted, arrived }) => {
        const a = run<PatientState>(def, sorted, 'p1');
        const b = run<PatientState>(def, arrived, 'p1');
        expect(b.rejected).toEqual([]);
        expect(patientView(b)).toEqual(patientView(a));
        expect(rollupView(b as ActorDriver<unknown>)).toEqual(rollupView(a as ActorDriver<unknown>));
      }),
      { numRuns: 150, seed: 20261121 },
    );
  });

  it('procedure: order-free aggregates, p95 and rollups match the sorted stream', () => {
    const def = createProcedure(cfg);
    const view = (d: ActorDriver<ProcedureState>) => {
      const s = procedureSummary('pr1', JSON.parse(d.snapshot()), T0) as Record<string, unknown>;
      return roundDeep({
        events: s.events, avg: s.avg_risk, max: s.max_risk, crit: s.critical_count, errors: s.errors,
        codes: s.error_codes, steps: s.steps, force: s.max_force_newtons, p95: s.p95_latency_ms, windows: s.window_stats, updated: s.updated_at,
      });
    };
    fc.assert(
      fc.property(streamArb('procedure'), ({ sorted, arrived }) => {
        const a = run<ProcedureState>(def, sorted, 'pr1');
        const b = run<ProcedureState>(def, arrived, 'pr1');
        expect(b.rejected).toEqual([]);
        expect(view(b)).toEqual(view(a));
        expect(rollupView(b as ActorDriver<unknown>)).toEqual(rollupView(a as ActorDriver<unknown>));
      }),
      { numRuns: 150, seed: 20261122 },
    );
  });

  it('replaying a stream a second time changes nothing and emits nothing', () => {
    for (const [kind, def] of [['patient', createPatient(cfg)], ['procedure', createProcedure(cfg)]] as const) {
      fc.assert(
        fc.property(streamArb(kind), ({ arrived }) => {
          const d = run<unknown>(def, arrived, 'x');
          const snap = d.snapshot();
          const emitted = [d.rollups.length, d.alerts.length, d.sent.length];
          for (const { t, e } of arrived) d.event(t, e);
          expect(d.snapshot()).toBe(snap);
          expect([d.rollups.length, d.alerts.length, d.sent.length]).toEqual(emitted);
          expect(d.duplicates + d.rejected.filter((r) => r.code === 'too_late').length).toBe(arrived.length);
        }),
        { numRuns: 60, seed: 7 },
      );
    }
  });
});
