// A batched, outage-proof writer for one analytics table.
//
// Rows are serialised to JSON lines as they arrive and cut into batches at `maxBatchRows`
// (10 000) or `flushIntervalMs` (1 s) after the first buffered row, whichever comes first.
// Batches are numbered and sent strictly in that order by a single sender. A failed insert is
// retried with capped exponential backoff; after `retriesBeforeSpool` failures the store counts
// as down and every batch in memory, and every new one, goes to `<spoolDir>/<table>/<seq>.ndjson`
// (spool.ts), to be sent — oldest first — once the store answers again. Spool files left by a
// previous process are found at start and sent first.
//
// Every table's key makes a row idempotent (ReplacingMergeTree), so a batch that is sent
// again after an ambiguous failure does not double anything once reads use FINAL or argMax.
// A batch ClickHouse rejects for its content (a parse error, not an outage) is split in halves
// until the bad rows are isolated; those are dropped and reported, the rest is written.
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { ident } from './quote.js';
import type { TableName } from './schema.js';
import { listSpool, writeSpoolFile } from './spool.js';
import { clickHouseErrorCode, type AnalyticsStore } from './store.js';

export interface WriterBatchEvent {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
  /** Time the successful insert took (the last attempt). */
  readonly seconds: number;
  /** True when the batch had been spooled to disk. */
  readonly fromSpool: boolean;
}

/**
 * Callbacks for metrics and logs. They run synchronously inside the writer and must not
 * throw. `writerMetrics(metrics)` builds a set that feeds the runtime's Metrics port.
 */
export interface WriterEvents {
  /** A batch reached the store. */
  onBatch?(e: WriterBatchEvent): void;
  /** An insert failed and will be retried after `delayMs`. */
  onRetry?(e: { readonly table: string; readonly attempt: number; readonly delayMs: number; readonly error: unknown }): void;
  /** The spool changed: how many batches and bytes are on disk now. */
  onSpool?(e: { readonly table: string; readonly files: number; readonly bytes: number }): void;
  /** Rows turned away by write() because memory and spool were both full. */
  onRefused?(e: { readonly table: string; readonly rows: number }): void;
  /** Rows the store refused for their content; dropped after bisecting the batch. */
  onRejected?(e: { readonly table: string; readonly lines: readonly string[]; readonly error: unknown }): void;
  /** Rows still only in memory when close() gave up (no spool configured, or spool full). */
  onDropped?(e: { readonly table: string; readonly rows: number }): void;
  /**
   * A spool file that is no longer needed could not be removed. Nothing is lost: it is sent
   * again at the next start, which the tables' keys make harmless, but the disk keeps it.
   */
  onSpoolError?(e: { readonly table: string; readonly path: string; readonly error: unknown }): void;
}

export interface ClickHouseWriterOptions {
  store: AnalyticsStore;
  table: TableName;
  /** Spool root; batches go to `<spoolDir>/<table>/<seq>.ndjson`. Without it nothing is spooled. */
  spoolDir?: string | undefined;
  /** Rows per insert. Default 10 000. */
  maxBatchRows?: number;
  /** A batch is cut this long after its first row at the latest. Default 1000 ms. */
  flushIntervalMs?: number;
  /**
   * Rows held in memory (unsent, unspooled). Beyond it write() waits while the store is up, and
   * spools or refuses while it is down. Default 50 000.
   */
  maxPendingRows?: number;
  /** Spool size bound; beyond it batches stay in memory and then write() refuses. Default 1 GiB. */
  maxSpoolBytes?: number;
  /** Failed attempts on one batch before the store counts as down and batches go to disk. Default 2. */
  retriesBeforeSpool?: number;
  /** First retry delay. Default 100 ms. */
  backoffInitialMs?: number;
  /** Retry delay cap. Default 5000 ms. */
  backoffMaxMs?: number;
  events?: WriterEvents | undefined;
  /**
   * Called before a retry when the table or database is missing (a server whose data was
   * wiped), e.g. `() => migrate(store)`. Errors it throws count as one more failed attempt.
   */
  repair?: ((error: unknown) => Promise<void>) | undefined;
}

