import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_EVENT_TYPES, type EventTypeDefinition } from '../../actors/contracts/builtin.js';
import { loadTenantConfigDir } from '../../actors/contracts/load.js';
import { compileChecker, mergeSpec, toZod, type MergedSpec, type Verdict } from '../../actors/contracts/spec.js';

const CONFIG_DIR = fileURLToPath(new URL('../../deploy/config', import.meta.url));
const SEED = 20_261_121;
const RUNS = 2_000;

type Field = MergedSpec['fields'][number];

// Adjacent doubles: the boundary cases an off-by-one in `<` versus `<=` would get wrong.
const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  i64[0] = i64[0]! + (x > 0 ? 1n : -1n);
  return f64[0];
}
function nextDown(x: number): number {
  return -nextUp(-x);
}

const wrongType = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.constant([]),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

function numberValues(f: Field): fc.Arbitrary<unknown> {
  const edges = [f.min, f.max, f.ruleMin, f.ruleMax].filter(Number.isFinite);
  const near = edges.flatMap((b) => [b, nextUp(b), nextDown(b), b - 1, b + 1, b + 0.5]);
  const special = [0, -0, 1, -1, 0.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e20, 1e300, -1e300, Number.MAX_VALUE, NaN, Infinity, -Infinity];
  const lo = Number.isFinite(f.ruleMin) ? f.ruleMin : -1e6;
  const hi = Number.isFinite(f.ruleMax) ? f.ruleMax : 1e6;
  const inRange = f.type === 'integer'
    ? fc.integer({ min: Math.ceil(Math.max(lo, -1e9)), max: Math.floor(Math.min(hi, 1e9)) })
    : fc.double({ min: lo, max: hi, noNaN: true });
  const valid = f.enumSet ? fc.constantFrom(...f.enumSet) : inRange;
  return fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 2, arbitrary: fc.constantFrom(...near, ...special) },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: f.enumSet ? inRange : fc.integer() },
  );
}

function stringValues(f: Field): fc.Arbitrary<unknown> {
  const lengths = [f.minLength - 1, f.minLength, f.minLength + 1, f.maxLength - 1, f.maxLength, f.maxLength + 1].filter((n) => n >= 0);
  const exact = fc.constantFrom(...lengths).map((n) => 'a'.repeat(n));
  // Surrogate pairs straddle the bounds: a length in code points is not one in UTF-16 units.
  const astral = fc.constantFrom(...lengths).map((n) => '😀'.repeat(Math.ceil(n / 2)));
  const short = fc.string({ minLength: f.minLength, maxLength: Math.min(f.maxLength, 16), unit: 'binary' });
  if (!f.enumSet) {
    return fc.oneof({ weight: 6, arbitrary: short }, { weight: 2, arbitrary: exact }, { weight: 1, arbitrary: astral });
  }
  const allowed = [...f.enumSet].map(String);
  const nearMiss = allowed.flatMap((s) => [s.toLowerCase(), s.toUpperCase(), `${s} `, s.slice(1)]);
  return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...allowed) }, { weight: 2, arbitrary: fc.constantFrom(...nearMiss) }, { weight: 1, arbitrary: short });
}

function validValues(f: Field): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'number':
    case 'integer':
      return numberValues(f);
    case 'string':
      return stringValues(f);
    case 'boolean':
      return fc.boolean();
    case 'object':
      return fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.constant({}));
  }
}

const ABSENT = Symbol('absent');

/** `validWeight` against 5 for absent/null/undefined/wrong type, per field. */
function payloadArbWith(m: MergedSpec, validWeight: number): fc.Arbitrary<Record<string, unknown>> {
  const perField = m.fields.map((f) =>
    fc.oneof(
      { weight: validWeight, arbitrary: validValues(f) },
      { weight: 2, arbitrary: fc.constant(ABSENT) },
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: wrongType },
    ),
  );
  const extras = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
  return fc.tuple(fc.tuple(...perField), extras).map(([values, extra]) => {
    const p: Record<string, unknown> = {};
    // Extras first so a declared field always wins: an extra named like a field is not extra.
    for (const [k, v] of Object.entries(extra)) if (!m.fields.some((f) => f.name === k)) p[k] = v;
    m.fields.forEach((f, i) => {
      if (values[i] !== ABSENT) p[f.name] = values[i];
    });
    return p;
  });
}

