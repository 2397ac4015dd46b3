import type { AlertRecord, AlertSink, RollupRow, RollupSink } from '../../runtime/ports.js';

const windowKey = (r: RollupRow) => `${r.tenant}\u001f${r.actorKind}\u001f${r.actorId}\u001f${r.metric}\u001f${r.windowStart}`;

/** Keeps the highest revision per window, as ReplacingMergeTree(rev) does after a merge. */
export class MemoryRollupSink implements RollupSink {
  private readonly rows = new Map<string, RollupRow>();
  writes = 0;
  async write(rows: readonly RollupRow[]): Promise<void> {
    this.writes++;
    for (const r of rows) {
      const k = windowKey(r);
      const old = this.rows.get(k);
      if (!old || r.revision >= old.revision) this.rows.set(k, r);
    }
  }
  all(): RollupRow[] {
    return [...this.rows.values()];
  }
  async close(): Promise<void> {}
}

/** Alerts by (id, state): a replayed alert overwrites itself. Keeps the newest `limit`. */
export class MemoryAlertSink implements AlertSink {
  private readonly alerts = new Map<string, AlertRecord>();
  private readonly limit: number;
  private readonly listeners = new Set<(a: readonly AlertRecord[]) => void>();
  constructor(limit = 10_000) {
    this.limit = limit;
  }
  async publish(alerts: readonly AlertRecord[]): Promise<void> {
    for (const a of alerts) {
      const k = `${a.alertId}\u001f${a.state}`;
      this.alerts.delete(k);
      this.alerts.set(k, a);
      if (this.alerts.size > this.limit) this.alerts.delete(this.alerts.keys().next().value as string);
    }
    for (const l of this.listeners) l(alerts);
  }
  subscribe(fn: (a: readonly AlertRecord[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  all(): AlertRecord[] {
    return [...this.alerts.values()];
  }
  async close(): Promise<void> {
    this.listeners.clear();
  }
}
