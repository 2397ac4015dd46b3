import type { PayloadSpec, RulesSpec } from './spec.js';

/** How an actor treats a payload: the built-in shapes, or generic numeric series. */
export const Handling = { vitals: 'vitals', biometric: 'biometric', telemetry: 'telemetry', generic: 'generic' } as const;
export type Handling = (typeof Handling)[keyof typeof Handling];

export const ActorKind = { patient: 'patient', procedure: 'procedure' } as const;
export type ActorKind = (typeof ActorKind)[keyof typeof ActorKind];

export interface EventTypeDefinition {
  readonly eventType: string;
  readonly schemaVersion: number;
  readonly schema: PayloadSpec;
  readonly rules?: RulesSpec;
  /** The actor kind this event goes to, and the payload field holding that actor's id. */
  readonly route: { readonly actor: ActorKind; readonly key: string };
  readonly handling: Handling;
  readonly description?: string;
}

const id = { type: 'string', required: true, maxLength: 128 } as const;

/**
 * SPEC.md §1. The range rules reject values no instrument reports for a living patient (a
 * typo or a unit mix-up); values that are possible but outside physiological norms are kept
 * and flagged as outliers by the patient actor instead.
 */
export const BUILTIN_EVENT_TYPES: readonly EventTypeDefinition[] = [
  {
    eventType: 'surgical.telemetry',
    schemaVersion: 1,
    description: 'Robotic-arm telemetry sample during a procedure',
    schema: {
      fields: {
        patient_id: id,
        procedure_id: id,
        robot_arm: { type: 'string', required: true, maxLength: 64 },
        step: { type: 'string', required: true, maxLength: 128 },
        force_newtons: { type: 'number', required: true, min: 0 },
        velocity_mm_s: { type: 'number', required: true, min: 0 },
        latency_ms: { type: 'number', required: true, min: 0 },
        error_code: { type: 'string', maxLength: 64 },
      },
    },
    rules: { ranges: { force_newtons: [0, 1000], velocity_mm_s: [0, 10_000], latency_ms: [0, 600_000] } },
    route: { actor: 'procedure', key: 'procedure_id' },
    handling: 'telemetry',
  },
  {
    eventType: 'vitals.observation',
    schemaVersion: 1,
    description: 'One set of vital signs (any subset) from a monitor, wearable or nurse',
    schema: {
      fields: {
        patient_id: id,
        heart_rate: { type: 'number', min: 0 },
        resp_rate: { type: 'number', min: 0 },
        spo2: { type: 'number', min: 0, max: 100 },
        systolic_bp: { type: 'number', min: 0 },
        diastolic_bp: { type: 'number', min: 0 },
        temperature_c: { type: 'number' },
        on_oxygen: { type: 'boolean' },
        consciousness: { type: 'string', enum: ['A', 'C', 'V', 'P', 'U'] },
        spo2_scale: { type: 'integer', enum: [1, 2] },
      },
      anyOf: [['heart_rate', 'resp_rate', 'spo2', 'systolic_bp', 'diastolic_bp', 'temperature_c']],
    },
    rules: {
      ranges: {
        heart_rate: [0, 350],
        resp_rate: [0, 120],
        systolic_bp: [0, 400],
        diastolic_bp: [0, 300],
        temperature_c: [20, 46],
      },
    },
    route: { actor: 'patient', key: 'patient_id' },
    handling: 'vitals',
  },
  {
    eventType: 'biometric.reading',
    schemaVersion: 1,
    description: 'A biometric measurement (glucose, weight, blood pressure, heart rate, ...)',
    schema: {
      fields: {
        patient_id: id,
        biometric_type: { type: 'string', required: true, maxLength: 64 },
        value: { type: 'number' },
        systolic: { type: 'number', min: 0 },
        diastolic: { type: 'number', min: 0 },
        unit: { type: 'string', required: true, maxLength: 32 },
      },
      anyOf: [['value', 'systolic']],
      together: [['systolic', 'diastolic']],
    },
    route: { actor: 'patient', key: 'patient_id' },
    handling: 'biometric',
  },
];
