// A late correction (DESIGN.md decision 6): the actor re-emits a window with a higher
// revision. Read back through FINAL or through argMax(…, revision) grouping, the window appears
// once with the newest revision's values, on ClickHouse 18.16 and chDB 26, before and after
// background merges.
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../adapters/clickhouse/schema.js';
import { ROLLUP_COLUMNS, rollupFromRow, type RollupsMinuteRow } from '../../adapters/clickhouse/rows.js';
import { ClickHouseRollupSink } from '../../adapters/clickhouse/sinks.js';
import { ClickHouseWriter } from '../../adapters/clickhouse/writer.js';
import type { RollupRow } from '../../runtime/ports.js';
import { useEngines, type FreshStore } from './engines.js';

const W = 1_735_689_660_000; // 2025-01-01T00:01:00Z

function win(over: Partial<RollupRow> = {}): RollupRow {
  return {
    tenant: 'acme', actorKind: 'patient', actorId: 'p-1', metric: 'hr', windowStart: W, windowMs: 60_000,
    revision: 1, final: false, count: 3, min: 60, max: 80, sum: 210, ...over,
  };
}

// Aliases must not reuse `revision` (or any column argMax reads): ClickHouse resolves a name to
// the alias first, and `max(revision) AS revision` would put an aggregate inside argMax.
const ARGMAX = `SELECT tenant_id, actor_kind, actor_id, metric, window_start_ms, w_ms AS window_ms, rev AS revision,
    f AS final, c AS count, lo AS min, hi AS max, s AS sum
  FROM (
    SELECT tenant_id, actor_kind, actor_id, metric, window_start_ms,
      argMax(window_ms, revision) AS w_ms, max(revision) AS rev, argMax(final, revision) AS f,
      argMax(count, revision) AS c, argMax(min, revision) AS lo, argMax(max, revision) AS hi, argMax(sum, revision) AS s
    FROM rollups_minute
    GROUP BY tenant_id, actor_kind, actor_id, metric, window_start_ms
  )
  ORDER BY tenant_id, actor_kind, actor_id, metric, window_start_ms`;

for (const engine of useEngines()) {
  describe(`late correction on ${engine.name}`, () => {
    let f: FreshStore | undefined;
    afterEach(async () => {
      await f?.cleanup();
      f = undefined;
    });

    async function read(sql: string): Promise<RollupRow[]> {
      return (await f!.store.query(sql)).map(rollupFromRow);
    }

    it('revision 2 replaces revision 1: FINAL, argMax, and after OPTIMIZE … FINAL', async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      const sink = new ClickHouseRollupSink(new ClickHouseWriter<RollupsMinuteRow>({ store: f.store, table: 'rollups_minute', flushIntervalMs: 10 }));
      const r1 = win();
      const r2 = win({ revision: 2, final: true, count: 5, min: 55, max: 120, sum: 455.5 });
      const other = win({ actorId: 'p-2', count: 1, min: 70, max: 70, sum: 70 });
      // Separate inserts, so the two revisions start in different parts.
      await sink.write([r1, other]);
      await sink.flush();
      await sink.write([r2]);
      await sink.flush();

      const raw = await f.store.query<{ n: string | number }>('SELECT count() AS n FROM rollups_minute');
      expect(Number(raw[0]!.n)).toBe(3); // both revisions are stored until a merge

      expect(await read(`SELECT ${ROLLUP_COLUMNS} FROM rollups_minute FINAL ORDER BY actor_id`)).toEqual([r2, other]);
      expect(await read(ARGMAX)).toEqual([r2, other]);

      // A stale revision arriving after the correction changes nothing.
      await sink.write([win({ revision: 1, count: 99 })]);
      await sink.flush();
      expect(await read(`SELECT ${ROLLUP_COLUMNS} FROM rollups_minute FINAL ORDER BY actor_id`)).toEqual([r2, other]);
      expect(await read(ARGMAX)).toEqual([r2, other]);

      await f.store.command('OPTIMIZE TABLE rollups_minute FINAL');
      expect(await read(`SELECT ${ROLLUP_COLUMNS} FROM rollups_minute ORDER BY actor_id`)).toEqual([r2, other]);
      expect(await read(ARGMAX)).toEqual([r2, other]);
      await sink.close();
    });

    it('many windows corrected out of order in one batch keep the highest revision each', async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      const writer = new ClickHouseWriter<RollupsMinuteRow>({ store: f.store, table: 'rollups_minute', flushIntervalMs: 10 });
      const sink = new ClickHouseRollupSink(writer);
      const expected: RollupRow[] = [];
      const rows: RollupRow[] = [];
      for (let w = 0; w < 50; w++) {
        const top = 1 + (w % 4);
        for (let rev = top; rev >= 1; rev--) rows.push(win({ windowStart: W + w * 60_000, revision: rev, count: rev * 10 + w, sum: rev + w / 8 }));
        expected.push(win({ windowStart: W + w * 60_000, revision: top, count: top * 10 + w, sum: top + w / 8 }));
      }
      // Shuffle deterministically, then write in a few calls.
      rows.sort((a, b) => ((a.windowStart * 7 + a.revision * 13) % 17) - ((b.windowStart * 7 + b.revision * 13) % 17));
      for (let i = 0; i < rows.length; i += 37) await sink.write(rows.slice(i, i + 37));
      await sink.flush();
      expect(await read(`SELECT ${ROLLUP_COLUMNS} FROM rollups_minute FINAL ORDER BY window_start_ms`)).toEqual(expected);
      expect(await read(ARGMAX)).toEqual(expected);
      await sink.close();
    });
  });
}
