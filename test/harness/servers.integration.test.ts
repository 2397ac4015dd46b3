import { createClient } from '@clickhouse/client';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { connect, headers, nanos, StorageType, StringCodec } from 'nats';
import { describe, expect, it } from 'vitest';
import { freePort, startClickHouse, startNats, startRedis, useClickHouse, useNats, useRedis } from './servers.js';

const unique = (): string => randomUUID().replace(/-/g, '').slice(0, 12);

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('freePort', () => {
  it('returns a port nobody listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await portAcceptsConnections(port)).toBe(false);
  });
});

describe('redis', () => {
  const redis = useRedis();

  it('answers SET/GET through ioredis', async () => {
    const client = new Redis(redis().url, { maxRetriesPerRequest: 1 });
    try {
      const key = `harness:${unique()}:k`;
      expect(await client.set(key, 'v1')).toBe('OK');
      expect(await client.get(key)).toBe('v1');
    } finally {
      client.disconnect();
    }
  });

  it('restart() keeps the port, gets a new pid, and serves again', async () => {
    const server = redis();
    const { port, url } = server;
    const pid = server.pid;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.url).toBe(url);
    expect(server.pid).not.toBe(pid);
    expect(server.running).toBe(true);
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});

describe('redis with appendonly', () => {
  it('keeps data across a SIGKILL + restart, and a connected client recovers', async () => {
    const server = await startRedis({ appendonly: true });
    // The default retry strategy backs off up to 2 s; a fault test wants it quicker.
    const client = new Redis(server.url, { retryStrategy: () => 50 });
    try {
      const key = `harness:${unique()}:aof`;
      await client.set(key, 'durable');
      // Redis write()s the AOF before replying; fsync policy only matters for an OS crash,
      // so the key must survive a SIGKILL of the process.
      server.kill('SIGKILL');
      await server.restart();
      expect(await client.get(key)).toBe('durable');
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('stop() ends the process, frees the port and removes the data dir', async () => {
    const server = await startRedis();
    const { port, dataDir } = server;
    expect(existsSync(dataDir)).toBe(true);
    await server.stop();
    expect(server.running).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    expect(await portAcceptsConnections(port)).toBe(false);
    await server.stop(); // idempotent
  });
});

describe('start failures', () => {
  it('names a missing binary', async () => {
    await expect(startRedis({ binary: '/nonexistent/redis-server' })).rejects.toThrow(
      /\/nonexistent\/redis-server: executable not found/,
    );
  });

  it('reports early exit with the log tail', async () => {
    const err: unknown = await startRedis({ extraArgs: ['--no-such-directive', 'x'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/redis-server \(redis, port \d+\) exited during startup/);
    expect(msg).toMatch(/no-such-directive/i);
  });
});

describe('nats', () => {
  const nats = useNats();
  const sc = StringCodec();

  it('dedupes on Nats-Msg-Id in a JetStream stream and reads it back', async () => {
    const nc = await connect({ servers: nats().url });
    try {
      const jsm = await nc.jetstreamManager();
      const stream = `HARNESS_${unique()}`;
      const subject = `${stream.toLowerCase()}.events`;
      await jsm.streams.add({
        name: stream,
        subjects: [subject],
        storage: StorageType.File,
        duplicate_window: nanos(60_000),
      });
      const js = nc.jetstream();
      const publish = () => {
        const h = headers();
        h.set('Nats-Msg-Id', 'msg-1');
        return js.publish(subject, sc.encode('hello'), { headers: h });
      };
      const first = await publish();
      const second = await publish();
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      expect(second.seq).toBe(first.seq);

      const stored = await jsm.streams.getMessage(stream, { seq: first.seq });
      expect(sc.decode(stored.data)).toBe('hello');
      expect(stored.header.get('Nats-Msg-Id')).toBe('msg-1');
      expect((await jsm.streams.info(stream)).state.messages).toBe(1);

      const consumer = await js.consumers.get(stream);
      const msg = await consumer.next({ expires: 5000 });
      expect(msg && sc.decode(msg.data)).toBe('hello');

      await jsm.streams.delete(stream);
    } finally {
      await nc.drain();
    }
  });

  it('restart() keeps the port and the JetStream store', async () => {
    const server = nats();
    const stream = `HARNESS_${unique()}`;
    const subject = `${stream.toLowerCase()}.x`;
    const nc1 = await connect({ servers: server.url });
    try {
      const jsm = await nc1.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File });
      await nc1.jetstream().publish(subject, sc.encode('persisted'));
    } finally {
      await nc1.drain();
    }
    const port = server.port;
    await server.restart();
    expect(server.port).toBe(port);
    const nc2 = await connect({ servers: server.url });
    try {
      const jsm = await nc2.jetstreamManager();
      const stored = await jsm.streams.getMessage(stream, { seq: 1 });
      expect(sc.decode(stored.data)).toBe('persisted');
      await jsm.streams.delete(stream);
    } finally {
      await nc2.drain();
    }
  });
});

describe('clickhouse', () => {
  const clickhouse = useClickHouse();

  it('runs SELECT 1, DDL, and a JSONEachRow insert/read-back via @clickhouse/client', async () => {
    const client = createClient({ url: clickhouse().url });
    const db = `harness_${unique()}`;
    try {
      const one = await client.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' });
      expect(await one.json<{ one: number }>()).toEqual([{ one: 1 }]);

      await client.command({ query: `CREATE DATABASE ${db}` });
      await client.command({
        query: `CREATE TABLE ${db}.vitals (patient String, ts UInt64, hr UInt16) ENGINE = MergeTree ORDER BY (patient, ts)`,
      });
      const rows = [
        { patient: 'p1', ts: 1, hr: 61 },
        { patient: 'p1', ts: 2, hr: 64 },
        { patient: 'p2', ts: 1, hr: 90 },
      ];
      await client.insert({ table: `${db}.vitals`, values: rows, format: 'JSONEachRow' });
      const back = await client.query({
        query: `SELECT patient, ts, hr FROM ${db}.vitals ORDER BY patient, ts`,
        format: 'JSONEachRow',
      });
      // UInt64 comes back as a string in JSON formats (output_format_json_quote_64bit_integers).
      expect(await back.json()).toEqual(rows.map((r) => ({ ...r, ts: String(r.ts) })));
      await client.command({ query: `DROP DATABASE ${db}` });
    } finally {
      await client.close();
    }
  });

  it('restart() keeps the port and the table data', async () => {
    const server = clickhouse();
    const db = `harness_${unique()}`;
    const c1 = createClient({ url: server.url });
    try {
      await c1.command({ query: `CREATE DATABASE ${db}` });
      await c1.command({ query: `CREATE TABLE ${db}.t (n UInt32) ENGINE = MergeTree ORDER BY n` });
      await c1.insert({ table: `${db}.t`, values: [{ n: 7 }], format: 'JSONEachRow' });
    } finally {
      await c1.close();
    }
    const port = server.httpPort;
    await server.restart();
    expect(server.httpPort).toBe(port);
    const c2 = createClient({ url: server.url });
    try {
      const r = await c2.query({ query: `SELECT n FROM ${db}.t`, format: 'JSONEachRow' });
      expect(await r.json()).toEqual([{ n: 7 }]);
      await c2.command({ query: `DROP DATABASE ${db}` });
    } finally {
      await c2.close();
    }
  });
});

describe('standalone start/stop timings', () => {
  // Not assertions on speed: a record in the test output of what a cold start costs here.
  it.each([
    ['redis', startRedis],
    ['nats', startNats],
    ['clickhouse', startClickHouse],
  ] as const)('%s starts and stops', async (_name, start) => {
    const t0 = performance.now();
    const server = await start();
    const started = performance.now() - t0;
    await server.stop();
    const stopped = performance.now() - t0 - started;
    console.log(`${server.kind}: ready in ${started.toFixed(0)} ms, stopped in ${stopped.toFixed(0)} ms`);
    expect(server.running).toBe(false);
  });
});
