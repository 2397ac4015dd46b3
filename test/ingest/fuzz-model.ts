// The hostile-input fuzz test's generators and model (test/ingest/fuzz.test.ts drives them).
// Every frame is planned with the verdict the node must give it: per event, accepted-or-duplicate
// (by its dedup key: tenant, actor, event_id) or refused with an exact code and echoed id; per
// frame, a frame-level refusal, or a close of the WebSocket with a documented code. Seeded, so a
// failure replays with the same VIGIL_FUZZ_SEED.

import { mulberry32 } from '../../load/sketch-bench.js';

export type Tenant = 'acme' | 'demo';
export const TENANTS: readonly Tenant[] = ['acme', 'demo'];

/** The project's one seeded PRNG (mulberry32, from the load harness). */
export const rng = mulberry32;

/** Names an object keyed by user data must not confuse with its prototype's members. */
export const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'toLocaleString'] as const;

/** The actors valid events go to: the same names in both tenants (isolation is counted too). */
export const PATIENTS = ['fz-p0', 'fz-p1', 'fz-été-2', 'fz-😀-3', 'fz p/4', 'fz-%41-5', 'constructor', '__proto__'] as const;
export const PROCEDURES = ['fz-r0', 'fz-r1', 'fz-über-2', 'fz r/3', 'fz-🩺-4', '__proto__', 'toString'] as const;
/** Actors only refused events name: they must never come to exist. */
export const GHOST_PATIENT = 'fz-ghost-p';
export const GHOST_PROCEDURE = 'fz-ghost-r';

export type Expect =
  /** Accepted, or a duplicate when an event with the same key was applied first. */
  | { k: 'valid'; key: string; kind: 'patient' | 'procedure'; actor: string }
  /** Refused at the edge or by the actor: `index` is its place in the frame. */
  | { k: 'reject'; code: string; echo: string | null };

export type Planned =
  | { kind: 'events'; tenant: Tenant; text: string; batchId: string | null; events: Expect[] }
  /** Refused as a whole: a WebSocket acks it with one frame-level rejection, HTTP answers `status`. */
  | { kind: 'refused'; tenant: Tenant; text: string; batchId: string | null; code: string; status: number }
  /**
   * Fails a WebSocket (close `close`, `closeFrame` false: dropped by uWS without a close frame);
   * over HTTP it is refused (`status`, `code`). Nothing in it is applied.
   */
  | { kind: 'fatal'; tenant: Tenant; bytes: Buffer; binary: boolean; close: number; closeFrame: boolean; status: number; code: string };

type Env = Record<string, unknown>;

/** JSON text placed as is where the value sits (nesting JSON.stringify itself would overflow on). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify, with every RawJson written as its text. */
export function toJson(v: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(v, (_k, x: unknown) => {
    if (!(x instanceof RawJson)) return x;
    raws.push(x.text);
    return `\u0000raw${raws.length - 1}\u0000`;
  });
  return raws.length === 0 ? text : text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]!);
}

export interface ModelOptions {
  seed: number;
  /** Event time of the first event; later ones follow it closely (all inside every lateness). */
  t0: number;
  maxFrameBytes: number;
  maxBatchEvents: number;
  /** Event-shape limits and lone-surrogate ids refused at the edge (issue 15, ingest side). */
  shapeLimits: boolean;
  /** HTTP bodies that are not UTF-8 refused `invalid_utf8` (issue 15, ingest side). */
  httpUtf8: boolean;
}

export class FuzzModel {
  readonly random: () => number;
  private clock = 0;
  private seq = 0;
  /** Valid events generated so far, per tenant, for duplicates. */
  private readonly pool: Record<Tenant, { env: Env; expect: Extract<Expect, { k: 'valid' }> }[]> = { acme: [], demo: [] };
  /** How many times each dedup key was sent in a valid event. */
  readonly sends = new Map<string, number>();
  /** Which generator made each event, for a failure message. */
  readonly cases = new Map<string, number>();

