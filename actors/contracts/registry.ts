import { z } from 'zod';
import type { RuntimeEvent } from '../../runtime/runtime.js';
import { unitProblem } from '../units.js';
import { BUILTIN_EVENT_TYPES, type ActorKind, type EventTypeDefinition, type Handling } from './builtin.js';
import { DEFAULT_MAX_EVENT_DEPTH, DEFAULT_MAX_EVENT_KEYS, Shape, ShapeGauge } from './limits.js';
import {
  codePointLength, compileChecker, mergeSpec, payloadSpecSchema, RejectCode, rulesSpecSchema, toZod,
  type MergedSpec, type Verdict,
} from './spec.js';

/** What an actor receives as an event body: validated, with the routing decided. */
export interface ActorEvent {
  /** event_id */
  readonly id: string;
  /** event_type */
  readonly type: string;
  readonly h: Handling;
  /** schema_version */
  readonly v: number;
  readonly p: Record<string, unknown>;
}

export interface Rejection {
  index: number;
  event_id: string | null;
  code: string;
  message: string;
}

export interface ValidatedBatch {
  events: RuntimeEvent[];
  /** Input position of each accepted event. */
  inputIndex: number[];
  rejected: Rejection[];
}

export function emptyValidated(): ValidatedBatch {
  return { events: [], inputIndex: [], rejected: [] };
}

interface CompiledType {
  def: EventTypeDefinition;
  merged: MergedSpec;
  check: (p: Record<string, unknown>, out: Verdict) => boolean;
}

/** A tenant's event-type file: the schema and rules inline or already read from their files. */
export const eventTypeConfigSchema = z
  .object({
    event_type: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/, 'dotted lower-case name'),
    schema_version: z.number().int().min(1),
    description: z.string().optional(),
    schema: payloadSpecSchema,
    rules: rulesSpecSchema.optional(),
    route: z.object({ actor: z.enum(['patient', 'procedure']), key: z.string().min(1) }).strict(),
    handling: z.enum(['vitals', 'biometric', 'telemetry', 'generic']).default('generic'),
  })
  .strict();
export type EventTypeConfig = z.input<typeof eventTypeConfigSchema>;

