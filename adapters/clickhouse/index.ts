export { databaseName, float, ident, IDENTIFIERS, int, SqlValueError, str } from './quote.js';
export {
  clickHouseErrorCode, openChdb, openClickHouseServer,
  type AnalyticsStore, type AnalyticsStoreKind, type ChdbOptions, type ClickHouseServerOptions,
} from './store.js';
export {
  applyViews, defaultViewsFile, migrate, MIGRATIONS, parseViews, SCHEMA_VERSION, schemaVersion, splitStatements, Tables,
  type MigrateOptions, type MigrateResult, type Migration, type TableName, type ViewStatement,
} from './schema.js';
export {
  ALERT_COLUMNS, alertFromRow, alertRow, dateTimeSeconds, dlqRow, eventRawRow, ingestAuditRow, ROLLUP_COLUMNS, rollupFromRow, rollupRow,
  type AlertsRow, type DlqInput, type DlqRow, type EventsRawRow, type FloatValue, type IngestAuditInput, type IngestAuditRow,
  type RawEventInput, type RollupsMinuteRow,
} from './rows.js';
export { ClickHouseWriter, type ClickHouseWriterOptions, type WriterBatchEvent, type WriterEvents, type WriterStats } from './writer.js';
export {
  ClickHouseAlertSink, ClickHouseRollupSink, createAnalyticsWriters, writerMetrics, type AnalyticsWriterOptions, type AnalyticsWriters,
} from './sinks.js';
export { readBiometrics, readSearch, readTimeline, type BiometricReading, type SearchMatch, type TimelineEvent } from './reads.js';
