// The analytics side of a node: the store (ClickHouse server when VIGIL_CLICKHOUSE_URL is set,
// else chDB under the data folder), its schema, and the batched writers every table is fed by.
import { join, resolve } from 'node:path';
import { migrate } from '../clickhouse/schema.js';
import { dlqRow, eventRawRow, ingestAuditRow } from '../clickhouse/rows.js';
import { createAnalyticsWriters, writerMetrics, type AnalyticsWriters } from '../clickhouse/sinks.js';
import { openChdb, openClickHouseServer, type AnalyticsStore } from '../clickhouse/store.js';
import type { DeadLetter } from '../../actors/ingest.js';
import type { ActorEvent } from '../../actors/contracts/registry.js';
import type { AlertRecord, AlertSink, Metrics } from '../../runtime/ports.js';
import type { RuntimeEvent } from '../../runtime/runtime.js';
import type { AuditRow } from '../uws/server.js';
import type { NodeConfig } from './config.js';

export async function openAnalytics(config: NodeConfig): Promise<AnalyticsStore> {
  const database = `vigil_${config.cluster.replace(/-/g, '_')}`;
  if (config.clickhouseUrl) return openClickHouseServer({ url: config.clickhouseUrl, database });
  return openChdb({ dataDir: resolve(config.dataDir, 'chdb'), database });
}

export interface Analytics {
  store: AnalyticsStore;
  writers: AnalyticsWriters;
  /** Accepted events to events_raw (one row each; payload kept as JSON text). */
  archive(events: readonly RuntimeEvent[], source: string): void;
  deadLetters(letters: readonly DeadLetter[]): void;
  audit(row: AuditRow): void;
  close(): Promise<void>;
}

export async function startAnalytics(config: NodeConfig, metrics: Metrics, log: (l: string) => void): Promise<Analytics> {
  const store = await openAnalytics(config);
  const m = await migrate(store);
  if (m.applied.length > 0) log(`analytics schema at version ${m.version} (${store.kind}); applied ${m.applied.join(', ')}`);
  const writers = createAnalyticsWriters(store, {
    spoolDir: join(resolve(config.dataDir), 'spool'),
    repair: async () => void (await migrate(store)),
    events: writerMetrics(metrics),
  });
  const swallow = (p: Promise<void>) => void p.catch((err: unknown) => log(`analytics write failed: ${(err as Error).message}`));
  return {
    store,
    writers,
    archive(events, source) {
      const now = Date.now();
      const out = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        const b = e.body as ActorEvent;
        out[i] = eventRawRow({
          tenant: e.tenant, eventId: b.id, eventType: b.type, schemaVersion: b.v, eventTime: e.time, ingestTime: now,
          actorKind: e.kind, actorId: e.id, patientId: typeof b.p.patient_id === 'string' ? b.p.patient_id : undefined,
          source, payload: b.p,
        });
      }
      swallow(writers.events.write(out));
    },
    deadLetters(letters) {
      swallow(writers.dlq.write(letters.map((l) => dlqRow({
        tenant: l.tenant_id, source: l.source, index: l.index ?? -1, eventId: l.event_id ?? undefined, code: l.code,
        message: l.message, event: l.event, rejectedAt: Date.parse(l.rejected_at),
      }))));
    },
    audit(r) {
      swallow(writers.audit.write([ingestAuditRow({
        batchId: r.batch_id, tenant: r.tenant_id, source: r.source, inputRows: r.input_rows, outputRows: r.output_rows,
        dlqRows: r.dlq_rows, duplicates: r.duplicates, latencyMs: r.latency_ms, status: r.status, startedAt: r.started_at_ms,
      })]));
    },
    async close() {
      await writers.close();
      await store.close();
    },
  };
}

/** One alert stream to several sinks (ops log, NATS, ClickHouse). */
export class FanoutAlertSink implements AlertSink {
  constructor(private readonly sinks: readonly AlertSink[]) {}
  async publish(alerts: readonly AlertRecord[]): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.publish(alerts)));
  }
  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