export function eventTypeFromConfig(raw: unknown, where = 'event type'): EventTypeDefinition {
  const r = eventTypeConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new TypeError(`${where}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const c = r.data;
  if (!Object.hasOwn(c.schema.fields, c.route.key)) throw new TypeError(`${where}: route.key ${JSON.stringify(c.route.key)} is not a schema field`);
  const keyField = c.schema.fields[c.route.key]!;
  if (keyField.type !== 'string' || keyField.required !== true) {
    throw new TypeError(`${where}: route.key ${JSON.stringify(c.route.key)} must be a required string field`);
  }
  const def: EventTypeDefinition = {
    eventType: c.event_type,
    schemaVersion: c.schema_version,
    schema: c.schema,
    route: { actor: c.route.actor as ActorKind, key: c.route.key },
    handling: c.handling,
    ...(c.rules ? { rules: c.rules } : {}),
    ...(c.description ? { description: c.description } : {}),
  };
  try {
    mergeSpec(def.schema, def.rules); // rules naming unknown fields fail here, at load
  } catch (e) {
    throw new TypeError(`${where}: ${(e as Error).message}`);
  }
  return def;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const MIN_EVENT_TIME = Date.UTC(2000, 0, 1);

export interface RegistryOptions {
  /** Events stamped further ahead of the server clock than this are refused: one would drag
   * its actor's watermark forward and make every honest event after it "too late". */
  maxFutureMs?: number;
  /** Deepest nesting of an event, the event object being level 1 (refused `too_deep` beyond). */
  maxEventDepth?: number;
  /** Most entries of any one object or array of an event (refused `too_large` beyond). */
  maxEventKeys?: number;
}

// ES2024's String.prototype.isWellFormed (Node >= 20), not in this project's lib: native, and
// far cheaper than a scan in JavaScript.
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * An id with a lone surrogate cannot be written as UTF-8: anything that stores or sends it
 * (JetStream, ClickHouse, a JSON answer) would replace it with U+FFFD, merging it with other ids
 * or leaving an actor no one can address again.
 */
function illFormed(s: string): boolean {
  return !isWellFormed.call(s);
}

/**
 * Every tenant's known event types: the built-ins plus what its configuration adds. Validates
 * envelopes and payloads once, at the edge, and routes the good ones to their actors.
 */
export class ContractRegistry {
  private readonly shared = new Map<string, Map<number, CompiledType>>();
  private readonly perTenant = new Map<string, Map<string, Map<number, CompiledType>>>();
  private readonly verdict: Verdict = { code: '', message: '' };
  private readonly maxFutureMs: number;
  private readonly gauge: ShapeGauge;

  constructor(tenantTypes: Readonly<Record<string, readonly EventTypeDefinition[]>> = {}, opts: RegistryOptions = {}) {
    this.maxFutureMs = opts.maxFutureMs ?? 5 * 60_000;
    this.gauge = new ShapeGauge(opts.maxEventDepth ?? DEFAULT_MAX_EVENT_DEPTH, opts.maxEventKeys ?? DEFAULT_MAX_EVENT_KEYS);
    for (const d of BUILTIN_EVENT_TYPES) ContractRegistry.add(this.shared, d);
    for (const [tenant, defs] of Object.entries(tenantTypes)) {
      const m = new Map<string, Map<number, CompiledType>>();
      for (const d of defs) {
        const builtin = this.shared.get(d.eventType);
        if (builtin?.has(d.schemaVersion)) {
          throw new TypeError(`tenant ${tenant}: ${d.eventType} v${d.schemaVersion} is built in; add a new schema_version instead`);
        }
        // lookup() takes the tenant's map of a type in place of the shared one, so a tenant's
        // v2 of a built-in type must carry the built-in versions along or v1 would vanish.
        if (builtin && !m.has(d.eventType)) m.set(d.eventType, new Map(builtin));
        ContractRegistry.add(m, d);
      }
      this.perTenant.set(tenant, m);
    }
  }

  private static add(m: Map<string, Map<number, CompiledType>>, def: EventTypeDefinition): void {
    let versions = m.get(def.eventType);
    if (!versions) m.set(def.eventType, (versions = new Map()));
    if (versions.has(def.schemaVersion)) throw new TypeError(`${def.eventType} v${def.schemaVersion} is defined twice`);
    const merged = mergeSpec(def.schema, def.rules);
    versions.set(def.schemaVersion, { def, merged, check: compileChecker(merged) });
  }

  /** How a whole frame item measures against the event limits (dead letters; not on the accepting path). */
  shapeOf(item: unknown): Shape {
    return this.gauge.measure(item);
  }

  get maxEventDepth(): number {
    return this.gauge.maxDepth;
  }

  /** The published contract of one type as zod (for documentation and tests). */
  zodFor(tenant: string, eventType: string, version: number): z.ZodType<Record<string, unknown>> | undefined {
    const t = this.lookup(tenant, eventType)?.get(version);
    return t ? toZod(t.merged) : undefined;
  }

  types(tenant: string): EventTypeDefinition[] {
    const out: EventTypeDefinition[] = [];
    const own = this.perTenant.get(tenant);
    for (const [name, versions] of this.shared) if (!own?.has(name)) for (const t of versions.values()) out.push(t.def);
    if (own) for (const versions of own.values()) for (const t of versions.values()) out.push(t.def);
    return out;
  }

  private lookup(tenant: string, eventType: string): Map<number, CompiledType> | undefined {
    return this.perTenant.get(tenant)?.get(eventType) ?? this.shared.get(eventType);
  }

  /**
   * Validates `items` for `tenant`; appends accepted events (routed to their actor) and
   * rejections (with input index, code and a message naming the field) to `out`.
   */
  validate(items: readonly unknown[], tenant: string, now: number, out: ValidatedBatch): void {
    const v = this.verdict;
    const gauge = this.gauge;
    for (let i = 0; i < items.length; i++) {
      const e = items[i];
      if (typeof e !== 'object' || e === null || Array.isArray(e)) {
        out.rejected.push({ index: i, event_id: null, code: RejectCode.NotAnObject, message: `event must be a JSON object, got ${e === null ? 'null' : Array.isArray(e) ? 'array' : typeof e}` });
        continue;
      }
      const env = e as Record<string, unknown>;
      // First, before anything reads what an actor would get: refused here, never walked again.
      const shape = gauge.measureEvent(env);
      if (shape !== Shape.Ok) {
        const id = typeof env.event_id === 'string' && env.event_id.length <= 128 && !illFormed(env.event_id) ? env.event_id : null;
        pushReject(out, i, id, shape === Shape.TooDeep ? RejectCode.TooDeep : RejectCode.TooLarge, gauge.message(shape));
        continue;
      }
      const eventId = typeof env.event_id === 'string' ? env.event_id : null;
      if (eventId === null) {
        if (env.event_id === undefined || env.event_id === null) pushReject(out, i, eventId, RejectCode.MissingField, 'event_id is required');
        else pushReject(out, i, eventId, RejectCode.InvalidType, `event_id must be a string, got ${typeof env.event_id}`);
        continue;
      }
      // Counted in code points, as payload strings are (see codePointLength).
      const idLength = eventId.length > 128 ? codePointLength(eventId) : eventId.length;
      if (idLength < 1 || idLength > 128) {
        pushReject(out, i, eventId, RejectCode.InvalidValue, `event_id must be 1-128 characters, got ${idLength}`);
        continue;
      }
      if (illFormed(eventId)) {
        // Not echoed back: the ack is JSON, and the id is what cannot be represented.
        pushReject(out, i, null, RejectCode.InvalidValue, 'event_id holds a lone surrogate (not valid Unicode)');
        continue;
      }
      const t = env.tenant_id;
      if (typeof t !== 'string') {
        pushReject(out, i, eventId, t == null ? RejectCode.MissingField : RejectCode.InvalidType, t == null ? 'tenant_id is required' : 'tenant_id must be a string');
        continue;
      }
      if (illFormed(t)) {
        pushReject(out, i, eventId, RejectCode.InvalidValue, 'tenant_id holds a lone surrogate (not valid Unicode)');
        continue;
      }
      if (t !== tenant) {
        pushReject(out, i, eventId, RejectCode.TenantMismatch, `tenant_id ${JSON.stringify(t)} is not the tenant this frame came in for (its token, or its NATS subject)`);
        continue;
      }
      const et = env.event_type;
      if (typeof et !== 'string') {
        pushReject(out, i, eventId, et == null ? RejectCode.MissingField : RejectCode.InvalidType, et == null ? 'event_type is required' : 'event_type must be a string');
        continue;
      }
      const sv = env.schema_version;
      if (typeof sv !== 'number' || !Number.isInteger(sv) || sv < 1) {
        pushReject(out, i, eventId, sv == null ? RejectCode.MissingField : RejectCode.InvalidType,
          sv == null ? 'schema_version is required' : 'schema_version must be an integer >= 1');
        continue;
      }
      const versions = this.lookup(tenant, et);
      if (!versions) {
        pushReject(out, i, eventId, RejectCode.UnknownEventType, `event_type ${JSON.stringify(et)} is not configured for tenant ${tenant}`);
        continue;
      }
      const type = versions.get(sv);
      if (!type) {
        pushReject(out, i, eventId, RejectCode.UnknownSchemaVersion, `${et} has no schema_version ${sv} (known: ${[...versions.keys()].join(', ')})`);
        continue;
      }
      const time = parseEventTime(env.event_time);
      if (Number.isNaN(time)) {
        pushReject(out, i, eventId, env.event_time == null ? RejectCode.MissingField : RejectCode.InvalidEventTime,
          env.event_time == null ? 'event_time is required' : 'event_time must be an RFC 3339 timestamp or epoch milliseconds');
        continue;
      }
      if (time < MIN_EVENT_TIME || time > now + this.maxFutureMs) {
        pushReject(out, i, eventId, RejectCode.InvalidEventTime, `event_time ${new Date(time).toISOString()} is ${time < MIN_EVENT_TIME ? 'before 2000' : 'in the future'}`);
        continue;
      }
      const bad = badOptionalStrings(env);
      if (bad !== null) {
        pushReject(out, i, eventId, RejectCode.InvalidType, `${bad} must be a string`);
        continue;
      }
      const attrs = env.attributes;
      if (attrs !== undefined && !validAttributes(attrs)) {
        pushReject(out, i, eventId, RejectCode.InvalidType, 'attributes must be an object of string, number or boolean values');
        continue;
      }
      const p = env.payload;
      if (typeof p !== 'object' || p === null || Array.isArray(p)) {
        pushReject(out, i, eventId, p == null ? RejectCode.MissingField : RejectCode.InvalidType, p == null ? 'payload is required' : 'payload must be an object');
        continue;
      }
      const payload = p as Record<string, unknown>;
      if (!type.check(payload, v)) {
        pushReject(out, i, eventId, v.code, v.message);
        continue;
      }
      // SPEC §5: a biometric the patient actor converts must come in a unit it can convert; refused
      // here, before the actor's dedup, so a corrected resend with the same event_id is accepted.
      if (type.def.handling === 'biometric') {
        const problem = unitProblem(payload.biometric_type, payload.unit);
        if (problem !== null) {
          pushReject(out, i, eventId, RejectCode.InvalidUnit, problem);
          continue;
        }
      }
      const key = payload[type.def.route.key] as string;
      if (illFormed(key)) {
        pushReject(out, i, eventId, RejectCode.InvalidValue, `payload.${type.def.route.key} holds a lone surrogate (not valid Unicode)`);
        continue;
      }
      // A procedure's patient is an actor id too (its summaries are sent there).
      const pid = payload.patient_id;
      if (typeof pid === 'string' && pid !== key && illFormed(pid)) {
        pushReject(out, i, eventId, RejectCode.InvalidValue, 'payload.patient_id holds a lone surrogate (not valid Unicode)');
        continue;
      }
      const body: ActorEvent = { id: eventId, type: et, h: type.def.handling, v: sv, p: payload };
      out.events.push({ tenant, kind: type.def.route.actor, id: key, time, body });
      out.inputIndex.push(i);
    }
  }
}

function pushReject(out: ValidatedBatch, index: number, eventId: string | null, code: string, message: string): void {
  out.rejected.push({ index, event_id: eventId, code, message });
}

export function parseEventTime(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) && Number.isInteger(v) ? v : NaN;
  if (typeof v !== 'string' || !RFC3339.test(v)) return NaN;
  // Date.parse rolls impossible dates over ("02-30" becomes March 2nd, "T24:00" the next
  // day) instead of refusing them; an event would land silently on the wrong day.
  const month = digits2(v, 5);
  const day = digits2(v, 8);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(digits2(v, 0) * 100 + digits2(v, 2), month) || digits2(v, 11) > 23) return NaN;
  return Date.parse(v);
}

function digits2(s: string, i: number): number {
  return (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const OPTIONAL_STRINGS = ['site_id', 'device_id', 'device_type', 'source_system'] as const;
function badOptionalStrings(env: Record<string, unknown>): string | null {
  for (const k of OPTIONAL_STRINGS) {
    const x = env[k];
    if (x !== undefined && x !== null && typeof x !== 'string') return k;
  }
  return null;
}

function validAttributes(a: unknown): boolean {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return false;
  for (const k in a) {
    const x = (a as Record<string, unknown>)[k];
    const t = typeof x;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return false;
  }
  return true;
}
