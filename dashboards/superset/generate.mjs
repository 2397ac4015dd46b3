#!/usr/bin/env node
// Generates the Superset export bundle in this folder from the definitions below: the one place
// to edit datasets, charts and the dashboard. The YAML files are written in JSON syntax (YAML is
// a superset of JSON, and Superset reads them with yaml.safe_load), so they need no YAML library
// here and test/superset/bundle.test.ts can check them with JSON.parse.
//
//   node dashboards/superset/generate.mjs          rewrite the bundle
//   node dashboards/superset/generate.mjs --check  exit 1 if a file is missing, stale or stray
//
// Keys are limited to the ones every Superset import schema from 2.x to 4.x accepts (the
// importer rejects unknown keys), see dashboards/README.md.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const VERSION = '1.0.0';
export const DATABASE_NAME = 'Vigil ClickHouse';
// The database a node writes is vigil_<VIGIL_CLUSTER>; the bundle names the one of a node on the
// default cluster, so it works unedited against a default node. Another cluster: build the zip
// with SUPERSET_CLICKHOUSE_URI (build-zip.sh), which moves the datasets' schema with it.
export const SQLALCHEMY_URI = 'clickhousedb://default@clickhouse:8123/vigil_default';
export const SCHEMA = 'vigil_default';
const DATABASE_UUID = 'c2e756c1-5242-4957-b672-169d51a3e7f0';
const DASHBOARD_UUID = 'a7a0c934-fdce-4541-8f78-5779891a08f9';

// ---------------------------------------------------------------------------------------------
// Datasets: one per view in dashboards/clickhouse/views.sql. Column types are the ones
// ClickHouse reports for the view (checked against both engines by the integration test).

const dim = (name, type, description) => ({ name, type, description, groupby: true });
const num = (name, type, description) => ({ name, type, description, groupby: false });
const time = (name, description) => ({ name, type: 'DateTime', description, groupby: true, dttm: true });

const metric = (name, expression, verbose, d3format = null) => ({ name, expression, verbose, d3format });
const COUNT = metric('count', 'COUNT(*)', 'Rows');

