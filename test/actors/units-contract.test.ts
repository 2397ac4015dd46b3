// SPEC §5: "an unknown unit is `invalid_unit`". A biometric reading whose type has a unit table
// (actors/units.ts) and whose unit that table does not know is refused at the contract stage,
// with a message naming the type, the unit and the accepted units; the rest of its frame stands,
// and the refusal is a dead letter like any other.
import { describe, expect, it } from 'vitest';
import { ClinicalFrameDecoder } from '../../actors/frame-decoder.js';
import { ContractRegistry, emptyValidated, eventTypeFromConfig, type ActorEvent, type ValidatedBatch } from '../../actors/contracts/registry.js';
import type { DeadLetter } from '../../actors/ingest.js';
import { canonicalUnit, unitProblem } from '../../actors/units.js';

const NOW = Date.UTC(2026, 10, 21, 8, 0, 0);
const TENANT = 'demo';
type Obj = Record<string, unknown>;

const reading = (id: string, p: Obj): Obj => ({
  event_id: id, tenant_id: TENANT, event_type: 'biometric.reading', schema_version: 1, event_time: NOW - 1000,
  payload: { patient_id: 'p1', ...p },
});

function run(items: readonly unknown[], reg = new ContractRegistry()): ValidatedBatch {
  const out = emptyValidated();
  reg.validate(items, TENANT, NOW, out);
  return out;
}

