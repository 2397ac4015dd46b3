// The analytics worker: owns the store and every table writer (bounded, spooling). The main thread
// sends it what the actors accepted, as the packed batches the hosts got, and rollups, alerts,
// dead letters and audit rows; rows are built here, and chDB's inserts and queries (which run on
// the calling thread) never block the uWS thread. Reads are forwarded here too: libchdb is one
// engine per process, so one thread must own it.
import { parentPort, workerData } from 'node:worker_threads';
import { packedText } from '../../runtime/batch.js';
import { toWire } from '../../runtime/errors.js';
import type { AcceptedBatch, AnalyticsWorkerInit, FromAnalytics, ToAnalytics, WriterEventName } from './analytics-protocol.js';
import { dlqRow, eventRawLine, ingestAuditRow } from './rows.js';
import { migrate } from './schema.js';
import { createAnalyticsWriters, type AnalyticsWriters } from './sinks.js';
import { clickHouseErrorCode, openChdb, openClickHouseServer, type AnalyticsStore } from './store.js';
import type { WriterEvents } from './writer.js';

interface PackedBody {
  id: string;
  type: string;
  v: number;
  p: Record<string, unknown>;
}

/** events_raw lines (JSONEachRow) of the accepted events of one batch, appended to `out`. */
export function acceptedLines(b: AcceptedBatch, kinds: readonly string[], out: string[]): void {
  const [tenants, ids, bodies] = JSON.parse(packedText(b.packed)) as [string[], string[], PackedBody[]];
  let s = 0;
  for (let i = 0; i < b.n; i++) {
    if (s < b.skip.length && b.skip[s] === i) {
      s++;
      continue;
    }
    const body = bodies[i]!;
    const p = body.p;
    out.push(eventRawLine({
      tenant: tenants[i]!, eventId: body.id, eventType: body.type, schemaVersion: body.v, eventTime: b.time[i]!, ingestTime: b.ingestTime,
      actorKind: kinds[b.kind[i]!]!, actorId: ids[i]!, patientId: typeof p.patient_id === 'string' ? p.patient_id : undefined,
      source: b.sources[b.frame[i]!]!, payload: p,
    }));
  }
}

/** events_raw rows handed to the writer and not yet admitted by it, at most. */
const EVENTS_BACKLOG = 200_000;

async function main(): Promise<void> {
  const init = workerData as AnalyticsWorkerInit;
  const port = parentPort!;
  const post = (m: FromAnalytics): void => port.postMessage(m);
  let store: AnalyticsStore;
  let writers: AnalyticsWriters;
  let events!: WriterEvents;
  let eventsBacklog = 0;
  let lastRefusalLog = 0;
  try {
    store = init.clickhouseUrl
      ? await openClickHouseServer({ url: init.clickhouseUrl, database: init.database })
      : await openChdb({ dataDir: init.chdbDir, database: init.database });
    const m = await migrate(store);
    const forward = (name: WriterEventName) => (e: object) => {
      // Errors do not survive structured clone as themselves; the message is what a log needs.
      const plain: Record<string, unknown> = { ...(e as Record<string, unknown>) };
      if ('error' in plain) plain.error = toWire(plain.error).message;
      post({ t: 'writer', name, e: plain });
    };
    events = {
      onBatch: forward('onBatch'), onRetry: forward('onRetry'), onSpool: forward('onSpool'), onRefused: forward('onRefused'),
      onRejected: forward('onRejected'), onDropped: forward('onDropped'), onSpoolError: forward('onSpoolError'),
    };
    writers = createAnalyticsWriters(store, { spoolDir: init.spoolDir, repair: async () => void (await migrate(store)), events });
    post({ t: 'ready', kind: store.kind, database: store.database, version: m.version, applied: m.applied.map(String) });
  } catch (err) {
    post({ t: 'failed', error: toWire(err) });
    return;
  }
  // A write that fails is already counted by the writer's events (refused/dropped); the line
  // here says which table, for the node's log.
  const logFailure = (what: string) => (err: unknown) => post({ t: 'log', line: `analytics ${what} failed: ${toWire(err).message}` });
  const reply = (req: number, p: Promise<unknown>): void => {
    p.then(
      (result) => post({ t: 'reply', req, result }),
      (err: unknown) => {
        const chCode = clickHouseErrorCode(err);
        post({ t: 'reply', req, error: { ...toWire(err), ...(chCode === undefined ? {} : { chCode }) } });
      },
    );
  };
  port.on('message', (m: ToAnalytics) => {
    switch (m.t) {
      case 'query': return reply(m.req, store.query(m.sql));
      case 'command': return reply(m.req, store.command(m.sql));
      case 'insertRaw': return reply(m.req, store.insertRaw(m.table, m.body));
      case 'ping': return reply(m.req, store.ping());
      case 'flush': return reply(m.req, writers.flush());
      case 'close': return reply(m.req, writers.close(m.timeoutMs).then(() => store.close()));
      case 'accepted': {
        let n = 0;
        for (const b of m.batches) n += b.n - b.skip.length;
        if (n === 0) return;
        // The writer waits (does not refuse) while a healthy store is merely slower than ingest,
        // so calls would pile up here without end: beyond EVENTS_BACKLOG rows, refuse them,
        // counted like any refusal (vigil_clickhouse_refused_rows_total{table="events_raw"}).
        if (eventsBacklog + n > EVENTS_BACKLOG) {
          events.onRefused?.({ table: 'events_raw', rows: n });
          const now = Date.now();
          if (now - lastRefusalLog > 10_000) {
            lastRefusalLog = now;
            post({ t: 'log', line: `analytics: events_raw is ${eventsBacklog} rows behind; refusing rows until it catches up` });
          }
          return;
        }
        const lines: string[] = [];
        for (const b of m.batches) acceptedLines(b, m.kinds, lines);
        eventsBacklog += n;
        writers.events.writeLines(lines).then(
          () => void (eventsBacklog -= n),
          (err: unknown) => {
            eventsBacklog -= n;
            logFailure('events_raw write')(err);
          },
        );
        return;
      }
      case 'rollups': return void writers.rollups.write(m.rows).catch(logFailure('rollups write'));
      case 'alerts': return void writers.alerts.publish(m.alerts).catch(logFailure('alerts write'));
      case 'dlq': return void writers.dlq.write(m.rows.map(dlqRow)).catch(logFailure('dlq write'));
      case 'audit': return void writers.audit.write(m.rows.map(ingestAuditRow)).catch(logFailure('audit write'));
    }
  });
}

if (parentPort && (workerData as { chdbDir?: unknown } | undefined)?.chdbDir !== undefined) void main();
