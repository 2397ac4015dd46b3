// Events for `vigil load`: valid telemetry, vitals and biometric readings, plus the three kinds of
// trouble a real feed carries (late, duplicate and invalid events), each with the outcome the node
// must answer. Built as strings (frames.ts style) and recorded compactly per frame, so the load
// generator knows, for every event it sent, what the ack should say, and keeps the oracle: which
// event ids each actor accepted.

import { mulberry32 } from './sketch-bench.js';

/** What the node should do with an event. */
export const EventClass = { Ok: 0, Duplicate: 1, Late: 2, Invalid: 3 } as const;
export type EventClass = (typeof EventClass)[keyof typeof EventClass];

export const CLASS_NAMES = ['ok', 'duplicate', 'late', 'invalid'] as const;

/** Invalid events the generator sends, and the rejection code each must get (README, SPEC §1). */
export const INVALID_KINDS = [
  { name: 'vitals without any vital sign', code: 'missing_field' },
  { name: 'telemetry with negative latency_ms', code: 'invalid_value' },
  { name: 'heart_rate 400 (data-quality range)', code: 'out_of_range' },
  { name: 'unknown event_type', code: 'unknown_event_type' },
  { name: 'consciousness "Z"', code: 'invalid_enum' },
  { name: 'unparseable event_time', code: 'invalid_event_time' },
] as const;

export interface EventMix {
  telemetry: number;
  vitals: number;
  biometric: number;
}

export interface GeneratorOptions {
  tenant: string;
  patients: number;
  procedures: number;
  mix: EventMix;
  late: number;
  duplicate: number;
  invalid: number;
  seed: number;
  /** Late events are this far behind the actor's acked watermark (beyond any default lateness). */
  lateByMs: number;
  /** Unique per run: prefixes event ids (the node dedups per tenant across runs). */
  runId: string;
  /** Prefixes actor ids (patients `${actorPrefix}pat-N`, procedures `${actorPrefix}proc-N`). */
  actorPrefix: string;
  /** Stop recording accepted event ids beyond this many (counts go on). */
  oracleIdLimit: number;
}

/** One frame's events, as sent, with the expected outcome of each. */
export interface FrameRecord {
  no: number;
  batchId: string;
  /** performance.now() when the open-loop schedule wanted it sent, and when it was. */
  intended: number;
  sentAt: number;
  /** Wall-clock event time of the frame's valid events. */
  eventTime: number;
  cls: Uint8Array;
  /** Actor index (patients first, then procedures), or -1 when the event has none. */
  actor: Int32Array;
  /** Event sequence number: event_id = `${runId}-${seq}`. */
  seq: Float64Array;
  /** Expected rejection code, for late and invalid events. */
  code: (string | null)[];
  /** Text of each valid event (kept until acked, for later duplicates), or null when not needed. */
  texts: (string | null)[] | null;
  /** Fault injection: index of the event left off the wire (the frame pretends it was sent), or -1. */
  dropped: number;
}

/** A seeded PRNG (the sketch benchmark's mulberry32), so a scenario makes the same choices each run. */
export const prng = mulberry32;

interface RecentEvent {
  text: string;
  actor: number;
  seq: number;
  time: number;
}

const RING = 512;
/** Duplicates copy only events this recent (well inside the procedure's 60 s lateness). */
const DUP_HORIZON_MS = 20_000;

export class LoadEvents {
  readonly actorCount: number;
  private readonly rand: () => number;
  private seq = 0;
  private patRR = 0;
  private procRR = 0;
  private invRR = 0;
  private readonly pTel: number;
  private readonly pVit: number;
  /** Newest event time of an acked, accepted event per actor (0 = none yet). */
  private readonly knownWm: Float64Array;
  private readonly warm: number[] = [];
  private readonly ring: (RecentEvent | undefined)[] = new Array<RecentEvent | undefined>(RING);
  private ringN = 0;
  /** Accepted event sequence numbers per actor, and counts (the oracle). */
  readonly acceptedIds: (number[] | undefined)[];
  readonly acceptedCount: Float64Array;
  idsRecorded = 0;
  idsComplete = true;
  /** Per class: events put on the wire. */
  readonly sentByClass = [0, 0, 0, 0];
  /** Expected rejections of the events put on the wire, by code. */
  readonly expectedRejected: Record<string, number> = {};
  /** Late or duplicate events asked for but sent as ordinary ones (no acked event to use yet). */
  fallbacks = 0;

