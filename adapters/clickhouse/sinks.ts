// The RollupSink / AlertSink ports over the table writers (writer.ts), every analytics table's
// writer for one store, and the WriterEvents that feed the Metrics port.
import type { AlertRecord, AlertSink, Metrics, RollupRow, RollupSink } from '../../runtime/ports.js';
import { alertRow, rollupRow, type AlertsRow, type DlqRow, type EventsRawRow, type IngestAuditRow, type RollupsMinuteRow } from './rows.js';
import { Tables, type TableName } from './schema.js';
import type { AnalyticsStore } from './store.js';
import { ClickHouseWriter, type ClickHouseWriterOptions, type WriterEvents, type WriterStats } from './writer.js';

/** RollupSink over a writer for rollups_minute. close() closes the writer. */
export class ClickHouseRollupSink implements RollupSink {
  constructor(readonly writer: ClickHouseWriter<RollupsMinuteRow>) {}
  write(rows: readonly RollupRow[]): Promise<void> {
    return this.writer.write(rows.map(rollupRow));
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }
  close(): Promise<void> {
    return this.writer.close();
  }
}

/** AlertSink over a writer for alerts. close() closes the writer. */
export class ClickHouseAlertSink implements AlertSink {
  constructor(readonly writer: ClickHouseWriter<AlertsRow>) {}
  publish(alerts: readonly AlertRecord[]): Promise<void> {
    return this.writer.write(alerts.map(alertRow));
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }
  close(): Promise<void> {
    return this.writer.close();
  }
}

export type AnalyticsWriterOptions = Omit<ClickHouseWriterOptions, 'store' | 'table'>;

/** Every analytics table's writer for one store, sharing spool dir, limits and callbacks. */
export interface AnalyticsWriters {
  readonly rollups: ClickHouseRollupSink;
  readonly alerts: ClickHouseAlertSink;
  readonly events: ClickHouseWriter<EventsRawRow>;
  readonly dlq: ClickHouseWriter<DlqRow>;
  readonly audit: ClickHouseWriter<IngestAuditRow>;
  stats(): Record<TableName, WriterStats>;
  flush(): Promise<void>;
  /** Closes every writer (not the store). */
  close(timeoutMs?: number): Promise<void>;
}

export function createAnalyticsWriters(store: AnalyticsStore, options: AnalyticsWriterOptions = {}): AnalyticsWriters {
  const rollups = new ClickHouseWriter<RollupsMinuteRow>({ ...options, store, table: Tables.rollups });
  const alerts = new ClickHouseWriter<AlertsRow>({ ...options, store, table: Tables.alerts });
  const events = new ClickHouseWriter<EventsRawRow>({ ...options, store, table: Tables.eventsRaw });
  const dlq = new ClickHouseWriter<DlqRow>({ ...options, store, table: Tables.dlq });
  const audit = new ClickHouseWriter<IngestAuditRow>({ ...options, store, table: Tables.ingestAudit });
  const all = [rollups, alerts, events, dlq, audit] as ClickHouseWriter<object>[];
  return {
    rollups: new ClickHouseRollupSink(rollups),
    alerts: new ClickHouseAlertSink(alerts),
    events,
    dlq,
    audit,
    stats: () => Object.fromEntries(all.map((w) => [w.table, w.stats()])) as Record<TableName, WriterStats>,
    flush: async () => {
      await Promise.all(all.map((w) => w.flush()));
    },
    close: async (timeoutMs?: number) => {
      await Promise.all(all.map((w) => w.close(timeoutMs)));
    },
  };
}

/**
 * WriterEvents that feed the Metrics port. Register once per process (metric names are
 * global) and share the result between writers; every series is labelled by table.
 */
export function writerMetrics(metrics: Metrics): WriterEvents {
  const batches = metrics.counter('vigil_clickhouse_batches_total', 'Batches inserted into ClickHouse', ['table']);
  const rows = metrics.counter('vigil_clickhouse_rows_total', 'Rows inserted into ClickHouse', ['table']);
  const retries = metrics.counter('vigil_clickhouse_retries_total', 'Failed ClickHouse inserts that will be retried', ['table']);
  const spoolFiles = metrics.gauge('vigil_clickhouse_spool_batches', 'Batches waiting in the on-disk spool', ['table']);
  const spoolBytes = metrics.gauge('vigil_clickhouse_spool_bytes', 'Bytes waiting in the on-disk spool', ['table']);
  const refused = metrics.counter('vigil_clickhouse_refused_rows_total', 'Rows refused because memory and spool were full', ['table']);
  const rejected = metrics.counter('vigil_clickhouse_rejected_rows_total', 'Rows ClickHouse refused for their content (dropped)', ['table']);
  const dropped = metrics.counter('vigil_clickhouse_dropped_rows_total', 'Rows lost at shutdown (no room to spool)', ['table']);
  const spoolErrors = metrics.counter('vigil_clickhouse_spool_errors_total', 'Spool files that could not be removed after use (sent again at the next start)', ['table']);
  const seconds = metrics.histogram('vigil_clickhouse_insert_seconds', 'ClickHouse insert latency per batch', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], ['table']);
  return {
    onBatch: (e) => {
      const l = { table: e.table };
      batches.inc(1, l);
      rows.inc(e.rows, l);
      seconds.observe(e.seconds, l);
    },
    onRetry: (e) => retries.inc(1, { table: e.table }),
    onSpool: (e) => {
      spoolFiles.set(e.files, { table: e.table });
      spoolBytes.set(e.bytes, { table: e.table });
    },
    onRefused: (e) => refused.inc(e.rows, { table: e.table }),
    onRejected: (e) => rejected.inc(e.lines.length, { table: e.table }),
    onDropped: (e) => dropped.inc(e.rows, { table: e.table }),
    onSpoolError: (e) => spoolErrors.inc(1, { table: e.table }),
  };
}
