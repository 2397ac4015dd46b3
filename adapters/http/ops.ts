// The ops page (issue 7): GET /ops serves dashboards/ops/index.html, which polls GET /ops/data
// every second. Everything here reads what the node already keeps; the composition root hands in
// plain functions, so this file knows nothing about tokens, HTTP or how the node is wired.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AlertRecord, AlertSink } from '../../runtime/ports.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { alertView, type AlertView } from './alert-hub.js';

export interface OpsDeps {
  runtime: Pick<ActorRuntime, 'stats' | 'shardMap' | 'options' | 'generation'>;
  /** The newest alerts of every tenant, newest first (the admin view). */
  recentAlerts(limit: number): AlertView[];
  /** Monotonic: events accepted since the node started. The page derives events/s from it. */
  eventsTotal(): number;
  /** Per tenant, the newest event time seen (ms since the epoch), or null when none yet. */
  freshness(): Record<string, number | null>;
  now?: () => number;
  /** The page's file; found from the package root when absent. */
  pageFile?: string;
  /** How many alerts /ops/data carries (default 25). */
  alertLimit?: number;
  /** How long /ops/data waits for the hosts' counts before answering without them (default 1500 ms). */
  statsTimeoutMs?: number;
}

export interface OpsHost {
  host: number;
  generation: number;
  /** Times the host was replaced after dying (its first launch is generation 1). */
  restarts: number;
  /** Null when the host did not answer in time (e.g. while it is being replaced). */
  resident_actors: number | null;
  parked_events: number | null;
  timers: number | null;
  key_groups: number;
  applied_seq: number | null;
  in_flight: number | null;
}

export interface OpsData {
  now: number;
  generated_at: string;
  events_total: number;
  cluster: { key_groups: number; shards: number; hosts: number; epoch: number };
  hosts: OpsHost[];
  /** Why host counts are missing, or null. */
  hosts_error: string | null;
  shards: { shard: number; key_groups: [number, number]; host: number }[];
  alerts: AlertView[];
  freshness: { tenant: string; newest_event_time: string | null; age_ms: number | null }[];
}

export interface OpsApi {
  page(): string;
  data(): Promise<OpsData>;
}

const PAGE = path.join('dashboards', 'ops', 'index.html');

/**
 * dashboards/ops/index.html from the package root: this module runs as adapters/http/ops.ts
 * (vitest) or dist/adapters/http/ops.js (the built node), so walk up until the file is there.
 */
export function findOpsPage(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const f = path.join(dir, PAGE);
    if (existsSync(f)) return f;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`ops page ${PAGE} not found above ${from}`);
}

