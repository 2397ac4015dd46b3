import { systemClock } from '../../runtime/clock.js';
import type { RuntimePorts } from '../../runtime/runtime.js';
import { MemoryEventLog } from './event-log.js';
import { MemoryMetrics } from './metrics.js';
import { MemoryAlertSink, MemoryRollupSink } from './sinks.js';
import { MemorySnapshotStore } from './snapshot-store.js';

export { MemoryEventLog, MemoryMetrics, MemoryAlertSink, MemoryRollupSink, MemorySnapshotStore };
export { MemoryLeaseStore, type MemoryLeaseStoreOptions } from './leases.js';
// The read model's in-process rules live in runtime/ (the HTTP layer defaults to them); this is its name here.
export { MemoryReadModel, type ReadModelOptions } from '../../runtime/read-model.js';

/** The embedded defaults for every port. */
export function memoryPorts(): RuntimePorts & {
  eventLog: MemoryEventLog; snapshotStore: MemorySnapshotStore; rollupSink: MemoryRollupSink;
  alertSink: MemoryAlertSink; metrics: MemoryMetrics;
} {
  return {
    eventLog: new MemoryEventLog(),
    snapshotStore: new MemorySnapshotStore(),
    rollupSink: new MemoryRollupSink(),
    alertSink: new MemoryAlertSink(),
    clock: systemClock,
    metrics: new MemoryMetrics(),
  };
}
