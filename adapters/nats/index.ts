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