const DATASETS = [
  {
    key: 'events',
    table: 'v_events',
    uuid: '91c209ec-9da0-42f3-9e95-2013ae5ef677',
    description: 'Raw accepted events, one row per (tenant, event_id); time column = event time.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('event_id', 'String', 'Producer-assigned idempotency key'),
      dim('event_type', 'String', 'Event type, e.g. vitals.observation'),
      dim('schema_version', 'UInt16', 'Schema version of the event type'),
      time('event_time', 'Event time (UTC, seconds)'),
      num('event_time_ms', 'Int64', 'Event time, epoch milliseconds'),
      num('ingest_lag_s', 'Int64', 'Seconds between event time and arrival'),
      dim('actor_kind', 'String', 'Actor the event was routed to: patient or procedure'),
      dim('actor_id', 'String', 'Actor id (patient_id or procedure_id)'),
      dim('patient_id', 'String', 'Patient'),
      dim('site_id', 'String', 'Site (empty if not sent)'),
      dim('device_id', 'String', 'Device (empty if not sent)'),
      dim('source', 'String', 'Ingest path, e.g. ws, http, nats, import'),
      num('payload', 'String', 'Payload as JSON text'),
    ],
    metrics: [
      COUNT,
      metric('count_distinct__patient_id', 'COUNT(DISTINCT patient_id)', 'Patients'),
      metric('avg__ingest_lag_s', 'AVG(ingest_lag_s)', 'Avg ingest lag (s)', ',.1f'),
      metric('max__ingest_lag_s', 'MAX(ingest_lag_s)', 'Max ingest lag (s)'),
    ],
  },
  {
    key: 'rollups',
    table: 'v_rollups_minute',
    uuid: '6e4747c1-7464-46ab-9bc4-40bf91b11ebe',
    description: 'Per-minute statistics per actor and metric, latest revision of each window.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('actor_kind', 'String', 'patient or procedure'),
      dim('actor_id', 'String', 'Patient or procedure id'),
      dim('metric', 'String', 'Series: heart_rate, spo2, risk, force_newtons, glucose, ...'),
      time('window_start', 'Start of the minute (event time, UTC)'),
      num('window_start_ms', 'Int64', 'Start of the minute, epoch milliseconds'),
      num('window_ms', 'UInt32', 'Window length in milliseconds (60000)'),
      num('revision', 'UInt32', 'Revision of the window; late events raise it'),
      dim('final', 'UInt8', '1 once the actor watermark passed the window end'),
      num('count', 'UInt64', 'Values in the window'),
      num('min', 'Float64', 'Smallest value'),
      num('max', 'Float64', 'Largest value'),
      num('sum', 'Float64', 'Sum of values'),
      num('avg', 'Float64', 'sum / count'),
    ],
    // No metric may be named like a column: Superset labels it with its name, and ClickHouse
    // would then read that column as the metric (COUNT(*) AS count breaks SUM(count)).
    metrics: [
      metric('windows', 'COUNT(*)', 'Windows'),
      metric('sum__count', 'SUM(count)', 'Values'),
      metric('weighted_avg', 'SUM(sum) / SUM(count)', 'Average value', ',.2f'),
      metric('min__min', 'MIN(min)', 'Minimum', ',.2f'),
      metric('max__max', 'MAX(max)', 'Maximum', ',.2f'),
      metric('sum__sum', 'SUM(sum)', 'Sum of values', ',.2f'),
      metric('avg__avg', 'AVG(avg)', 'Mean of minute averages', ',.2f'),
    ],
  },
  {
    key: 'alerts',
    table: 'v_alerts',
    uuid: 'c1dd558f-aa76-4e7b-8831-4ffb6881f394',
    description: 'One row per alert with its latest state (open while not resolved); time column = time of that state.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('alert_id', 'String', 'Deterministic alert id (one per episode)'),
      dim('subject_kind', 'String', 'patient or procedure'),
      dim('subject_id', 'String', 'Patient or procedure id'),
      dim('level', 'String', 'low, medium, high or critical'),
      dim('level_rank', 'UInt8', '1 low, 2 medium, 3 high, 4 critical'),
      dim('state', 'String', 'open, acknowledged, shelved or resolved (open unless resolved)'),
      dim('reason', 'String', 'news2, risk, high_force, signal_lost, ...'),
      num('value', 'Float64', 'Value that triggered the latest state'),
      time('event_time', 'Event time of the latest state (UTC)'),
      num('event_time_ms', 'Int64', 'Same, epoch milliseconds'),
      num('opened_at_ms', 'Int64', 'Event time the alert opened, epoch milliseconds'),
      num('transitions', 'UInt64', 'Transitions seen: open, re-level, acknowledge, shelve, resolve'),
      num('resolved_after_s', 'Nullable(Float64)', 'Seconds from opening to resolution (NULL while open)'),
      dim('acted_by', 'String', 'Who acknowledged or shelved it (latest state; empty otherwise)'),
      num('note', 'String', 'Note given with the acknowledgement (empty otherwise)'),
      num('until', 'Nullable(DateTime)', 'Shelved: when it comes back open (UTC); NULL otherwise'),
      num('until_ms', 'Int64', 'Same, epoch milliseconds; 0 unless shelved'),
    ],
    metrics: [
      COUNT,
      // Acknowledged and shelved alerts are still open: only resolved ends an alert.
      metric('open_alerts', "countIf(state != 'resolved')", 'Open alerts'),
      metric('resolved_alerts', "countIf(state = 'resolved')", 'Resolved alerts'),
      metric('avg__resolved_after_s', 'AVG(resolved_after_s)', 'Avg time to resolve (s)', ',.0f'),
      metric('max__level_rank', 'MAX(level_rank)', 'Highest level'),
    ],
  },
  {
    key: 'alert_transitions',
    table: 'v_alert_transitions',
    uuid: '2a416ab8-c17f-4645-8475-62e6bb6442ac',
    description: 'Every alert transition (opened, re-levelled, acknowledged, shelved, re-opened, resolved), duplicates removed.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('alert_id', 'String', 'Alert id'),
      dim('subject_kind', 'String', 'patient or procedure'),
      dim('subject_id', 'String', 'Patient or procedure id'),
      dim('level', 'String', 'low, medium, high or critical'),
      dim('level_rank', 'UInt8', '1 low, 2 medium, 3 high, 4 critical'),
      dim('state', 'String', 'open, acknowledged, shelved or resolved'),
      dim('reason', 'String', 'Condition that raised the alert'),
      num('value', 'Float64', 'Value at the transition'),
      time('event_time', 'Event time of the transition (UTC; acknowledge and shelve: when staff acted)'),
      num('event_time_ms', 'Int64', 'Same, epoch milliseconds'),
      dim('acted_by', 'String', 'Who acknowledged or shelved (empty for other transitions)'),
      num('note', 'String', 'Note given with an acknowledgement'),
      num('until', 'Nullable(DateTime)', 'Shelve: when the alert comes back open (UTC); NULL otherwise'),
      num('until_ms', 'Int64', 'Same, epoch milliseconds; 0 unless shelved'),
      dim('reopened', 'UInt8', '1 for the opening at the end of a shelve (not a new alert)'),
    ],
    metrics: [
      COUNT,
      metric('count_distinct__alert_id', 'COUNT(DISTINCT alert_id)', 'Alerts'),
      metric('avg__value', 'AVG(value)', 'Average value', ',.2f'),
      metric('max__level_rank', 'MAX(level_rank)', 'Highest level'),
    ],
  },
  {
    key: 'dlq',
    table: 'v_dlq',
    uuid: '6c297448-b769-4d37-9970-7ddba9fc30eb',
    description: 'Rejected events (dead-letter queue), one row per rejection.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('source', 'String', 'Ingest path, e.g. ws, http, nats, import'),
      num('idx', 'Int32', 'Position of the event in its batch'),
      dim('event_id', 'String', 'event_id if the event had one'),
      dim('event_type', 'String', 'event_type if the event had one'),
      dim('code', 'String', 'Rejection code, e.g. missing_field, out_of_range, too_late'),
      num('message', 'String', 'Human-readable reason'),
      num('event', 'String', 'The rejected event as received'),
      time('rejected_at', 'When it was rejected (UTC, processing time)'),
      num('rejected_at_ms', 'Int64', 'Same, epoch milliseconds'),
    ],
    metrics: [COUNT, metric('count_distinct__event_id', 'COUNT(DISTINCT event_id)', 'Distinct events')],
  },
  {
    key: 'ingest_audit',
    table: 'v_ingest_audit',
    uuid: '2f4e442b-197c-472b-974f-0f80ca3d3982',
    description: 'One row per ingest batch: rows in, accepted, rejected, duplicates, latency.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('batch_id', 'String', 'Batch id'),
      dim('source', 'String', 'Ingest path, e.g. ws, http, nats, import'),
      dim('status', 'String', 'ok, partial or failed'),
      num('input_rows', 'UInt64', 'Events in the batch'),
      num('output_rows', 'UInt64', 'Events accepted'),
      num('dlq_rows', 'UInt64', 'Events rejected to the DLQ'),
      num('duplicates', 'UInt64', 'Events dropped as duplicates'),
      num('latency_ms', 'Float64', 'Receive-to-ack latency of the batch'),
      time('started_at', 'When the batch arrived (UTC, processing time)'),
      num('started_at_ms', 'Int64', 'Same, epoch milliseconds'),
    ],
    metrics: [
      COUNT,
      metric('sum__input_rows', 'SUM(input_rows)', 'Rows in'),
      metric('sum__output_rows', 'SUM(output_rows)', 'Rows accepted'),
      metric('sum__dlq_rows', 'SUM(dlq_rows)', 'Rows rejected'),
      metric('sum__duplicates', 'SUM(duplicates)', 'Duplicates'),
      metric('avg__latency_ms', 'AVG(latency_ms)', 'Avg latency (ms)', ',.1f'),
      metric('p95__latency_ms', 'quantile(0.95)(latency_ms)', 'p95 latency (ms)', ',.1f'),
      metric('max__latency_ms', 'MAX(latency_ms)', 'Max latency (ms)', ',.1f'),
    ],
  },
  {
    key: 'procedure_minute',
    table: 'v_procedure_minute',
    uuid: '5cb135ac-c104-4dc8-a0de-090cb184fae9',
    description: 'Surgical procedures per minute: risk, force, velocity and latency side by side.',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('procedure_id', 'String', 'Procedure'),
      time('window_start', 'Start of the minute (event time, UTC)'),
      num('window_start_ms', 'Int64', 'Same, epoch milliseconds'),
      num('samples', 'UInt64', 'Telemetry samples in the minute'),
      num('risk_avg', 'Nullable(Float64)', 'Mean composite risk, 0-100'),
      num('risk_max', 'Nullable(Float64)', 'Peak composite risk, 0-100'),
      num('force_avg', 'Nullable(Float64)', 'Mean force (N)'),
      num('force_max', 'Nullable(Float64)', 'Peak force (N)'),
      num('velocity_avg', 'Nullable(Float64)', 'Mean velocity (mm/s)'),
      num('velocity_max', 'Nullable(Float64)', 'Peak velocity (mm/s)'),
      num('latency_avg', 'Nullable(Float64)', 'Mean robot latency (ms)'),
      num('latency_max', 'Nullable(Float64)', 'Peak robot latency (ms)'),
      num('max_revision', 'UInt32', 'Highest revision among the series'),
      dim('all_final', 'UInt8', '1 once every series of the minute is final'),
    ],
    metrics: [
      COUNT,
      metric('sum__samples', 'SUM(samples)', 'Samples'),
      metric('max__risk_max', 'MAX(risk_max)', 'Peak risk', ',.1f'),
      metric('weighted_avg__risk', 'SUM(risk_avg * samples) / SUM(samples)', 'Average risk', ',.1f'),
      metric('max__force_max', 'MAX(force_max)', 'Peak force (N)', ',.1f'),
      metric('avg__latency_avg', 'AVG(latency_avg)', 'Avg robot latency (ms)', ',.1f'),
      metric('max__latency_max', 'MAX(latency_max)', 'Peak robot latency (ms)', ',.1f'),
    ],
  },
  {
    key: 'patient_vitals_minute',
    table: 'v_patient_vitals_minute',
    uuid: 'b5fefd8a-b045-4134-bf77-ae39fde9705f',
    description: 'Patients per minute: vital signs side by side (NULL where not measured).',
    columns: [
      dim('tenant_id', 'String', 'Tenant'),
      dim('patient_id', 'String', 'Patient'),
      time('window_start', 'Start of the minute (event time, UTC)'),
      num('window_start_ms', 'Int64', 'Same, epoch milliseconds'),
      num('vital_values', 'UInt64', 'Vital-sign values in the minute'),
      num('heart_rate_avg', 'Nullable(Float64)', 'Mean heart rate (/min)'),
      num('heart_rate_min', 'Nullable(Float64)', 'Lowest heart rate'),
      num('heart_rate_max', 'Nullable(Float64)', 'Highest heart rate'),
      num('resp_rate_avg', 'Nullable(Float64)', 'Mean respiration rate (/min)'),
      num('resp_rate_max', 'Nullable(Float64)', 'Highest respiration rate'),
      num('spo2_avg', 'Nullable(Float64)', 'Mean SpO2 (%)'),
      num('spo2_min', 'Nullable(Float64)', 'Lowest SpO2 (%)'),
      num('systolic_bp_avg', 'Nullable(Float64)', 'Mean systolic BP (mmHg)'),
      num('systolic_bp_min', 'Nullable(Float64)', 'Lowest systolic BP (mmHg)'),
      num('diastolic_bp_avg', 'Nullable(Float64)', 'Mean diastolic BP (mmHg)'),
      num('temperature_c_avg', 'Nullable(Float64)', 'Mean temperature (C)'),
      num('temperature_c_max', 'Nullable(Float64)', 'Highest temperature (C)'),
      num('max_revision', 'UInt32', 'Highest revision among the series'),
      dim('all_final', 'UInt8', '1 once every series of the minute is final'),
    ],
    metrics: [
      COUNT,
      metric('count_distinct__patient_id', 'COUNT(DISTINCT patient_id)', 'Patients'),
      metric('avg__heart_rate_avg', 'AVG(heart_rate_avg)', 'Heart rate', ',.0f'),
      metric('max__heart_rate_max', 'MAX(heart_rate_max)', 'Peak heart rate', ',.0f'),
      metric('avg__spo2_avg', 'AVG(spo2_avg)', 'SpO2 (%)', ',.1f'),
      metric('min__spo2_min', 'MIN(spo2_min)', 'Lowest SpO2 (%)', ',.0f'),
      metric('avg__resp_rate_avg', 'AVG(resp_rate_avg)', 'Respiration rate', ',.0f'),
      metric('avg__systolic_bp_avg', 'AVG(systolic_bp_avg)', 'Systolic BP', ',.0f'),
      metric('max__temperature_c_max', 'MAX(temperature_c_max)', 'Peak temperature (C)', ',.1f'),
    ],
  },
];