export interface WriterStats {
  /** Batches and rows that reached the store. */
  batches: number;
  rows: number;
  /** Failed insert attempts (each is retried). */
  retries: number;
  /** Batches written to the spool, ever; and what is on disk now. */
  spooledBatches: number;
  spoolFiles: number;
  spoolBytes: number;
  /** Rows accepted but only in memory (buffer + unspooled batches). */
  pendingRows: number;
  refusedRows: number;
  rejectedRows: number;
  droppedRows: number;
  /** Spool files that could not be removed after use (see WriterEvents.onSpoolError). */
  spoolErrors: number;
  /** True while inserts fail and new batches go straight to the spool. */
  degraded: boolean;
}

interface Batch {
  readonly seq: number;
  /** Row count; -1 until a batch found on disk at start has been read. */
  rows: number;
  bytes: number;
  /** The JSONEachRow body while the batch is in memory. */
  body: string | undefined;
  /** The spool file once it is on disk. */
  file: string | undefined;
  /** A spool write in progress. */
  spilling: Promise<void> | undefined;
  sending: boolean;
}

// ClickHouse error codes that blame the data, not the server: retrying cannot help.
const DATA_ERRORS = new Set([6, 25, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349]);
// Table or database missing: worth a repair (migrate) before the next attempt.
const MISSING_ERRORS = new Set([60, 81]);

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * A batching writer for one table. `write()` accepts rows into memory and returns at once
 * (it waits when `maxPendingRows` are in memory, and throws `overloaded` when the store is down
 * and neither memory nor spool has room); `flush()` waits until everything accepted so far is
 * in the store.
 */
export class ClickHouseWriter<Row extends object = Record<string, unknown>> {
  readonly table: TableName;
  private readonly store: AnalyticsStore;
  private readonly dir: string | undefined;
  private readonly maxBatchRows: number;
  private readonly flushIntervalMs: number;
  private readonly maxPendingRows: number;
  private readonly maxSpoolBytes: number;
  private readonly retriesBeforeSpool: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly events: WriterEvents;
  private readonly repair: ((error: unknown) => Promise<void>) | undefined;

  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Unsent batches, ascending seq. */
  private pending: Batch[] = [];
  private nextSeq = 1;
  private memoryRows = 0;
  private spoolBytes = 0;
  private spoolFiles = 0;
  private readonly counters = { batches: 0, rows: 0, retries: 0, spooledBatches: 0, refusedRows: 0, rejectedRows: 0, droppedRows: 0, spoolErrors: 0 };
  private degraded = false;
  /** The batch at the head has failed at least once and not yet succeeded. */
  private failing = false;
  private pumping: Promise<void> | undefined;
  private spillChain: Promise<void> = Promise.resolve();
  private waiters: { seq: number; resolve: () => void }[] = [];
  /** write() calls waiting for memory (backpressure). */
  private progress: (() => void)[] = [];
  private writeChain: Promise<void> = Promise.resolve();
  private closed: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private closing = false;
  private stopped = false;
  /** The spool directory could not be opened: nothing will ever be sent. */
  private broken = false;
  private readonly ready: Promise<void>;
  private lastError: unknown;

  constructor(options: ClickHouseWriterOptions) {
    ident(options.table);
    this.table = options.table;
    this.store = options.store;
    this.dir = options.spoolDir === undefined ? undefined : join(options.spoolDir, options.table);
    this.maxBatchRows = Math.max(1, options.maxBatchRows ?? 10_000);
    this.flushIntervalMs = Math.max(1, options.flushIntervalMs ?? 1000);
    this.maxPendingRows = Math.max(this.maxBatchRows, options.maxPendingRows ?? 50_000);
    this.maxSpoolBytes = options.maxSpoolBytes ?? 1024 ** 3;
    this.retriesBeforeSpool = Math.max(0, options.retriesBeforeSpool ?? 2);
    this.backoffInitialMs = Math.max(1, options.backoffInitialMs ?? 100);
    this.backoffMaxMs = Math.max(this.backoffInitialMs, options.backoffMaxMs ?? 5000);
    this.events = options.events ?? {};
    this.repair = options.repair;
    this.ready = this.loadSpool();
    // A failed load also rejects every write()/flush() and stops the sender; recording it here
    // keeps it from being an unhandled rejection before either has run.
    this.ready.catch((err: unknown) => {
      this.lastError = err;
    });
    this.kick();
  }

