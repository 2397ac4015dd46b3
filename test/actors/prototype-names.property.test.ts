// Every record an actor keys by what producers send (biometric types, series, procedures, steps,
// robot arms, error codes, tenant-defined field names) must treat the names of Object.prototype
// ("__proto__", "constructor", "toString", ...) as ordinary keys: counted exactly, kept through a
// snapshot, shown in the summaries, and never failing the actor (issue 15: one reading with
// biometric_type "constructor" used to fail its patient for good).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActorEvent } from '../../actors/contracts/registry.js';
import { createPatient, patientSummary, patientTrends, type PatientState, type ProcedureSummaryMessage } from '../../actors/patient.js';
import { createProcedure, procedureSummary, type ProcedureState } from '../../actors/procedure.js';
import { HOUR } from '../../actors/windows.js';
import { ActorDriver } from './driver.js';
import { cfg, T0 } from './fixtures.js';

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype);
// Ordinary names beside them, one with outlier bounds (glucose), so the records hold both kinds.
const NAMES = [...PROTO_NAMES, 'glucose', 'weight_kg'];
const name = fc.constantFrom(...NAMES);

/** Payloads as producers' JSON arrives: built by JSON.parse, so "__proto__" is an own key. */
const json = (o: Record<string, unknown>, extra: [string, unknown][] = []): Record<string, unknown> =>
  JSON.parse(`{${[...Object.entries(o), ...extra].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`) as Record<string, unknown>;

type PatientOp =
  | { t: 'bio'; name: string; value: number }
  | { t: 'generic'; name: string; value: number }
  | { t: 'summary'; name: string; events: number }
  | { t: 'vitals'; hr: number }
  | { t: 'snapshot' };