const DS = Object.fromEntries(DATASETS.map((d) => [d.key, d]));
const mainDttm = (d) => d.columns.find((c) => c.dttm).name;

function datasetYaml(d) {
  return {
    table_name: d.table,
    main_dttm_col: mainDttm(d),
    description: d.description,
    default_endpoint: null,
    offset: 0,
    cache_timeout: null,
    schema: SCHEMA,
    sql: null,
    params: null,
    template_params: null,
    filter_select_enabled: true,
    fetch_values_predicate: null,
    extra: null,
    uuid: d.uuid,
    metrics: d.metrics.map((m) => ({
      metric_name: m.name,
      verbose_name: m.verbose,
      metric_type: null,
      expression: m.expression,
      description: null,
      d3format: m.d3format,
      extra: null,
      warning_text: null,
    })),
    columns: d.columns.map((c) => ({
      column_name: c.name,
      verbose_name: null,
      is_dttm: c.dttm === true,
      is_active: true,
      type: c.type,
      groupby: c.groupby,
      filterable: true,
      expression: null,
      description: c.description,
      python_date_format: null,
    })),
    version: VERSION,
    database_uuid: DATABASE_UUID,
  };
}

// ---------------------------------------------------------------------------------------------
// Charts. Params follow Superset's form data; x_axis + TEMPORAL_RANGE is the 3.x/4.x form,
// granularity_sqla + time_range the 2.x one (both are kept, they select the same rows).