  /** Resolves once spool files from an earlier run have been found (they are sent first). */
  async opened(): Promise<void> {
    await this.ready;
  }

  stats(): WriterStats {
    return {
      ...this.counters,
      spoolFiles: this.spoolFiles,
      spoolBytes: this.spoolBytes,
      pendingRows: this.memoryRows + this.buffer.length,
      degraded: this.degraded,
    };
  }

  /** The last insert error, for readiness pages; undefined after a success. */
  get error(): unknown {
    return this.lastError;
  }

  /**
   * Accepts rows (objects whose keys are the table's columns). Returns once they are buffered;
   * waits while `maxPendingRows` are already in memory and the store is working through them;
   * throws VigilError('overloaded') when the store is down and memory and spool are both full,
   * ('shutting_down') after close().
   */
  write(rows: readonly Row[]): Promise<void> {
    return this.writeLines(rows, true);
  }

  /**
   * Rows already serialised, one JSONEachRow line each (exactly what `write` would make of the
   * row objects); for callers that build the text directly (events_raw, the hot table).
   */
  writeLines(lines: readonly string[]): Promise<void>;
  writeLines(rows: readonly Row[], serialise: true): Promise<void>;
  writeLines(rows: readonly (Row | string)[], serialise = false): Promise<void> {
    if (this.closing) return Promise.reject(new VigilError(ErrorCode.ShuttingDown, `clickhouse writer for ${this.table} is closed`));
    if (rows.length === 0) return Promise.resolve();
    // Calls are admitted one after another, so rows keep their order even when one call has
    // to wait for memory (alerts without a version column rely on it: the last one wins).
    const run = this.writeChain.then(() => this.admit(rows, serialise));
    // The caller gets this call's error through `run`; the next call must not inherit it.
    this.writeChain = run.then(noop, noop);
    return run;
  }

