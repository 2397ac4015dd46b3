// Event-type contracts as data. A payload schema and its data-quality rules are plain
// declarations (the built-in types below, or a tenant's JSON files), compiled twice:
//  - into a zod schema: the published contract, used to parse configuration and in tests;
//  - into a hand-rolled checker: the hot path. zod 4 validated ~0.95 M envelopes/s per core
//    here against JSON.parse's ~1.26 M/s (node /tmp-style microbench, 100-event batches), i.e. it
//    alone would halve ingest throughput; the compiled checker costs a few percent. A property
//    test (test/actors/contracts-equivalence.test.ts) holds the two to the same verdicts.
import { z } from 'zod';

export const FieldType = { string: 'string', number: 'number', integer: 'integer', boolean: 'boolean', object: 'object' } as const;
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

export interface FieldSpec {
  readonly type: FieldType;
  readonly required?: boolean;
  /** Inclusive bounds for numbers. */
  readonly min?: number;
  readonly max?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly enum?: readonly (string | number)[];
}

export interface PayloadSpec {
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Each group needs at least one of its fields present (e.g. "at least one vital sign"). */
  readonly anyOf?: readonly (readonly string[])[];
  /** Fields that must come together (e.g. systolic with diastolic). */
  readonly together?: readonly (readonly string[])[];
}

/** Data-quality rules layered on a schema: a tenant tightens a type without redefining it. */
export interface RulesSpec {
  readonly required?: readonly string[];
  /** Inclusive [min, max]; null for an open side. */
  readonly ranges?: Readonly<Record<string, readonly [number | null, number | null]>>;
  readonly enums?: Readonly<Record<string, readonly (string | number)[]>>;
}

export const RejectCode = {
  InvalidJson: 'invalid_json',
  NotAnObject: 'not_an_object',
  MissingField: 'missing_field',
  InvalidType: 'invalid_type',
  InvalidValue: 'invalid_value',
  OutOfRange: 'out_of_range',
  InvalidEnum: 'invalid_enum',
  /** A biometric reading in a unit its type's unit table does not know (actors/units.ts). */
  InvalidUnit: 'invalid_unit',
  UnknownEventType: 'unknown_event_type',
  UnknownSchemaVersion: 'unknown_schema_version',
  InvalidEventTime: 'invalid_event_time',
  TenantMismatch: 'tenant_mismatch',
  TooLate: 'too_late',
  TooManyEvents: 'too_many_events',
  /** An event nests deeper than the limit (actors/contracts/limits.ts). */
  TooDeep: 'too_deep',
  /** An object or array of an event holds more entries than the limit. */
  TooLarge: 'too_large',
  /** A frame's bytes are not UTF-8 (decided in the ingest worker, before any parse). */
  InvalidUtf8: 'invalid_utf8',
  /** A frame the decoder failed on (a bug, not the producer's fault). */
  Internal: 'internal',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/** Where a compiled checker writes its verdict; reused across events (no allocation per event). */
export interface Verdict {
  code: RejectCode | '';
  message: string;
}

// ------------------------------------------------------------------ config-file shapes (zod)

const fieldSpecSchema = z
  .object({
    type: z.enum(['string', 'number', 'integer', 'boolean', 'object']),
    required: z.boolean().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    minLength: z.number().int().min(0).optional(),
    maxLength: z.number().int().min(1).optional(),
    enum: z.array(z.union([z.string(), z.number()])).min(1).optional(),
  })
  .strict();

// A field named like an Object.prototype member ("constructor", "toString", ...) would read
// the inherited member when the payload lacks it, so an absent optional field would fail.
const fieldNameSchema = z
  .string()
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/)
  .refine((k) => !(k in Object.prototype), { message: 'is a reserved name (an Object.prototype member)' });

export const payloadSpecSchema = z
  .object({
    fields: z.record(fieldNameSchema, fieldSpecSchema),
    anyOf: z.array(z.array(z.string()).min(1)).optional(),
    together: z.array(z.array(z.string()).min(2)).optional(),
  })
  .strict();

export const rulesSpecSchema = z
  .object({
    required: z.array(z.string()).optional(),
    ranges: z.record(z.string(), z.tuple([z.number().nullable(), z.number().nullable()])).optional(),
    enums: z.record(z.string(), z.array(z.union([z.string(), z.number()])).min(1)).optional(),
  })
  .strict();

// ------------------------------------------------------------------ merge + compile