const LAST_DAY = 'Last day';
const NO_FILTER = 'No filter';
const timeRange = (col, range) => ({
  clause: 'WHERE', subject: col, operator: 'TEMPORAL_RANGE', comparator: range, expressionType: 'SIMPLE',
});
const equals = (col, value) => ({ clause: 'WHERE', subject: col, operator: '==', comparator: value, expressionType: 'SIMPLE' });
const notEquals = (col, value) => ({ clause: 'WHERE', subject: col, operator: '!=', comparator: value, expressionType: 'SIMPLE' });

function timeseries(vizType, d, { metrics, groupby = [], grain, filters = [], range = LAST_DAY }) {
  const col = mainDttm(d);
  return {
    viz_type: vizType,
    x_axis: col,
    granularity_sqla: col,
    time_grain_sqla: grain,
    time_range: range,
    metrics,
    groupby,
    adhoc_filters: [timeRange(col, range), ...filters],
    row_limit: 10000,
    order_desc: true,
    truncate_metric: true,
    show_empty_columns: true,
    comparison_type: 'values',
    annotation_layers: [],
    x_axis_sort_asc: true,
    color_scheme: 'supersetColors',
    show_legend: true,
    legendType: 'scroll',
    legendOrientation: 'top',
    rich_tooltip: true,
    x_axis_time_format: 'smart_date',
    tooltipTimeFormat: 'smart_date',
    y_axis_format: 'SMART_NUMBER',
    extra_form_data: {},
  };
}