  private async admit(rows: readonly (Row | string)[], serialise: boolean): Promise<void> {
    await this.ready;
    if (this.memoryRows + this.buffer.length + rows.length > this.maxPendingRows) await this.makeRoom(rows.length);
    for (const r of rows) {
      const line = serialise ? JSON.stringify(r) : (r as string);
      this.buffer.push(line);
      if (this.buffer.length >= this.maxBatchRows) this.cut();
    }
    if (this.buffer.length > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.cut();
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Waits until every row accepted before this call is in the store (through outages). */
  async flush(): Promise<void> {
    await this.ready;
    await this.writeChain;
    this.cut();
    const target = this.pending.at(-1)?.seq;
    if (target === undefined || this.stopped) return;
    await new Promise<void>((resolve) => this.waiters.push({ seq: target, resolve }));
  }

  /**
   * Stops accepting rows and sends what is left for up to `timeoutMs`; what is still unsent
   * then is spooled (if a spool is configured and has room) for the next start, else dropped
   * and reported through onDropped. Does not close the store.
   */
  close(timeoutMs = 10_000): Promise<void> {
    this.closed ??= this.shutdown(timeoutMs);
    return this.closed;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.notifyProgress();
    // A spool that never opened was recorded as lastError; there is still memory to account for.
    await this.ready.then(noop, noop);
    await this.writeChain;
    this.cut();
    let timer: NodeJS.Timeout | undefined;
    const last = this.pending.at(-1)?.seq;
    const drained = last === undefined ? Promise.resolve() : new Promise<void>((r) => this.waiters.push({ seq: last, resolve: r }));
    await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.stopped = true;
    this.wake?.();
    await this.pumping;
    if (this.dir !== undefined) await this.spill(this.pending);
    await this.spillChain;
    const lost = this.pending.filter((b) => b.body !== undefined && b.file === undefined).reduce((n, b) => n + b.rows, 0);
    if (lost > 0) {
      this.counters.droppedRows += lost;
      this.events.onDropped?.({ table: this.table, rows: lost });
    }
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  // -------------------------------------------------------------------------------------------

  private async loadSpool(): Promise<void> {
    if (this.dir === undefined) return;
    const { files, temps } = await listSpool(this.dir);
    // A temp file is a spool write that never completed: its batch was still in memory.
    for (const path of temps) await this.discard(path);
    const found = files.map((f): Batch => ({ seq: f.seq, rows: -1, bytes: f.bytes, body: undefined, file: f.path, spilling: undefined, sending: false }));
    this.pending.unshift(...found);
    this.spoolFiles = found.length;
    this.spoolBytes = found.reduce((n, b) => n + b.bytes, 0);
    this.nextSeq = Math.max(this.nextSeq, (found[found.length - 1]?.seq ?? 0) + 1);
    if (found.length > 0) this.events.onSpool?.({ table: this.table, files: this.spoolFiles, bytes: this.spoolBytes });
  }

  /** Turns the buffer into a batch at the end of the queue. */
  private cut(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer.length === 0) return;
    const body = this.buffer.join('\n') + '\n';
    const batch: Batch = { seq: this.nextSeq++, rows: this.buffer.length, bytes: Buffer.byteLength(body), body, file: undefined, spilling: undefined, sending: false };
    this.buffer = [];
    this.pending.push(batch);
    this.memoryRows += batch.rows;
    // While the store is down nothing is kept only in memory.
    if (this.degraded && this.dir !== undefined) void this.spill([batch]);
    this.kick();
  }

  /**
   * Makes memory for `n` more rows. While the store is healthy this is backpressure: wait for
   * the sender to finish batches. While it is down, spool queued batches; refuse only when
   * there is no spool or it is full.
   */
  private async makeRoom(n: number): Promise<void> {
    this.cut();
    const fits = () => this.memoryRows + this.buffer.length + n <= this.maxPendingRows;
    while (!fits() && !this.closing) {
      // Healthy store: wait for it. One that has just failed (maybe hung until a timeout) gets
      // no benefit of the doubt: spool rather than stall the producer.
      if (!this.degraded && !this.failing) {
        await new Promise<void>((resolve) => this.progress.push(resolve));
        continue;
      }
      if (this.dir !== undefined) await this.spill(this.pending.filter((b) => !b.sending));
      if (fits()) return;
      this.counters.refusedRows += n;
      this.events.onRefused?.({ table: this.table, rows: n });
      throw new VigilError(
        ErrorCode.Overloaded,
        `clickhouse writer for ${this.table}: the store is unreachable, ${this.memoryRows} rows wait in memory and the spool ${this.dir === undefined ? 'is not configured' : 'is full'}`,
      );
    }
    // Closing: rows written before close() was called are taken over the memory bound, so the
    // shutdown spools them (or counts them dropped without a spool) instead of losing them to
    // an error nobody can act on; close() waits for them (writeChain) before it spills.
  }

  private notifyProgress(): void {
    for (const r of this.progress.splice(0)) r();
  }

  /** Writes the given in-memory batches to the spool, in order, one writer at a time. */
  private spill(batches: readonly Batch[]): Promise<void> {
    const run = this.spillChain.then(async () => {
      for (const b of batches) {
        if (b.body === undefined || b.file !== undefined || b.sending || !this.pending.includes(b)) continue;
        if (this.spoolBytes + b.bytes > this.maxSpoolBytes) break; // later batches stay in memory
        const p = this.writeSpoolFile(b);
        b.spilling = p;
        try {
          await p;
        } catch (err) {
          this.lastError = err;
          break;
        } finally {
          b.spilling = undefined;
        }
      }
    });
    // Spool write errors were recorded as lastError above; the chain only has to go on.
    this.spillChain = run.then(noop, (err: unknown) => {
      this.lastError = err;
    });
    return run;
  }

  private async writeSpoolFile(b: Batch): Promise<void> {
    const path = await writeSpoolFile(this.dir!, b.seq, b.body!);
    this.counters.spooledBatches++;
    if (!this.pending.includes(b)) {
      // Sent while we were writing: the file is not needed.
      await this.discard(path);
      return;
    }
    b.file = path;
    b.body = undefined;
    this.memoryRows -= b.rows;
    this.spoolFiles++;
    this.spoolBytes += b.bytes;
    this.events.onSpool?.({ table: this.table, files: this.spoolFiles, bytes: this.spoolBytes });
  }

  private kick(): void {
    if (this.pumping !== undefined || this.stopped || this.broken) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (!this.stopped && this.pending.length > 0) this.kick();
    });
  }

