import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RollupRow, RollupSink } from '../../runtime/ports.js';

export interface RollupSinkHarness {
  sink: RollupSink;
  /** Every row as an analyst would see it: one per window key, the highest revision. */
  rows: () => Promise<RollupRow[]>;
  cleanup?: () => Promise<void>;
}

const W0 = 1_730_000_040_000;

function row(over: Partial<RollupRow> = {}): RollupRow {
  return {
    tenant: 'acme', actorKind: 'patient', actorId: 'p-1', metric: 'hr',
    windowStart: W0, windowMs: 60_000, revision: 1, final: false,
    count: 3, min: 61.5, max: 88, sum: 221.5,
    ...over,
  };
}

const keyOf = (r: RollupRow) => [r.tenant, r.actorKind, r.actorId, r.metric, r.windowStart].join('|');
const sorted = (rs: readonly RollupRow[]) => [...rs].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

/**
 * The RollupSink contract (runtime/ports.ts), run against every adapter: rows are idempotent
 * and the highest revision per (tenant, actorKind, actorId, metric, windowStart) wins.
 */
export function rollupSinkConformance(name: string, make: () => Promise<RollupSinkHarness>): void {
  describe(`RollupSink conformance: ${name}`, () => {
    let h: RollupSinkHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.sink.close();
      await h.cleanup?.();
    });

    it('starts empty and accepts an empty write', async () => {
      await h.sink.write([]);
      expect(await h.rows()).toEqual([]);
    });

    it('round-trips every field', async () => {
      const r = row({
        tenant: 'hôpital-Zürich', actorKind: 'procedure', actorId: '手術-7 🩺', metric: 'risk.score',
        windowStart: 1_735_689_600_000, windowMs: 300_000, revision: 4, final: true,
        count: 12, min: -3.25, max: 1e6, sum: 0.1 + 0.2,
      });
      await h.sink.write([r]);
      expect(await h.rows()).toEqual([r]);
    });

    it('the same row written twice is one row, in one write or two', async () => {
      await h.sink.write([row(), row()]);
      await h.sink.write([row()]);
      expect(await h.rows()).toEqual([row()]);
    });

    it('a higher revision replaces a lower one', async () => {
      await h.sink.write([row({ revision: 1, count: 3 })]);
      await h.sink.write([row({ revision: 2, count: 4, max: 99, sum: 320.5, final: true })]);
      expect(await h.rows()).toEqual([row({ revision: 2, count: 4, max: 99, sum: 320.5, final: true })]);
    });

    it('a lower revision written after a higher one does not win', async () => {
      await h.sink.write([row({ revision: 5, count: 9 })]);
      await h.sink.write([row({ revision: 3, count: 7 })]);
      expect(await h.rows()).toEqual([row({ revision: 5, count: 9 })]);
      // Also inside one write, in either order.
      await h.sink.write([row({ metric: 'spo2', revision: 2, count: 2 }), row({ metric: 'spo2', revision: 1, count: 1 })]);
      await h.sink.write([row({ metric: 'rr', revision: 1, count: 1 }), row({ metric: 'rr', revision: 2, count: 2 })]);
      expect(sorted(await h.rows())).toEqual(
        sorted([row({ revision: 5, count: 9 }), row({ metric: 'spo2', revision: 2, count: 2 }), row({ metric: 'rr', revision: 2, count: 2 })]),
      );
    });

    it('rows differing in any key column are distinct', async () => {
      const rows = [
        row(),
        row({ tenant: 'globex' }),
        row({ actorKind: 'procedure' }),
        row({ actorId: 'p-2' }),
        row({ metric: 'spo2' }),
        row({ windowStart: W0 + 60_000 }),
      ];
      await h.sink.write(rows);
      expect(sorted(await h.rows())).toEqual(sorted(rows));
    });

    it('keeps many rows across many writes', async () => {
      const all: RollupRow[] = [];
      for (let w = 0; w < 10; w++) {
        const batch = Array.from({ length: 100 }, (_, i) => row({ actorId: `p-${i}`, windowStart: W0 + w * 60_000, sum: i + w }));
        all.push(...batch);
        await h.sink.write(batch);
      }
      expect(sorted(await h.rows())).toEqual(sorted(all));
    });
  });
}
