export { MGET_CHUNK, RedisSnapshotStore, snapshotClientOptions, type RedisSnapshotStoreOptions } from './snapshot-store.js';
