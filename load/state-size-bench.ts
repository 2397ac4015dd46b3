// Snapshot size of a patient after 24 h of 1 Hz vitals, and of a procedure after 1 h at 50 Hz
// (issue 3: "report the figure"). Writes load/reports/state-size.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { resolveClinicalConfig } from '../actors/config.js';
import type { ActorEvent } from '../actors/contracts/registry.js';
import { createPatient } from '../actors/patient.js';
import { createProcedure } from '../actors/procedure.js';
import type { ActorContext, AnyActorDefinition } from '../runtime/actor.js';
import { reportPath } from './paths.js';

const cfg = resolveClinicalConfig({});
const T0 = Date.UTC(2026, 10, 21);

function drive(def: AnyActorDefinition, n: number, stepMs: number, body: (i: number) => ActorEvent): { bytes: number; peak: number; ms: number } {
  let state = def.initialState('tenant-a', 'actor-000123');
  let now = 0;
  const ctx = {
    tenant: 'tenant-a', kind: def.kind, id: 'actor-000123', keyGroup: 0, seq: 0, eventTime: 0, watermark: 0,
    now: () => now, setTimer: () => undefined, cancelTimer: () => undefined, send: () => undefined,
    emitRollup: () => undefined, emitAlert: () => undefined, reject: () => undefined, duplicate: () => undefined,
  } as ActorContext & { seq: number; eventTime: number };
  let peak = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    ctx.seq = i + 1;
    ctx.eventTime = T0 + i * stepMs;
    now = i * stepMs;
    state = def.onEvent(state, body(i), ctx);
    if (i % 3600 === 0) peak = Math.max(peak, Buffer.byteLength(def.encode!(state)));
  }
  const ms = performance.now() - t0;
  const bytes = Buffer.byteLength(def.encode!(state));
  return { bytes, peak: Math.max(peak, bytes), ms };
}

const patient = drive(createPatient(cfg), 86_400, 1000, (s) => ({
  id: `evt-${s}`, type: 'vitals.observation', h: 'vitals', v: 1,
  p: { patient_id: 'p', heart_rate: 70 + (s % 9), resp_rate: 14 + (s % 5), spo2: 95 + (s % 4), systolic_bp: 115 + (s % 20), diastolic_bp: 75 + (s % 10), temperature_c: 36.5 + (s % 10) / 10, on_oxygen: false, consciousness: 'A' },
}));
const procedure = drive(createProcedure(cfg), 180_000, 20, (s) => ({
  id: `tel-${s}`, type: 'surgical.telemetry', h: 'telemetry', v: 1,
  p: { patient_id: 'p', procedure_id: 'x', robot_arm: `arm_${s % 3}`, step: `step_${(s / 20000) | 0}`, force_newtons: 8 + (s % 13), velocity_mm_s: 20 + (s % 50), latency_ms: 30 + (s % 40) },
}));
const report = {
  benchmark: 'state-size',
  patient24hVitals1Hz: { events: 86_400, snapshotBytes: patient.bytes, peakSnapshotBytes: patient.peak, limitBytes: 16 * 1024, eventsPerSecond: Math.round(86_400 / (patient.ms / 1000)) },
  procedure1h50Hz: { events: 180_000, snapshotBytes: procedure.bytes, peakSnapshotBytes: procedure.peak, eventsPerSecond: Math.round(180_000 / (procedure.ms / 1000)) },
  note: 'snapshot = the actor encode() output (JSON with base64 dedup ids); procedure dedup holds ids within its 60 s lateness',
  node: process.version,
  at: new Date().toISOString(),
};
const out = reportPath('state-size.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
