export {
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_PARTITIONS,
  DEFAULT_TIMEOUT_MS,
  JetStreamEventLog,
  MAX_EVENTS_PER_APPEND,
  SEQ_STRIDE,
  decodeBatch,
  encodeBatch,
  encodedCount,
  type JetStreamEventLogOptions,
} from './event-log.js';
export {
  DEFAULT_LEASE_TIMEOUT_MS,
  JetStreamLeaseStore,
  MAX_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  type JetStreamLeaseStoreOptions,
} from './leases.js';