interface CompiledField {
  name: string;
  path: string;
  type: FieldType;
  required: boolean;
  /** Schema bounds: breaking one is invalid_value (the value cannot mean anything). */
  min: number;
  max: number;
  /** Rule bounds, already intersected with the schema's: breaking one is out_of_range (a
   * data-quality verdict). Kept apart so a rule can only tighten, never loosen, the schema. */
  ruleMin: number;
  ruleMax: number;
  minLength: number;
  maxLength: number;
  enumSet: Set<string | number> | null;
}

export interface MergedSpec {
  fields: CompiledField[];
  anyOf: readonly (readonly string[])[];
  together: readonly (readonly string[])[];
}

export function mergeSpec(spec: PayloadSpec, rules: RulesSpec = {}): MergedSpec {
  const names = new Set(Object.keys(spec.fields));
  for (const f of [...(rules.required ?? []), ...Object.keys(rules.ranges ?? {}), ...Object.keys(rules.enums ?? {})]) {
    if (!names.has(f)) throw new TypeError(`rules name field ${JSON.stringify(f)}, which the schema does not define`);
  }
  for (const g of [...(spec.anyOf ?? []), ...(spec.together ?? [])]) {
    for (const f of g) if (!names.has(f)) throw new TypeError(`schema group names unknown field ${JSON.stringify(f)}`);
  }
  const fields: CompiledField[] = [];
  for (const [name, f] of Object.entries(spec.fields)) {
    const numeric = f.type === 'number' || f.type === 'integer';
    const range = rules.ranges?.[name];
    // Contradictions below would otherwise load fine and then silently ignore the setting or
    // reject every event; a configuration error is cheaper to find at start.
    if (!numeric && (f.min !== undefined || f.max !== undefined || range !== undefined)) {
      throw new TypeError(`field ${JSON.stringify(name)}: a range needs a number or integer field, not ${f.type}`);
    }
    const min = f.min ?? -Infinity;
    const max = f.max ?? Infinity;
    const ruleMin = Math.max(min, range?.[0] ?? -Infinity);
    const ruleMax = Math.min(max, range?.[1] ?? Infinity);
    if (min > max || ruleMin > ruleMax) throw new TypeError(`field ${JSON.stringify(name)}: range is empty (${ruleMin} > ${ruleMax})`);
    const minLength = f.minLength ?? (f.type === 'string' ? 1 : 0);
    const maxLength = f.maxLength ?? 1024;
    if (minLength > maxLength) throw new TypeError(`field ${JSON.stringify(name)}: minLength ${minLength} > maxLength ${maxLength}`);
    const ruleEnum = rules.enums?.[name];
    if (ruleEnum && f.enum) {
      const outside = ruleEnum.filter((x) => !f.enum!.includes(x));
      if (outside.length > 0) throw new TypeError(`field ${JSON.stringify(name)}: rules allow ${JSON.stringify(outside)}, which the schema's enum does not`);
    }
    const en = ruleEnum ?? f.enum;
    if (en) {
      for (const x of en) {
        const ok = f.type === 'string' ? typeof x === 'string' : f.type === 'integer' ? Number.isSafeInteger(x) : f.type === 'number' && typeof x === 'number';
        if (!ok) throw new TypeError(`field ${JSON.stringify(name)}: enum value ${JSON.stringify(x)} is not a valid ${f.type}`);
      }
    }
    fields.push({
      name,
      path: `payload.${name}`,
      type: f.type,
      required: f.required === true || (rules.required?.includes(name) ?? false),
      min,
      max,
      ruleMin,
      ruleMax,
      minLength,
      maxLength,
      enumSet: en ? new Set(en) : null,
    });
  }
  return { fields, anyOf: spec.anyOf ?? [], together: spec.together ?? [] };
}

/**
 * Length in Unicode code points: a surrogate pair counts once, a lone surrogate as one. It is
 * what zod 4 measures for string min/max, and what a producer means by "128 characters" (an
 * emoji is one), so the checker and the published schema must both count this way.
 */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The hot-path checker. Returns true when valid; else fills `out` with the first problem. */
