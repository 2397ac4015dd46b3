// The Redis snapshot store against the SnapshotStore conformance suite, on a real redis-server.
// Every test gets its own random prefix (hash tag included), BullMQ style, so tests never see
// each other's keys; cleanup deletes that prefix's keys.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisSnapshotStore } from '../../adapters/redis/index.js';
import { useRedis } from '../harness/servers.js';
import { snapshotStoreConformance } from './snapshot-store.js';

const redis = useRedis();
const freshPrefix = (): string => `vigil:{t-${randomUUID().slice(0, 12)}}:`;

/** Deletes every key under `prefix` (the store never needs this; tests tidy up with it). */
async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    // The prefix holds `{`/`}` but no glob metacharacters besides those escaped here.
    const [next, keys] = await client.scan(cursor, 'MATCH', prefix.replace(/[*?[\]\\]/g, '\\$&') + '*', 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

// Store-owned client, created from the URL.
snapshotStoreConformance('redis (url)', async () => {
  const prefix = freshPrefix();
  const store = new RedisSnapshotStore({ client: redis().url, prefix });
  return {
    store,
    cleanup: async () => {
      const c = new Redis(redis().url, { maxRetriesPerRequest: 1 });
      try {
        await dropPrefix(c, prefix);
      } finally {
        c.disconnect();
      }
    },
  };
});

// A caller's client, shared by every test of this block and left open by store.close().
let shared: Redis | undefined;
beforeAll(async () => {
  shared = new Redis(redis().url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await shared.connect();
});
afterAll(() => {
  shared?.disconnect();
});
snapshotStoreConformance('redis (client passed in)', async () => {
  const prefix = freshPrefix();
  const client = shared!;
  return {
    store: new RedisSnapshotStore({ client, prefix }),
    cleanup: async () => {
      // Still usable: close() only quits clients the store created.
      await dropPrefix(client, prefix);
    },
  };
});