  constructor(readonly o: ModelOptions) {
    this.random = rng(o.seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private note(name: string): void {
    this.cases.set(name, (this.cases.get(name) ?? 0) + 1);
  }

  private id(prefix = 'e'): string {
    const n = ++this.seq;
    // Ids a careless decoder would mangle, all valid: quotes, escapes, controls, astral, 128 code points.
    switch (n % 9) {
      case 0:
        return `${prefix}-${n}-"q"\\b`;
      case 1:
        return `${prefix}-${n}-\u0000\u001f\n`;
      case 2:
        return `${prefix}-${n}-é😀`;
      case 3: {
        const base = `${prefix}-${n}-`;
        return base + '😀'.repeat(128 - base.length);
      }
      case 4:
        return n % 2 === 0 ? this.pick(PROTO_NAMES) : `${prefix}-${n}`;
      default:
        return `${prefix}-${n}`;
    }
  }

  private time(): number {
    // 1 ms per 4 events: a long run still spans seconds, far inside every lateness and dedup horizon.
    return this.o.t0 + (++this.clock >> 2);
  }

  /** Primes every actor of both tenants with one event, so too_late is decided by a known watermark. */
  primers(tenant: Tenant): Planned {
    const events: Env[] = [];
    const expects: Expect[] = [];
    for (const p of PATIENTS) this.pushValid(events, expects, tenant, this.vitals(tenant, p));
    for (const r of PROCEDURES) this.pushValid(events, expects, tenant, this.telemetry(tenant, r));
    for (const x of expects) if (x.k === 'valid') this.sends.set(x.key, (this.sends.get(x.key) ?? 0) + 1);
    return { kind: 'events', tenant, text: JSON.stringify(events), batchId: null, events: expects };
  }

  private envelope(tenant: Tenant, type: string, payload: Env): Env {
    const e: Env = { event_id: this.id(), tenant_id: tenant, event_type: type, schema_version: 1, event_time: this.time(), payload };
    if (this.chance(0.1)) e.event_time = new Date(e.event_time as number).toISOString();
    if (this.chance(0.1)) e.attributes = { ward: 'B', bed: this.int(1, 40), ok: true, [this.pick(PROTO_NAMES)]: 'x' };
    if (this.chance(0.05)) e.site_id = 'site-é';
    return e;
  }

  private vitals(tenant: Tenant, patient: string): Env {
    const p: Env = { patient_id: patient };
    const all: [string, () => unknown][] = [
      ['heart_rate', () => this.int(30, 180)], ['resp_rate', () => this.int(6, 40)], ['spo2', () => this.int(80, 100)],
      ['systolic_bp', () => this.int(70, 200)], ['diastolic_bp', () => this.int(40, 120)], ['temperature_c', () => 35 + this.random() * 5],
    ];
    for (const [k, v] of all) if (this.chance(0.4)) p[k] = v();
    if (Object.keys(p).length === 1) p.heart_rate = this.int(40, 160);
    if (this.chance(0.2)) p.consciousness = this.pick(['A', 'C', 'V', 'P', 'U']);
    if (this.chance(0.2)) p.on_oxygen = this.chance(0.5);
    if (this.chance(0.1)) p.spo2_scale = this.pick([1, 2]);
    if (this.chance(0.1)) p.extra = { nested: [1, 'two', { three: null }] };
    if (this.chance(0.05)) p[this.pick(PROTO_NAMES)] = { polluted: true };
    return this.envelope(tenant, 'vitals.observation', p);
  }

  private telemetry(tenant: Tenant, procedure: string): Env {
    const p: Env = {
      patient_id: this.pick(PATIENTS), procedure_id: procedure, robot_arm: this.pick(['arm-1', 'arm-2', 'bras-é']),
      step: this.chance(0.15) ? this.pick(PROTO_NAMES) : this.pick(['incision', 'suture', 'dissection', 'étape 😀', 'close']),
      force_newtons: this.random() * 60, velocity_mm_s: this.random() * 20, latency_ms: this.int(1, 200),
    };
    if (this.chance(0.1)) p.error_code = this.pick(['E-1', 'E-2', 'É', ...PROTO_NAMES]);
    return this.envelope(tenant, 'surgical.telemetry', p);
  }

  private biometric(tenant: Tenant, patient: string): Env {
    if (this.chance(0.3)) {
      return this.envelope(tenant, 'biometric.reading', { patient_id: patient, biometric_type: 'blood_pressure', systolic: this.int(90, 160), diastolic: this.int(50, 100), unit: 'mmHg' });
    }
    const type = this.chance(0.2) ? this.pick(PROTO_NAMES) : this.pick(['glucose', 'weight', 'heart_rate', 'lactate-é']);
    // A type with a unit table needs one of its units (invalid_unit otherwise: actors/units.ts).
    const unit = type === 'glucose' ? 'mg/dL' : type === 'weight' ? 'kg' : type === 'heart_rate' ? 'bpm' : 'u';
    return this.envelope(tenant, 'biometric.reading', { patient_id: patient, biometric_type: type, value: this.random() * 100, unit });
  }

  private infusion(patient: string): Env {
    return this.envelope('acme', 'infusion.pump', { patient_id: patient, drug: 'heparin', rate_ml_h: this.int(1, 200), status: this.pick(['running', 'paused', 'stopped', 'alarm']) });
  }

  private pushValid(events: unknown[], expects: Expect[], tenant: Tenant, env: Env): void {
    const type = env.event_type as string;
    const kind = type === 'surgical.telemetry' ? 'procedure' : 'patient';
    const p = env.payload as Env;
    const actor = (kind === 'procedure' ? p.procedure_id : p.patient_id) as string;
    const key = `${tenant}\u0001${kind}\u0001${actor}\u0001${env.event_id as string}`;
    const x: Extract<Expect, { k: 'valid' }> = { k: 'valid', key, kind, actor };
    this.pool[tenant].push({ env, expect: x });
    events.push(env);
    expects.push(x);
  }

  private pushReject(events: unknown[], expects: Expect[], ev: unknown, code: string, echo: string | null, name: string): void {
    this.note(name);
    events.push(ev);
    expects.push({ k: 'reject', code, echo });
  }

  /** One event of any kind, appended to `events` with its expectation. */
  private event(tenant: Tenant, events: unknown[], expects: Expect[]): void {
    const other: Tenant = tenant === 'acme' ? 'demo' : 'acme';
    const r = this.random();
    const fresh = (): Env => {
      const x = this.random();
      if (x < 0.45) return this.vitals(tenant, this.pick(PATIENTS));
      if (x < 0.8) return this.telemetry(tenant, this.pick(PROCEDURES));
      if (x < 0.95 || tenant === 'demo') return this.biometric(tenant, this.pick(PATIENTS));
      return this.infusion(this.pick(PATIENTS));
    };
    if (r < 0.45) {
      this.note('valid');
      return this.pushValid(events, expects, tenant, fresh());
    }
    if (r < 0.55 && this.pool[tenant].length > 0) {
      // A producer retry: the same event again (a duplicate once the first is applied).
      this.note('resend');
      const prev = this.pick(this.pool[tenant]);
      events.push(prev.env);
      expects.push(prev.expect);
      return;
    }
    if (r < 0.6 && this.pool[tenant].length > 0) {
      // The same id to another actor: another event (dedup is per actor).
      const prev = this.pick(this.pool[tenant]).env;
      this.note('same id, another actor');
      const env = prev.event_type === 'surgical.telemetry'
        ? { ...this.telemetry(tenant, this.pick(PROCEDURES)), event_id: prev.event_id }
        : { ...this.vitals(tenant, this.pick(PATIENTS)), event_id: prev.event_id };
      return this.pushValid(events, expects, tenant, env);
    }
    if (r < 0.63 && this.pool[other].length > 0) {
      // An event of the other tenant, sent again by this one: its own event (tenants share nothing).
      const prev = this.pick(this.pool[other]).env;
      if (prev.event_type !== 'infusion.pump' || tenant === 'acme') {
        this.note('same event, other tenant');
        return this.pushValid(events, expects, tenant, { ...prev, tenant_id: tenant });
      }
    }
    this.invalid(tenant, other, events, expects);
  }

  /** One refused event: a valid one with exactly one thing wrong, so the first check that fails is known. */
  private invalid(tenant: Tenant, other: Tenant, events: unknown[], expects: Expect[]): void {
    const ghostVitals = (): Env => this.vitals(tenant, GHOST_PATIENT);
    const ghostTel = (): Env => this.telemetry(tenant, GHOST_PROCEDURE);
    const rej = (ev: unknown, code: string, echo: string | null, name: string): void => this.pushReject(events, expects, ev, code, echo, name);
    const withPayload = (e: Env, patch: Env, drop: string[] = []): Env => {
      const p: Env = { ...(e.payload as Env), ...patch };
      for (const k of drop) delete p[k];
      return { ...e, payload: p };
    };
    const cases: (() => void)[] = [
      () => rej(42, 'not_an_object', null, 'not an object: number'),
      () => rej(this.pick(['s', null, true, []]), 'not_an_object', null, 'not an object'),
      () => {
        const { event_id: _drop, ...e } = ghostVitals();
        rej(e, 'missing_field', null, 'no event_id');
      },
      () => rej({ ...ghostVitals(), event_id: this.pick([7, true, { a: 1 }, ['x']]) }, 'invalid_type', null, 'event_id not a string'),
      () => rej({ ...ghostVitals(), event_id: '' }, 'invalid_value', '', 'empty event_id'),
      () => {
        const id = `long-${'x'.repeat(124)}`;
        rej({ ...ghostVitals(), event_id: id }, 'invalid_value', id, 'event_id of 129 characters');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, tenant_id: other }, 'tenant_mismatch', e.event_id as string, 'other tenant');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, tenant_id: undefined }, 'missing_field', e.event_id as string, 'no tenant_id');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, event_type: this.pick(['fz.unknown', 'Vitals.Observation', tenant === 'demo' ? 'infusion.pump' : 'ventilator.readings']) },
          'unknown_event_type', e.event_id as string, 'unknown event_type');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, event_type: 5 }, 'invalid_type', e.event_id as string, 'event_type not a string');
      },
      () => {
        const e = ghostTel();
        rej({ ...e, schema_version: 2 }, 'unknown_schema_version', e.event_id as string, 'schema_version 2');
      },
      () => {
        const e = ghostTel();
        rej({ ...e, schema_version: this.pick(['1', 0, 1.5, -1]) }, 'invalid_type', e.event_id as string, 'schema_version not an integer >= 1');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, event_time: this.pick(['yesterday', '2026-02-30T00:00:00Z', 1.5, '2026-01-01', 946684799999, Date.now() + 3_600_000, { t: 1 }]) },
          'invalid_event_time', e.event_id as string, 'bad event_time');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, event_time: undefined }, 'missing_field', e.event_id as string, 'no event_time');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, device_id: this.pick([1, false, {}]) }, 'invalid_type', e.event_id as string, 'optional string not a string');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, attributes: this.pick([[], 'x', { a: { b: 1 } }, { a: [1] }]) }, 'invalid_type', e.event_id as string, 'bad attributes');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, payload: this.pick([[], 'x', 3]) }, 'invalid_type', e.event_id as string, 'payload not an object');
      },
      () => {
        const e = ghostVitals();
        rej({ ...e, payload: undefined }, 'missing_field', e.event_id as string, 'no payload');
      },
      () => {
        const e = ghostVitals();
        rej(withPayload(e, { patient_id: GHOST_PATIENT }, ['heart_rate', 'resp_rate', 'spo2', 'systolic_bp', 'diastolic_bp', 'temperature_c']),
          'missing_field', e.event_id as string, 'vitals without a vital');
      },
      () => {
        const e = ghostVitals();
        const [patch, code] = this.pick<[Env, string]>([
          [{ heart_rate: '80' }, 'invalid_type'], [{ spo2: 101 }, 'invalid_value'], [{ heart_rate: 400 }, 'out_of_range'],
          [{ temperature_c: 5 }, 'out_of_range'], [{ consciousness: 'Z' }, 'invalid_enum'], [{ spo2_scale: 3 }, 'invalid_enum'],
          [{ spo2_scale: 1.5 }, 'invalid_value'], [{ on_oxygen: 'yes' }, 'invalid_type'], [{ heart_rate: -1 }, 'invalid_value'],
        ]);
        rej(withPayload(e, patch), code, e.event_id as string, `vitals ${code}`);
      },
      () => {
        const e = ghostVitals();
        const pid = this.pick<unknown>(['', 'p'.repeat(129), 7, { id: 'x' }]);
        rej(withPayload(e, { patient_id: pid }), typeof pid === 'string' ? 'invalid_value' : 'invalid_type', e.event_id as string, 'bad patient_id');
      },
      () => {
        const e = ghostTel();
        const [patch, drop, code] = this.pick<[Env, string[], string]>([
          [{}, ['force_newtons'], 'missing_field'], [{}, ['patient_id'], 'missing_field'], [{ force_newtons: -1 }, [], 'invalid_value'],
          [{ force_newtons: 2000 }, [], 'out_of_range'], [{ step: '' }, [], 'invalid_value'], [{ step: 's'.repeat(129) }, [], 'invalid_value'],
          [{ robot_arm: 'a'.repeat(65) }, [], 'invalid_value'], [{ latency_ms: 'slow' }, [], 'invalid_type'], [{ error_code: 'e'.repeat(65) }, [], 'invalid_value'],
          [{ velocity_mm_s: 1e6 }, [], 'out_of_range'],
        ]);
        rej(withPayload(e, patch, drop), code, e.event_id as string, `telemetry ${code}`);
      },
      () => {
        const e = this.envelope(tenant, 'biometric.reading', { patient_id: GHOST_PATIENT, biometric_type: 'glucose', value: 5, unit: 'mmol/L' });
        const [patch, drop, code] = this.pick<[Env, string[], string]>([
          [{ systolic: 120 }, ['value'], 'missing_field'], [{}, ['value'], 'missing_field'], [{}, ['unit'], 'missing_field'],
          [{ value: '5' }, [], 'invalid_type'], [{ biometric_type: 'b'.repeat(65) }, [], 'invalid_value'],
        ]);
        rej(withPayload(e, patch, drop), code, e.event_id as string, `biometric ${code}`);
      },
      () => {
        // Far behind a primed actor's watermark (procedure lateness 60 s, patient 5 min).
        if (this.chance(0.5)) {
          const e = this.telemetry(tenant, this.pick(PROCEDURES));
          rej({ ...e, event_time: this.o.t0 - 10 * 60_000 }, 'too_late', e.event_id as string, 'too late (procedure)');
        } else {
          const e = this.vitals(tenant, this.pick(PATIENTS));
          rej({ ...e, event_time: this.o.t0 - 20 * 60_000 }, 'too_late', e.event_id as string, 'too late (patient)');
        }
      },
    ];
    if (this.o.shapeLimits) {
      // A refusal for its shape echoes the id only when it is at most 128 UTF-16 units.
      const shapeEcho = (e: Env): string | null => ((e.event_id as string).length <= 128 ? (e.event_id as string) : null);
      cases.push(
        () => {
          const e = ghostTel();
          const d = this.pick([40, 1000, 5000]);
          rej(withPayload(e, { x: new RawJson(`${'['.repeat(d)}1${']'.repeat(d)}`) }), 'too_deep', shapeEcho(e), 'deeply nested payload field');
        },
        () => {
          const e = ghostVitals();
          const d = this.pick([40, 3000]);
          rej({ ...e, attributes: { a: new RawJson(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`) } }, 'too_deep', shapeEcho(e), 'deeply nested attributes');
        },
        () => {
          // Only what an actor gets is measured up front: anything else deep fails its own check
          // (and its dead letter is cut, not walked).
          const d = this.pick([100, 10_000]);
          rej(new RawJson(`${'{"a":'.repeat(d)}{}${'}'.repeat(d)}`), 'missing_field', null, 'deeply nested bare event');
        },
        () => {
          const e = ghostVitals();
          const d = this.pick([100, 10_000]);
          rej({ ...e, device_id: new RawJson(`${'['.repeat(d)}${']'.repeat(d)}`) }, 'invalid_type', e.event_id as string, 'deeply nested device_id');
        },
        () => {
          const e = ghostVitals();
          const wide: Env = {};
          for (let i = 0; i < 1001; i++) wide[`k${i}`] = i;
          rej(withPayload(e, { wide }), 'too_large', shapeEcho(e), 'payload object of 1001 keys');
        },
        () => {
          const e = ghostVitals();
          const [patch, echo] = this.pick<[Env, boolean]>([[{ event_id: `lone-\ud800-${this.seq}` }, false], [{ tenant_id: `${tenant}\udc00` }, true]]);
          rej({ ...e, ...patch }, 'invalid_value', echo ? (e.event_id as string) : null, 'lone surrogate in the envelope');
        },
        () => {
          const e = this.vitals(tenant, `${GHOST_PATIENT}-\ud83d`);
          rej(e, 'invalid_value', e.event_id as string, 'lone surrogate in the actor id');
        },
      );
    }
    this.pick(cases)();
  }

  /** The next frame a producer of `tenant` sends over `transport`. */
  frame(tenant: Tenant, transport: 'ws' | 'http'): Planned {
    const r = this.random();
    if (r < 0.012) return this.fatal(tenant, transport);
    if (r < 0.04) return this.refused(tenant);
    const n = this.chance(0.15) ? 1 : this.int(1, this.chance(0.1) ? 60 : 12);
    const events: unknown[] = [];
    const expects: Expect[] = [];
    for (let i = 0; i < n; i++) this.event(tenant, events, expects);
    // A frame may repeat an event of its own (within-frame duplicate).
    if (this.chance(0.05) && expects[events.length - 1]!.k === 'valid') {
      events.push(events[events.length - 1]);
      expects.push(expects[expects.length - 1]!);
    }
    const form = this.random();
    const single = events.length === 1 && typeof events[0] === 'object' && events[0] !== null && !Array.isArray(events[0]) && !(events[0] instanceof RawJson);
    const batchId = form >= 0.2 && form < 0.45 ? this.pick([`fz-b-${this.seq}`, `lot é 😀 ${this.seq}`, '']) : null;
    const text = (): string => (form < 0.2 && single ? toJson(events[0]) : batchId !== null ? toJson({ batch_id: batchId, events }) : toJson(events));
    let t = text();
    // Kept under the size limit (a frame over it is a planned fatal one, not this).
    while (Buffer.byteLength(t) > this.o.maxFrameBytes && events.length > 1) {
      events.pop();
      expects.pop();
      t = text();
    }
    for (const x of expects) if (x.k === 'valid') this.sends.set(x.key, (this.sends.get(x.key) ?? 0) + 1);
    return { kind: 'events', tenant, text: t, batchId: form < 0.2 && single ? null : batchId, events: expects };
  }

  /** A frame refused whole: acked with one frame-level rejection over a WebSocket. */
  private refused(tenant: Tenant): Planned {
    const valid = JSON.stringify([this.vitals(tenant, GHOST_PATIENT)]);
    const c = this.int(0, this.o.shapeLimits ? 8 : 6);
    switch (c) {
      case 7: {
        // A bare array nested past the limit: the frame's own structure, refused whole.
        const d = this.pick([40, 10_000]);
        return { kind: 'refused', tenant, text: `${'['.repeat(d)}${']'.repeat(d)}`, batchId: null, code: 'too_deep', status: 400 };
      }
      case 8: {
        const d = this.pick([40, 10_000]);
        const batchId = `fz-deep-${this.seq}`;
        return { kind: 'refused', tenant, text: `{"batch_id":"${batchId}","events":[{},${'['.repeat(d)}${']'.repeat(d)}]}`, batchId, code: 'too_deep', status: 400 };
      }
      case 0:
        return { kind: 'refused', tenant, text: valid.slice(0, this.int(1, valid.length - 1)), batchId: null, code: 'invalid_json', status: 400 };
      case 1:
        return { kind: 'refused', tenant, text: this.pick(['', ' ', 'nul', '{bad', '[1,]', '{"a":1}{', 'NaN', "{'a':1}"]), batchId: null, code: 'invalid_json', status: 400 };
      case 2:
        return { kind: 'refused', tenant, text: JSON.stringify({ events: this.pick([5, 'x', null, { a: 1 }]) }), batchId: null, code: 'invalid_type', status: 400 };
      case 3:
        return { kind: 'refused', tenant, text: JSON.stringify({ batch_id: this.pick([7, true, ['b']]), events: [] }), batchId: null, code: 'invalid_type', status: 400 };
      case 4: {
        const batchId = `fz-many-${this.seq}`;
        const items = Array.from({ length: this.o.maxBatchEvents + 1 }, () => ({}));
        return { kind: 'refused', tenant, text: JSON.stringify({ batch_id: batchId, events: items }), batchId, code: 'too_many_events', status: 413 };
      }
      default:
        return { kind: 'refused', tenant, text: JSON.stringify(Array.from({ length: this.o.maxBatchEvents + this.int(1, 50) }, () => 0)), batchId: null, code: 'too_many_events', status: 413 };
    }
  }

  /** A frame that fails a WebSocket: the driver sends it only once every earlier frame is acked. */
  private fatal(tenant: Tenant, transport: 'ws' | 'http'): Planned {
    const valid = JSON.stringify([this.telemetry(tenant, this.pick(PROCEDURES)), this.vitals(tenant, this.pick(PATIENTS))]);
    const notUtf8 = (): Buffer => {
      // Inside the step's text: everything else about the frame is valid.
      const at = valid.indexOf('"step":"') + 8;
      const bad = this.pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
      return Buffer.concat([Buffer.from(valid.slice(0, at)), Buffer.from(bad), Buffer.from(valid.slice(at))]);
    };
    const c = this.int(0, transport === 'http' && !this.o.httpUtf8 ? 0 : 2);
    if (c === 0) {
      const bytes = Buffer.from(valid + ' '.repeat(this.o.maxFrameBytes + this.int(1, 1000) - Buffer.byteLength(valid)));
      return { kind: 'fatal', tenant, bytes, binary: false, close: 1009, closeFrame: true, status: 413, code: 'payload_too_large' };
    }
    if (c === 1) return { kind: 'fatal', tenant, bytes: notUtf8(), binary: true, close: 1007, closeFrame: true, status: 400, code: 'invalid_utf8' };
    return { kind: 'fatal', tenant, bytes: notUtf8(), binary: false, close: 1006, closeFrame: false, status: 400, code: 'invalid_utf8' };
  }
}
