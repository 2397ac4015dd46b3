// The JetStream KV LeaseStore against the LeaseStore conformance suite, on a real
// `nats-server -js`, plus what only a real server can show: the bucket's config checks, expiry
// timing, and revisions (fencing tokens) that survive a server restart. Every test gets its own
// bucket, deleted afterwards.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, StorageType, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLeaseStore } from '../../adapters/nats/index.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { useNats } from '../harness/servers.js';
import { leaseStoreConformance } from './lease-store.js';

/** Short, so that expiry tests take about a second each. */
const TTL_MS = 1000;
/** Measured expiry on nats-server 2.9 is ttl + a few ms; the poll below absorbs a slow box. */
const EXPIRY_MARGIN_MS = 100;
const EXPIRY_POLL_LIMIT_MS = 5000;

const bucketName = (): string => `conf_leases_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

async function deleteBucket(nc: NatsConnection, bucket: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
}

async function rejection(p: Promise<unknown>): Promise<VigilError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VigilError);
  return err as VigilError;
}

describe('JetStreamLeaseStore', () => {
  const nats = useNats();
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connect({ servers: nats().url });
  });
  afterAll(async () => {
    await nc?.drain();
  });

  leaseStoreConformance('jetstream', async () => {
    const bucket = bucketName();
    // Alternate between a shared connection and one the store owns, so both paths run.
    const shared = bucket.charCodeAt(bucket.length - 1) % 2 === 0;
    const store = await JetStreamLeaseStore.open({ ...(shared ? { nc } : { servers: nats().url }), bucket, ttlMs: TTL_MS });
    return {
      store,
      advance: (ms) => sleep(ms),
      expire: async () => {
        await sleep(TTL_MS + EXPIRY_MARGIN_MS);
        // The server removes expired messages on its own timer: wait until it has.
        const deadline = Date.now() + EXPIRY_POLL_LIMIT_MS;
        while ((await store.list('')).length > 0) {
          if (Date.now() > deadline) throw new Error(`leases still live ${EXPIRY_POLL_LIMIT_MS} ms after their ttl`);
          await sleep(20);
        }
      },
      cleanup: () => deleteBucket(nc, bucket),
    };
  });

  it('rejects bad options, naming the option', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ nc, bucket: 'a.b', ttlMs: 1000 }, /bucket/],
      [{ nc, bucket: '', ttlMs: 1000 }, /bucket/],
      [{ nc, bucket: 'b', ttlMs: 99 }, /ttlMs/],
      [{ nc, bucket: 'b', ttlMs: 1.5e3 + 0.5 }, /ttlMs/],
      [{ nc, bucket: 'b' }, /ttlMs/],
      [{ nc, bucket: 'b', ttlMs: 2 ** 53 }, /ttlMs/],
      [{ nc, bucket: 'b', ttlMs: 1000, timeoutMs: 0 }, /timeoutMs/],
      [{ bucket: 'b', ttlMs: 1000 }, /servers\/nc/],
      [{ nc, servers: nats().url, bucket: 'b', ttlMs: 1000 }, /servers\/nc/],
    ];
    for (const [opts, option] of bad) {
      const err = await rejection(JetStreamLeaseStore.open(opts as never));
      expect(err.code).toBe(ErrorCode.InvalidOption);
      expect(err.message).toMatch(option);
    }
  });

  it('refuses an existing bucket with another ttl or memory storage, and binds to a matching one', async () => {
    const bucket = bucketName();
    const mem = bucketName();
    try {
      const first = await JetStreamLeaseStore.open({ nc, bucket, ttlMs: 2000 });
      const rev = (await first.acquire('kg.1', 'node-a', 'a'))!;
      const other = await rejection(JetStreamLeaseStore.open({ nc, bucket, ttlMs: 3000 }));
      expect(other.code).toBe(ErrorCode.InvalidOption);
      expect(other.message).toMatch(/ttl 2000 ms, not ttlMs 3000/);
      // A second store with the same ttl (another node) sees the same leases.
      const second = await JetStreamLeaseStore.open({ servers: nats().url, bucket, ttlMs: 2000 });
      expect(await second.list('')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'a', revision: rev }]);
      expect(await second.acquire('kg.1', 'node-b', 'b')).toBeNull();
      await Promise.all([first.close(), second.close()]);

      await nc.jetstream().views.kv(mem, { ttl: 2000, history: 1, storage: StorageType.Memory });
      const memory = await rejection(JetStreamLeaseStore.open({ nc, bucket: mem, ttlMs: 2000 }));
      expect(memory.code).toBe(ErrorCode.InvalidOption);
      expect(memory.message).toMatch(/memory storage/);
    } finally {
      await deleteBucket(nc, bucket);
      await deleteBucket(nc, mem);
    }
  });

  it('keeps an unrenewed lease for at least its ttl and frees it soon after', async () => {
    const bucket = bucketName();
    const store = await JetStreamLeaseStore.open({ nc, bucket, ttlMs: TTL_MS });
    try {
      const sent = Date.now();
      expect(await store.acquire('kg.1', 'node-a', 'a')).not.toBeNull();
      let freedAt: number | undefined;
      while (freedAt === undefined && Date.now() < sent + TTL_MS + EXPIRY_POLL_LIMIT_MS) {
        await sleep(10);
        if ((await store.acquire('kg.1', 'node-b', 'b')) !== null) freedAt = Date.now();
      }
      expect(freedAt).toBeDefined();
      // The server stamps the message after `sent`, so no acquire can win before sent + ttl.
      expect(freedAt!).toBeGreaterThanOrEqual(sent + TTL_MS);
      expect(freedAt! - sent - TTL_MS).toBeLessThan(1000);
    } finally {
      await store.close();
      await deleteBucket(nc, bucket);
    }
  });

  it('lets exactly one of several stores on their own connections win a key', async () => {
    const bucket = bucketName();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => JetStreamLeaseStore.open({ servers: nats().url, bucket, ttlMs: 5000 })),
    );
    try {
      for (let round = 0; round < 5; round++) {
        const got = await Promise.all(stores.map((s, i) => s.acquire('kg.1', `node-${i}`, 'v')));
        const winners = got.flatMap((r, i) => (r === null ? [] : [{ i, r }]));
        expect(winners).toHaveLength(1);
        expect(await stores[winners[0]!.i]!.release('kg.1', winners[0]!.r)).toBe(true);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await deleteBucket(nc, bucket);
    }
  });
});

describe('JetStreamLeaseStore across a server restart', () => {
  const nats = useNats();

  it('keeps leases and keeps revisions increasing (fencing tokens never go back)', async () => {
    const bucket = bucketName();
    const store = await JetStreamLeaseStore.open({ servers: nats().url, bucket, ttlMs: 60_000, timeoutMs: 15_000 });
    try {
      const a = (await store.acquire('kg.1', 'node-a', 'a'))!;
      const b = (await store.acquire('kg.2', 'node-a', 'a'))!;
      expect(await store.release('kg.2', b)).toBe(true);
      await nats().restart();
      // Calls wait for the reconnect (within timeoutMs) instead of failing at once.
      expect(await store.list('')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'a', revision: a }]);
      const c = await store.acquire('kg.3', 'node-b', 'b');
      expect(c).toBeGreaterThan(b);
      expect(await store.renew('kg.1', 'node-a', 'a', a)).toBeGreaterThan(c!);
    } finally {
      await store.close();
    }
  });
});
