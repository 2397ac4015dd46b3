// The main thread's side of the analytics worker: the same AnalyticsStore and sink ports as an
// in-thread store, each call a message. Accepted-event batches are queued for the current loop
// turn and leave in one message, so the uWS thread pays per turn, not per event or per batch.
import { Worker } from 'node:worker_threads';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { AlertRecord, AlertSink, RollupRow, RollupSink } from '../../runtime/ports.js';
import type { AcceptedBatch, AnalyticsWorkerInit, FromAnalytics, ToAnalytics } from './analytics-protocol.js';
import type { DlqInput, IngestAuditInput } from './rows.js';
import type { AnalyticsStore, AnalyticsStoreKind } from './store.js';
import type { WriterEvents } from './writer.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
/** A request message without its `req` (distributed over the union, so each keeps its fields). */
type Request = ToAnalytics extends infer U ? (U extends { req: number } ? Omit<U, 'req'> : never) : never;

function workerUrl(): URL {
  // From TypeScript sources (vitest) the worker must still be compiled JavaScript: `npm run build`.
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../../dist/adapters/clickhouse/analytics-worker.js', here);
  return new URL('./analytics-worker.js', here);
}

/** An error from the worker, with the ClickHouse code kept where the store had one. */
function rebuild(e: { code: string; message: string; chCode?: number }): VigilError {
  const err = new VigilError(e.code, e.message);
  if (e.chCode !== undefined) Object.assign(err, { cause: { code: String(e.chCode) } });
  return err;
}

export class AnalyticsWorkerClient {
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private queued: AcceptedBatch[] = [];
  private kinds: string[] = [];
  private flushScheduled = false;
  private closed = false;
  readonly store: AnalyticsStore;
  readonly rollups: RollupSink;
  readonly alerts: AlertSink;

  private constructor(
    private readonly worker: Worker,
    kind: AnalyticsStoreKind,
    database: string,
  ) {
    const call = <T>(m: Request): Promise<T> => this.call<T>(m);
    this.store = {
      kind,
      database,
      command: (sql) => call<void>({ t: 'command', sql }),
      insert: (table, rows) => call<void>({ t: 'insertRaw', table, body: rows.map((r) => JSON.stringify(r)).join('\n') }),
      insertRaw: (table, body) => call<void>({ t: 'insertRaw', table, body }),
      query: <T>(sql: string) => call<T[]>({ t: 'query', sql }),
      ping: () => call<boolean>({ t: 'ping' }).catch(() => false),
      close: () => this.close(),
    };
    this.rollups = {
      write: async (rows: readonly RollupRow[]) => this.post({ t: 'rollups', rows: rows as RollupRow[] }),
      close: async () => undefined,
    };
    this.alerts = {
      publish: async (alerts: readonly AlertRecord[]) => this.post({ t: 'alerts', alerts: alerts as AlertRecord[] }),
      close: async () => undefined,
    };
  }

  /** Starts the worker: opens the store and migrates it; rejects with the worker's error. */
  static async start(init: AnalyticsWorkerInit, events: WriterEvents, log: (line: string) => void): Promise<{ client: AnalyticsWorkerClient; version: number; applied: string[] }> {
    // libchdb loaded only by a worker thread is unloaded when that thread ends, and its static
    // destructors then crash the process (SIGSEGV at exit, seen on every shutdown path: terminate,
    // process.exit, a natural end). Loaded here too, it stays mapped until the process is gone.
    if (!init.clickhouseUrl) await import('chdb');
    return AnalyticsWorkerClient.spawn(init, events, log);
  }

  private static spawn(init: AnalyticsWorkerInit, events: WriterEvents, log: (line: string) => void): Promise<{ client: AnalyticsWorkerClient; version: number; applied: string[] }> {
    const worker = new Worker(workerUrl(), { workerData: init });
    return new Promise((resolve, reject) => {
      let client: AnalyticsWorkerClient | null = null;
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (client === null) reject(new VigilError(ErrorCode.StoreUnavailable, `analytics worker exited with ${code} while starting`));
        else client.onExit(code);
      });
      worker.on('message', (m: FromAnalytics) => {
        switch (m.t) {
          case 'ready':
            client = new AnalyticsWorkerClient(worker, m.kind, m.database);
            worker.off('error', reject);
            worker.on('error', (err: Error) => log(`analytics worker error: ${err.message}`));
            resolve({ client, version: m.version, applied: m.applied });
            return;
          case 'failed':
            void worker.terminate();
            reject(new VigilError(m.error.code, m.error.message));
            return;
          case 'reply':
            client?.onReply(m);
            return;
          case 'writer':
            (events[m.name] as ((e: unknown) => void) | undefined)?.(m.e);
            return;
          case 'log':
            log(m.line);
            return;
        }
      });
    });
  }

  private onReply(m: Extract<FromAnalytics, { t: 'reply' }>): void {
    const p = this.pending.get(m.req);
    if (!p) return;
    this.pending.delete(m.req);
    if (m.error) p.reject(rebuild(m.error));
    else p.resolve(m.result);
  }

  private onExit(code: number): void {
    const err = new VigilError(ErrorCode.StoreUnavailable, `analytics worker exited with ${code}`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.closed = true;
  }

  private call<T>(m: Request): Promise<T> {
    if (this.closed) return Promise.reject(new VigilError(ErrorCode.StoreUnavailable, 'analytics store is closed'));
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...m, req } as ToAnalytics);
    });
  }

  private post(m: ToAnalytics): void {
    if (!this.closed) this.worker.postMessage(m);
  }

  /** Accepted events of one batch; leaves with the rest of this turn's. */
  accepted(kinds: string[], b: AcceptedBatch): void {
    if (this.closed) return;
    this.kinds = kinds;
    this.queued.push(b);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushAccepted);
  }

  private readonly flushAccepted = (): void => {
    this.flushScheduled = false;
    if (this.queued.length === 0) return;
    const batches = this.queued;
    this.queued = [];
    this.post({ t: 'accepted', kinds: this.kinds, batches });
  };

  deadLetters(rows: DlqInput[]): void {
    this.post({ t: 'dlq', rows });
  }

  audit(rows: IngestAuditInput[]): void {
    this.post({ t: 'audit', rows });
  }

  /** Everything queued reaches the writers, and they their store. */
  async flush(): Promise<void> {
    this.flushAccepted();
    await this.call<void>({ t: 'flush' });
  }

  async close(timeoutMs?: number): Promise<void> {
    if (this.closed) return;
    this.flushAccepted();
    try {
      await this.call<void>({ t: 'close', ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    } finally {
      this.closed = true;
      await this.worker.terminate();
    }
  }
}
