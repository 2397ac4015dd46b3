import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertRecord, AlertSink } from '../../runtime/ports.js';

export interface AlertSinkHarness {
  sink: AlertSink;
  /** Every alert the sink holds, one per (alertId, state). */
  alerts: () => Promise<AlertRecord[]>;
  cleanup?: () => Promise<void>;
}

function alert(over: Partial<AlertRecord> = {}): AlertRecord {
  return {
    alertId: 'acme/patient/p-1/news2-high', tenant: 'acme', subjectKind: 'patient', subjectId: 'p-1',
    level: 'high', state: 'open', reason: 'NEWS2 >= 7', value: 7, eventTime: 1_730_000_000_123,
    ...over,
  };
}

const keyOf = (a: AlertRecord) => `${a.alertId}|${a.state}`;
const sorted = (as: readonly AlertRecord[]) => [...as].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

/**
 * The AlertSink contract (runtime/ports.ts), run against every adapter: alerts are keyed by
 * (alertId, state), so re-publishing after a replay changes nothing.
 */
export function alertSinkConformance(name: string, make: () => Promise<AlertSinkHarness>): void {
  describe(`AlertSink conformance: ${name}`, () => {
    let h: AlertSinkHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.sink.close();
      await h.cleanup?.();
    });

    it('starts empty and accepts an empty publish', async () => {
      await h.sink.publish([]);
      expect(await h.alerts()).toEqual([]);
    });

    it('round-trips every field, at every level', async () => {
      const alerts = (['low', 'medium', 'high', 'critical'] as const).map((level, i) =>
        alert({
          alertId: `hôpital/procedure/手術-${i}/risk`, tenant: 'hôpital', subjectKind: 'procedure', subjectId: `手術-${i} 🩺`,
          level, reason: `risk ≥ ${i}: "quoted"\nsecond line`, value: -0.5 + i * 1.25, eventTime: 1_735_689_600_000 + i,
        }),
      );
      await h.sink.publish(alerts);
      expect(sorted(await h.alerts())).toEqual(sorted(alerts));
    });

    it('the same alert published twice is one record', async () => {
      await h.sink.publish([alert(), alert()]);
      await h.sink.publish([alert()]);
      expect(await h.alerts()).toEqual([alert()]);
    });

    it('open and resolved for one alertId are two records', async () => {
      const open = alert();
      const resolved = alert({ state: 'resolved', value: 4, eventTime: open.eventTime + 60_000, reason: 'NEWS2 back below 5' });
      await h.sink.publish([open]);
      await h.sink.publish([resolved]);
      await h.sink.publish([open, resolved]); // a replay of both
      expect(sorted(await h.alerts())).toEqual(sorted([open, resolved]));
    });

    it('different alertIds are different records', async () => {
      const alerts = [alert(), alert({ alertId: 'acme/patient/p-2/news2-high', subjectId: 'p-2' }), alert({ alertId: 'globex/patient/p-1/news2-high', tenant: 'globex' })];
      await h.sink.publish(alerts);
      expect(sorted(await h.alerts())).toEqual(sorted(alerts));
    });
  });
}
