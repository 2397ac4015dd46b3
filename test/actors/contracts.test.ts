import { describe, expect, it } from 'vitest';
import { ContractRegistry, emptyValidated, parseEventTime, type ActorEvent, type ValidatedBatch } from '../../actors/contracts/registry.js';

const NOW = Date.UTC(2026, 10, 21, 8, 0, 0);
const TENANT = 'demo';

type Obj = Record<string, unknown>;

const telemetry = (p: Obj = {}): Obj => ({
  patient_id: 'p1', procedure_id: 'pr1', robot_arm: 'arm_1', step: 'suturing',
  force_newtons: 12.5, velocity_mm_s: 20, latency_ms: 40, ...p,
});
const vitals = (p: Obj = {}): Obj => ({ patient_id: 'p1', heart_rate: 80, ...p });
const biometric = (p: Obj = {}): Obj => ({ patient_id: 'p1', biometric_type: 'glucose', value: 110, unit: 'mg/dL', ...p });

function env(over: Obj = {}, eventType = 'vitals.observation', payload: Obj = vitals()): Obj {
  return { event_id: 'e1', tenant_id: TENANT, event_type: eventType, schema_version: 1, event_time: NOW - 1_000, payload, ...over };
}
function without(o: Obj, key: string): Obj {
  const { [key]: _gone, ...rest } = o;
  return rest;
}

const registry = new ContractRegistry();

function run(items: readonly unknown[], reg = registry): ValidatedBatch {
  const out = emptyValidated();
  reg.validate(items, TENANT, NOW, out);
  return out;
}

interface BadCase {
  name: string;
  event: unknown;
  code: string;
  /** Text the message must contain: the field at fault (or what is wrong with the whole event). */
  names: string;
}

const notObjects: BadCase[] = [
  { name: 'a string', event: 'hello', code: 'not_an_object', names: 'got string' },
  { name: 'an array', event: [env()], code: 'not_an_object', names: 'got array' },
  { name: 'null', event: null, code: 'not_an_object', names: 'got null' },
  { name: 'a number', event: 42, code: 'not_an_object', names: 'got number' },
];

const REQUIRED = ['event_id', 'tenant_id', 'event_type', 'schema_version', 'event_time', 'payload'] as const;
const missing: BadCase[] = REQUIRED.flatMap((f) => [
  { name: `${f} absent`, event: without(env(), f), code: 'missing_field', names: f },
  // null is absent, as it is for payload fields: a producer serialising an unset field as null
  // is not sending a value of the wrong type.
  { name: `${f} null`, event: env({ [f]: null }), code: 'missing_field', names: f },
]);

