// The JetStream EventLog against the EventLog conformance suite, on a real `nats-server -js`.
// Every test gets its own stream and subject prefix, deleted afterwards.
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll } from 'vitest';
import { JetStreamEventLog } from '../../adapters/nats/index.js';
import { useNats } from '../harness/servers.js';
import { eventLogConformance } from './event-log.js';

const nats = useNats();
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: nats().url });
});
afterAll(async () => {
  await nc?.drain();
});

eventLogConformance('jetstream', async () => {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  const stream = `CONF_${id}`;
  // Alternate between a shared connection and one the log owns, so both paths run.
  const shared = id.charCodeAt(0) % 2 === 0;
  const log = await JetStreamEventLog.open({
    ...(shared ? { nc } : { servers: nats().url }),
    stream,
    subjectPrefix: `conf.${id}`,
  });
  return {
    log,
    cleanup: async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream);
    },
  };
});