  constructor(private readonly o: GeneratorOptions) {
    this.actorCount = o.patients + o.procedures;
    this.rand = prng(o.seed);
    const total = o.mix.telemetry + o.mix.vitals + o.mix.biometric;
    this.pTel = total > 0 ? o.mix.telemetry / total : 0;
    this.pVit = total > 0 ? o.mix.vitals / total : 1;
    this.knownWm = new Float64Array(this.actorCount);
    this.acceptedIds = new Array<number[] | undefined>(this.actorCount);
    this.acceptedCount = new Float64Array(this.actorCount);
  }

  actorKind(a: number): 'patient' | 'procedure' {
    return a < this.o.patients ? 'patient' : 'procedure';
  }

  actorId(a: number): string {
    return a < this.o.patients ? `${this.o.actorPrefix}pat-${a}` : `${this.o.actorPrefix}proc-${a - this.o.patients}`;
  }

  get eventIdPrefix(): string {
    return `${this.o.runId}-`;
  }

  /**
   * Builds one frame of `size` events at wall time `now`. With `dropOne`, the first valid event
   * is recorded but left off the wire (fault injection for the CI gate's own test).
   */
  frame(no: number, size: number, now: number, intended: number, dropOne = false): { rec: FrameRecord; text: string } {
    const o = this.o;
    const batchId = `${o.runId}-f${no}`;
    const rec: FrameRecord = {
      no, batchId, intended, sentAt: 0, eventTime: now,
      cls: new Uint8Array(size), actor: new Int32Array(size), seq: new Float64Array(size),
      code: new Array<string | null>(size).fill(null), texts: o.duplicate > 0 ? new Array<string | null>(size).fill(null) : null,
      dropped: -1,
    };
    let body = '';
    let first = true;
    for (let i = 0; i < size; i++) {
      let text = '';
      const r = this.rand();
      let cls: EventClass = EventClass.Ok;
      if (r < o.invalid) cls = EventClass.Invalid;
      else if (r < o.invalid + o.late) cls = EventClass.Late;
      else if (r < o.invalid + o.late + o.duplicate) cls = EventClass.Duplicate;
      if (cls === EventClass.Invalid) {
        const k = this.invRR++ % INVALID_KINDS.length;
        const seq = this.seq++;
        const a = this.nextPatient();
        text = this.invalidText(k, seq, a, now);
        rec.actor[i] = -1;
        rec.seq[i] = seq;
        rec.code[i] = INVALID_KINDS[k]!.code;
      } else if (cls === EventClass.Late) {
        const a = this.warm.length > 0 ? this.warm[Math.floor(this.rand() * this.warm.length)]! : -1;
        if (a < 0) {
          cls = EventClass.Ok;
          this.fallbacks++;
        } else {
          const seq = this.seq++;
          text = this.validText(a, seq, this.knownWm[a]! - o.lateByMs, this.actorKind(a) === 'patient' ? 'vitals' : 'telemetry');
          rec.actor[i] = a;
          rec.seq[i] = seq;
          rec.code[i] = 'too_late';
        }
      } else if (cls === EventClass.Duplicate) {
        const e = this.ringN > 0 ? this.ring[Math.floor(this.rand() * Math.min(this.ringN, RING))] : undefined;
        if (e === undefined || e.time < now - DUP_HORIZON_MS) {
          cls = EventClass.Ok;
          this.fallbacks++;
        } else {
          text = e.text;
          rec.actor[i] = e.actor;
          rec.seq[i] = e.seq;
        }
      }
      if (cls === EventClass.Ok) {
        const seq = this.seq++;
        const kind = this.pickKind();
        const a = kind === 'telemetry' ? this.nextProcedure() : this.nextPatient();
        text = this.validText(a, seq, now, kind);
        rec.actor[i] = a;
        rec.seq[i] = seq;
        if (rec.texts) rec.texts[i] = text;
        if (dropOne && rec.dropped < 0) {
          rec.dropped = i;
          rec.cls[i] = cls;
          this.sentByClass[cls]!++;
          continue; // recorded as sent, never put on the wire
        }
      }
      rec.cls[i] = cls;
      this.sentByClass[cls]!++;
      const code = rec.code[i];
      if (code) this.expectedRejected[code] = (this.expectedRejected[code] ?? 0) + 1;
      body += first ? text : `,${text}`;
      first = false;
    }
    return { rec, text: `{"batch_id":"${batchId}","events":[${body}]}` };
  }