// A type with seven required fields almost never draws a fully valid payload from the noisy
// mix alone; the clean mix keeps accepting verdicts (and the bounds next to them) common.
function payloadArb(m: MergedSpec): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(payloadArbWith(m, 12), payloadArbWith(m, 150));
}

let tenantTypes: EventTypeDefinition[] = [];
beforeAll(async () => {
  const loaded = await loadTenantConfigDir(CONFIG_DIR);
  tenantTypes = Object.values(loaded.tenants).flatMap((t) => t.eventTypes);
});

function checkEquivalent(def: EventTypeDefinition): { accepted: number; rejected: number } {
  const merged = mergeSpec(def.schema, def.rules);
  const check = compileChecker(merged);
  const schema = toZod(merged);
  const verdict: Verdict = { code: '', message: '' };
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(payloadArb(merged), (p) => {
      verdict.code = '';
      const ours = check(p, verdict);
      const zods = schema.safeParse(p).success;
      if (ours !== zods) {
        throw new Error(`checker says ${ours}, zod says ${zods} (checker: ${verdict.code} ${verdict.message})`);
      }
      if (ours) accepted++;
      else {
        rejected++;
        // A rejection a producer can act on: a code, and the field (or group) at fault.
        expect(verdict.code).not.toBe('');
        expect(verdict.message).toMatch(/^payload(\.| needs| fields)/);
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  return { accepted, rejected };
}

describe('compiled checker and zod schema agree on every payload', () => {
  for (const def of BUILTIN_EVENT_TYPES) {
    it(`built-in ${def.eventType} v${def.schemaVersion}`, () => {
      const { accepted, rejected } = checkEquivalent(def);
      // Both sides must be exercised, or agreement proves nothing.
      expect(accepted).toBeGreaterThan(RUNS / 20);
      expect(rejected).toBeGreaterThan(RUNS / 20);
    });
  }

  it('the example tenant types (deploy/config)', () => {
    expect(tenantTypes.map((t) => t.eventType).sort()).toEqual(['infusion.pump', 'ventilator.reading']);
    for (const def of tenantTypes) {
      const { accepted, rejected } = checkEquivalent(def);
      expect(accepted, def.eventType).toBeGreaterThan(RUNS / 20);
      expect(rejected, def.eventType).toBeGreaterThan(RUNS / 20);
    }
  });

  it('a type using every field kind, anyOf and together, with rules tightening schema bounds', () => {
    checkEquivalent({
      eventType: 'synthetic.kitchen_sink', schemaVersion: 1, handling: 'generic', route: { actor: 'patient', key: 'id' },
      schema: {
        fields: {
          id: { type: 'string', required: true, minLength: 3, maxLength: 10 },
          n: { type: 'number', min: -5, max: 5 },
          i: { type: 'integer', min: 0 },
          big: { type: 'integer' },
          flag: { type: 'boolean' },
          meta: { type: 'object' },
          level: { type: 'integer', enum: [1, 2, 3] },
          code: { type: 'string', enum: ['a', 'b', 'c'], minLength: 0 },
          a: { type: 'number' },
          b: { type: 'number' },
        },
        anyOf: [['n', 'i', 'flag']],
        together: [['a', 'b']],
      },
      rules: { required: ['flag'], ranges: { n: [-10, 2], i: [null, 100] }, enums: { code: ['a', 'b'] } },
    });
  });
});

describe('regressions the property found', () => {
  it('integers beyond 2^53 are refused by both (zod .int() only takes safe integers)', () => {
    const merged = mergeSpec({ fields: { k: { type: 'integer' } } });
    const v: Verdict = { code: '', message: '' };
    for (const x of [2 ** 53, -(2 ** 53), 1e20]) {
      expect(compileChecker(merged)({ k: x }, v)).toBe(false);
      expect(v.code).toBe('invalid_value');
      expect(toZod(merged).safeParse({ k: x }).success).toBe(false);
    }
    expect(compileChecker(merged)({ k: 2 ** 53 - 1 }, v)).toBe(true);
  });
});