export function createOpsApi(deps: OpsDeps): OpsApi {
  const now = deps.now ?? Date.now;
  const alertLimit = deps.alertLimit ?? 25;
  const statsTimeoutMs = deps.statsTimeoutMs ?? 1500;
  let html: string | null = null;
  const rt = deps.runtime;
  const hostCount = rt.options.hosts;
  // The map is fixed until live rescale exists (issue 8); computed per call anyway, it is small.
  const shards = (): OpsData['shards'] =>
    rt.shardMap.ranges().map((r) => ({ shard: r.shard as number, key_groups: [r.from, r.to] as [number, number], host: (r.shard as number) % hostCount }));

  return {
    page() {
      // Read once: the page is static; its data comes from /ops/data.
      html ??= readFileSync(deps.pageFile ?? findOpsPage(), 'utf8');
      return html;
    },
    async data() {
      const map = shards();
      const kgPerHost = new Array<number>(hostCount).fill(0);
      for (const s of map) kgPerHost[s.host]! += s.key_groups[1] - s.key_groups[0];
      let hosts: OpsHost[];
      let hostsError: string | null = null;
      // A host being replaced may not answer its control port for a while: the page must still
      // show generations and the map rather than hang with it.
      let timer: NodeJS.Timeout | undefined;
      try {
        const stats = await Promise.race([
          rt.stats(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`host counts did not arrive within ${statsTimeoutMs} ms`)), statsTimeoutMs);
          }),
        ]);
        hosts = stats.map((s) => ({
          host: s.hostId, generation: s.generation, restarts: Math.max(0, s.generation - 1), resident_actors: s.active,
          parked_events: s.parked, timers: s.timers, key_groups: s.keyGroups, applied_seq: s.appliedSeq, in_flight: s.inFlight,
        }));
      } catch (err) {
        hostsError = (err as Error).message;
        hosts = rt.generation.map((g, i) => ({
          host: i, generation: g, restarts: Math.max(0, g - 1), resident_actors: null, parked_events: null, timers: null,
          key_groups: kgPerHost[i] ?? 0, applied_seq: null, in_flight: null,
        }));
      } finally {
        clearTimeout(timer);
      }
      const t = now();
      const fresh = deps.freshness();
      return {
        now: t,
        generated_at: new Date(t).toISOString(),
        events_total: deps.eventsTotal(),
        cluster: { key_groups: rt.options.keyGroups, shards: rt.shardMap.shardCount, hosts: hostCount, epoch: rt.shardMap.epoch },
        hosts,
        hosts_error: hostsError,
        shards: map,
        alerts: deps.recentAlerts(alertLimit),
        freshness: Object.keys(fresh).sort().map((tenant) => {
          const newest = fresh[tenant] ?? null;
          return { tenant, newest_event_time: newest === null ? null : new Date(newest).toISOString(), age_ms: newest === null ? null : t - newest };
        }),
      };
    },
  };
}

// ------------------------------------------------------------------------------------------
// Small pieces the composition root can use to supply the deps above.

/**
 * Per tenant, the newest event time handed to the runtime. `note` sits on the ingest path
 * (IngestService's onAccepted callback), so it is one pass with no allocation.
 */
export class FreshnessTracker {
  private readonly newest = new Map<string, number | null>();

  /** A tenant shown (as "no events yet") before its first event. */
  expect(tenant: string): void {
    if (!this.newest.has(tenant)) this.newest.set(tenant, null);
  }

  note(events: readonly { tenant: string; time: number }[]): void {
    let tenant: string | null = null;
    let max = -Infinity;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.tenant !== tenant) {
        if (tenant !== null) this.put(tenant, max);
        tenant = e.tenant;
        max = -Infinity;
      }
      if (e.time > max) max = e.time;
    }
    if (tenant !== null) this.put(tenant, max);
  }

  /** Newest event time per tenant, as the ingest workers report it per group of frames. */
  noteNewest(newest: Readonly<Record<string, number>>): void {
    for (const t in newest) this.put(t, newest[t]!);
  }

  snapshot(): Record<string, number | null> {
    return Object.fromEntries(this.newest);
  }

  private put(tenant: string, time: number): void {
    const cur = this.newest.get(tenant);
    if (cur === undefined || cur === null || time > cur) this.newest.set(tenant, time);
  }
}

/**
 * The newest alerts of all tenants in arrival order, bounded. An AlertSink, so it can be the
 * AlertHub's downstream (the hub forwards every batch it publishes), optionally forwarding on.
 */
export class RecentAlertLog implements AlertSink {
  private readonly ring: (AlertView | undefined)[];
  private next = 0;
  private size = 0;

  constructor(
    readonly keep = 200,
    private readonly downstream: AlertSink | null = null,
  ) {
    this.ring = new Array<AlertView | undefined>(keep);
  }

  async publish(alerts: readonly AlertRecord[]): Promise<void> {
    for (const a of alerts) {
      this.ring[this.next] = alertView(a);
      this.next = (this.next + 1) % this.keep;
      if (this.size < this.keep) this.size++;
    }
    if (this.downstream) await this.downstream.publish(alerts);
  }

  /** Newest first. */
  recent(limit: number): AlertView[] {
    const out: AlertView[] = [];
    for (let i = 1; i <= Math.min(limit, this.size); i++) out.push(this.ring[(this.next - i + this.keep) % this.keep]!);
    return out;
  }

  async close(): Promise<void> {
    await this.downstream?.close();
  }
}
