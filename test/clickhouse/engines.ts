// Both analytics engines for one test file: a real clickhouse-server (Debian 18.16, started by
// the harness on free ports) and chDB 26 in a temp data directory. Every test asks for a fresh
// database, dropped again by cleanup().
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { databaseName } from '../../adapters/clickhouse/quote.js';
import { openChdb, openClickHouseServer, type AnalyticsStore } from '../../adapters/clickhouse/store.js';
import { useClickHouse, type ClickHouseServer } from '../harness/servers.js';

export type EngineName = 'server' | 'chdb';

export interface FreshStore {
  readonly store: AnalyticsStore;
  readonly database: string;
  cleanup(): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  /** A store on a new, empty database. */
  fresh(): Promise<FreshStore>;
  /** Opens another store on an existing database (a second "process" view of it). */
  open(database: string): Promise<AnalyticsStore>;
}

export function freshDatabaseName(): string {
  return `vigil_t_${randomBytes(6).toString('hex')}`;
}

async function freshOn(open: (db: string) => Promise<AnalyticsStore>): Promise<FreshStore> {
  const database = freshDatabaseName();
  const store = await open(database);
  return {
    store,
    database,
    cleanup: async () => {
      try {
        await store.command(`DROP DATABASE IF EXISTS ${databaseName(database)}`);
      } finally {
        await store.close();
      }
    },
  };
}

/** Call at file (or describe) level; the returned getter works inside tests and hooks. */
export function useClickHouseServerEngine(): { engine: Engine; server: () => ClickHouseServer } {
  const server = useClickHouse();
  const open = (database: string) => openClickHouseServer({ url: server().url, database, requestTimeoutMs: 20_000 });
  return { server, engine: { name: 'server', open, fresh: () => freshOn(open) } };
}

/** One chDB data directory per file: libchdb binds a single directory per process. */
export function useChdbEngine(): { engine: Engine; dataDir: () => string } {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-chdb-'));
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    if (dir === undefined) throw new Error('chDB data dir not created yet: call inside a test or hook');
    return dir;
  };
  const open = (database: string) => openChdb({ dataDir: dataDir(), database });
  return { dataDir, engine: { name: 'chdb', open, fresh: () => freshOn(open) } };
}

/** Both engines, server first. */
export function useEngines(): Engine[] {
  return [useClickHouseServerEngine().engine, useChdbEngine().engine];
}
