// The in-memory adapters against every port's conformance suite. Real adapters run the same
// suites from *.integration.test.ts files.
import {
  MemoryAlertSink, MemoryEventLog, MemoryLeaseStore, MemoryMetrics, MemoryRollupSink, MemorySnapshotStore,
} from '../../adapters/memory/index.js';
import { ManualClock } from '../../runtime/clock.js';
import type { Labels } from '../../runtime/ports.js';
import { alertSinkConformance } from './alert-sink.js';
import { eventLogConformance } from './event-log.js';
import { leaseStoreConformance } from './lease-store.js';
import { metricsConformance } from './metrics.js';
import { rollupSinkConformance } from './rollup-sink.js';
import { snapshotStoreConformance } from './snapshot-store.js';

eventLogConformance('memory', async () => ({ log: new MemoryEventLog() }));

snapshotStoreConformance('memory', async () => ({ store: new MemorySnapshotStore() }));

leaseStoreConformance('memory', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const store = new MemoryLeaseStore({ ttlMs: 10_000, clock });
  return {
    store,
    expire: async () => clock.advance(store.ttlMs),
    advance: async (ms) => clock.advance(ms),
  };
});

rollupSinkConformance('memory', async () => {
  const sink = new MemoryRollupSink();
  return { sink, rows: async () => sink.all() };
});

alertSinkConformance('memory', async () => {
  const sink = new MemoryAlertSink();
  return { sink, alerts: async () => sink.all() };
});

metricsConformance('memory', () => {
  const metrics = new MemoryMetrics();
  // Prometheus exposes a histogram as _count and _sum series; the memory adapter keeps the
  // observations they follow from.
  const read = async (name: string, labels?: Labels): Promise<number | undefined> => {
    for (const suffix of ['_count', '_sum'] as const) {
      if (!name.endsWith(suffix)) continue;
      const obs = metrics.observed(name.slice(0, -suffix.length), labels);
      if (obs) return suffix === '_count' ? obs.length : obs.reduce((x, y) => x + y, 0);
    }
    return metrics.value(name, labels);
  };
  return { metrics, read };
});