function table(d, { metrics, groupby, orderBy, filters = [], range = LAST_DAY, rowLimit = 10 }) {
  const col = mainDttm(d);
  return {
    viz_type: 'table',
    query_mode: 'aggregate',
    granularity_sqla: col,
    time_grain_sqla: null,
    time_range: range,
    groupby,
    metrics,
    all_columns: [],
    percent_metrics: [],
    timeseries_limit_metric: orderBy,
    order_desc: true,
    row_limit: rowLimit,
    server_page_length: 10,
    adhoc_filters: [timeRange(col, range), ...filters],
    table_timestamp_format: 'smart_date',
    show_cell_bars: true,
    color_pn: true,
    extra_form_data: {},
  };
}

const CHARTS = [
  {
    key: 'events_by_type',
    name: 'Events per minute by type',
    uuid: 'a8bf6c72-518b-4427-b33c-8e7a21f52169',
    dataset: DS.events,
    params: timeseries('echarts_timeseries_line', DS.events, { metrics: ['count'], groupby: ['event_type'], grain: 'PT1M' }),
  },
  {
    key: 'values_by_metric',
    name: 'Values per minute by metric',
    uuid: '4b1f4f0a-f1ed-4c27-a335-21d6ccac74aa',
    dataset: DS.rollups,
    params: timeseries('echarts_timeseries_line', DS.rollups, { metrics: ['sum__count'], groupby: ['metric'], grain: 'PT1M' }),
  },
  {
    key: 'alerts_by_level',
    name: 'Alerts raised by level',
    uuid: '5de6856d-4ccb-49a0-9ff8-ebe5c6f8836d',
    dataset: DS.alert_transitions,
    params: timeseries('echarts_timeseries_bar', DS.alert_transitions, {
      // An alert open again after a shelve was raised once: its second opening is not counted.
      metrics: ['count'], groupby: ['level'], grain: 'PT5M', filters: [equals('state', 'open'), equals('reopened', 0)],
    }),
  },
  {
    key: 'open_alerts',
    name: 'Open alerts by level and reason',
    uuid: '94c5b957-4797-4124-8115-4ec1571e61d5',
    dataset: DS.alerts,
    // Open alerts may have opened days ago: no time range, and out of the time filter's scope.
    // Open means not resolved: acknowledged and shelved alerts are listed too, by state.
    params: table(DS.alerts, {
      metrics: ['open_alerts'], groupby: ['level', 'reason', 'subject_kind', 'state'], orderBy: 'open_alerts',
      filters: [notEquals('state', 'resolved')], range: NO_FILTER, rowLimit: 100,
    }),
    timeFilterImmune: true,
  },
  {
    key: 'top_procedures',
    name: 'Top procedures by peak risk',
    uuid: 'b2ff5eae-96cb-4076-ae49-d440c99c77c2',
    dataset: DS.procedure_minute,
    params: table(DS.procedure_minute, {
      metrics: ['max__risk_max', 'weighted_avg__risk', 'max__force_max', 'max__latency_max'],
      groupby: ['procedure_id'], orderBy: 'max__risk_max',
    }),
  },
  {
    key: 'patient_vitals',
    name: 'Patient vitals: heart rate and lowest SpO2',
    uuid: '382e7b84-0f26-4acc-9824-cd79bec95e16',
    dataset: DS.patient_vitals_minute,
    params: timeseries('echarts_timeseries_line', DS.patient_vitals_minute, {
      metrics: ['avg__heart_rate_avg', 'min__spo2_min'], grain: 'PT5M',
    }),
  },
  {
    key: 'dlq_by_code',
    name: 'DLQ rejections by code',
    uuid: 'dbf23461-7ee6-4db2-9f36-d988526e7990',
    dataset: DS.dlq,
    params: timeseries('echarts_timeseries_bar', DS.dlq, { metrics: ['count'], groupby: ['code'], grain: 'PT5M' }),
  },
  {
    key: 'ingest_latency',
    name: 'Ingest batch latency',
    uuid: '7de6f6dc-3af1-4239-8962-0373c2216721',
    dataset: DS.ingest_audit,
    params: timeseries('echarts_timeseries_line', DS.ingest_audit, {
      metrics: ['avg__latency_ms', 'p95__latency_ms', 'max__latency_ms'], grain: 'PT1M',
    }),
  },
  {
    key: 'ingest_rows',
    name: 'Ingest rows: accepted, rejected, duplicate',
    uuid: 'fe478ae8-81a0-43c8-9c05-08468f065805',
    dataset: DS.ingest_audit,
    params: timeseries('echarts_timeseries_bar', DS.ingest_audit, {
      metrics: ['sum__output_rows', 'sum__dlq_rows', 'sum__duplicates'], grain: 'PT5M',
    }),
  },
];

