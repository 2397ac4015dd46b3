// The Redis read model against the read model conformance suite, on a real redis-server, each
// test under a fresh prefix (hash tag included); cleanup deletes that prefix's keys.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisReadModel } from '../../adapters/redis/index.js';
import { useRedis } from '../harness/servers.js';
import { readModelConformance } from './read-model.js';

const redis = useRedis();

async function dropPrefix(url: string, prefix: string): Promise<void> {
  const c = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', prefix.replace(/[*?[\]\\]/g, '\\$&') + '*', 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await c.del(...keys);
    } while (cursor !== '0');
  } finally {
    c.disconnect();
  }
}

readModelConformance('redis', async (options) => {
  const prefix = `vigil:{rm-${randomUUID().slice(0, 12)}}:`;
  return { model: new RedisReadModel({ ...options, client: redis().url, prefix }), cleanup: () => dropPrefix(redis().url, prefix) };
});
