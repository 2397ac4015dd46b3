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
  ALERT_COLUMNS, alertFromRow, alertRow, ClickHouseAlertSink, ClickHouseRollupSink, ClickHouseWriter, createAnalyticsWriters,
  dateTimeSeconds, dlqRow, eventRawRow, ingestAuditRow, ROLLUP_COLUMNS, rollupFromRow, rollupRow, writerMetrics,
  type AlertsRow, type AnalyticsWriterOptions, type AnalyticsWriters, type ClickHouseWriterOptions, type DlqInput, type DlqRow,
  type EventsRawRow, type FloatValue, type IngestAuditInput, type IngestAuditRow, type RawEventInput, type RollupsMinuteRow,
  type WriterBatchEvent, type WriterEvents, type WriterStats,
} from './sinks.js';
