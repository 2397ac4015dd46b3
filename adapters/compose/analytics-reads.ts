// The analytics read endpoints wired to the store: the interface and request checks are
// adapters/http/analytics-api.ts, the SQL is adapters/clickhouse/reads.ts.
import { readBiometrics, readSearch, readTimeline } from '../clickhouse/reads.js';
import type { AnalyticsStore } from '../clickhouse/store.js';
import { checkSearchText, type AnalyticsReads } from '../http/analytics-api.js';

export function analyticsReads(store: AnalyticsStore): AnalyticsReads {
  return {
    timeline: (tenant, patientId, from, to, limit) => readTimeline(store, tenant, patientId, from, to, limit),
    biometrics: (tenant, patientId, type, limit) => readBiometrics(store, tenant, patientId, type, limit),
    async search(tenant, q, limit) {
      checkSearchText(q);
      return readSearch(store, tenant, q, limit);
    },
  };
}
