// ClickHouseWriter against a scripted fake store: batching, retries, the on-disk spool and its
// order, bounds, poison rows. The real-server version of the outage is outage.integration.test.ts.
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VigilError } from '../../runtime/errors.js';
import { ClickHouseWriter, type ClickHouseWriterOptions, type WriterEvents } from '../../adapters/clickhouse/writer.js';
import type { AnalyticsStore } from '../../adapters/clickhouse/store.js';

class FakeStore implements AnalyticsStore {
  readonly kind = 'server' as const;
  readonly database = 'fake';
  /** Successful inserts, in order. */
  readonly inserted: { table: string; lines: string[] }[] = [];
  attempts = 0;
  down = false;
  /** Rows containing this text make the whole insert fail like a parse error. */
  poison: string | undefined;
  missingTable = false;
  /** Extra latency per insert. */
  slowMs = 0;
  async command(): Promise<void> {}
  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    await this.insertRaw(table, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  async insertRaw(table: string, body: string): Promise<void> {
    this.attempts++;
    await new Promise((r) => setImmediate(r));
    if (this.slowMs > 0) await new Promise((r) => setTimeout(r, this.slowMs));
    if (this.down) throw new VigilError('store_unavailable', 'clickhouse insert failed: connect ECONNREFUSED 127.0.0.1:1', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    if (this.missingTable) throw new VigilError('store_unavailable', `clickhouse insert failed: Code: 60, e.displayText() = DB::Exception: Table fake.${table} doesn't exist.`);
    if (this.poison !== undefined && body.includes(this.poison)) {
      throw new VigilError('store_unavailable', 'clickhouse insert failed: Code: 27, e.displayText() = DB::Exception: Cannot parse input');
    }
    this.inserted.push({ table, lines: body.split('\n').filter(Boolean) });
  }
  async query<T>(): Promise<T[]> {
    return [];
  }
  async ping(): Promise<boolean> {
    return !this.down;
  }
  async close(): Promise<void> {}
  rows(): number[] {
    return this.inserted.flatMap((b) => b.lines.map((l) => (JSON.parse(l) as { i: number }).i));
  }
}

const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => ({ i: from + k, tag: `r${from + k}` }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
}

let dir: string;
let store: FakeStore;
const writers: ClickHouseWriter[] = [];
function writer(over: Partial<ClickHouseWriterOptions> = {}): ClickHouseWriter {
  const w = new ClickHouseWriter({ store, table: 'rollups_minute', spoolDir: dir, backoffInitialMs: 1, backoffMaxMs: 5, flushIntervalMs: 10_000, ...over });
  writers.push(w);
  return w;
}
async function spoolNames(): Promise<string[]> {
  return (await readdir(join(dir, 'rollups_minute')).catch(() => [] as string[])).sort();
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-spool-'));
  store = new FakeStore();
});
afterEach(async () => {
  store.down = false;
  store.poison = undefined;
  store.missingTable = false;
  await Promise.all(writers.splice(0).map((w) => w.close(100)));
  await rm(dir, { recursive: true, force: true });
});

describe('ClickHouseWriter', () => {
  it('cuts batches at maxBatchRows and sends them in order', async () => {
    const w = writer({ maxBatchRows: 100 });
    await w.write(rows(0, 250));
    await until(() => store.inserted.length === 2);
    expect(store.inserted.map((b) => b.lines.length)).toEqual([100, 100]);
    await w.flush();
    expect(store.inserted.map((b) => b.lines.length)).toEqual([100, 100, 50]);
    expect(store.rows()).toEqual(rows(0, 250).map((r) => r.i));
    expect(w.stats()).toMatchObject({ batches: 3, rows: 250, retries: 0, pendingRows: 0, spoolFiles: 0 });
  });

  it('cuts a partial batch after flushIntervalMs', async () => {
    const w = writer({ flushIntervalMs: 20 });
    await w.write(rows(0, 5));
    expect(store.inserted).toHaveLength(0);
    await until(() => store.inserted.length === 1);
    expect(store.rows()).toEqual([0, 1, 2, 3, 4]);
    expect(w.stats().batches).toBe(1);
  });

  it('retries a failed insert with backoff and reports each retry', async () => {
    const retries: number[] = [];
    const w = writer({ retriesBeforeSpool: 10, events: { onRetry: (e) => retries.push(e.attempt) } });
    store.down = true;
    await w.write(rows(0, 10));
    const flushed = w.flush();
    await until(() => retries.length >= 3);
    store.down = false;
    await flushed;
    expect(store.rows()).toEqual(rows(0, 10).map((r) => r.i));
    expect(retries.slice(0, 3)).toEqual([1, 2, 3]);
    expect(w.stats().retries).toBe(retries.length);
    expect(await spoolNames()).toEqual([]); // never counted as down
  });

  it('spools every batch while the store is down and drains the spool in order when it is back', async () => {
    const spool: number[] = [];
    const w = writer({ maxBatchRows: 10, retriesBeforeSpool: 1, events: { onSpool: (e) => spool.push(e.files) } });
    store.down = true;
    await w.write(rows(0, 35));
    await until(() => w.stats().spoolFiles === 3);
    // New batches go straight to disk while the store is down.
    await w.write(rows(35, 20));
    await w.write(rows(55, 3));
    const flushed = w.flush();
    await until(() => w.stats().spoolFiles === 6);
    expect(w.stats()).toMatchObject({ degraded: true, spoolFiles: 6, pendingRows: 0 });
    const names = await spoolNames();
    expect(names).toEqual([...names].sort());
    expect(names.every((n) => /^\d{16}\.ndjson$/.test(n))).toBe(true);
    const first = await readFile(join(dir, 'rollups_minute', names[0]!), 'utf8');
    expect(first.trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    store.down = false;
    await flushed;
    expect(store.rows()).toEqual(rows(0, 58).map((r) => r.i));
    expect(await spoolNames()).toEqual([]);
    expect(w.stats()).toMatchObject({ degraded: false, spoolFiles: 0, spoolBytes: 0, rows: 58, batches: 6 });
    expect(spool.at(-1)).toBe(0);
    expect(Math.max(...spool)).toBe(6);
  });

  it('a new writer sends spool files left by an earlier process first', async () => {
    const w1 = writer({ maxBatchRows: 10, retriesBeforeSpool: 0 });
    store.down = true;
    await w1.write(rows(0, 25));
    await w1.close(50); // store still down: everything ends up on disk
    expect(await spoolNames()).toHaveLength(3);
    expect(w1.stats().droppedRows).toBe(0);
    // A torn write from a crash is ignored and removed.
    await writeFile(join(dir, 'rollups_minute', '0000000000000099.ndjson.tmp'), '{"i":-1');

    store.down = false;
    const w2 = writer({ maxBatchRows: 10 });
    await w2.opened();
    await w2.write(rows(25, 5));
    await w2.flush();
    expect(store.rows()).toEqual(rows(0, 30).map((r) => r.i));
    expect(await spoolNames()).toEqual([]);
  });

  it('refuses writes beyond memory when the spool is full, and counts them', async () => {
    const refused: number[] = [];
    const w = writer({ maxBatchRows: 10, maxPendingRows: 20, maxSpoolBytes: 400, retriesBeforeSpool: 0, events: { onRefused: (e) => refused.push(e.rows) } });
    store.down = true;
    let accepted = 0;
    let error: unknown;
    for (let i = 0; i < 20 && error === undefined; i++) {
      try {
        await w.write(rows(accepted, 10));
        accepted += 10;
      } catch (err) {
        error = err;
      }
      await sleep(5);
    }
    expect(error).toBeInstanceOf(VigilError);
    expect((error as VigilError).code).toBe('overloaded');
    expect(refused).toEqual([10]);
    expect(w.stats().spoolBytes).toBeLessThanOrEqual(400);
    expect(w.stats().refusedRows).toBe(10);
    // Nothing accepted is lost once the store is back.
    store.down = false;
    await w.flush();
    expect(store.rows()).toEqual(rows(0, accepted).map((r) => r.i));
  });

  it('a healthy but slow store makes write() wait instead of refusing or spooling', async () => {
    const w = writer({ maxBatchRows: 10, maxPendingRows: 20 });
    store.slowMs = 20;
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) await w.write(rows(i * 10, 10));
    // 100 rows through a 20-row window at ~20 ms per 10-row batch: write() had to wait.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(60);
    expect(w.stats().pendingRows).toBeLessThanOrEqual(20);
    await w.flush();
    expect(store.rows()).toEqual(rows(0, 100).map((r) => r.i));
    expect(w.stats()).toMatchObject({ refusedRows: 0, spooledBatches: 0 });
  });

  it('keeps row order across concurrent write() calls when one of them has to wait', async () => {
    const w = writer({ maxBatchRows: 10, maxPendingRows: 20 });
    store.slowMs = 10;
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.write(rows(i * 10, 10 - (i % 3)))));
    await w.flush();
    const want = Array.from({ length: 10 }, (_, i) => rows(i * 10, 10 - (i % 3)).map((r) => r.i)).flat();
    expect(store.rows()).toEqual(want);
  });

