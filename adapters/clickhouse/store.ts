// The analytics store: one small interface over a ClickHouse server (@clickhouse/client over
// HTTP) and embedded chDB (ClickHouse 26 in-process), so the schema, the writers and every read
// run the same SQL on both (DESIGN.md decision 9). SQL text only ever contains literals made by
// quote.ts; row data travels as JSONEachRow bodies.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { databaseName, ident } from './quote.js';

export type AnalyticsStoreKind = 'server' | 'chdb';

export interface AnalyticsStore {
  readonly kind: AnalyticsStoreKind;
  /** The database every unqualified table name refers to. */
  readonly database: string;
  /** Runs a statement that returns no rows (DDL, OPTIMIZE, INSERT … SELECT). */
  command(sql: string): Promise<void>;
  /** Inserts rows as JSONEachRow; keys are column names. `table` must be whitelisted (quote.ts). */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** Inserts an already-serialised JSONEachRow body (one JSON object per line). */
  insertRaw(table: string, jsonEachRow: string): Promise<void>;
  /**
   * Runs a SELECT (without a FORMAT clause) and returns its rows. 64-bit integers come back as
   * strings on both engines (ClickHouse's JSON default), so convert them with Number()/BigInt().
   */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** True when the store answers a trivial query. Never throws. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The ClickHouse error code of an error from either engine (or of its cause), if it came from
 * ClickHouse itself; undefined for network errors, timeouts and the like.
 */
export function clickHouseErrorCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (typeof e === 'object') {
      const o = e as { clickhouseCode?: unknown; code?: unknown; message?: unknown; cause?: unknown };
      if (typeof o.clickhouseCode === 'number') return o.clickhouseCode;
      // @clickhouse/client's ClickHouseError carries the code as a numeric string.
      if (typeof o.code === 'string' && /^\d+$/.test(o.code)) return Number(o.code);
      // 18.16 answers "Code: 62, e.displayText() = …", which the client does not parse.
      if (typeof o.message === 'string') {
        const m = /^Code: (\d+)[.,]/.exec(o.message) ?? /\bCode: (\d+)[.,] (?:e\.displayText\(\) = )?DB::Exception/.exec(o.message);
        if (m) return Number(m[1]);
      }
      e = o.cause;
    } else break;
  }
  return undefined;
}

function wrap(kind: AnalyticsStoreKind, what: string, err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new VigilError(ErrorCode.StoreUnavailable, `${kind === 'server' ? 'clickhouse' : 'chdb'} ${what}: ${msg.slice(0, 2000)}`, { cause: err });
}

function toJsonEachRow(rows: readonly Record<string, unknown>[]): string {
  let s = '';
  for (const r of rows) s += JSON.stringify(r) + '\n';
  return s;
}

