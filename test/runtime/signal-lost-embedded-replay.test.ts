// Embedded mode (memory log and snapshots): a shard host that dies before its patients' last
// readings are checkpointed gets them replayed from the in-memory log. The replayed readings
// re-arm signal_lost from when they were first appended, so a silent 1 Hz patient still raises
// it within the threshold + 1 s of its last reading, not the restore's delay later.
import { describe, expect, it } from 'vitest';
import { ContractRegistry, emptyValidated } from '../../actors/contracts/registry.js';
import { clinicalActorsModule } from '../../actors/index.js';
import { memoryPorts } from '../../adapters/memory/index.js';
import { ActorRuntime } from '../../runtime/runtime.js';
import { waitFor } from '../support.js';

const SIGNAL_LOST_MS = 3000;

describe('embedded mode: signal_lost after a shard host crash replayed from the memory log', () => {
  it('fires within the threshold + 1 s of the last reading, once, though the host died after it and nothing was checkpointed', async () => {
    const ports = memoryPorts();
    const restarts: number[] = [];
    // No checkpoint during the test: the whole stream is replayed to the new host.
    const rt = await ActorRuntime.start(
      {
        actorModules: [clinicalActorsModule()], actorConfig: { patient: { signalLostMs: SIGNAL_LOST_MS } },
        shards: 2, hosts: 1, snapshotIntervalMs: 600_000,
      },
      ports,
      { onHostRestarted: (i) => restarts.push(i.hostId) },
    );
    const reg = new ContractRegistry();
    let n = 0;
    const send = async (patient: string): Promise<number> => {
      const now = Date.now();
      const v = emptyValidated();
      reg.validate([{
        event_id: `er-${n++}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: now,
        payload: { patient_id: patient, heart_rate: 72, resp_rate: 14, spo2: 98, systolic_bp: 120, temperature_c: 36.8, consciousness: 'A' },
      }], 'demo', now, v);
      const res = await rt.submitAsync(v.events);
      expect(res.rejected).toEqual([]);
      return now;
    };
    const lost = (patient: string) => ports.alertSink.all().filter((a) => a.subjectId === patient && a.reason === 'signal_lost');
    try {
      let last = 0;
      for (let i = 0; i < 6; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        last = await send('mon');
      }
      // The host dies 1.5 s into the silence: a timer re-armed from the restore would fire
      // that much (and the restart) late.
      await new Promise((r) => setTimeout(r, 1500));
      expect(lost('mon')).toEqual([]);
      const crashedAt = Date.now();
      await rt.crashHost(0, 'exit');
      await waitFor(() => restarts.length > 0, 15_000, 'host restart');
      const restartMs = Date.now() - crashedAt;
      await waitFor(() => lost('mon').length > 0, SIGNAL_LOST_MS + 5000, 'signal_lost');
      const [a] = lost('mon');
      console.log(`embedded host crash 1.5 s into the silence: restart ${restartMs} ms, signal_lost ${a!.eventTime - last} ms after the last reading`);
      expect(a!.state).toBe('open');
      expect(a!.eventTime - last).toBeGreaterThanOrEqual(SIGNAL_LOST_MS);
      expect(a!.eventTime - last).toBeLessThanOrEqual(SIGNAL_LOST_MS + 1000);
      // Once: the replayed readings (each re-arming a deadline) raised nothing in between.
      await new Promise((r) => setTimeout(r, 1000));
      expect(lost('mon')).toHaveLength(1);
    } finally {
      await rt.close();
    }
  }, 30_000);
});
