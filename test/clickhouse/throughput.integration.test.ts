// Insert throughput with 10 000-row batches, on the server and on chDB, measured once and
// printed (the number for DESIGN.md's orders of magnitude); the assertion is only a floor that
// catches a pathological regression (e.g. one request per row).
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../adapters/clickhouse/schema.js';
import { rollupRow, type RollupsMinuteRow } from '../../adapters/clickhouse/rows.js';
import { ClickHouseRollupSink } from '../../adapters/clickhouse/sinks.js';
import { ClickHouseWriter } from '../../adapters/clickhouse/writer.js';
import type { RollupRow } from '../../runtime/ports.js';
import { useEngines, type FreshStore } from './engines.js';

const BATCH = 10_000;
const BATCHES = 10;
const T0 = 1_735_689_600_000;

function rollups(from: number, n: number): RollupRow[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      tenant: 'acme', actorKind: 'patient', actorId: `p-${i % 5000}`, metric: i % 2 ? 'hr' : 'spo2',
      windowStart: T0 + Math.floor(i / 5000) * 60_000, windowMs: 60_000, revision: 1, final: true,
      count: 12, min: 55.5, max: 120.25, sum: 1000 + i / 7,
    };
  });
}

for (const engine of useEngines()) {
  describe(`insert throughput on ${engine.name}`, () => {
    let f: FreshStore | undefined;
    afterEach(async () => {
      await f?.cleanup();
      f = undefined;
    });

    it(`${BATCHES} batches of ${BATCH} rows`, async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      const bodies = Array.from({ length: BATCHES }, (_, b) => rollups(b * BATCH, BATCH).map((r) => JSON.stringify(rollupRow(r))).join('\n') + '\n');
      await f.store.insertRaw('rollups_minute', bodies[0]!); // warm-up (connection, first part)
      const t0 = performance.now();
      for (const body of bodies.slice(1)) await f.store.insertRaw('rollups_minute', body);
      const rawSeconds = (performance.now() - t0) / 1000;
      const rawRate = ((BATCHES - 1) * BATCH) / rawSeconds;

      // The same through the sink: mapping, JSON, batching, queue.
      const writer = new ClickHouseWriter<RollupsMinuteRow>({ store: f.store, table: 'rollups_minute', maxBatchRows: BATCH });
      const sink = new ClickHouseRollupSink(writer);
      const input = Array.from({ length: BATCHES }, (_, b) => rollups((BATCHES + b) * BATCH, BATCH));
      const t1 = performance.now();
      for (const batch of input) await sink.write(batch);
      await sink.flush();
      const sinkSeconds = (performance.now() - t1) / 1000;
      const sinkRate = (BATCHES * BATCH) / sinkSeconds;
      await sink.close();

      const n = await f.store.query<{ n: string }>('SELECT count() AS n FROM rollups_minute');
      expect(Number(n[0]!.n)).toBe(2 * BATCHES * BATCH);
      console.log(
        `throughput ${engine.name}: raw insert ${Math.round(rawRate)} rows/s (${BATCHES - 1}×${BATCH} in ${rawSeconds.toFixed(2)} s); ` +
          `through ClickHouseRollupSink ${Math.round(sinkRate)} rows/s (${BATCHES}×${BATCH} in ${sinkSeconds.toFixed(2)} s)`,
      );
      expect(rawRate).toBeGreaterThan(5_000);
      expect(sinkRate).toBeGreaterThan(5_000);
    });
  });
}
