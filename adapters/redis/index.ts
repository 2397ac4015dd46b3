export { MGET_CHUNK, RedisSnapshotStore, snapshotClientOptions, type RedisSnapshotStoreOptions } from './snapshot-store.js';
export { RedisReadModel, type RedisReadModelOptions } from './read-model.js';