// Placeholder chart ids: the importer replaces them with the ids it assigns.
CHARTS.forEach((c, i) => {
  c.id = i + 1;
});

const fileName = (title) => title.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');

function chartYaml(c) {
  return {
    slice_name: c.name,
    viz_type: c.params.viz_type,
    params: { datasource: `${c.id}__table`, ...c.params },
    query_context: null,
    cache_timeout: null,
    uuid: c.uuid,
    version: VERSION,
    dataset_uuid: c.dataset.uuid,
  };
}

// ---------------------------------------------------------------------------------------------
// Dashboard: a header, a markdown note, and rows of charts on Superset's 12-column grid.

const ROWS = [
  ['events_by_type', 'values_by_metric'],
  ['alerts_by_level', 'open_alerts'],
  ['top_procedures', 'patient_vitals'],
  ['dlq_by_code', 'ingest_latency', 'ingest_rows'],
];

const NOTE = [
  '### Vigil clinical operations',
  'Event time, UTC (DLQ and ingest audit: processing time). Rollup charts show the latest revision of',
  'each minute; late events can still correct a minute for the allowed lateness (defaults: patients',
  '5 min, procedures 60 s). Views, columns and dedup rules: `dashboards/README.md` in the Vigil repository.',
].join('\n');

function position() {
  const byKey = Object.fromEntries(CHARTS.map((c) => [c.key, c]));
  const pos = {
    DASHBOARD_VERSION_KEY: 'v2',
    ROOT_ID: { type: 'ROOT', id: 'ROOT_ID', children: ['GRID_ID'] },
    HEADER_ID: { id: 'HEADER_ID', type: 'HEADER', meta: { text: 'Clinical Operations' } },
    GRID_ID: { type: 'GRID', id: 'GRID_ID', children: [], parents: ['ROOT_ID'] },
  };
  const addRow = (rowId, children) => {
    pos.GRID_ID.children.push(rowId);
    pos[rowId] = {
      type: 'ROW', id: rowId, children, parents: ['ROOT_ID', 'GRID_ID'], meta: { background: 'BACKGROUND_TRANSPARENT' },
    };
  };
  addRow('ROW-vigil-note', ['MARKDOWN-vigil-note']);
  pos['MARKDOWN-vigil-note'] = {
    type: 'MARKDOWN', id: 'MARKDOWN-vigil-note', children: [], parents: ['ROOT_ID', 'GRID_ID', 'ROW-vigil-note'],
    meta: { width: 12, height: 14, code: NOTE },
  };
  ROWS.forEach((keys, r) => {
    const rowId = `ROW-vigil-${r + 1}`;
    const width = 12 / keys.length;
    const ids = keys.map((k) => `CHART-vigil-${k.replace(/_/g, '-')}`);
    addRow(rowId, ids);
    keys.forEach((k, i) => {
      const c = byKey[k];
      pos[ids[i]] = {
        type: 'CHART', id: ids[i], children: [], parents: ['ROOT_ID', 'GRID_ID', rowId],
        meta: { chartId: c.id, uuid: c.uuid, sliceName: c.name, width, height: 50 },
      };
    });
  });
  return pos;
}

