// ClickHouse goes away for ~30 s (SIGKILL, then restart on the same data and port) while
// rollups and alerts keep arriving, some of them late corrections. Afterwards every row is
// present exactly once — through FINAL, and without FINAL after OPTIMIZE … FINAL — the spool
// is empty, and batches reached the server in the order they were cut.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../adapters/clickhouse/schema.js';
import { ALERT_COLUMNS, alertFromRow, ROLLUP_COLUMNS, rollupFromRow, type AlertsRow, type RollupsMinuteRow } from '../../adapters/clickhouse/rows.js';
import { ClickHouseAlertSink, ClickHouseRollupSink } from '../../adapters/clickhouse/sinks.js';
import { ClickHouseWriter, type WriterEvents } from '../../adapters/clickhouse/writer.js';
import type { AnalyticsStore } from '../../adapters/clickhouse/store.js';
import type { AlertLevelName, AlertRecord, RollupRow } from '../../runtime/ports.js';
import { useClickHouseServerEngine, type FreshStore } from './engines.js';

const OUTAGE_MS = 30_000;
const T0 = 1_735_689_600_000;
const LEVELS: AlertLevelName[] = ['low', 'medium', 'high', 'critical'];

/** Passes everything through and records, per table, the production index of each inserted row. */
class RecordingStore implements AnalyticsStore {
  readonly inserted = new Map<string, number[]>();
  constructor(private readonly inner: AnalyticsStore) {}
  get kind() {
    return this.inner.kind;
  }
  get database() {
    return this.inner.database;
  }
  command(sql: string) {
    return this.inner.command(sql);
  }
  insert(table: string, rows: readonly Record<string, unknown>[]) {
    return this.inner.insert(table, rows);
  }
  async insertRaw(table: string, body: string): Promise<void> {
    await this.inner.insertRaw(table, body);
    const seen = this.inserted.get(table) ?? [];
    for (const line of body.split('\n')) if (line) seen.push(orderOf(table, JSON.parse(line) as Record<string, unknown>));
    this.inserted.set(table, seen);
  }
  query<T>(sql: string) {
    return this.inner.query<T>(sql);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

// Each row carries its production index: rollups in `sum`, alerts in `value`.
function orderOf(table: string, row: Record<string, unknown>): number {
  return Number(table === 'rollups_minute' ? row['sum'] : row['value']);
}

const rollupKey = (r: RollupRow) => `${r.tenant}|${r.actorKind}|${r.actorId}|${r.metric}|${r.windowStart}`;
const alertKey = (a: AlertRecord) => `${a.tenant}|${a.alertId}|${a.state}|${a.level}`;
const byKey = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

describe('ClickHouse outage while writing', () => {
  const { engine, server } = useClickHouseServerEngine();
  let f: FreshStore;
  let spoolDir: string;
  beforeAll(async () => {
    f = await engine.fresh();
    await migrate(f.store, { viewsFile: null });
    spoolDir = await mkdtemp(join(tmpdir(), 'vigil-outage-spool-'));
  });
  afterAll(async () => {
    await f?.cleanup();
    await rm(spoolDir, { recursive: true, force: true });
  });

  it('loses nothing, doubles nothing, keeps order', { timeout: 240_000 }, async () => {
    const store = new RecordingStore(f.store);
    let maxSpool = 0;
    let retries = 0;
    const events: WriterEvents = {
      onSpool: (e) => (maxSpool = Math.max(maxSpool, e.files)),
      onRetry: () => retries++,
    };
    const common = { store, spoolDir, maxBatchRows: 300, flushIntervalMs: 200, retriesBeforeSpool: 2, backoffInitialMs: 50, backoffMaxMs: 1000, events };
    const rollupWriter = new ClickHouseWriter<RollupsMinuteRow>({ ...common, table: 'rollups_minute' });
    const alertWriter = new ClickHouseWriter<AlertsRow>({ ...common, table: 'alerts' });
    const rollups = new ClickHouseRollupSink(rollupWriter);
    const alerts = new ClickHouseAlertSink(alertWriter);

    const expectRollups = new Map<string, RollupRow>();
    const expectAlerts = new Map<string, AlertRecord>();
    const written: RollupRow[] = [];
    let n = 0; // production index, increasing across both tables
    let tick = 0;

    async function produce(): Promise<void> {
      const rs: RollupRow[] = [];
      const as: AlertRecord[] = [];
      for (let k = 0; k < 20; k++) {
        const r: RollupRow = {
          tenant: k % 3 === 0 ? 'globex' : 'acme', actorKind: k % 2 ? 'patient' : 'procedure', actorId: `a-${k}`, metric: k % 4 ? 'hr' : 'spo2',
          windowStart: T0 + tick * 60_000, windowMs: 60_000, revision: 1, final: false, count: 1 + (k % 5), min: 50 + k, max: 90 + k, sum: ++n,
        };
        rs.push(r);
        written.push(r);
      }
      // Late corrections: re-emit an earlier window with a higher revision (and sometimes a
      // stale lower one after it, which must not win).
      if (tick > 3) {
        const old = written[(tick * 7919) % (written.length - 20)]!;
        const cur = expectRollups.get(rollupKey(old)) ?? old;
        rs.push({ ...cur, revision: cur.revision + 1, final: true, count: cur.count + 1, sum: ++n });
        if (tick % 5 === 0) rs.push({ ...cur, revision: 0, count: 999, sum: ++n });
      }
      for (let k = 0; k < 5; k++) {
        const id = `acme/patient/p-${(tick * 5 + k) % 300}/news2`;
        const level = LEVELS[(tick + k) % 4]!;
        const state = (tick + k) % 3 === 0 ? 'resolved' : 'open';
        // Same (id, state, level) again later with a new value: the last one written must win.
        as.push({ alertId: id, tenant: 'acme', subjectKind: 'patient', subjectId: `p-${k}`, level, state, reason: `tick ${tick} "q" \n`, value: ++n, eventTime: T0 + tick * 1000 + k });
      }
      for (const r of rs) {
        const key = rollupKey(r);
        const prev = expectRollups.get(key);
        if (!prev || r.revision >= prev.revision) expectRollups.set(key, r);
      }
      for (const a of as) expectAlerts.set(alertKey(a), a);
      tick++;
      // write() and publish() are not awaited in order with the server: they only buffer.
      await rollups.write(rs);
      await alerts.publish(as);
    }

    async function produceFor(ms: number): Promise<void> {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await produce();
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    await produceFor(3_000);
    await rollups.flush();
    expect(rollupWriter.stats().spoolFiles).toBe(0);

    server().kill('SIGKILL');
    await produceFor(OUTAGE_MS);
    // The store has been down long enough: batches are on disk, not only in memory.
    expect(rollupWriter.stats().degraded).toBe(true);
    expect(rollupWriter.stats().spoolFiles).toBeGreaterThan(0);
    expect(alertWriter.stats().spoolFiles).toBeGreaterThan(0);
    expect(rollupWriter.stats().pendingRows).toBeLessThan(300);
    await server().restart();

    await produceFor(3_000);
    await Promise.all([rollups.flush(), alerts.flush()]);

    // Spool drained.
    for (const w of [rollupWriter, alertWriter]) {
      expect(w.stats()).toMatchObject({ spoolFiles: 0, spoolBytes: 0, pendingRows: 0, degraded: false, rejectedRows: 0, refusedRows: 0 });
      expect(await readdir(join(spoolDir, w.table))).toEqual([]);
    }
    expect(maxSpool).toBeGreaterThan(0);
    expect(retries).toBeGreaterThan(0);

    // Order preserved: rows reached the server in production order.
    for (const table of ['rollups_minute', 'alerts']) {
      const seq = store.inserted.get(table) ?? [];
      for (let i = 1; i < seq.length; i++) if (seq[i]! <= seq[i - 1]!) throw new Error(`${table}: row ${seq[i]} inserted after ${seq[i - 1]}`);
    }

    const wantRollups = [...expectRollups.values()].sort(byKey(rollupKey));
    const wantAlerts = [...expectAlerts.values()].sort(byKey(alertKey));
    expect(wantRollups.length).toBeGreaterThan(2000);

    const readRollups = async (final: string) =>
      (await f.store.query(`SELECT ${ROLLUP_COLUMNS} FROM rollups_minute ${final}`)).map(rollupFromRow).sort(byKey(rollupKey));
    const readAlerts = async (final: string) =>
      (await f.store.query(`SELECT ${ALERT_COLUMNS} FROM alerts ${final}`)).map(alertFromRow).sort(byKey(alertKey));

    expect(await readRollups('FINAL')).toEqual(wantRollups);
    expect(await readAlerts('FINAL')).toEqual(wantAlerts);

    await f.store.command('OPTIMIZE TABLE rollups_minute FINAL');
    await f.store.command('OPTIMIZE TABLE alerts FINAL');
    const counts = await f.store.query<{ r: string; a: string }>('SELECT (SELECT count() FROM rollups_minute) AS r, (SELECT count() FROM alerts) AS a');
    expect(Number(counts[0]!.r)).toBe(wantRollups.length);
    expect(Number(counts[0]!.a)).toBe(wantAlerts.length);
    expect(await readRollups('')).toEqual(wantRollups);
    expect(await readAlerts('')).toEqual(wantAlerts);

    console.log(
      `outage: ${n} rows produced, ${wantRollups.length} rollup windows, ${wantAlerts.length} alerts; ` +
        `max spool ${maxSpool} batches, ${retries} retries; rollup writer ${JSON.stringify(rollupWriter.stats())}`,
    );
    await rollups.close();
    await alerts.close();
  });
});