describe('invalid_unit at the contract stage', () => {
  const known: [string, string][] = [
    ['glucose', 'mg/dL'], ['glucose', 'mmol/L'], ['glucose', 'MG/DL'], ['glucose', ' mmol/l '],
    ['weight', 'kg'], ['weight', 'lb'], ['weight', 'LBS'], ['weight', 'g'],
    ['temperature', '°C'], ['temperature', '°F'], ['temperature', 'F'], ['temperature', 'Fahrenheit'], ['temperature_c', 'C'],
    ['heart_rate', 'bpm'], ['heart_rate', '/min'], ['resp_rate', 'breaths/min'], ['spo2', '%'],
  ];
  for (const [type, unit] of known) {
    it(`accepts ${type} in ${JSON.stringify(unit)}`, () => {
      const r = run([reading('e1', { biometric_type: type, value: 5, unit })]);
      expect(r.rejected).toEqual([]);
      expect(r.events).toHaveLength(1);
    });
  }

  const unknown: [string, string, string][] = [
    ['glucose', 'u', 'mg/dL, mmol/L'],
    ['glucose', 'mmol', 'mg/dL, mmol/L'],
    ['weight', 'stone', 'kg'],
    ['temperature', 'K', '°C'],
    ['heart_rate', 'Hz', 'bpm'],
    ['spo2', 'ratio', '%'],
  ];
  for (const [type, unit, listed] of unknown) {
    it(`refuses ${type} in ${JSON.stringify(unit)}, naming the type, the unit and the accepted units`, () => {
      const r = run([reading('e1', { biometric_type: type, value: 5, unit })]);
      expect(r.events).toEqual([]);
      expect(r.rejected).toHaveLength(1);
      const [rej] = r.rejected;
      expect(rej).toMatchObject({ index: 0, event_id: 'e1', code: 'invalid_unit' });
      expect(rej!.message).toContain(type);
      expect(rej!.message).toContain(JSON.stringify(unit));
      expect(rej!.message).toContain(listed);
    });
  }

  it('a blood pressure pair in an unknown unit is refused; in kPa accepted', () => {
    const r = run([
      reading('bp1', { biometric_type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'cmH2O' }),
      reading('bp2', { biometric_type: 'blood_pressure', systolic: 16, diastolic: 10.7, unit: 'kPa' }),
    ]);
    expect(r.rejected.map((x) => [x.index, x.code])).toEqual([[0, 'invalid_unit']]);
    expect(r.rejected[0]!.message).toContain('mmHg, mm Hg, kPa');
    expect(r.inputIndex).toEqual([1]);
  });

  it('a type without a unit table takes any unit (a deployment’s own biometric)', () => {
    const r = run([
      reading('e1', { biometric_type: 'lactate', value: 2, unit: 'u' }),
      reading('e2', { biometric_type: 'constructor', value: 2, unit: 'u' }),
      reading('e3', { biometric_type: '__proto__', value: 2, unit: 'u' }),
    ]);
    expect(r.rejected).toEqual([]);
    expect(r.events).toHaveLength(3);
  });

  it('a schema problem is reported before the unit', () => {
    const r = run([reading('e1', { biometric_type: 'glucose', value: 'high', unit: 'u' })]);
    expect(r.rejected[0]!.code).toBe('invalid_type');
  });

  it('a tenant biometric type without a unit field: a table type needs one', () => {
    const def = eventTypeFromConfig({
      event_type: 'ward.glucose', schema_version: 1, handling: 'biometric', route: { actor: 'patient', key: 'patient_id' },
      schema: { fields: { patient_id: { type: 'string', required: true }, biometric_type: { type: 'string', required: true }, value: { type: 'number' } } },
    });
    const reg = new ContractRegistry({ [TENANT]: [def] });
    const ev = (id: string, type: string): Obj => ({ ...reading(id, { biometric_type: type, value: 5 }), event_type: 'ward.glucose' });
    const r = run([ev('e1', 'glucose'), ev('e2', 'lactate')], reg);
    expect(r.rejected.map((x) => [x.event_id, x.code])).toEqual([['e1', 'invalid_unit']]);
    expect(r.rejected[0]!.message).toBe('payload.unit is required for glucose (accepted, case-insensitive: mg/dL, mmol/L)');
  });

  it('good events of the same frame are kept; the refusal is an ack rejection and a dead letter', () => {
    const dec = new ClinicalFrameDecoder(new ContractRegistry(), 1000);
    const pushed: [string, string, number, ActorEvent][] = [];
    const frame = JSON.stringify([
      reading('g1', { biometric_type: 'glucose', value: 7.8, unit: 'mmol/L' }),
      reading('g2', { biometric_type: 'glucose', value: 7.8, unit: 'mmol/dL' }),
      reading('g3', { biometric_type: 'glucose', value: 140, unit: 'mg/dL' }),
    ]);
    const v = dec.decode(frame, TENANT, 'http', NOW, { push: (kind, _t, id, _time, body, index) => void pushed.push([kind, id, index, body as ActorEvent]) });
    expect(pushed.map(([kind, id, index, b]) => [kind, id, index, b.id])).toEqual([['patient', 'p1', 0, 'g1'], ['patient', 'p1', 2, 'g3']]);
    // The payload goes on as sent: the actor converts, analytics keeps the reading as it came.
    expect(pushed[0]![3].p).toEqual({ patient_id: 'p1', biometric_type: 'glucose', value: 7.8, unit: 'mmol/L' });
    expect(v.rejected).toEqual([{ index: 1, event_id: 'g2', code: 'invalid_unit', message: 'payload.unit "mmol/dL" is not a unit of glucose (accepted, case-insensitive: mg/dL, mmol/L)' }]);
    expect(v.deadLetters).toHaveLength(1);
    expect(v.deadLetters![0]).toMatchObject({ index: 1, event_id: 'g2', code: 'invalid_unit', source: 'http' });
    expect((v.deadLetters![0] as DeadLetter).event).toMatchObject({ event_id: 'g2', payload: { unit: 'mmol/dL' } });
  });

  it('unitProblem and canonicalUnit', () => {
    expect(unitProblem('glucose', 'mg/dL')).toBeNull();
    expect(unitProblem(5, 'x')).toBeNull();
    expect(unitProblem('weight', 'st')).toBe('payload.unit "st" is not a unit of weight (accepted, case-insensitive: kg, kgs, kilogram, kilograms, lb, lbs, pound, pounds, g)');
    expect(canonicalUnit('glucose')).toBe('mg/dL');
    expect(canonicalUnit('weight')).toBe('kg');
    expect(canonicalUnit('blood_pressure')).toBe('mmHg');
    expect(canonicalUnit('temperature')).toBe('°C');
    expect(canonicalUnit('lactate')).toBeUndefined();
  });
});