function nativeFilters() {
  const scope = (excluded) => ({ rootPath: ['ROOT_ID'], excluded });
  return [
    {
      id: 'NATIVE_FILTER-vigil-tenant',
      name: 'Tenant',
      filterType: 'filter_select',
      type: 'NATIVE_FILTER',
      description: 'Applies to every chart (all views have tenant_id).',
      targets: [{ datasetUuid: DS.rollups.uuid, column: { name: 'tenant_id' } }],
      controlValues: {
        enableEmptyFilter: false, defaultToFirstItem: false, multiSelect: true, searchAllOptions: false, inverseSelection: false,
      },
      defaultDataMask: { extraFormData: {}, filterState: {}, ownState: {} },
      cascadeParentIds: [],
      scope: scope([]),
    },
    {
      id: 'NATIVE_FILTER-vigil-time',
      name: 'Time range',
      filterType: 'filter_time',
      type: 'NATIVE_FILTER',
      description: 'Event time (processing time for DLQ and ingest audit).',
      targets: [{}],
      controlValues: { enableEmptyFilter: false },
      defaultDataMask: { extraFormData: { time_range: LAST_DAY }, filterState: { value: LAST_DAY }, ownState: {} },
      cascadeParentIds: [],
      scope: scope(CHARTS.filter((c) => c.timeFilterImmune).map((c) => c.id)),
    },
  ];
}