  /** An event of `rec` was acked as accepted: the oracle records it, and later late/duplicate events may use it. */
  accepted(rec: FrameRecord, i: number): void {
    const a = rec.actor[i]!;
    const seq = rec.seq[i]!;
    this.acceptedCount[a]!++;
    if (this.idsRecorded < this.o.oracleIdLimit) {
      (this.acceptedIds[a] ??= []).push(seq);
      this.idsRecorded++;
    } else this.idsComplete = false;
    if (i === rec.dropped) return; // never on the wire: nothing may copy it
    if (this.knownWm[a] === 0) this.warm.push(a);
    if (rec.eventTime > this.knownWm[a]!) this.knownWm[a] = rec.eventTime;
    const text = rec.texts?.[i];
    if (text) this.ring[this.ringN++ % RING] = { text, actor: a, seq, time: rec.eventTime };
  }

  private pickKind(): 'telemetry' | 'vitals' | 'biometric' {
    const r = this.rand();
    return r < this.pTel ? 'telemetry' : r < this.pTel + this.pVit ? 'vitals' : 'biometric';
  }

  private nextPatient(): number {
    return this.patRR++ % this.o.patients;
  }

  private nextProcedure(): number {
    return this.o.patients + (this.procRR++ % this.o.procedures);
  }

  private head(seq: number, type: string, t: number | string): string {
    const time = typeof t === 'number' ? String(Math.round(t)) : `"${t}"`;
    return `{"event_id":"${this.o.runId}-${seq}","tenant_id":"${this.o.tenant}","event_type":"${type}","schema_version":1,"event_time":${time},`;
  }

  private validText(a: number, n: number, t: number, kind: 'telemetry' | 'vitals' | 'biometric'): string {
    if (kind === 'telemetry') {
      const pr = a - this.o.patients;
      return `${this.head(n, 'surgical.telemetry', t)}"device_type":"surgical_robot","payload":{"patient_id":"${this.o.actorPrefix}pat-${pr % this.o.patients}","procedure_id":"${this.actorId(a)}",` +
        `"robot_arm":"arm_${n % 3}","step":"${STEPS[n % STEPS.length]}","force_newtons":${n % 997 === 0 ? 48.5 : 5 + (n % 41) * 0.5},"velocity_mm_s":${n % 120},"latency_ms":${20 + (n % 60)}${n % 5003 === 0 ? ',"error_code":"E_TORQUE"' : ''}}}`;
    }
    if (kind === 'vitals') {
      return `${this.head(n, 'vitals.observation', t)}"device_type":"wearable","payload":{"patient_id":"${this.actorId(a)}","heart_rate":${60 + (n % 50)},"resp_rate":${12 + (n % 10)},` +
        `"spo2":${92 + (n % 8)},"systolic_bp":${100 + (n % 40)},"temperature_c":${(36.5 + (n % 10) * 0.1).toFixed(1)}}}`;
    }
    return n % 2 === 0
      ? `${this.head(n, 'biometric.reading', t)}"payload":{"patient_id":"${this.actorId(a)}","biometric_type":"glucose","value":${(4.5 + (n % 30) * 0.1).toFixed(1)},"unit":"mmol/L"}}`
      : `${this.head(n, 'biometric.reading', t)}"payload":{"patient_id":"${this.actorId(a)}","biometric_type":"blood_pressure","systolic":${110 + (n % 30)},"diastolic":${70 + (n % 20)},"unit":"mmHg"}}`;
  }

  private invalidText(k: number, n: number, a: number, t: number): string {
    const pat = this.actorId(a);
    switch (k) {
      case 0:
        return `${this.head(n, 'vitals.observation', t)}"payload":{"patient_id":"${pat}"}}`;
      case 1:
        return `${this.head(n, 'surgical.telemetry', t)}"payload":{"patient_id":"${pat}","procedure_id":"${this.o.actorPrefix}proc-invalid","robot_arm":"arm_0","step":"suturing","force_newtons":10,"velocity_mm_s":5,"latency_ms":-5}}`;
      case 2:
        return `${this.head(n, 'vitals.observation', t)}"payload":{"patient_id":"${pat}","heart_rate":400}}`;
      case 3:
        return `${this.head(n, 'vitals.unknown_type', t)}"payload":{"patient_id":"${pat}","heart_rate":70}}`;
      case 4:
        return `${this.head(n, 'vitals.observation', t)}"payload":{"patient_id":"${pat}","heart_rate":70,"consciousness":"Z"}}`;
      default:
        return `${this.head(n, 'vitals.observation', 'yesterday')}"payload":{"patient_id":"${pat}","heart_rate":70}}`;
    }
  }
}

const STEPS = ['incision', 'dissection', 'suturing', 'stapling', 'closure'] as const;
