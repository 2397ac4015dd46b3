// The analytics side of a node: the store (ClickHouse server when VIGIL_CLICKHOUSE_URL is set,
// else chDB under the data folder), its schema, and the batched writers every table is fed by,
// all in the analytics worker (adapters/clickhouse/analytics-worker.ts), off the uWS thread.
import { join, resolve } from 'node:path';
import { AnalyticsWorkerClient } from '../clickhouse/analytics-client.js';
import type { AcceptedBatch } from '../clickhouse/analytics-protocol.js';
import { writerMetrics } from '../clickhouse/sinks.js';
import { openChdb, openClickHouseServer, type AnalyticsStore } from '../clickhouse/store.js';
import type { DeadLetter } from '../../actors/ingest.js';
import type { AlertRecord, AlertSink, Metrics, RollupSink } from '../../runtime/ports.js';
import type { RuntimeEvent } from '../../runtime/runtime.js';
import type { AuditRow } from '../http/audit.js';
import type { NodeConfig } from './config.js';

function databaseOf(config: NodeConfig): string {
  return `vigil_${config.cluster.replace(/-/g, '_')}`;
}

/** The store in this thread (`vigil migrate` and other tools; a node opens it in its analytics worker). */
export async function openAnalytics(config: NodeConfig): Promise<AnalyticsStore> {
  const database = databaseOf(config);
  if (config.clickhouseUrl) return openClickHouseServer({ url: config.clickhouseUrl, database });
  return openChdb({ dataDir: resolve(config.dataDir, 'chdb'), database });
}

export interface Analytics {
  /** The store, in the analytics worker: every call is a message (reads included). */
  store: AnalyticsStore;
  rollups: RollupSink;
  alerts: AlertSink;
  /** Events the actors accepted, as the packed batch their host got (rows are built in the worker). */
  accepted(kinds: string[], batch: AcceptedBatch): void;
  /** Accepted events of the per-event path (tests and tools that submit RuntimeEvents directly). */
  archive(events: readonly RuntimeEvent[], source: string): void;
  deadLetters(letters: readonly DeadLetter[]): void;
  audit(row: AuditRow): void;
  close(): Promise<void>;
}

/**
 * Opens the store in the analytics worker (a ClickHouse server when VIGIL_CLICKHOUSE_URL is set,
 * else chDB under the data folder), migrates it, and starts the table writers there.
 */
export async function startAnalytics(config: NodeConfig, metrics: Metrics, log: (l: string) => void): Promise<Analytics> {
  const { client, version, applied } = await AnalyticsWorkerClient.start({
    clickhouseUrl: config.clickhouseUrl,
    chdbDir: resolve(config.dataDir, 'chdb'),
    database: databaseOf(config),
    spoolDir: join(resolve(config.dataDir), 'spool'),
  }, writerMetrics(metrics), log);
  if (applied.length > 0) log(`analytics schema at version ${version} (${client.store.kind}); applied ${applied.join(', ')}`);
  return {
    store: client.store,
    rollups: client.rollups,
    alerts: client.alerts,
    accepted: (kinds, b) => client.accepted(kinds, b),
    archive(events, source) {
      if (events.length === 0) return;
      const kinds: string[] = [];
      const kind = new Uint8Array(events.length);
      const time = new Float64Array(events.length);
      const tenants: string[] = [];
      const ids: string[] = [];
      const bodies: unknown[] = [];
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        let k = kinds.indexOf(e.kind);
        if (k < 0) k = kinds.push(e.kind) - 1;
        kind[i] = k;
        time[i] = e.time;
        tenants.push(e.tenant);
        ids.push(e.id);
        bodies.push(e.body);
      }
      client.accepted(kinds, {
        n: events.length, kind, time, packed: JSON.stringify([tenants, ids, bodies]), skip: [],
        frame: new Uint32Array(events.length), sources: [source], ingestTime: Date.now(),
      });
    },
    deadLetters(letters) {
      client.deadLetters(letters.map((l) => ({
        tenant: l.tenant_id, source: l.source, index: l.index ?? -1, eventId: l.event_id ?? undefined, code: l.code,
        message: l.message, event: l.event, rejectedAt: Date.parse(l.rejected_at),
      })));
    },
    audit(r) {
      client.audit([{
        batchId: r.batch_id, tenant: r.tenant_id, source: r.source, inputRows: r.input_rows, outputRows: r.output_rows,
        dlqRows: r.dlq_rows, duplicates: r.duplicates, latencyMs: r.latency_ms, status: r.status, startedAt: r.started_at_ms,
      }]);
    },
    close: () => client.close(),
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
