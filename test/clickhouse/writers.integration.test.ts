// Every table's writer and row mapper (createAnalyticsWriters) on both engines: values land in
// the right columns with the right types, replays do not double, awkward values (NaN, huge
// times, lone surrogates, payload objects) do not poison a batch, and a missing table is
// repaired by the `repair` hook.
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS } from '../../adapters/clickhouse/schema.js';
import { dlqRow, eventRawRow, ingestAuditRow, type DlqInput, type IngestAuditInput, type RawEventInput } from '../../adapters/clickhouse/rows.js';
import { createAnalyticsWriters } from '../../adapters/clickhouse/sinks.js';
import type { AlertRecord, RollupRow } from '../../runtime/ports.js';
import { useEngines, type FreshStore } from './engines.js';

const T = 1_735_689_600_123;

const event = (over: Partial<RawEventInput> = {}): RawEventInput => ({
  tenant: 'acme', eventId: 'e-1', eventType: 'vitals.observation', schemaVersion: 1, eventTime: T, ingestTime: T + 1500,
  actorKind: 'patient', actorId: 'p-1', patientId: 'p-1', siteId: 'ward-3', deviceId: 'mon-9', source: 'ws',
  payload: { patient_id: 'p-1', heart_rate: 88, note: "it's \"fine\"\n" }, ...over,
});

