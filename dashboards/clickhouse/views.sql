-- Vigil analytics views: the Superset datasets (see dashboards/README.md, the analyst's guide).
--
-- Applied last by migrate() in adapters/clickhouse/schema.ts, in the store's database, after the
-- tables exist (it re-applies the file whenever its text changes). Running it by hand works too:
--   clickhouse-client --database vigil --multiquery < dashboards/clickhouse/views.sql
-- Every statement here runs unchanged on clickhouse-server 18.16 (the Debian package the tests
-- use) and on chDB / ClickHouse 26, so it sticks to what both accept:
--   * no CREATE OR REPLACE VIEW (18.16 lacks it): each view is dropped and re-created, which
--     keeps re-running this file idempotent and picks up changed definitions;
--   * table names are unqualified: both engines bind them to the current database when the
--     view is created;
--   * DateTime (seconds) for the one time column of each view, never DateTime64;
--   * deduplication by FINAL (ReplacingMergeTree) or argMax, never -State columns;
--   * no -OrNull / -OrDefault combinators, no toStartOfSecond, no parameters.
-- Each view has exactly one DateTime column (the dataset's time column) and plain columns only,
-- so Superset's generated SUM/AVG/COUNT and toStartOfMinute(toDateTime(col)) grains just work.
-- A second instant that most rows lack (a shelve's end, `until`) is Nullable(DateTime), never
-- the time column.
--
-- Format rules (test/superset/bundle.ts reads the file too): each statement ends with a semicolon
-- at the end of a line, comments are whole lines starting with two dashes, and no semicolon
-- appears anywhere else.

-- Raw events, one row per (tenant, event_id), newest insert wins.
DROP TABLE IF EXISTS v_events;
CREATE VIEW IF NOT EXISTS v_events AS
SELECT
    tenant_id,
    event_id,
    event_type,
    schema_version,
    event_time,
    event_time_ms,
    toInt64(ingest_time) - intDiv(event_time_ms, 1000) AS ingest_lag_s,
    actor_kind,
    actor_id,
    patient_id,
    site_id,
    device_id,
    source,
    payload
FROM events_raw FINAL;

-- Per-minute rollups per actor and metric, latest revision of each window only.
DROP TABLE IF EXISTS v_rollups_minute;
CREATE VIEW IF NOT EXISTS v_rollups_minute AS
SELECT
    tenant_id,
    actor_kind,
    actor_id,
    metric,
    window_start,
    window_start_ms,
    window_ms,
    revision,
    final,
    count,
    min,
    max,
    sum,
    if(count = 0, 0, sum / count) AS avg
FROM rollups_minute FINAL;

-- One row per alert: its latest state (ties on time: resolved wins, then the higher level). An
-- alert is open while that state is anything but resolved: open, acknowledged or shelved.
-- Reads alert_transitions (every transition, keyed by time), FINAL first, so a re-published
-- transition counts once in `transitions`, and an alert open again after a shelve keeps its
-- first opening in `opened_at_ms` (the alerts table keeps one row per state and level).
DROP TABLE IF EXISTS v_alerts;
CREATE VIEW IF NOT EXISTS v_alerts AS
SELECT
    tenant_id,
    alert_id,
    latest.1 AS subject_kind,
    latest.2 AS subject_id,
    latest.3 AS level,
    latest.4 AS level_rank,
    latest.5 AS state,
    latest.6 AS reason,
    latest.7 AS value,
    latest.8 AS event_time,
    latest.9 AS event_time_ms,
    opened_at_ms,
    transitions,
    if(latest.5 = 'resolved', (latest.9 - opened_at_ms) / 1000, NULL) AS resolved_after_s,
    latest.10 AS acted_by,
    latest.11 AS note,
    if(latest.12 = 0, NULL, toDateTime(intDiv(latest.12, 1000))) AS until,
    latest.12 AS until_ms
FROM
(
    SELECT
        tenant_id,
        alert_id,
        argMax(
            tuple(subject_kind, subject_id, level, level_rank, state, reason, value, event_time, event_time_ms, acted_by, note, until_ms),
            tuple(event_time_ms, state = 'resolved', level_rank)
        ) AS latest,
        min(event_time_ms) AS opened_at_ms,
        count() AS transitions
    FROM alert_transitions FINAL
    GROUP BY tenant_id, alert_id
);

-- Every alert transition (opened, re-levelled, acknowledged, shelved, open again after a shelve,
-- resolved), exact duplicates removed. Reads alert_transitions, keyed by time, because the alerts
-- table would collapse an opening after a shelve into the first one. `reopened` marks that
-- opening: it happens at the shelve's end (`until_ms` of a shelved transition of the same alert
-- and level), so "alerts raised" counts open rows with reopened = 0.
DROP TABLE IF EXISTS v_alert_transitions;
CREATE VIEW IF NOT EXISTS v_alert_transitions AS
SELECT
    tenant_id,
    alert_id,
    subject_kind,
    subject_id,
    level,
    level_rank,
    state,
    reason,
    value,
    event_time,
    event_time_ms,
    acted_by,
    note,
    if(until_ms = 0, NULL, toDateTime(intDiv(until_ms, 1000))) AS until,
    until_ms,
    (state = 'open' AND (tenant_id, alert_id, level, event_time_ms) IN (
        SELECT tenant_id, alert_id, level, until_ms FROM alert_transitions WHERE state = 'shelved'
    )) AS reopened
FROM alert_transitions FINAL;

-- Rejected events, one row per rejection (the DLQ is append-only: a replayed bad event that is
-- rejected again is a second rejection).
DROP TABLE IF EXISTS v_dlq;
CREATE VIEW IF NOT EXISTS v_dlq AS
SELECT
    tenant_id,
    source,
    idx,
    event_id,
    visitParamExtractString(event, 'event_type') AS event_type,
    code,
    message,
    event,
    rejected_at,
    rejected_at_ms
FROM dlq;

-- One row per ingest batch (WebSocket frame, HTTP batch, NATS message, file import).
DROP TABLE IF EXISTS v_ingest_audit;
CREATE VIEW IF NOT EXISTS v_ingest_audit AS
SELECT
    tenant_id,
    batch_id,
    source,
    status,
    input_rows,
    output_rows,
    dlq_rows,
    duplicates,
    latency_ms,
    started_at,
    started_at_ms
FROM ingest_audit FINAL;

-- Surgical procedures, one row per procedure and minute, the telemetry series side by side.
DROP TABLE IF EXISTS v_procedure_minute;
CREATE VIEW IF NOT EXISTS v_procedure_minute AS
SELECT
    tenant_id,
    actor_id AS procedure_id,
    window_start,
    window_start_ms,
    sumIf(count, metric = 'risk') AS samples,
    if(sumIf(count, metric = 'risk') = 0, NULL, sumIf(sum, metric = 'risk') / sumIf(count, metric = 'risk')) AS risk_avg,
    if(countIf(metric = 'risk') = 0, NULL, maxIf(max, metric = 'risk')) AS risk_max,
    if(sumIf(count, metric = 'force_newtons') = 0, NULL, sumIf(sum, metric = 'force_newtons') / sumIf(count, metric = 'force_newtons')) AS force_avg,
    if(countIf(metric = 'force_newtons') = 0, NULL, maxIf(max, metric = 'force_newtons')) AS force_max,
    if(sumIf(count, metric = 'velocity_mm_s') = 0, NULL, sumIf(sum, metric = 'velocity_mm_s') / sumIf(count, metric = 'velocity_mm_s')) AS velocity_avg,
    if(countIf(metric = 'velocity_mm_s') = 0, NULL, maxIf(max, metric = 'velocity_mm_s')) AS velocity_max,
    if(sumIf(count, metric = 'latency_ms') = 0, NULL, sumIf(sum, metric = 'latency_ms') / sumIf(count, metric = 'latency_ms')) AS latency_avg,
    if(countIf(metric = 'latency_ms') = 0, NULL, maxIf(max, metric = 'latency_ms')) AS latency_max,
    max(revision) AS max_revision,
    min(final) AS all_final
FROM rollups_minute FINAL
WHERE actor_kind = 'procedure'
GROUP BY tenant_id, actor_id, window_start, window_start_ms;

-- Patients' vital signs, one row per patient and minute (NULL where a sign was not measured).
DROP TABLE IF EXISTS v_patient_vitals_minute;
CREATE VIEW IF NOT EXISTS v_patient_vitals_minute AS
SELECT
    tenant_id,
    actor_id AS patient_id,
    window_start,
    window_start_ms,
    sum(count) AS vital_values,
    if(sumIf(count, metric = 'heart_rate') = 0, NULL, sumIf(sum, metric = 'heart_rate') / sumIf(count, metric = 'heart_rate')) AS heart_rate_avg,
    if(countIf(metric = 'heart_rate') = 0, NULL, minIf(min, metric = 'heart_rate')) AS heart_rate_min,
    if(countIf(metric = 'heart_rate') = 0, NULL, maxIf(max, metric = 'heart_rate')) AS heart_rate_max,
    if(sumIf(count, metric = 'resp_rate') = 0, NULL, sumIf(sum, metric = 'resp_rate') / sumIf(count, metric = 'resp_rate')) AS resp_rate_avg,
    if(countIf(metric = 'resp_rate') = 0, NULL, maxIf(max, metric = 'resp_rate')) AS resp_rate_max,
    if(sumIf(count, metric = 'spo2') = 0, NULL, sumIf(sum, metric = 'spo2') / sumIf(count, metric = 'spo2')) AS spo2_avg,
    if(countIf(metric = 'spo2') = 0, NULL, minIf(min, metric = 'spo2')) AS spo2_min,
    if(sumIf(count, metric = 'systolic_bp') = 0, NULL, sumIf(sum, metric = 'systolic_bp') / sumIf(count, metric = 'systolic_bp')) AS systolic_bp_avg,
    if(countIf(metric = 'systolic_bp') = 0, NULL, minIf(min, metric = 'systolic_bp')) AS systolic_bp_min,
    if(sumIf(count, metric = 'diastolic_bp') = 0, NULL, sumIf(sum, metric = 'diastolic_bp') / sumIf(count, metric = 'diastolic_bp')) AS diastolic_bp_avg,
    if(sumIf(count, metric = 'temperature_c') = 0, NULL, sumIf(sum, metric = 'temperature_c') / sumIf(count, metric = 'temperature_c')) AS temperature_c_avg,
    if(countIf(metric = 'temperature_c') = 0, NULL, maxIf(max, metric = 'temperature_c')) AS temperature_c_max,
    max(revision) AS max_revision,
    min(final) AS all_final
FROM rollups_minute FINAL
WHERE actor_kind = 'patient'
  AND metric IN ('heart_rate', 'resp_rate', 'spo2', 'systolic_bp', 'diastolic_bp', 'temperature_c')
GROUP BY tenant_id, actor_id, window_start, window_start_ms;