  /** The single sender: oldest batch first, until the queue is empty or the writer stops. */
  private async pump(): Promise<void> {
    try {
      await this.ready;
    } catch (err) {
      this.lastError = err;
      this.broken = true;
      return;
    }
    let attempt = 0;
    while (!this.stopped) {
      const b = this.pending[0];
      if (b === undefined) return;
      // A failed spool write was recorded by spill(); the batch is still in memory to send.
      if (b.spilling) await b.spilling.then(noop, noop);
      b.sending = true;
      let ok = false;
      let error: unknown;
      const fromSpool = b.file !== undefined;
      const t0 = performance.now();
      let body: string | undefined = b.body;
      if (body === undefined) {
        try {
          body = await readFile(b.file!, 'utf8');
        } catch (err) {
          // Removed or unreadable behind our back: nothing left to send for this batch.
          b.sending = false;
          this.lastError = err;
          this.counters.droppedRows += Math.max(0, b.rows);
          this.events.onDropped?.({ table: this.table, rows: Math.max(0, b.rows) });
          await this.complete(b, false);
          continue;
        }
      }
      if (b.rows < 0) b.rows = countLines(body);
      try {
        await this.send(body);
        ok = true;
      } catch (err) {
        error = err;
      } finally {
        b.sending = false;
      }
      if (ok) {
        attempt = 0;
        this.failing = false;
        this.degraded = false;
        this.lastError = undefined;
        await this.complete(b);
        this.events.onBatch?.({ table: this.table, rows: b.rows, bytes: b.bytes, seconds: (performance.now() - t0) / 1000, fromSpool });
        continue;
      }
      attempt++;
      this.counters.retries++;
      if (!this.failing) {
        this.failing = true;
        this.notifyProgress();
      }
      this.lastError = error;
      if (attempt > this.retriesBeforeSpool && !this.degraded) {
        this.degraded = true;
        if (this.dir !== undefined) void this.spill(this.pending);
        this.notifyProgress();
      }
      const delayMs = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(attempt - 1, 30));
      const jittered = Math.round(delayMs * (0.8 + Math.random() * 0.4));
      this.events.onRetry?.({ table: this.table, attempt, delayMs: jittered, error });
      await this.sleep(jittered);
      if (this.repair && MISSING_ERRORS.has(clickHouseErrorCode(error) ?? -1) && !this.stopped) {
        try {
          await this.repair(error);
        } catch (err) {
          this.lastError = err;
        }
      }
    }
  }

  /** Inserts a body; content errors are bisected down to the offending rows, which are dropped. */
  private async send(body: string): Promise<void> {
    try {
      await this.store.insertRaw(this.table, body);
    } catch (err) {
      if (!DATA_ERRORS.has(clickHouseErrorCode(err) ?? -1)) throw err;
      const lines = body.split('\n').filter((l) => l.length > 0);
      if (lines.length <= 1) {
        this.counters.rejectedRows += lines.length;
        this.events.onRejected?.({ table: this.table, lines, error: err });
        return;
      }
      const mid = lines.length >>> 1;
      await this.send(lines.slice(0, mid).join('\n') + '\n');
      await this.send(lines.slice(mid).join('\n') + '\n');
    }
  }

  private async complete(b: Batch, delivered = true): Promise<void> {
    this.pending.shift();
    if (delivered) {
      this.counters.batches++;
      this.counters.rows += b.rows;
    }
    if (b.body !== undefined) this.memoryRows -= b.rows;
    if (b.file !== undefined) {
      await this.discard(b.file);
      this.spoolFiles--;
      this.spoolBytes -= b.bytes;
      this.events.onSpool?.({ table: this.table, files: this.spoolFiles, bytes: this.spoolBytes });
    }
    this.notifyProgress();
    const oldest = this.pending[0]?.seq ?? Number.POSITIVE_INFINITY;
    this.waiters = this.waiters.filter((w) => {
      if (w.seq < oldest) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** Removes a spool file that is no longer needed; a failure is counted and reported, not fatal. */
  private async discard(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // already gone: nothing left behind
      this.counters.spoolErrors++;
      this.events.onSpoolError?.({ table: this.table, path, error: err });
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

function noop(): void {}