for (const engine of useEngines()) {
  describe(`analytics writers on ${engine.name}`, () => {
    let f: FreshStore | undefined;
    afterEach(async () => {
      await f?.cleanup();
      f = undefined;
    });

    it('writes all five tables; replays of idempotent tables do not double', async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      const w = createAnalyticsWriters(f.store, { flushIntervalMs: 20 });

      const e1 = event();
      const e2 = event({ eventId: 'e-2', eventTime: T + 60_000, payload: '{"already":"json"}', siteId: undefined });
      await w.events.write([eventRawRow(e1), eventRawRow(e2)]);
      await w.events.write([eventRawRow(e1)]); // replay
      const d: DlqInput = { tenant: 'acme', source: 'http', index: 4, eventId: 'bad-1', code: 'invalid_payload', message: 'heart_rate: expected number', event: { event_id: 'bad-1', payload: { heart_rate: 'x' } }, rejectedAt: T + 5 };
      await w.dlq.write([dlqRow(d), dlqRow({ ...d, index: -1, eventId: undefined, event: 'not json at all', code: 'bad_json' })]);
      const a: IngestAuditInput = { batchId: 'b-1', tenant: 'acme', source: 'ws', inputRows: 100, outputRows: 97, dlqRows: 2, duplicates: 1, latencyMs: 3.25, status: 'partial', startedAt: T };
      await w.audit.write([ingestAuditRow(a), ingestAuditRow(a)]);
      const r: RollupRow = { tenant: 'acme', actorKind: 'patient', actorId: 'p-1', metric: 'hr', windowStart: T - 123, windowMs: 60_000, revision: 1, final: false, count: 1, min: 88, max: 88, sum: 88 };
      await w.rollups.write([r]);
      const al: AlertRecord = { alertId: 'acme/patient/p-1/news2', tenant: 'acme', subjectKind: 'patient', subjectId: 'p-1', level: 'critical', state: 'open', reason: 'NEWS2 >= 7', value: 9, eventTime: T };
      await w.alerts.publish([al]);
      await w.flush();

      const ev = await f.store.query<Record<string, unknown>>('SELECT * FROM events_raw FINAL ORDER BY event_id');
      expect(ev).toHaveLength(2);
      expect(ev[0]).toMatchObject({
        tenant_id: 'acme', event_id: 'e-1', event_type: 'vitals.observation', schema_version: 1, event_time: '2025-01-01 00:00:00',
        event_time_ms: String(T), ingest_time: '2025-01-01 00:00:01', actor_kind: 'patient', actor_id: 'p-1', patient_id: 'p-1',
        site_id: 'ward-3', device_id: 'mon-9', source: 'ws',
      });
      expect(JSON.parse(String(ev[0]!['payload']))).toEqual(e1.payload);
      expect(ev[1]).toMatchObject({ event_id: 'e-2', site_id: '', payload: '{"already":"json"}', event_time: '2025-01-01 00:01:00' });

      const dl = await f.store.query<Record<string, unknown>>('SELECT * FROM dlq ORDER BY idx DESC');
      expect(dl).toHaveLength(2);
      expect(dl[0]).toMatchObject({ tenant_id: 'acme', source: 'http', idx: 4, event_id: 'bad-1', code: 'invalid_payload', message: 'heart_rate: expected number', rejected_at_ms: String(T + 5) });
      expect(JSON.parse(String(dl[0]!['event']))).toEqual(d.event);
      expect(dl[1]).toMatchObject({ idx: -1, event_id: '', event: 'not json at all', code: 'bad_json' });

      const au = await f.store.query<Record<string, unknown>>('SELECT * FROM ingest_audit FINAL');
      expect(au).toEqual([{
        batch_id: 'b-1', tenant_id: 'acme', source: 'ws', input_rows: '100', output_rows: '97', dlq_rows: '2', duplicates: '1',
        latency_ms: 3.25, status: 'partial', started_at: '2025-01-01 00:00:00', started_at_ms: String(T),
      }]);

      const ro = await f.store.query<Record<string, unknown>>('SELECT window_start, window_start_ms FROM rollups_minute FINAL');
      expect(ro).toEqual([{ window_start: '2025-01-01 00:00:00', window_start_ms: String(T - 123) }]);
      const ar = await f.store.query<Record<string, unknown>>('SELECT level, level_rank, event_time FROM alerts FINAL');
      expect(ar).toEqual([{ level: 'critical', level_rank: 4, event_time: '2025-01-01 00:00:00' }]);

      expect(w.stats().events_raw).toMatchObject({ rows: 3, rejectedRows: 0 });
      await w.close();
    });

    it('awkward values are stored, not rejected', async () => {
      f = await engine.fresh();
      await migrate(f.store, { viewsFile: null });
      const w = createAnalyticsWriters(f.store, { flushIntervalMs: 20 });
      await w.rollups.write([
        { tenant: 'a\ud800b', actorKind: 'patient', actorId: 'p', metric: 'hr', windowStart: 9e15, windowMs: 60_000.7, revision: 2.9, final: true, count: -5, min: Number.NaN, max: Infinity, sum: -Infinity },
      ]);
      await w.audit.write([ingestAuditRow({ batchId: 'b', tenant: 't', source: 's', inputRows: 1.5, outputRows: Number.NaN, dlqRows: 0, duplicates: 0, latencyMs: Number.NaN, status: 'ok', startedAt: -1000 })]);
      await w.flush();
      const ro = await f.store.query<Record<string, unknown>>('SELECT tenant_id, window_ms, revision, count, min, max, sum, isNaN(min) AS nan, isInfinite(max) AS inf, window_start_ms FROM rollups_minute FINAL');
      expect(ro).toEqual([{ tenant_id: 'a\ufffdb', window_ms: 60_000, revision: 2, count: '0', min: null, max: null, sum: null, nan: 1, inf: 1, window_start_ms: '9000000000000000' }]);
      const au = await f.store.query<Record<string, unknown>>('SELECT input_rows, output_rows, started_at_ms, toUInt32(started_at) AS s FROM ingest_audit');
      expect(au).toEqual([{ input_rows: '1', output_rows: '0', started_at_ms: '-1000', s: 0 }]);
      expect(w.stats().rollups_minute.rejectedRows).toBe(0);
      await w.close();
    });

    it('re-creates a dropped table through the repair hook and delivers the batch', async () => {
      f = await engine.fresh();
      const store = f.store;
      await migrate(store, { viewsFile: null });
      await store.command('DROP TABLE dlq');
      let repairs = 0;
      const w = createAnalyticsWriters(store, {
        flushIntervalMs: 20, backoffInitialMs: 10,
        repair: async () => {
          repairs++;
          // migrate() would skip the step (it is recorded); re-run its statement directly.
          await store.command(MIGRATIONS.find((m) => m.name === 'dlq')!.statements[0]!);
        },
      });
      await w.dlq.write([dlqRow({ tenant: 't', source: 's', index: 0, code: 'c', message: 'm', event: {}, rejectedAt: T })]);
      await w.dlq.flush();
      expect(repairs).toBeGreaterThanOrEqual(1);
      const n = await store.query<{ n: string }>('SELECT count() AS n FROM dlq');
      expect(Number(n[0]!.n)).toBe(1);
      await w.close();
    });
  });
}
