// The Redis snapshot store when Redis misbehaves: down, hung, restarted, killed mid-commit; and
// two clusters sharing one server. The server runs with an AOF so data survives restart().
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisSnapshotStore } from '../../adapters/redis/index.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { SnapshotRecord, SnapshotStore } from '../../runtime/ports.js';
import { freePort, useRedis, type RedisServer } from '../harness/servers.js';

const redis = useRedis({ appendonly: true });
const freshPrefix = (): string => `vigil:{f-${randomUUID().slice(0, 12)}}:`;
const rec = (key: string, data: string, seq: number): SnapshotRecord => ({ key, data, seq });

const stores: SnapshotStore[] = [];
function open(prefix = freshPrefix(), timeoutMs?: number): RedisSnapshotStore {
  const s = new RedisSnapshotStore({ client: redis().url, prefix, ...(timeoutMs ? { timeoutMs } : {}) });
  stores.push(s);
  return s;
}
afterEach(async () => {
  // A test that failed halfway may leave the server down or paused for the next one.
  const server = redis();
  if (!server.running) await server.restart();
  else server.kill('SIGCONT');
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

/** The rejection of `p`, checked to be a store_unavailable VigilError, and how long it took. */
async function unavailable(p: Promise<unknown>, withCause = true): Promise<{ err: VigilError; ms: number }> {
  const t0 = Date.now();
  const err = await p.then(
    () => {
      throw new Error('expected the operation to reject');
    },
    (e: unknown) => e,
  );
  const ms = Date.now() - t0;
  expect(err).toBeInstanceOf(VigilError);
  expect((err as VigilError).code).toBe(ErrorCode.StoreUnavailable);
  // The ioredis error underneath, for logs.
  if (withCause) expect((err as VigilError).cause).toBeDefined();
  return { err: err as VigilError, ms };
}

async function stopServer(server: RedisServer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  server.kill(signal);
  const deadline = Date.now() + 10_000;
  while (server.running) {
    if (Date.now() > deadline) throw new Error('redis did not exit');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The part of a key Redis Cluster hashes (cluster spec: first `{`, then the next `}`). */
function hashTag(key: string): string {
  const s = key.indexOf('{');
  const e = s < 0 ? -1 : key.indexOf('}', s + 1);
  return e > s + 1 ? key.slice(s + 1, e) : key;
}

/** Retries `fn` until it succeeds (the store reconnects on its own) or `ms` pass. */
async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('RedisSnapshotStore: Redis down', () => {
  it('rejects load, commit and checkpoints with store_unavailable within 3 s, then works again after restart with the data kept', async () => {
    const server = redis();
    const store = open();
    await store.commit({ snapshots: [rec('a', 'before\nrestart', 7)], keyGroups: [3], checkpointSeq: 7 });

    await stopServer(server);
    for (const op of [
      store.load(['a']),
      store.commit({ snapshots: [rec('b', 'x', 8)], keyGroups: [3], checkpointSeq: 8 }),
      store.checkpoints([3]),
    ]) {
      const { ms } = await unavailable(op);
      expect(ms).toBeLessThan(3000);
    }
    // Still failing fast a while later, during ioredis' reconnect attempts (no offline queue).
    await new Promise((r) => setTimeout(r, 700));
    expect((await unavailable(store.load(['a']))).ms).toBeLessThan(3000);

    await server.restart();
    // The same instance, reconnected by ioredis; the AOF brought the committed data back.
    expect(await eventually(() => store.load(['a', 'b']))).toEqual([rec('a', 'before\nrestart', 7), undefined]);
    expect(await store.checkpoints([3])).toEqual([7]);
    await store.commit({ snapshots: [rec('b', 'after', 9)], keyGroups: [3], checkpointSeq: 9 });
    expect(await store.load(['a', 'b'])).toEqual([rec('a', 'before\nrestart', 7), rec('b', 'after', 9)]);
    expect(await store.checkpoints([3])).toEqual([9]);
  });

  it('rejects within its deadline when Redis hangs (SIGSTOP), and catches up after SIGCONT', async () => {
    const server = redis();
    const store = open(freshPrefix(), 500);
    await store.commit({ snapshots: [rec('k', 'v1', 1)], keyGroups: [1], checkpointSeq: 1 });
    server.kill('SIGSTOP');
    try {
      const { ms, err } = await unavailable(store.load(['k']));
      expect(ms).toBeGreaterThanOrEqual(450);
      expect(ms).toBeLessThan(3000);
      expect(err.message).toMatch(/no reply within 500 ms/);
      expect((await unavailable(store.checkpoints([1]))).ms).toBeLessThan(3000);
    } finally {
      server.kill('SIGCONT');
    }
    expect(await eventually(() => store.load(['k']))).toEqual([rec('k', 'v1', 1)]);
    expect(await store.checkpoints([1])).toEqual([1]);
  });

  it('a store created while nothing listens fails fast instead of waiting to connect', async () => {
    const port = await freePort();
    const store = new RedisSnapshotStore({ client: `redis://127.0.0.1:${port}`, prefix: freshPrefix() });
    stores.push(store);
    expect((await unavailable(store.load(['x']))).ms).toBeLessThan(3000);
    expect((await unavailable(store.commit({ snapshots: [], keyGroups: [1], checkpointSeq: 1 }))).ms).toBeLessThan(3000);
    const t0 = Date.now();
    await store.close();
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('RedisSnapshotStore: atomic commits', () => {
  it('a commit issued while Redis is down writes nothing, seen after restart', async () => {
    const server = redis();
    const store = open();
    await store.commit({ snapshots: [rec('k0', 'kept', 1)], keyGroups: [0], checkpointSeq: 1 });
    await stopServer(server);
    const snaps = Array.from({ length: 100 }, (_, i) => rec(`k${i}`, `lost-${i}`, 2));
    await unavailable(store.commit({ snapshots: snaps, keyGroups: [0, 1], checkpointSeq: 2 }));
    await server.restart();
    const got = await eventually(() => store.load(snaps.map((s) => s.key)));
    expect(got[0]).toEqual(rec('k0', 'kept', 1));
    expect(got.slice(1).every((r) => r === undefined)).toBe(true);
    expect(await store.checkpoints([0, 1])).toEqual([1, 0]);
  });

  it('a commit cut off midway by SIGKILL (MULTI open, commands queued, no EXEC yet) leaves nothing', async () => {
    const server = redis();
    const store = open(freshPrefix(), 10_000);
    await store.commit({ snapshots: [rec('actor-0', 'old', 1)], keyGroups: [10], checkpointSeq: 1 });
    const n = 40_000;
    const payload = 'p'.repeat(2000);
    const snaps = Array.from({ length: n }, (_, i) => rec(`actor-${i}`, `${i}:${payload}`, 5));
    const kgs = [10, 11, 12];
    const watcher = new Redis(redis().url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    watcher.on('error', () => {});
    await watcher.ping();
    // ~80 MB takes a while to reach Redis, which queues the transaction's commands as they
    // arrive. CLIENT LIST shows a connection inside MULTI with `multi=<queued commands>`: kill
    // the server the moment some are queued, so it dies between MULTI and EXEC.
    const outcome = store.commit({ snapshots: snaps, keyGroups: kgs, checkpointSeq: 5 }).then(
      () => 'committed' as const,
      (e: unknown) => e,
    );
    let queued = 0;
    const deadline = Date.now() + 5000;
    while (queued === 0 && Date.now() < deadline) {
      const list = String(await watcher.call('CLIENT', 'LIST'));
      for (const m of list.matchAll(/\bmulti=(\d+)/g)) queued = Math.max(queued, Number(m[1]));
    }
    watcher.disconnect();
    await stopServer(server, 'SIGKILL');
    expect(queued, 'never saw the transaction half-queued; the commit finished before the kill').toBeGreaterThan(0);
    const result = await outcome;
    expect(result).toBeInstanceOf(VigilError);
    expect((result as VigilError).code).toBe(ErrorCode.StoreUnavailable);

    await server.restart();
    const got = await eventually(() => store.load(snaps.map((s) => s.key)));
    // Only the earlier commit survives: no snapshot of the killed one, no checkpoint moved.
    expect(got[0]).toEqual(rec('actor-0', 'old', 1));
    expect(got.slice(1).filter((r) => r !== undefined)).toHaveLength(0);
    expect(await store.checkpoints(kgs)).toEqual([1, 0, 0]);
  });
});

describe('RedisSnapshotStore: prefixes', () => {
  it('isolates two clusters on one server', async () => {
    const a = open('vigil:{cluster-a}:' + randomUUID().slice(0, 6) + ':');
    const b = open('vigil:{cluster-b}:' + randomUUID().slice(0, 6) + ':');
    await a.commit({ snapshots: [rec('same-key', 'from a', 1)], keyGroups: [0, 1], checkpointSeq: 10 });
    await b.commit({ snapshots: [rec('same-key', 'from b', 2), rec('only-b', 'b', 2)], keyGroups: [1], checkpointSeq: 20 });
    expect(await a.load(['same-key', 'only-b'])).toEqual([rec('same-key', 'from a', 1), undefined]);
    expect(await b.load(['same-key', 'only-b'])).toEqual([rec('same-key', 'from b', 2), rec('only-b', 'b', 2)]);
    expect(await a.checkpoints([0, 1])).toEqual([10, 10]);
    expect(await b.checkpoints([0, 1])).toEqual([0, 20]);
  });

  it('keeps every key of a cluster under its prefix, in one hash slot', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    await store.commit({ snapshots: [rec('t\u001fpatient\u001f{x}', 'd', 1), rec('other', 'e', 2)], keyGroups: [4], checkpointSeq: 2 });
    const c = new Redis(redis().url, { maxRetriesPerRequest: 1 });
    try {
      const [, keys] = await c.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
      expect(keys.sort()).toEqual([`${prefix}cp`, `${prefix}s:other`, `${prefix}s:t\u001fpatient\u001f{x}`].sort());
      expect(await c.get(`${prefix}s:other`)).toBe('2\ne');
      expect(await c.hgetall(`${prefix}cp`)).toEqual({ '4': '2' });
      // Redis Cluster hashes only a key's hash tag when it has one; all share the prefix's.
      expect(keys.map(hashTag)).toEqual(keys.map(() => prefix.slice(prefix.indexOf('{') + 1, prefix.indexOf('}'))));
    } finally {
      c.disconnect();
    }
  });

  it('rejects a prefix without a hash tag', () => {
    for (const prefix of ['vigil:', '', 'vigil:{}:', 'vigil:}x{:']) {
      expect(() => new RedisSnapshotStore({ client: redis().url, prefix })).toThrow(VigilError);
    }
  });

  it('close() quits only a client it created', async () => {
    const client = new Redis(redis().url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      const store = new RedisSnapshotStore({ client, prefix: freshPrefix() });
      await store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [], checkpointSeq: 0 });
      await store.close();
      expect(await client.ping()).toBe('PONG');
      await unavailable(store.load(['k']), false);
    } finally {
      client.disconnect();
    }
  });
});