export function compileChecker(m: MergedSpec): (payload: Record<string, unknown>, out: Verdict) => boolean {
  const fields = m.fields;
  const anyOf = m.anyOf;
  const together = m.together;
  return (p, out) => {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = p[f.name];
      if (v === undefined || v === null) {
        if (f.required) {
          out.code = RejectCode.MissingField;
          out.message = `${f.path} is required`;
          return false;
        }
        continue;
      }
      switch (f.type) {
        case 'number':
        case 'integer':
          if (typeof v !== 'number' || !Number.isFinite(v)) {
            out.code = RejectCode.InvalidType;
            out.message = `${f.path} must be a finite number, got ${typeName(v)}`;
            return false;
          }
          // Safe integers only: beyond 2^53 JSON has already rounded the value (and zod's
          // .int() refuses them too).
          if (f.type === 'integer' && !Number.isSafeInteger(v)) {
            out.code = RejectCode.InvalidValue;
            out.message = `${f.path} must be an integer, got ${v}`;
            return false;
          }
          if (v < f.min || v > f.max) {
            out.code = RejectCode.InvalidValue;
            out.message = `${f.path} must be between ${f.min} and ${f.max}, got ${v}`;
            return false;
          }
          if (v < f.ruleMin || v > f.ruleMax) {
            out.code = RejectCode.OutOfRange;
            out.message = `${f.path} must be between ${f.ruleMin} and ${f.ruleMax}, got ${v}`;
            return false;
          }
          break;
        case 'string':
          if (typeof v !== 'string') {
            out.code = RejectCode.InvalidType;
            out.message = `${f.path} must be a string, got ${typeName(v)}`;
            return false;
          }
          {
            // Code points are one or two units: the unit count settles it unless the string is
            // over the maximum in units or within reach of the minimum; only then count.
            const units = v.length;
            const len = units > f.maxLength || (units >= f.minLength && units < 2 * f.minLength) ? codePointLength(v) : units;
            if (len < f.minLength || len > f.maxLength) {
              out.code = RejectCode.InvalidValue;
              out.message = `${f.path} must be ${f.minLength}-${f.maxLength} characters, got ${len}`;
              return false;
            }
          }
          break;
        case 'boolean':
          if (typeof v !== 'boolean') {
            out.code = RejectCode.InvalidType;
            out.message = `${f.path} must be a boolean, got ${typeName(v)}`;
            return false;
          }
          break;
        case 'object':
          if (typeof v !== 'object' || Array.isArray(v)) {
            out.code = RejectCode.InvalidType;
            out.message = `${f.path} must be an object, got ${typeName(v)}`;
            return false;
          }
          break;
      }
      if (f.enumSet !== null && !f.enumSet.has(v as string | number)) {
        out.code = RejectCode.InvalidEnum;
        out.message = `${f.path} must be one of ${[...f.enumSet].map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`;
        return false;
      }
    }
    for (let g = 0; g < anyOf.length; g++) {
      const group = anyOf[g]!;
      let found = false;
      for (let j = 0; j < group.length && !found; j++) found = p[group[j]!] !== undefined && p[group[j]!] !== null;
      if (!found) {
        out.code = RejectCode.MissingField;
        out.message = `payload needs at least one of ${group.join(', ')}`;
        return false;
      }
    }
    for (let g = 0; g < together.length; g++) {
      const group = together[g]!;
      let present = 0;
      for (let j = 0; j < group.length; j++) if (p[group[j]!] !== undefined && p[group[j]!] !== null) present++;
      if (present !== 0 && present !== group.length) {
        out.code = RejectCode.MissingField;
        out.message = `payload fields ${group.join(', ')} come together`;
        return false;
      }
    }
    return true;
  };
}

/** The same contract as a zod schema: what the docs and the equivalence test hold the checker to. */
export function toZod(m: MergedSpec): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const f of m.fields) {
    let t: z.ZodType;
    if (f.type === 'number' || f.type === 'integer') {
      let n = f.type === 'integer' ? z.number().int() : z.number();
      if (Number.isFinite(f.ruleMin)) n = n.min(f.ruleMin);
      if (Number.isFinite(f.ruleMax)) n = n.max(f.ruleMax);
      t = n;
    } else if (f.type === 'string') {
      t = z.string().min(f.minLength).max(f.maxLength);
    } else if (f.type === 'boolean') {
      t = z.boolean();
    } else {
      t = z.record(z.string(), z.unknown());
    }
    if (f.enumSet) {
      const allowed = [...f.enumSet];
      const base = t;
      t = base.refine((v) => allowed.includes(v as string | number), { message: 'not an allowed value' });
    }
    shape[f.name] = f.required ? t : t.nullish();
  }
  let obj: z.ZodType<Record<string, unknown>> = z.looseObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
  for (const group of m.anyOf) {
    obj = obj.refine((p) => group.some((k) => p[k] !== undefined && p[k] !== null), { message: `needs one of ${group.join(', ')}` });
  }
  for (const group of m.together) {
    obj = obj.refine((p) => {
      const n = group.filter((k) => p[k] !== undefined && p[k] !== null).length;
      return n === 0 || n === group.length;
    }, { message: `${group.join(', ')} come together` });
  }
  return obj;
}
