// Messages between the main thread and the analytics worker, which owns the store (chDB runs its
// queries and inserts on the calling thread, so it must not be the uWS thread) and every table
// writer with its spool. Plain data only.
import type { AlertRecord, RollupRow } from '../../runtime/ports.js';
import type { AcceptedEvents } from '../../runtime/runtime-api.js';
import type { DlqInput, IngestAuditInput } from './rows.js';

export interface AnalyticsWorkerInit {
  /** A ClickHouse server over HTTP; absent: chDB in `chdbDir`. */
  clickhouseUrl?: string | undefined;
  chdbDir: string;
  database: string;
  spoolDir: string;
}

/**
 * Events the actors accepted, for events_raw: the runtime's `AcceptedEvents` of one routed batch
 * (its packed text as it went to its host, minus the positions in `skip`). Built into rows in the
 * worker, so the main thread does nothing per event.
 */
export type AcceptedBatch = AcceptedEvents;

export type ToAnalytics =
  | { t: 'query'; req: number; sql: string }
  | { t: 'command'; req: number; sql: string }
  | { t: 'insertRaw'; req: number; table: string; body: string }
  | { t: 'ping'; req: number }
  | { t: 'flush'; req: number }
  | { t: 'close'; req: number; timeoutMs?: number }
  | { t: 'accepted'; kinds: string[]; batches: AcceptedBatch[] }
  | { t: 'rollups'; rows: RollupRow[] }
  | { t: 'alerts'; alerts: AlertRecord[] }
  | { t: 'dlq'; rows: DlqInput[] }
  | { t: 'audit'; rows: IngestAuditInput[] };

export type WriterEventName = 'onBatch' | 'onRetry' | 'onSpool' | 'onRefused' | 'onRejected' | 'onDropped' | 'onSpoolError';

export type FromAnalytics =
  | { t: 'ready'; kind: 'server' | 'chdb'; database: string; version: number; applied: string[] }
  | { t: 'failed'; error: { code: string; message: string } }
  | { t: 'reply'; req: number; result?: unknown; error?: { code: string; message: string; chCode?: number } }
  | { t: 'writer'; name: WriterEventName; e: Record<string, unknown> }
  | { t: 'log'; line: string };