function dashboardYaml() {
  return {
    dashboard_title: 'Clinical Operations',
    description: null,
    css: '',
    slug: 'vigil-clinical-operations',
    uuid: DASHBOARD_UUID,
    position: position(),
    metadata: {
      color_scheme: 'supersetColors',
      refresh_frequency: 60,
      timed_refresh_immune_slices: [],
      expanded_slices: {},
      label_colors: {},
      default_filters: '{}',
      filter_scopes: {},
      chart_configuration: {},
      native_filter_configuration: nativeFilters(),
    },
    version: VERSION,
  };
}

function databaseYaml() {
  return {
    database_name: DATABASE_NAME,
    sqlalchemy_uri: SQLALCHEMY_URI,
    cache_timeout: null,
    expose_in_sqllab: true,
    allow_run_async: false,
    allow_ctas: false,
    allow_cvas: false,
    extra: { metadata_params: {}, engine_params: {}, metadata_cache_timeout: {} },
    uuid: DATABASE_UUID,
    version: VERSION,
  };
}

/** Every bundle file: path relative to this folder -> parsed content. */
export function bundleFiles() {
  const files = new Map();
  files.set('metadata.yaml', { version: VERSION, type: 'Dashboard', timestamp: '2026-01-01T00:00:00+00:00' });
  const dbDir = fileName(DATABASE_NAME);
  files.set(`databases/${dbDir}.yaml`, databaseYaml());
  for (const d of DATASETS) files.set(`datasets/${dbDir}/${d.table}.yaml`, datasetYaml(d));
  for (const c of CHARTS) files.set(`charts/${fileName(c.name)}.yaml`, chartYaml(c));
  files.set('dashboards/Clinical_Operations.yaml', dashboardYaml());
  return files;
}

const render = (obj) => `${JSON.stringify(obj, null, 2)}\n`;
const BUNDLE_DIRS = ['databases', 'datasets', 'charts', 'dashboards'];

function existingYaml() {
  const out = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e)) out.push(relative(HERE, p).split('\\').join('/'));
    }
  };
  for (const d of BUNDLE_DIRS) walk(join(HERE, d));
  return out;
}

function main() {
  const check = process.argv.includes('--check');
  const files = bundleFiles();
  const problems = [];
  for (const [rel, obj] of files) {
    const path = join(HERE, rel);
    const text = render(obj);
    if (check) {
      let current = null;
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing
      }
      if (current !== text) problems.push(current === null ? `missing: ${rel}` : `stale: ${rel}`);
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }
  }
  for (const rel of existingYaml()) {
    if (files.has(rel)) continue;
    if (check) problems.push(`stray: ${rel}`);
    else rmSync(join(HERE, rel));
  }
  if (problems.length > 0) {
    console.error(`Superset bundle is out of date (run node dashboards/superset/generate.mjs):\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  if (!check) console.log(`wrote ${files.size} files under ${relative(process.cwd(), HERE) || '.'}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
