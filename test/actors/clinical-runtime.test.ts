import { afterEach, describe, expect, it } from 'vitest';
import { clinicalActorsModule } from '../../actors/index.js';
import { ContractRegistry, emptyValidated } from '../../actors/contracts/registry.js';
import { patientSummary, type PatientState } from '../../actors/patient.js';
import { procedureSummary } from '../../actors/procedure.js';
import { memoryPorts } from '../../adapters/memory/index.js';
import { ActorRuntime } from '../../runtime/runtime.js';
import { waitFor } from '../support.js';

describe('clinical actors on the runtime', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('validated envelopes reach patient and procedure actors across workers; procedures report to their patient', async () => {
    const ports = memoryPorts();
    rt = await ActorRuntime.start(
      { actorModules: [clinicalActorsModule()], actorConfig: { procedure: { notifyEveryMs: 50 } }, shards: 4, hosts: 2 },
      ports,
    );
    const reg = new ContractRegistry();
    const now = Date.now();
    const raw: unknown[] = [];
    for (let i = 0; i < 50; i++) {
      raw.push({
        event_id: `tel-${i}`, tenant_id: 'demo', event_type: 'surgical.telemetry', schema_version: 1, event_time: now - 60_000 + i * 100,
        payload: { patient_id: 'pat-1', procedure_id: `proc-${i % 2}`, robot_arm: 'arm_1', step: 'suturing', force_newtons: i === 25 ? 55 : 12, velocity_mm_s: 10, latency_ms: 40 },
      });
    }
    raw.push({ event_id: 'v-1', tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: new Date(now - 30_000).toISOString(),
      payload: { patient_id: 'pat-1', heart_rate: 118, resp_rate: 23, spo2: 93, systolic_bp: 100, temperature_c: 38.4, consciousness: 'A', on_oxygen: true } });
    raw.push({ event_id: 'bad', tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: now, payload: { patient_id: 'pat-1' } });
    const v = emptyValidated();
    reg.validate(raw, 'demo', now, v);
    expect(v.rejected).toEqual([{ index: 51, event_id: 'bad', code: 'missing_field', message: expect.stringMatching(/at least one of heart_rate/) }]);
    const res = await rt.submitAsync(v.events);
    expect(res).toMatchObject({ events: 51, duplicates: 0, rejected: [] });
    // Same events again: every one is a duplicate, nothing changes.
    const again = await rt.submitAsync(v.events);
    expect(again.duplicates).toBe(51);

    const proc = await rt.inspect('procedure', 'demo', 'proc-1');
    const ps = procedureSummary('proc-1', proc!.state as never, now);
    expect(ps).toMatchObject({ events: 25, max_force_newtons: 55, patient_id: 'pat-1' });
    expect(ports.alertSink.all().some((a) => a.subjectId === 'proc-1' && a.reason === 'high_force')).toBe(true);

    await waitFor(async () => {
      const p = await rt!.inspect('patient', 'demo', 'pat-1');
      return Object.keys((p!.state as PatientState).procs).length === 2;
    }, 5000, 'procedure summaries at the patient');
    const p = await rt.inspect('patient', 'demo', 'pat-1');
    const s = patientSummary('pat-1', p!.state as never, now);
    // RR 23 -> 2, SpO2 93 -> 2, O2 -> 2, SBP 100 -> 2, HR 118 -> 2, temp 38.4 -> 1, A -> 0 = 11
    expect(s).toMatchObject({ news2: { score: 11, risk: 'high', level: 'critical' }, critical_count: 0 });
    expect((s.procedures as unknown[]).length).toBe(2);
  });
});
