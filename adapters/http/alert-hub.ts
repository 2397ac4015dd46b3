import { alertView, type AlertView } from '../../runtime/alert-view.js';
import { AlertLevel, type AlertIndex, type AlertLevelName, type AlertRecord, type AlertSink, type OpenAlertCounts } from '../../runtime/ports.js';
import { alertSignature, MemoryReadModel } from '../../runtime/read-model.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { ApiError } from './errors.js';

export { alertView, type AlertView } from '../../runtime/alert-view.js';

type Subscriber = { tenant: string; minLevel: number; push: (a: AlertView) => void };

/** Replayed copies arrive within one replay of the last checkpoint: far fewer transitions than this. */
const SEEN_KEEP = 10_000;

export interface AlertHubOptions {
  /** Where open and recent alerts are kept (default: in process, gone with the process). */
  index?: AlertIndex;
  /**
   * true (default): publish() applies each batch to the index and pushes to the feed only what
   * the index applied (a replay after a restart does not reach the feed twice); it forwards every
   * transition downstream, at least once (see publish).
   * false: the batch was applied elsewhere (several nodes: by the actor's owner, whose
   * transitions come back over NATS); publish() pushes to this node's subscribers what it has not
   * pushed lately.
   */
  writes?: boolean;
  /** The index refused a batch (it is retried in order, every `retryMs`). */
  onError?: (err: Error) => void;
  /** Default 500 ms. */
  retryMs?: number;
  /**
   * Transitions waiting for a failing index (default 10,000). Beyond it a batch skips the index
   * (pushed and forwarded as it came, reported through onError) instead of piling up.
   */
  maxBacklog?: number;
}

/** Open alerts: the exact counts the index holds, per tenant and over all tenants. */
export interface OpenAlertTotals {
  total: OpenAlertCounts;
  by_tenant: Record<string, OpenAlertCounts>;
}

/**
 * The node's alert view: serves /v1/alerts/recent and /v1/alerts/top from the AlertIndex (in
 * Redis in durable mode, so they survive restarts and every node answers the same), pushes every
 * new transition to the subscribers of /v1/alerts/stream and forwards it to the downstream sink.
 * State-agnostic: whatever state a transition carries is kept as its alert's latest; only
 * `resolved` ends an alert (the index's rule).
 */
