import { alertView, type AlertView } from '../../runtime/alert-view.js';
import { AlertLevel, type AlertLevelName, type AlertRecord, type AlertSink } from '../../runtime/ports.js';

export { alertView, type AlertView } from '../../runtime/alert-view.js';

type Subscriber = { tenant: string; minLevel: number; push: (a: AlertView) => void };

/**
 * The node's live alert view: the newest alerts per tenant (bounded), the open ones for "top",
 * and the subscribers of /v1/alerts/stream. Forwards every batch to the configured sink.
 */
export class AlertHub implements AlertSink {
  private readonly recent = new Map<string, AlertView[]>();
  private readonly open = new Map<string, Map<string, AlertView>>();
  private readonly subs = new Set<Subscriber>();
  constructor(
    private readonly downstream: AlertSink | null,
    private readonly keep = 1000,
  ) {}

  async publish(alerts: readonly AlertRecord[]): Promise<void> {
    for (const a of alerts) {
      const v = alertView(a);
      let r = this.recent.get(a.tenant);
      if (!r) this.recent.set(a.tenant, (r = []));
      r.push(v);
      if (r.length > this.keep) r.splice(0, r.length - this.keep);
      let o = this.open.get(a.tenant);
      if (!o) this.open.set(a.tenant, (o = new Map()));
      if (a.state === 'open') o.set(a.alertId, v);
      else o.delete(a.alertId);
      const rank = AlertLevel[a.level];
      for (const s of this.subs) if (s.tenant === a.tenant && rank >= s.minLevel) s.push(v);
    }
    if (this.downstream) await this.downstream.publish(alerts);
  }

  /** Newest first. */
  recentFor(tenant: string, minLevel: AlertLevelName, limit: number): AlertView[] {
    const min = AlertLevel[minLevel];
    const r = this.recent.get(tenant) ?? [];
    const out: AlertView[] = [];
    for (let i = r.length - 1; i >= 0 && out.length < limit; i--) if (AlertLevel[r[i]!.level] >= min) out.push(r[i]!);
    return out;
  }

  /** Open alerts, highest level first, then most recent. */
  topFor(tenant: string, limit: number): AlertView[] {
    return [...(this.open.get(tenant)?.values() ?? [])]
      .sort((a, b) => AlertLevel[b.level] - AlertLevel[a.level] || b.event_time.localeCompare(a.event_time))
      .slice(0, limit);
  }

  subscribe(tenant: string, minLevel: AlertLevelName, push: (a: AlertView) => void): () => void {
    const s: Subscriber = { tenant, minLevel: AlertLevel[minLevel], push };
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  async close(): Promise<void> {
    this.subs.clear();
    await this.downstream?.close();
  }
}
