// The ClickHouse sinks against the RollupSink and AlertSink conformance suites, on a real
// clickhouse-server (18.16) and on chDB (26). Each test gets a fresh database; readers see the
// deduplicated data (FINAL), as an analyst would.
import { migrate } from '../../adapters/clickhouse/schema.js';
import { ALERT_COLUMNS, alertFromRow, ROLLUP_COLUMNS, rollupFromRow, type AlertsRow, type RollupsMinuteRow } from '../../adapters/clickhouse/rows.js';
import { ClickHouseAlertSink, ClickHouseRollupSink } from '../../adapters/clickhouse/sinks.js';
import { ClickHouseWriter } from '../../adapters/clickhouse/writer.js';
import { useEngines } from '../clickhouse/engines.js';
import { alertSinkConformance } from './alert-sink.js';
import { rollupSinkConformance } from './rollup-sink.js';

for (const engine of useEngines()) {
  rollupSinkConformance(`clickhouse (${engine.name})`, async () => {
    const { store, cleanup } = await engine.fresh();
    await migrate(store, { viewsFile: null });
    const writer = new ClickHouseWriter<RollupsMinuteRow>({ store, table: 'rollups_minute', flushIntervalMs: 20 });
    return {
      sink: new ClickHouseRollupSink(writer),
      rows: async () => {
        await writer.flush();
        return (await store.query(`SELECT ${ROLLUP_COLUMNS} FROM rollups_minute FINAL`)).map(rollupFromRow);
      },
      cleanup,
    };
  });

  alertSinkConformance(`clickhouse (${engine.name})`, async () => {
    const { store, cleanup } = await engine.fresh();
    await migrate(store, { viewsFile: null });
    const writer = new ClickHouseWriter<AlertsRow>({ store, table: 'alerts', flushIntervalMs: 20 });
    return {
      sink: new ClickHouseAlertSink(writer),
      alerts: async () => {
        await writer.flush();
        return (await store.query(`SELECT ${ALERT_COLUMNS} FROM alerts FINAL`)).map(alertFromRow);
      },
      cleanup,
    };
  });
}
