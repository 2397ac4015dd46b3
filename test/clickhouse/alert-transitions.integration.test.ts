// Acknowledge and shelve in the analytics store (issue 14 item 6, schema v7), on clickhouse-server
// 18.16 and chDB: `alerts` carries who acted, the note and the shelve's end; every transition,
// including an alert open again after a shelve, is a row of `alert_transitions`; a replay adds
// nothing; rows written before v7 stay readable and are copied into the transitions.
import { afterEach, describe, expect, it } from 'vitest';
import { ALERT_COLUMNS, alertFromRow, alertRow } from '../../adapters/clickhouse/rows.js';
import { migrate, MIGRATIONS, runStatement } from '../../adapters/clickhouse/schema.js';
import { ClickHouseAlertSink } from '../../adapters/clickhouse/sinks.js';
import { ClickHouseWriter } from '../../adapters/clickhouse/writer.js';
import type { AlertRecord } from '../../runtime/ports.js';
import { useEngines, type FreshStore } from './engines.js';

const T = Date.UTC(2026, 11, 3, 9, 0, 0);
const base = { alertId: 'al_1', tenant: 'acme', subjectKind: 'patient', subjectId: 'p1', level: 'high', reason: 'news2', value: 5 } as const;
const LIFE: AlertRecord[] = [
  { ...base, state: 'open', eventTime: T },
  { ...base, state: 'shelved', eventTime: T + 1000, by: 'nurse.kim', until: T + 1000 + 15 * 60_000 },
  { ...base, state: 'open', eventTime: T + 1000 + 15 * 60_000 },
  { ...base, state: 'acknowledged', eventTime: T + 20 * 60_000, by: 'dr.lee', note: 'seen, on my way' },
  { ...base, state: 'resolved', eventTime: T + 30 * 60_000 },
];

const COLS = 'state, event_time_ms, acted_by, note, until_ms';
const asRows = (rs: Record<string, unknown>[]) => rs.map((r) => [r.state, Number(r.event_time_ms), r.acted_by, r.note, Number(r.until_ms)]);

for (const engine of useEngines()) {
  describe(`alert transitions on ${engine.name}`, () => {
    let f: FreshStore | undefined;
    afterEach(async () => {
      await f?.cleanup();
      f = undefined;
    });

    it('every transition is a row, with who acted; a replay adds nothing; alerts reads back what was published', async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      const sink = new ClickHouseAlertSink(new ClickHouseWriter({ store: f.store, table: 'alerts', flushIntervalMs: 20 }));
      await sink.publish(LIFE);
      await sink.publish(LIFE); // a replay re-publishes the same transitions
      await sink.close();

      const rows = await f.store.query<Record<string, unknown>>(`SELECT ${COLS} FROM alert_transitions FINAL ORDER BY event_time_ms`);
      expect(asRows(rows)).toEqual([
        ['open', T, '', '', 0],
        ['shelved', T + 1000, 'nurse.kim', '', T + 1000 + 15 * 60_000],
        ['open', T + 1000 + 15 * 60_000, '', '', 0],
        ['acknowledged', T + 20 * 60_000, 'dr.lee', 'seen, on my way', 0],
        ['resolved', T + 30 * 60_000, '', '', 0],
      ]);
      // `alerts` keeps one row per (state, level): the latest of each, read back as published.
      const latest = (await f.store.query<Record<string, unknown>>(`SELECT ${ALERT_COLUMNS} FROM alerts FINAL`)).map(alertFromRow);
      const byState = new Map(latest.map((a) => [a.state, a]));
      expect(byState.get('shelved')).toEqual(LIFE[1]);
      expect(byState.get('acknowledged')).toEqual(LIFE[3]);
      expect(byState.get('resolved')).toEqual(LIFE[4]);
    });

    it('rows written before v7 stay readable and are copied into the transitions', async () => {
      f = await engine.fresh();
      // The schema as it was: every step before v7, recorded as applied.
      for (const m of MIGRATIONS.filter((x) => x.version < 7)) {
        for (const s of m.statements) await f.store.command(s);
        await f.store.command('CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY (version, name, checksum)');
        await f.store.insert('schema_migrations', [{ version: m.version, name: m.name, checksum: '', applied_at: 1_700_000_000 }]);
      }
      const { acted_by: _a, note: _n, until_ms: _u, ...old } = alertRow(LIFE[0]!);
      await f.store.insert('alerts', [old]);

      const res = await migrate(f.store, { viewsFile: null });
      expect(res.applied).toEqual(['alert_transitions']);
      const back = (await f.store.query<Record<string, unknown>>(`SELECT ${ALERT_COLUMNS} FROM alerts FINAL`)).map(alertFromRow);
      expect(back).toEqual([LIFE[0]]);
      expect(back[0]).not.toHaveProperty('by');
      expect(asRows(await f.store.query(`SELECT ${COLS} FROM alert_transitions FINAL`))).toEqual([['open', T, '', '', 0]]);

      // New writes after the upgrade reach both tables.
      await f.store.insert('alerts', [alertRow(LIFE[3]!) as unknown as Record<string, unknown>]);
      expect(asRows(await f.store.query(`SELECT ${COLS} FROM alert_transitions FINAL ORDER BY event_time_ms`))).toEqual([
        ['open', T, '', '', 0], ['acknowledged', T + 20 * 60_000, 'dr.lee', 'seen, on my way', 0],
      ]);
      // Idempotent: the step again (as after a crash before it was recorded) changes nothing visible.
      for (const s of MIGRATIONS.find((m) => m.version === 7)!.statements) await runStatement(f.store, s);
      expect(asRows(await f.store.query(`SELECT ${COLS} FROM alert_transitions FINAL ORDER BY event_time_ms`))).toHaveLength(2);
    });
  });
}