function parseJsonEachRow<T>(text: string): T[] {
  const out: T[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start) out.push(JSON.parse(text.slice(start, end)) as T);
    start = end + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ClickHouse server over HTTP

export interface ClickHouseServerOptions {
  /** e.g. http://127.0.0.1:8123 */
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** Per request; a hung server fails a call after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Per insert (a 10 000-row batch takes tens of ms); a hung server fails it sooner. Default 10 s. */
  insertTimeoutMs?: number;
  /** Create the database at open (needs the server up). Default true; false opens without connecting. */
  createDatabase?: boolean;
}

class ServerStore implements AnalyticsStore {
  readonly kind = 'server' as const;
  constructor(
    private readonly client: ClickHouseClient,
    readonly database: string,
    private readonly insertTimeoutMs: number,
  ) {}

  async command(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw wrap(this.kind, 'command failed', err);
    }
  }

  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    return this.insertRaw(table, toJsonEachRow(rows));
  }

  async insertRaw(table: string, body: string): Promise<void> {
    const t = ident(table);
    if (body.length === 0) return;
    try {
      const res = await this.client.exec({
        query: `INSERT INTO ${t} FORMAT JSONEachRow`,
        values: Readable.from([Buffer.from(body, 'utf8')]),
        abort_signal: AbortSignal.timeout(this.insertTimeoutMs),
      });
      // Drain the (empty) answer so the keep-alive socket goes back to the pool.
      for await (const _ of res.stream) void _;
    } catch (err) {
      throw wrap(this.kind, `insert into ${table} failed`, err);
    }
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    try {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return parseJsonEachRow<T>(await rs.text());
    } catch (err) {
      throw wrap(this.kind, 'query failed', err);
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()).success;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function serverClient(o: ClickHouseServerOptions, database: string | undefined): ClickHouseClient {
  return createClient({
    url: o.url,
    ...(database === undefined ? {} : { database }),
    username: o.username ?? 'default',
    password: o.password ?? '',
    request_timeout: o.requestTimeoutMs ?? 30_000,
    application: 'vigil',
    // The writer reports failures through its own counters; the client would print every one.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/**
 * Connects over HTTP and creates `database` if it is missing (so the server must be up, unless
 * `createDatabase: false`).
 */
export async function openClickHouseServer(options: ClickHouseServerOptions): Promise<AnalyticsStore> {
  const db = databaseName(options.database);
  const store = new ServerStore(serverClient(options, options.database), options.database, options.insertTimeoutMs ?? 10_000);
  if (options.createDatabase === false) return store;
  const boot = serverClient(options, undefined);
  try {
    await boot.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  } catch (err) {
    await store.close();
    throw wrap('server', `cannot create database ${options.database} at ${options.url}`, err);
  } finally {
    await boot.close();
  }
  return store;
}

// ---------------------------------------------------------------------------------------------
// chDB (embedded)

export interface ChdbOptions {
  /** Where chDB keeps its data; created if missing. One data directory per process (libchdb). */
  dataDir: string;
  database: string;
}

type ChdbModule = typeof import('chdb');
type ChdbSession = InstanceType<ChdbModule['Session']>;

// libchdb is one engine per process: every call from every store goes through this one queue,
// so a slow query never overlaps a batch insert and close() never races a running operation.
let chdbQueue: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const run = chdbQueue.then(fn, fn);
  chdbQueue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

class ChdbStore implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  private closed = false;
  constructor(
    private readonly chdb: ChdbModule,
    private readonly session: ChdbSession,
    readonly database: string,
  ) {}

  private check(): void {
    if (this.closed) throw new VigilError(ErrorCode.StoreUnavailable, 'chdb store is closed');
  }

  command(sql: string): Promise<void> {
    return serial(async () => {
      this.check();
      try {
        await this.session.queryAsync(sql, { format: 'TabSeparated' });
      } catch (err) {
        throw wrap(this.kind, 'command failed', err);
      }
    });
  }

  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    return this.insertRaw(table, toJsonEachRow(rows));
  }

  insertRaw(table: string, body: string): Promise<void> {
    ident(table);
    if (body.length === 0) return Promise.resolve();
    return serial(async () => {
      this.check();
      try {
        await this.session.insert({ table: `${this.database}.${table}`, values: Buffer.from(body, 'utf8'), format: 'JSONEachRow' });
      } catch (err) {
        throw wrap(this.kind, `insert into ${table} failed`, err);
      }
    });
  }

  query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return serial(async () => {
      this.check();
      try {
        const res = await this.session.queryAsync(sql, { format: 'JSONEachRow' });
        return parseJsonEachRow<T>(res.text());
      } catch (err) {
        throw wrap(this.kind, 'query failed', err);
      }
    });
  }

  async ping(): Promise<boolean> {
    try {
      await this.query('SELECT 1 AS ok');
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return serial(async () => {
      if (this.closed) return;
      this.closed = true;
      this.session.close();
      // Lets a later open at another path succeed (libchdb binds one directory at a time).
      await this.chdb.drainPending();
    });
  }
}

// chDB reads ./config.xml from the working directory even when given a path, and that file
// may belong to something else entirely (it can even move the data path): always hand it our
// own, empty one.
const CHDB_CONFIG = '<?xml version="1.0"?>\n<clickhouse></clickhouse>\n';

/** Opens (or creates) a chDB data directory and `database` in it. */
export async function openChdb(options: ChdbOptions): Promise<AnalyticsStore> {
  const db = databaseName(options.database);
  const dataDir = resolve(options.dataDir);
  let chdb: ChdbModule;
  try {
    chdb = await import('chdb');
  } catch (err) {
    throw wrap('chdb', 'cannot load the chdb package', err);
  }
  return serial(async () => {
    try {
      await mkdir(dataDir, { recursive: true });
      const config = join(dataDir, 'vigil-chdb-config.xml');
      await writeFile(config, CHDB_CONFIG);
      const session = new chdb.Session(dataDir, {
        connectionArgs: [
          `--config-file=${config}`,
          // Same answers as the server the tests run (UTC, 64-bit integers as JSON strings).
          '--session_timezone=UTC',
          '--output_format_json_quote_64bit_integers=1',
        ],
      });
      try {
        await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${db}`, { format: 'TabSeparated' });
        await session.queryAsync(`USE ${db}`, { format: 'TabSeparated' });
      } catch (err) {
        session.close();
        throw err;
      }
      return new ChdbStore(chdb, session, options.database);
    } catch (err) {
      throw wrap('chdb', `cannot open ${dataDir}`, err);
    }
  });
}