const wrongTypes: BadCase[] = [
  { name: 'event_id a number', event: env({ event_id: 5 }), code: 'invalid_type', names: 'event_id' },
  { name: 'event_id an object', event: env({ event_id: { id: 'x' } }), code: 'invalid_type', names: 'event_id' },
  { name: 'tenant_id a number', event: env({ tenant_id: 5 }), code: 'invalid_type', names: 'tenant_id' },
  { name: 'event_type a number', event: env({ event_type: 5 }), code: 'invalid_type', names: 'event_type' },
  { name: 'event_type an array', event: env({ event_type: ['vitals.observation'] }), code: 'invalid_type', names: 'event_type' },
  { name: 'schema_version a string', event: env({ schema_version: '1' }), code: 'invalid_type', names: 'schema_version' },
  { name: 'schema_version 1.5', event: env({ schema_version: 1.5 }), code: 'invalid_type', names: 'schema_version' },
  { name: 'schema_version 0', event: env({ schema_version: 0 }), code: 'invalid_type', names: 'schema_version' },
  { name: 'event_time a boolean', event: env({ event_time: true }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'event_time an object', event: env({ event_time: { ms: NOW } }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'payload a string', event: env({ payload: 'x' }), code: 'invalid_type', names: 'payload' },
  { name: 'payload an array', event: env({ payload: [vitals()] }), code: 'invalid_type', names: 'payload' },
  { name: 'payload a number', event: env({ payload: 1 }), code: 'invalid_type', names: 'payload' },
];

const envelopeValues: BadCase[] = [
  { name: 'event_id of 129 characters', event: env({ event_id: 'x'.repeat(129) }), code: 'invalid_value', names: 'event_id' },
  { name: 'event_id empty', event: env({ event_id: '' }), code: 'invalid_value', names: 'event_id' },
  { name: 'tenant_id of another tenant', event: env({ tenant_id: 'acme' }), code: 'tenant_mismatch', names: 'tenant_id' },
  { name: 'unknown event_type', event: env({ event_type: 'ventilator.reading' }), code: 'unknown_event_type', names: 'event_type "ventilator.reading"' },
  { name: 'schema_version 2 of a built-in type', event: env({ schema_version: 2 }), code: 'unknown_schema_version', names: 'schema_version 2' },
];

const eventTimes: BadCase[] = [
  { name: "'yesterday'", event: env({ event_time: 'yesterday' }), code: 'invalid_event_time', names: 'event_time' },
  // Date.parse refuses month 13 by itself; the next three it would roll over to another day.
  { name: 'month 13', event: env({ event_time: '2026-13-01T00:00:00Z' }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'February 30th', event: env({ event_time: '2026-02-30T00:00:00Z' }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'February 29th of a common year', event: env({ event_time: '2026-02-29T00:00:00Z' }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'hour 24', event: env({ event_time: '2026-11-20T24:00:00Z' }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'no offset (local time is ambiguous)', event: env({ event_time: '2026-11-21T07:00:00' }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'a date alone', event: env({ event_time: '2026-11-21' }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'epoch seconds as a string', event: env({ event_time: String(NOW) }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'non-integer epoch', event: env({ event_time: NOW - 1000.5 }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'NaN epoch', event: env({ event_time: NaN }), code: 'invalid_event_time', names: 'event_time' },
  { name: 'more than 5 minutes in the future', event: env({ event_time: NOW + 5 * 60_000 + 1 }), code: 'invalid_event_time', names: 'in the future' },
  { name: 'future as RFC 3339', event: env({ event_time: '2026-11-21T09:00:00Z' }), code: 'invalid_event_time', names: 'event_time 2026-11-21T09:00:00.000Z' },
  { name: 'before 2000', event: env({ event_time: Date.UTC(2000, 0, 1) - 1 }), code: 'invalid_event_time', names: 'before 2000' },
  { name: 'before 2000 as RFC 3339', event: env({ event_time: '1999-12-31T23:59:59Z' }), code: 'invalid_event_time', names: 'before 2000' },
];

const tel = (p: Obj): Obj => env({}, 'surgical.telemetry', telemetry(p));
const vit = (p: Obj): Obj => env({}, 'vitals.observation', p);
const bio = (p: Obj): Obj => env({}, 'biometric.reading', p);

const payloads: BadCase[] = [
  { name: 'surgical.telemetry without force_newtons', event: env({}, 'surgical.telemetry', without(telemetry(), 'force_newtons')), code: 'missing_field', names: 'payload.force_newtons' },
  { name: 'surgical.telemetry without procedure_id (the routing key)', event: env({}, 'surgical.telemetry', without(telemetry(), 'procedure_id')), code: 'missing_field', names: 'payload.procedure_id' },
  { name: 'surgical.telemetry negative latency (schema minimum)', event: tel({ latency_ms: -1 }), code: 'invalid_value', names: 'payload.latency_ms' },
  { name: 'surgical.telemetry force 5000 N (rules range)', event: tel({ force_newtons: 5000 }), code: 'out_of_range', names: 'payload.force_newtons' },
  { name: 'surgical.telemetry force as a string', event: tel({ force_newtons: '12' }), code: 'invalid_type', names: 'payload.force_newtons' },
  { name: 'surgical.telemetry error_code a number', event: tel({ error_code: 42 }), code: 'invalid_type', names: 'payload.error_code' },
  { name: 'surgical.telemetry empty step', event: tel({ step: '' }), code: 'invalid_value', names: 'payload.step' },
  { name: 'vitals.observation with no vital sign', event: vit({ patient_id: 'p1', on_oxygen: true, consciousness: 'A' }), code: 'missing_field', names: 'at least one of heart_rate' },
  { name: 'vitals.observation with every vital sign null', event: vit({ patient_id: 'p1', heart_rate: null, spo2: null }), code: 'missing_field', names: 'at least one of' },
  { name: 'vitals.observation spo2 101', event: vit(vitals({ spo2: 101 })), code: 'invalid_value', names: 'payload.spo2' },
  { name: 'vitals.observation heart_rate 400 (rules range)', event: vit(vitals({ heart_rate: 400 })), code: 'out_of_range', names: 'payload.heart_rate' },
  { name: "vitals.observation consciousness 'X'", event: vit(vitals({ consciousness: 'X' })), code: 'invalid_enum', names: 'payload.consciousness' },
  { name: 'vitals.observation spo2_scale 3', event: vit(vitals({ spo2_scale: 3 })), code: 'invalid_enum', names: 'payload.spo2_scale' },
  { name: 'vitals.observation spo2_scale 1.5', event: vit(vitals({ spo2_scale: 1.5 })), code: 'invalid_value', names: 'payload.spo2_scale' },
  { name: 'vitals.observation on_oxygen "yes"', event: vit(vitals({ on_oxygen: 'yes' })), code: 'invalid_type', names: 'payload.on_oxygen' },
  { name: 'vitals.observation without patient_id', event: vit({ heart_rate: 80 }), code: 'missing_field', names: 'payload.patient_id' },
  { name: 'biometric.reading systolic without diastolic', event: bio(biometric({ value: undefined, biometric_type: 'blood_pressure', systolic: 120, unit: 'mmHg' })), code: 'missing_field', names: 'systolic, diastolic come together' },
  { name: 'biometric.reading with neither value nor systolic', event: bio(without(biometric(), 'value')), code: 'missing_field', names: 'at least one of value, systolic' },
  { name: 'biometric.reading without unit', event: bio(without(biometric(), 'unit')), code: 'missing_field', names: 'payload.unit' },
];

const optionalParts: BadCase[] = [
  { name: 'site_id a number', event: env({ site_id: 5 }), code: 'invalid_type', names: 'site_id' },
  { name: 'device_id a boolean', event: env({ device_id: true }), code: 'invalid_type', names: 'device_id' },
  { name: 'device_type an object', event: env({ device_type: {} }), code: 'invalid_type', names: 'device_type' },
  { name: 'source_system an array', event: env({ source_system: ['emr'] }), code: 'invalid_type', names: 'source_system' },
  { name: 'attributes with a nested object', event: env({ attributes: { ward: { floor: 3 } } }), code: 'invalid_type', names: 'attributes' },
  { name: 'attributes with a null value', event: env({ attributes: { ward: null } }), code: 'invalid_type', names: 'attributes' },
  { name: 'attributes an array', event: env({ attributes: ['a'] }), code: 'invalid_type', names: 'attributes' },
  { name: 'attributes a string', event: env({ attributes: 'ward=3' }), code: 'invalid_type', names: 'attributes' },
];

describe('ContractRegistry.validate rejects bad input with a code and a message naming the field', () => {
  const groups: [string, BadCase[]][] = [
    ['not an object', notObjects],
    ['missing envelope fields', missing],
    ['envelope fields of the wrong type', wrongTypes],
    ['envelope values', envelopeValues],
    ['event_time', eventTimes],
    ['payloads of the built-in types', payloads],
    ['optional envelope fields', optionalParts],
  ];
  for (const [group, cases] of groups) {
    describe(group, () => {
      it.each(cases)('$name → $code', ({ event, code, names }) => {
        const out = run([event]);
        expect(out.events).toEqual([]);
        expect(out.inputIndex).toEqual([]);
        expect(out.rejected).toHaveLength(1);
        const r = out.rejected[0]!;
        expect(r.index).toBe(0);
        expect(r.code).toBe(code);
        expect(r.message).toContain(names);
      });
    });
  }
});

describe('ContractRegistry.validate accepts', () => {
  const accepted = (event: Obj): { time: number; body: ActorEvent } => {
    const out = run([event]);
    expect(out.rejected).toEqual([]);
    expect(out.events).toHaveLength(1);
    const e = out.events[0]!;
    return { time: e.time, body: e.body as ActorEvent };
  };

  it.each([
    ['an offset', '2026-11-21T09:30:00+01:30', NOW],
    ['a negative offset', '2026-11-21T02:00:00-06:00', NOW],
    ['fractional seconds', '2026-11-21T07:59:59.250Z', NOW - 750],
    ['nanosecond fractions (truncated to ms)', '2026-11-21T07:59:59.123456789Z', NOW - 877],
    ['fractional seconds and an offset', '2026-11-21T13:29:59.5+05:30', NOW - 500],
    ['a leap day', '2024-02-29T12:00:00Z', Date.UTC(2024, 1, 29, 12)],
  ])('RFC 3339 event_time with %s, converted to epoch ms', (_what, t, ms) => {
    expect(accepted(env({ event_time: t })).time).toBe(ms);
  });

  it('epoch-ms event_time as given, up to 5 minutes ahead and back to 2000-01-01', () => {
    expect(accepted(env({ event_time: NOW - 123_456 })).time).toBe(NOW - 123_456);
    expect(accepted(env({ event_time: NOW + 5 * 60_000 })).time).toBe(NOW + 5 * 60_000);
    expect(accepted(env({ event_time: Date.UTC(2000, 0, 1) })).time).toBe(Date.UTC(2000, 0, 1));
  });

  it('an event_id of 128 characters, optional envelope strings and flat attributes', () => {
    const id = 'x'.repeat(128);
    const { body } = accepted(env({
      event_id: id, site_id: 's1', device_id: 'd1', device_type: 'monitor', source_system: 'emr',
      attributes: { ward: '3B', bed: 12, isolated: false },
    }));
    expect(body.id).toBe(id);
  });

  it('optional envelope strings as null, and extra payload fields', () => {
    const { body } = accepted(env({ site_id: null }, 'vitals.observation', vitals({ firmware: '1.2' })));
    expect(body.p.firmware).toBe('1.2');
  });

  it('blood pressure as systolic with diastolic and no value', () => {
    accepted(env({}, 'biometric.reading', { patient_id: 'p1', biometric_type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'mmHg' }));
  });

  it('bounds themselves: force 0 and 1000 N, spo2 100, temperature 20 and 46 °C', () => {
    accepted(tel({ force_newtons: 0 }));
    accepted(tel({ force_newtons: 1000 }));
    accepted(vit(vitals({ spo2: 100 })));
    accepted(vit({ patient_id: 'p1', temperature_c: 20 }));
    accepted(vit({ patient_id: 'p1', temperature_c: 46 }));
  });
});

describe('parseEventTime', () => {
  it('agrees with Date.UTC on every valid day of a leap and a common year', () => {
    for (const year of [2024, 2025]) {
      for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += 86_400_000) {
        const iso = new Date(t + 23 * 3_600_000).toISOString();
        expect(parseEventTime(iso)).toBe(t + 23 * 3_600_000);
      }
    }
  });
  it('refuses the 31st of 30-day months', () => {
    for (const m of ['04', '06', '09', '11']) expect(parseEventTime(`2026-${m}-31T00:00:00Z`)).toBeNaN();
  });
  it('refuses day and month 00', () => {
    expect(parseEventTime('2026-00-10T00:00:00Z')).toBeNaN();
    expect(parseEventTime('2026-01-00T00:00:00Z')).toBeNaN();
  });
});

describe('a mixed batch', () => {
  const good: { event: Obj; kind: string; id: string; time: number }[] = [
    { event: env({ event_id: 'g0', event_time: NOW - 10 }, 'surgical.telemetry', telemetry({ procedure_id: 'proc-7' })), kind: 'procedure', id: 'proc-7', time: NOW - 10 },
    { event: env({ event_id: 'g1', event_time: '2026-11-21T07:59:00Z' }, 'vitals.observation', vitals({ patient_id: 'pat-1', spo2: 96 })), kind: 'patient', id: 'pat-1', time: NOW - 60_000 },
    { event: env({ event_id: 'g2' }, 'biometric.reading', biometric({ patient_id: 'pat-2' })), kind: 'patient', id: 'pat-2', time: NOW - 1_000 },
    { event: env({ event_id: 'g3', event_time: NOW }, 'vitals.observation', vitals({ patient_id: 'pat-1', heart_rate: 120 })), kind: 'patient', id: 'pat-1', time: NOW },
  ];
  const handling: Record<string, string> = { 'surgical.telemetry': 'telemetry', 'vitals.observation': 'vitals', 'biometric.reading': 'biometric' };
  const bad: { event: unknown; eventId: string | null; code: string }[] = [
    { event: 'not json object', eventId: null, code: 'not_an_object' },
    { event: without(env(), 'event_id'), eventId: null, code: 'missing_field' },
    { event: env({ event_id: 17 }), eventId: null, code: 'invalid_type' },
    { event: env({ event_id: 'b3', tenant_id: 'acme' }), eventId: 'b3', code: 'tenant_mismatch' },
    { event: env({ event_id: 'b4' }, 'surgical.telemetry', telemetry({ force_newtons: 5000 })), eventId: 'b4', code: 'out_of_range' },
    { event: env({ event_id: 'b5', event_time: 'yesterday' }), eventId: 'b5', code: 'invalid_event_time' },
    { event: env({ event_id: 'b6', schema_version: 9 }), eventId: 'b6', code: 'unknown_schema_version' },
  ];
  // Interleave: bad, good, bad, good, ... so indices on both sides are non-trivial.
  const items: unknown[] = [];
  const goodAt: number[] = [];
  const badAt: number[] = [];
  for (let i = 0; i < Math.max(good.length, bad.length); i++) {
    if (bad[i]) { badAt.push(items.length); items.push(bad[i]!.event); }
    if (good[i]) { goodAt.push(items.length); items.push(good[i]!.event); }
  }

  it('accepts every good event, routed, with its input index', () => {
    const out = run(items);
    expect(out.inputIndex).toEqual(goodAt);
    expect(out.events).toHaveLength(good.length);
    out.events.forEach((e, k) => {
      const g = good[k]!;
      const payload = g.event.payload as Obj;
      expect(e).toEqual({
        tenant: TENANT, kind: g.kind, id: g.id, time: g.time,
        body: { id: g.event.event_id, type: g.event.event_type, h: handling[g.event.event_type as string], v: g.event.schema_version, p: payload },
      });
      expect(Object.keys(e.body as object).sort()).toEqual(['h', 'id', 'p', 'type', 'v']);
    });
  });

  it('returns every bad event with its index, event_id (or null) and code', () => {
    const out = run(items);
    expect(out.rejected.map(({ index, event_id, code }) => ({ index, event_id, code }))).toEqual(
      bad.map((b, k) => ({ index: badAt[k], event_id: b.eventId, code: b.code })),
    );
    for (const r of out.rejected) expect(r.message.length).toBeGreaterThan(0);
  });

  it('appends to the batch it is given instead of replacing it', () => {
    const out = emptyValidated();
    registry.validate(items, TENANT, NOW, out);
    registry.validate(items, TENANT, NOW, out);
    expect(out.events).toHaveLength(2 * good.length);
    expect(out.rejected).toHaveLength(2 * bad.length);
  });

  it('a tenant that adds v2 of a built-in type keeps v1', () => {
    const reg = new ContractRegistry({
      [TENANT]: [{
        eventType: 'vitals.observation', schemaVersion: 2, handling: 'vitals', route: { actor: 'patient', key: 'patient_id' },
        schema: { fields: { patient_id: { type: 'string', required: true }, heart_rate: { type: 'number', required: true } } },
      }],
    });
    const out = run([env({ event_id: 'v1' }), env({ event_id: 'v2', schema_version: 2 }), env({ event_id: 'v3', schema_version: 3 })], reg);
    expect(out.inputIndex).toEqual([0, 1]);
    expect(out.rejected).toMatchObject([{ index: 2, code: 'unknown_schema_version', message: expect.stringContaining('known: 1, 2') }]);
    expect(reg.types(TENANT).filter((t) => t.eventType === 'vitals.observation').map((t) => t.schemaVersion).sort()).toEqual([1, 2]);
    expect(reg.types('other').filter((t) => t.eventType === 'vitals.observation')).toHaveLength(1);
  });
});