const patientOp: fc.Arbitrary<PatientOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('bio' as const), name, value: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('generic' as const), name, value: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('summary' as const), name, events: fc.integer({ min: 1, max: 50 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('vitals' as const), hr: fc.integer({ min: 30, max: 180 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
);

type ProcedureOp = { t: 'tel'; step: string; arm: string; error: string | null } | { t: 'snapshot' };

const procedureOp: fc.Arbitrary<ProcedureOp> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('tel' as const), step: name, arm: name, error: fc.option(name, { nil: null }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
);

function count(m: Map<string, number>, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

/** A record's own entries, sorted, after the JSON an HTTP answer or a snapshot would carry. */
function entriesOf(o: unknown): [string, unknown][] {
  const back = JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
  return Object.keys(back).sort().map((k) => [k, back[k]]);
}

const sorted = <T>(m: Map<string, T>): [string, T][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('records keyed by producers\' names take Object.prototype names as ordinary keys', () => {
  it('patient: biometric types, tenant-defined fields and procedure ids', () => {
    fc.assert(
      fc.property(fc.array(patientOp, { minLength: 1, maxLength: 60 }), (ops) => {
        const def = createPatient(cfg);
        const d = new ActorDriver<PatientState>(def, 't1', 'p1');
        const readings = new Map<string, number>();
        const latest = new Map<string, number>();
        const procs = new Map<string, number>();
        const outliers = new Map<string, number>();
        let t = T0;
        let k = 0;
        for (const op of ops) {
          t += 1000; // all inside one hour: every reading is in the series' newest hour window
          const id = `e${k++}`;
          if (op.t === 'bio') {
            d.event(t, { id, type: 'biometric.reading', h: 'biometric', v: 1, p: json({ patient_id: 'p1', biometric_type: op.name, value: op.value, unit: 'mg/dL' }) } satisfies ActorEvent);
            count(readings, op.name);
            latest.set(op.name, op.value);
            if (op.name === 'glucose' && (op.value < 70 || op.value > 200)) count(outliers, 'glucose');
          } else if (op.t === 'generic') {
            d.event(t, { id, type: 'ventilator.reading', h: 'generic', v: 1, p: json({ patient_id: 'p1' }, [[op.name, op.value]]) } satisfies ActorEvent);
            count(readings, `ventilator.reading:${op.name}`);
            latest.set(`ventilator.reading:${op.name}`, op.value);
          } else if (op.t === 'summary') {
            const m: ProcedureSummaryMessage = {
              type: 'procedure.summary', procedure_id: op.name, events: op.events, avg_risk: 10, max_risk: 20, p95_latency_ms: 30,
              critical_count: 0, errors: 0, force_spikes: 0, level: 'low', updated_at: t,
            };
            d.message(m);
            procs.set(op.name, op.events);
          } else if (op.t === 'vitals') {
            d.event(t, { id, type: 'vitals.observation', h: 'vitals', v: 1, p: json({ patient_id: 'p1', heart_rate: op.hr }) } satisfies ActorEvent);
            count(readings, 'heart_rate');
            latest.set('heart_rate', op.hr);
            if (op.hr < 40 || op.hr > 140) count(outliers, 'heart_rate');
          } else {
            const snap = d.snapshot();
            d.restore(snap);
            expect(d.snapshot()).toBe(snap);
          }
        }
        expect(d.rejected).toEqual([]);
        expect(d.duplicates).toBe(0);

        const s = d.state;
        expect(s.events).toBe([...readings.values()].reduce((a, b) => a + b, 0));
        expect(sorted(new Map(Object.keys(s.latest).map((n) => [n, s.latest[n]![1]])))).toEqual(sorted(latest));

        // The summary, live and from the snapshot form, as its JSON answer carries it.
        for (const view of [s, def.decode!(d.snapshot()) as PatientState]) {
          const sum = patientSummary('p1', view, t);
          const hourCounts = entriesOf(sum.window_stats).map(([n, w]) => [n, (w as { hour: { count: number; start: string } }).hour]);
          expect(hourCounts).toEqual(sorted(readings).map(([n, c]) => [n, { count: c, start: new Date(T0 - (T0 % HOUR)).toISOString(), min: expect.any(Number), max: expect.any(Number), avg: expect.any(Number) }]));
          expect(entriesOf(sum.trends).map(([n]) => n)).toEqual(sorted(readings).map(([n]) => n));
          expect(entriesOf(patientTrends(view)).map(([n]) => n)).toEqual(sorted(readings).map(([n]) => n));
          const shown = (sum.procedures as ProcedureSummaryMessage[]).map((p) => [p.procedure_id, p.events] as [string, number]);
          expect(shown.sort(([a], [b]) => (a < b ? -1 : 1))).toEqual(sorted(procs));
          expect(entriesOf(sum.outliers).map(([n, o]) => [n, (o as { n: number }).n])).toEqual(sorted(outliers));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('procedure: steps, robot arms and error codes', () => {
    fc.assert(
      fc.property(fc.array(procedureOp, { minLength: 1, maxLength: 60 }), (ops) => {
        const def = createProcedure(cfg);
        const d = new ActorDriver<ProcedureState>(def, 't1', 'pr1');
        const steps = new Map<string, number>();
        const arms = new Map<string, number>();
        const errors = new Map<string, number>();
        let t = T0;
        let k = 0;
        for (const op of ops) {
          t += 500;
          if (op.t === 'snapshot') {
            const snap = d.snapshot();
            d.restore(snap);
            expect(d.snapshot()).toBe(snap);
            continue;
          }
          const p = json({
            patient_id: 'p1', procedure_id: 'pr1', robot_arm: op.arm, step: op.step, force_newtons: 10, velocity_mm_s: 20, latency_ms: 40,
            ...(op.error !== null ? { error_code: op.error } : {}),
          });
          d.event(t, { id: `s${k++}`, type: 'surgical.telemetry', h: 'telemetry', v: 1, p } satisfies ActorEvent);
          count(steps, op.step);
          count(arms, op.arm);
          if (op.error !== null) count(errors, op.error);
        }
        expect(d.rejected).toEqual([]);
        expect(entriesOf(d.state.arms)).toEqual(sorted(arms));
        // The summary reads the snapshot form.
        const sum = procedureSummary('pr1', JSON.parse(d.snapshot()) as Parameters<typeof procedureSummary>[1], t);
        expect(entriesOf(sum.steps)).toEqual(sorted(steps));
        expect(entriesOf(sum.error_codes)).toEqual(sorted(errors));
        expect(sum.events).toBe(ops.filter((o) => o.t === 'tel').length);
      }),
      { numRuns: 150 },
    );
  });

  it('a patient given biometric_type "constructor", "__proto__", "toString", "hasOwnProperty" and "valueOf" keeps taking events', () => {
    const def = createPatient(cfg);
    const d = new ActorDriver<PatientState>(def, 't1', 'p1');
    const poison = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    poison.forEach((type, i) => d.event(T0 + i * 1000, { id: `b${i}`, type: 'biometric.reading', h: 'biometric', v: 1, p: json({ patient_id: 'p1', biometric_type: type, value: 5, unit: 'u' }) }));
    d.event(T0 + 10_000, { id: 'v1', type: 'vitals.observation', h: 'vitals', v: 1, p: json({ patient_id: 'p1', heart_rate: 80 }) });
    expect(d.rejected).toEqual([]);
    expect(d.state.events).toBe(6);
    const sum = JSON.parse(JSON.stringify(patientSummary('p1', d.state, T0 + 10_000))) as { window_stats: Record<string, unknown>; latest_vitals: Record<string, number> };
    expect(Object.keys(sum.window_stats).sort()).toEqual([...poison, 'heart_rate'].sort());
    expect(sum.latest_vitals).toEqual({ heart_rate: 80 });
  });
});
