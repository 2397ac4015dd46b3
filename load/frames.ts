// Synthetic envelopes for the benchmark and the load generator: a ward of wearables and an
// operating room of robotic procedures. Built as strings directly (the client must be cheaper
// per event than the server it measures).
let counter = 0;
const run = Math.random().toString(36).slice(2, 8);

export interface FrameMix {
  tenant: string;
  patients: number;
  procedures: number;
}

/** One event as JSON text; unique event_id; event_time is now (the server refuses the future). */
export function eventText(mix: FrameMix, now: number): string {
  const n = counter++;
  if (n % 4 === 0) {
    const p = n % mix.patients;
    return `{"event_id":"${run}-${n}","tenant_id":"${mix.tenant}","event_type":"vitals.observation","schema_version":1,"event_time":${now},` +
      `"payload":{"patient_id":"pat-${p}","heart_rate":${60 + (n % 50)},"resp_rate":${12 + (n % 10)},"spo2":${92 + (n % 8)},"systolic_bp":${100 + (n % 40)},"temperature_c":36.8}}`;
  }
  const pr = n % mix.procedures;
  return `{"event_id":"${run}-${n}","tenant_id":"${mix.tenant}","event_type":"surgical.telemetry","schema_version":1,"event_time":${now},` +
    `"payload":{"patient_id":"pat-${pr % mix.patients}","procedure_id":"proc-${pr}","robot_arm":"arm_${n % 3}","step":"suturing","force_newtons":${force(n)},"velocity_mm_s":${n % 120},"latency_ms":${20 + (n % 60)}${n % 5003 === 0 ? ',"error_code":"E_TORQUE"' : ''}}}`;
}

/** Realistic forces (5–25 N) with a rare excursion, so alerts are events, not a storm. */
function force(n: number): number {
  return n % 997 === 0 ? 48.5 : 5 + (n % 41) * 0.5;
}

export function frameText(mix: FrameMix, events: number, now: number): string {
  if (events === 1) return eventText(mix, now);
  let s = '[';
  for (let i = 0; i < events; i++) s += (i ? ',' : '') + eventText(mix, now);
  return `${s}]`;
}
