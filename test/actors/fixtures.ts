import { resolveClinicalConfig, type ClinicalConfig } from '../../actors/config.js';
import type { ActorEvent } from '../../actors/contracts/registry.js';

export const T0 = Date.UTC(2026, 10, 21, 8, 0, 0);
export const cfg: ClinicalConfig = resolveClinicalConfig({});

let n = 0;
export function vitals(p: Record<string, unknown>, id = `v${++n}`): ActorEvent {
  return { id, type: 'vitals.observation', h: 'vitals', v: 1, p: { patient_id: 'p1', ...p } };
}
export function bio(type: string, value: number, unit = 'mg/dL', id = `b${++n}`): ActorEvent {
  return { id, type: 'biometric.reading', h: 'biometric', v: 1, p: { patient_id: 'p1', biometric_type: type, value, unit } };
}
export function tel(p: Partial<Record<'force_newtons' | 'velocity_mm_s' | 'latency_ms', number>> & { error_code?: string; step?: string }, id = `s${++n}`): ActorEvent {
  return {
    id, type: 'surgical.telemetry', h: 'telemetry', v: 1,
    p: { patient_id: 'p1', procedure_id: 'pr1', robot_arm: 'arm_1', step: p.step ?? 'suturing', force_newtons: 10, velocity_mm_s: 20, latency_ms: 40, ...p },
  };
}