export class AlertHub implements AlertSink {
  private readonly subs = new Set<Subscriber>();
  readonly index: AlertIndex;
  private readonly writes: boolean;
  private readonly onError: (err: Error) => void;
  private readonly retryMs: number;
  private readonly maxBacklog: number;
  /** Each batch's index step, chained so batches are pushed and forwarded in publish order. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Set while the index fails: later batches queue behind the failing one instead of overtaking it. */
  private failing = false;
  private backlog = 0;
  private closed = false;
  /** writes: false — signatures of the transitions pushed lately, oldest first. */
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];

  constructor(
    private readonly downstream: AlertSink | null,
    options: AlertHubOptions = {},
  ) {
    this.index = options.index ?? new MemoryReadModel();
    this.writes = options.writes ?? true;
    this.onError = options.onError ?? (() => {});
    this.retryMs = options.retryMs ?? 500;
    this.maxBacklog = options.maxBacklog ?? 10_000;
  }

  async publish(alerts: readonly AlertRecord[]): Promise<void> {
    if (alerts.length === 0) return;
    if (!this.writes) {
      // The owner forwards every transition, replays included (see below): its feed copies
      // arrive here again after its restart, so this node's subscribers get each one once.
      const fresh = this.unseen(alerts);
      this.push(fresh);
      if (this.downstream && fresh.length > 0) await this.downstream.publish(fresh);
      return;
    }
    if (this.failing && this.backlog + alerts.length > this.maxBacklog) {
      this.onError(new Error(`alert index: ${this.backlog} transitions already wait for it; ${alerts.length} pushed without it`));
      this.push(alerts);
      if (this.downstream) await this.downstream.publish(alerts);
      return;
    }
    // Sent now, not after the previous reply (see adapters/redis/read-model.ts on kill -9).
    const sent = this.failing ? null : this.index.applyAlerts(alerts);
    sent?.catch(() => {});
    this.backlog += alerts.length;
    let applied: readonly AlertRecord[] = [];
    const step = this.tail.then(async () => {
      if (sent) {
        try {
          applied = await sent;
          return;
        } catch (err) {
          this.failing = true;
          this.onError(err as Error);
        }
      }
      applied = await this.retry(alerts);
    });
    this.tail = step.catch(() => {});
    try {
      await step;
    } finally {
      this.backlog -= alerts.length;
    }
    this.push(applied);
    // Downstream gets every transition, not only what the index applied: the index write and
    // the forward are two steps, and a kill -9 between them would otherwise lose the transition
    // downstream for good (the replay finds it applied). Downstream is idempotent per
    // transition (the NATS alert subject's Nats-Msg-Id, ClickHouse's replacing keys), so a
    // replay after a crash forwards copies at worst; only the feed is deduplicated here.
    if (this.downstream) await this.downstream.publish(alerts);
  }

  /** Transitions whose signature is not among the last `SEEN_KEEP` this hub passed on. */
  private unseen(alerts: readonly AlertRecord[]): readonly AlertRecord[] {
    const out: AlertRecord[] = [];
    for (const a of alerts) {
      const sig = alertSignature(a);
      if (this.seen.has(sig)) continue;
      this.seen.add(sig);
      this.seenOrder.push(sig);
      if (this.seenOrder.length > SEEN_KEEP) this.seen.delete(this.seenOrder.shift()!);
      out.push(a);
    }
    return out;
  }

  /** Until the index takes the batch (then later batches go straight again), or the hub closes. */
  private async retry(alerts: readonly AlertRecord[]): Promise<readonly AlertRecord[]> {
    for (;;) {
      if (this.closed) return alerts;
      try {
        const applied = await this.index.applyAlerts(alerts);
        this.failing = false;
        return applied;
      } catch (err) {
        this.failing = true;
        this.onError(err as Error);
        await new Promise((r) => setTimeout(r, this.retryMs).unref());
      }
    }
  }

  private push(alerts: readonly AlertRecord[]): void {
    if (this.subs.size === 0) return;
    for (const a of alerts) {
      const rank = AlertLevel[a.level];
      let v: AlertView | null = null;
      for (const s of this.subs) if (s.tenant === a.tenant && rank >= s.minLevel) s.push((v ??= alertView(a)));
    }
  }

  /** Newest first. */
  async recentFor(tenant: string, minLevel: AlertLevelName, limit: number): Promise<AlertView[]> {
    return (await readOf(this.index.recentAlerts(tenant, minLevel, limit))).map(alertView);
  }

  /** Every tenant's newest transitions, newest first (the ops page). */
  async recentAll(limit: number, minLevel: AlertLevelName = 'low'): Promise<AlertView[]> {
    return (await readOf(this.index.recentAlerts(null, minLevel, limit))).map(alertView);
  }

  /** Open alerts, highest level first, then most recent. */
  async topFor(tenant: string, limit: number): Promise<AlertView[]> {
    return (await readOf(this.index.topAlerts(tenant, limit))).map(alertView);
  }

  /** Exact open-alert counts (acknowledged and shelved are open), per tenant and in total. */
  async openCounts(): Promise<OpenAlertTotals> {
    const byTenant = await readOf(this.index.openAlertCounts());
    const total: OpenAlertCounts = { low: 0, medium: 0, high: 0, critical: 0, total: 0 };
    for (const c of Object.values(byTenant)) for (const k of Object.keys(total) as (keyof OpenAlertCounts)[]) total[k] += c[k];
    return { total, by_tenant: byTenant };
  }

  /**
   * One alert of `tenant` (acknowledge/shelve look it up): its latest transition while open,
   * `'resolved'`, or null when this tenant has no such alert.
   */
  async lookup(tenant: string, alertId: string): Promise<AlertView | 'resolved' | null> {
    const r = await readOf(this.index.lookupAlert(tenant, alertId));
    return r === null || r === 'resolved' ? r : alertView(r);
  }

  /** Resolves once every batch published so far has been applied (or given up at close). */
  async flushed(): Promise<void> {
    await this.tail;
  }

  subscribe(tenant: string, minLevel: AlertLevelName, push: (a: AlertView) => void): () => void {
    const s: Subscriber = { tenant, minLevel: AlertLevel[minLevel], push };
    this.subs.add(s);
    return () => this.subs.delete(s);
  }

  /** Waits for in-flight index writes, then closes downstream (the index belongs to the caller). */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    this.subs.clear();
    await this.downstream?.close();
  }
}

/** A read the store could not answer is the node being unavailable (503), not a server bug (500). */
export async function readOf<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof VigilError && err.code === ErrorCode.StoreUnavailable) throw new ApiError('unavailable', err.message);
    throw err;
  }
}