  it('close() is idempotent and flush() after it returns', async () => {
    const w = writer();
    await w.write(rows(0, 3));
    await Promise.all([w.close(100), w.close(100)]);
    await w.flush();
    expect(store.rows()).toEqual([0, 1, 2]);
  });

  it('without a spool, close() reports rows it could not send', async () => {
    const dropped: number[] = [];
    const w = writer({ spoolDir: undefined, events: { onDropped: (e) => dropped.push(e.rows) } });
    store.down = true;
    await w.write(rows(0, 7));
    await w.close(30);
    expect(dropped).toEqual([7]);
    expect(w.stats().droppedRows).toBe(7);
    await expect(w.write(rows(7, 1))).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('drops only the rows the store rejects for their content', async () => {
    const rejected: string[] = [];
    const w = writer({ events: { onRejected: (e) => rejected.push(...e.lines) } });
    store.poison = '"tag":"r13"';
    await w.write(rows(0, 40));
    await w.flush();
    expect(store.rows()).toEqual(rows(0, 40).map((r) => r.i).filter((i) => i !== 13));
    expect(rejected).toEqual([JSON.stringify({ i: 13, tag: 'r13' })]);
    expect(w.stats()).toMatchObject({ rejectedRows: 1, retries: 0 });
  });

  it('calls repair before retrying when the table is missing', async () => {
    let repairs = 0;
    const w = writer({
      repair: async () => {
        repairs++;
        store.missingTable = false;
      },
    });
    store.missingTable = true;
    await w.write(rows(0, 3));
    await w.flush();
    expect(repairs).toBe(1);
    expect(store.rows()).toEqual([0, 1, 2]);
  });

  it('feeds callbacks suitable for metrics', async () => {
    const seen: string[] = [];
    const events: WriterEvents = {
      onBatch: (e) => seen.push(`batch ${e.table} ${e.rows} ${e.fromSpool}`),
      onSpool: (e) => seen.push(`spool ${e.files}`),
    };
    await mkdir(join(dir, 'rollups_minute'), { recursive: true });
    await writeFile(join(dir, 'rollups_minute', '0000000000000001.ndjson'), '{"i":100}\n{"i":101}\n');
    const w = writer({ events });
    await w.write(rows(0, 2));
    await w.flush();
    expect(seen).toEqual(['spool 1', 'spool 0', 'batch rollups_minute 2 true', 'batch rollups_minute 2 false']);
    expect(store.rows()).toEqual([100, 101, 0, 1]);
  });
});
