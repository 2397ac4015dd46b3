// The ops page (issues 7, 16): GET /ops serves dashboards/ops/index.html, which polls GET /ops/data
// every second. Everything here reads what the node already keeps; the composition root hands in
// plain functions, so this file knows nothing about tokens, HTTP or how the node is wired. The
// 15-minute charts come from a ring of 10-second samples kept here (OpsHistory), so they are the
// same for every viewer and do not start over when the page is opened.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AlertLevelName, AlertRecord, AlertSink } from '../../runtime/ports.js';
import { ConfigError } from '../../runtime/errors.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { alertView, type AlertView } from './alert-hub.js';

export interface OpsDeps {
  runtime: Pick<ActorRuntime, 'stats' | 'shardMap' | 'options' | 'generation'>;
  /** The newest alerts of every tenant, newest first (the admin view). */
  recentAlerts(limit: number): AlertView[] | Promise<AlertView[]>;
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
  /**
   * Exact open-alert counts per level, in total and per tenant (AlertHub.openCounts): the true
   * total, where `alerts` is only the newest rows. Absent: the page says the total is unknown.
   */
  openAlerts?: () => Promise<{ total: OpenCounts; by_tenant: Record<string, OpenCounts> }>;
  /** The 15-minute ring of 10-second samples (events/s, ack p99, dead letters). */
  history?: OpsHistory;
  /** Actors whose handler threw, newest first. */
  failedActors?: FailedActorLog;
  /** Rejected events (dead letters) by code, counted on the main thread as they are refused. */
  deadLetters?: CodeCounts;
  /** Failed actors /ops/data carries (default 20). */
  failedLimit?: number;
}

/** Open alerts per level and their sum. */
export type OpenCounts = Record<AlertLevelName | 'total', number>;

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
  /** Batches sent to the host and not yet applied. */
  in_flight: number | null;
  /** Events built for the host on the main thread, not yet sent. */
  queued_events: number | null;
  /** Messages the host's intake holds back (while paused, e.g. during a hand-over). */
  held_messages: number | null;
  /** Waiting for the host, not counting batches in flight: queued + held + parked. */
  mailbox_depth: number | null;
}

export interface FailedActorView {
  at: string;
  tenant: string;
  kind: string;
  id: string;
  /** The event's log position, or null when a timer failed. */
  seq: number | null;
  code: string;
  message: string;
}

export interface HistorySample {
  /** End of the 10-second slot (ms since the epoch). */
  t: number;
  events_per_sec: number;
  /** Null when no ack was sent in the slot. */
  ack_p99_ms: number | null;
  acks: number;
  dead_letters: number;
}

export interface HistoryView {
  slot_ms: number;
  window_ms: number;
  /** Oldest first; at most window_ms / slot_ms. */
  samples: HistorySample[];
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
  /** Why `alerts` is empty when it could not be read, or null. */
  alerts_error: string | null;
  /** Every open alert of every tenant (not just the rows in `alerts`); null when unknown. */
  open_alerts: { total: number; by_level: Record<AlertLevelName, number>; by_tenant: { tenant: string; total: number; critical: number }[] } | null;
  /** Why open_alerts is null, or null. */
  open_alerts_error: string | null;
  freshness: { tenant: string; newest_event_time: string | null; age_ms: number | null }[];
  history: HistoryView;
  failed_actors: { total: number; actors: FailedActorView[] };
  dead_letters: { total: number; last_15m: number; by_code: { code: string; total: number; last_15m: number }[] };
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
  const failedLimit = deps.failedLimit ?? 20;
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
      // Asked together; each may be slow (a host being replaced, a store far away).
      const open = openAlerts(deps.openAlerts, statsTimeoutMs);
      const recent = within(Promise.resolve().then(() => deps.recentAlerts(alertLimit)), statsTimeoutMs, 'the newest alerts').then(
        (alerts) => ({ alerts, error: null }),
        (err: unknown) => ({ alerts: [] as AlertView[], error: (err as Error).message }),
      );
      // A host being replaced may not answer its control port for a while: the page must still
      // show generations and the map rather than hang with it.
      try {
        const stats = await within(rt.stats(), statsTimeoutMs, 'host counts');
        hosts = stats.map((s) => ({
          host: s.hostId, generation: s.generation, restarts: Math.max(0, s.generation - 1), resident_actors: s.active,
          parked_events: s.parked, timers: s.timers, key_groups: s.keyGroups, applied_seq: s.appliedSeq, in_flight: s.inFlight,
          queued_events: s.queued, held_messages: s.inbox, mailbox_depth: s.queued + s.inbox + s.parked,
        }));
      } catch (err) {
        hostsError = (err as Error).message;
        hosts = rt.generation.map((g, i) => ({
          host: i, generation: g, restarts: Math.max(0, g - 1), resident_actors: null, parked_events: null, timers: null,
          key_groups: kgPerHost[i] ?? 0, applied_seq: null, in_flight: null, queued_events: null, held_messages: null, mailbox_depth: null,
        }));
      }
      const openResult = await open;
      const recentResult = await recent;
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
        alerts: recentResult.alerts,
        alerts_error: recentResult.error,
        open_alerts: openResult.counts,
        open_alerts_error: openResult.error,
        freshness: Object.keys(fresh).sort().map((tenant) => {
          const newest = fresh[tenant] ?? null;
          return { tenant, newest_event_time: newest === null ? null : new Date(newest).toISOString(), age_ms: newest === null ? null : t - newest };
        }),
        history: deps.history?.view() ?? { slot_ms: kDefaultHistoryOptions.slotMs, window_ms: kDefaultHistoryOptions.windowMs, samples: [] },
        failed_actors: deps.failedActors?.view(failedLimit) ?? { total: 0, actors: [] },
        dead_letters: deadLetterView(deps.deadLetters, deps.history),
      };
    },
  };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not arrive within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function openAlerts(read: OpsDeps['openAlerts'], ms: number): Promise<{ counts: OpsData['open_alerts']; error: string | null }> {
  if (!read) return { counts: null, error: 'open-alert counts are not wired into this node' };
  try {
    const c = await within(read(), ms, 'open-alert counts');
    const by_tenant = Object.keys(c.by_tenant).map((tenant) => ({ tenant, total: c.by_tenant[tenant]!.total, critical: c.by_tenant[tenant]!.critical }));
    by_tenant.sort((a, b) => b.total - a.total || a.tenant.localeCompare(b.tenant));
    const by_level = { low: c.total.low, medium: c.total.medium, high: c.total.high, critical: c.total.critical };
    return { counts: { total: c.total.total, by_level, by_tenant }, error: null };
  } catch (err) {
    return { counts: null, error: (err as Error).message };
  }
}

function deadLetterView(counts: CodeCounts | undefined, history: OpsHistory | undefined): OpsData['dead_letters'] {
  if (!counts) return { total: 0, last_15m: 0, by_code: [] };
  const now = counts.snapshot();
  const base = history?.baseline() ?? {};
  let last = 0;
  const by_code = Object.keys(now).map((code) => {
    const n = now[code]! - (base[code] ?? 0);
    last += n;
    return { code, total: now[code]!, last_15m: n };
  });
  // Most frequent in the window first, then overall: what is failing now leads.
  by_code.sort((a, b) => b.last_15m - a.last_15m || b.total - a.total || a.code.localeCompare(b.code));
  return { total: counts.total, last_15m: last, by_code };
}

// ------------------------------------------------------------------------------------------
// Small pieces the composition root can use to supply the deps above.

/** Counts per code (rejected events, i.e. dead letters), on the main thread as they are refused. */
export class CodeCounts {
  private readonly byCode = new Map<string, number>();
  total = 0;

  /** One Map update per rejected event: no allocation once a code has been seen. */
  note(code: string, n = 1): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + n);
    this.total += n;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.byCode);
  }
}

/** Actors whose handler threw, one entry per actor (a repeat failure moves it to the front), bounded. */
export class FailedActorLog {
  private readonly byActor = new Map<string, FailedActorView>();
  /** Failures since the node started, repeats included. */
  total = 0;

  constructor(
    readonly keep = 100,
    private readonly now: () => number = Date.now,
  ) {}

  note(f: { tenant: string; kind: string; id: string; seq: number; error: { code: string; message: string } }): void {
    this.total++;
    const key = `${f.tenant}\u0000${f.kind}\u0000${f.id}`;
    this.byActor.delete(key);
    this.byActor.set(key, {
      at: new Date(this.now()).toISOString(), tenant: f.tenant, kind: f.kind, id: f.id,
      seq: Number.isFinite(f.seq) ? f.seq : null, code: f.error.code, message: f.error.message,
    });
    if (this.byActor.size > this.keep) this.byActor.delete(this.byActor.keys().next().value!);
  }

  /** Newest first. */
  view(limit: number): { total: number; actors: FailedActorView[] } {
    const all = [...this.byActor.values()];
    const actors: FailedActorView[] = [];
    for (let i = all.length - 1; i >= 0 && actors.length < limit; i--) actors.push(all[i]!);
    return { total: this.total, actors };
  }
}

export interface HistoryOptions {
  /** One sample per slot (default 10 s), taken at wall-clock multiples of it. */
  slotMs: number;
  /** How far back the ring reaches (default 15 min). */
  windowMs: number;
  now: () => number;
}

export const kDefaultHistoryOptions: HistoryOptions = { slotMs: 10_000, windowMs: 15 * 60_000, now: Date.now };

/** What the ring samples at each slot's end. */
export interface HistorySource {
  /** Monotonic: events accepted since the node started. */
  eventsTotal(): number;
  deadLetters: CodeCounts;
}

// Ack latencies per slot in log-spaced buckets (each 8% wider than the last, 10 µs to 2 min):
// a p99 to within 8% with a fixed array, instead of keeping every latency of the slot.
const ACK_MIN_MS = 0.01;
const ACK_RATIO = 1.08;
const ACK_LOG_RATIO = Math.log(ACK_RATIO);
const ACK_BUCKETS = Math.ceil(Math.log(120_000 / ACK_MIN_MS) / ACK_LOG_RATIO) + 1;

function checkHistoryOptions(o: HistoryOptions): HistoryOptions {
  if (!Number.isSafeInteger(o.slotMs) || o.slotMs < 10) throw new ConfigError(`history slotMs must be an integer of at least 10 ms, got ${o.slotMs}`);
  if (!Number.isSafeInteger(o.windowMs) || o.windowMs < o.slotMs || o.windowMs % o.slotMs !== 0) {
    throw new ConfigError(`history windowMs must be a whole number of slots (slotMs ${o.slotMs}), got ${o.windowMs}`);
  }
  return o;
}

/**
 * The last 15 minutes as a ring of 10-second samples, kept on the node (not in the page): events/s
 * from the accepted-events counter, ack p99 from the acks of the slot, dead letters per slot. A
 * restart starts it empty. `noteAck` is called once per ack (per frame, not per event); it only
 * increments a counter in a preallocated array.
 */
export class OpsHistory {
  readonly options: HistoryOptions;
  readonly slots: number;
  private readonly t: Float64Array;
  private readonly eps: Float64Array;
  private readonly p99: Float64Array;
  private readonly acks: Float64Array;
  private readonly dead: Float64Array;
  /** Dead-letter totals per code as of each sample (to count the window per code). */
  private readonly codes: (Record<string, number> | undefined)[];
  private next = 0;
  private size = 0;
  /** Dead-letter totals as of the start of the window. */
  private base: Record<string, number> = {};
  private readonly buckets = new Uint32Array(ACK_BUCKETS);
  private slotAcks = 0;
  private slotMin = Infinity;
  private slotMax = 0;
  private lastT: number;
  private lastEvents: number;
  private lastDead: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly source: HistorySource,
    options: Partial<HistoryOptions> = {},
  ) {
    this.options = checkHistoryOptions({ ...kDefaultHistoryOptions, ...options });
    this.slots = this.options.windowMs / this.options.slotMs;
    this.t = new Float64Array(this.slots);
    this.eps = new Float64Array(this.slots);
    this.p99 = new Float64Array(this.slots);
    this.acks = new Float64Array(this.slots);
    this.dead = new Float64Array(this.slots);
    this.codes = new Array<Record<string, number> | undefined>(this.slots);
    this.lastT = this.options.now();
    this.lastEvents = source.eventsTotal();
    this.lastDead = source.deadLetters.total;
    this.base = source.deadLetters.snapshot();
  }

  /** One ack sent, `ms` after its frame arrived. */
  noteAck(ms: number): void {
    let i = ms > ACK_MIN_MS ? Math.floor(Math.log(ms / ACK_MIN_MS) / ACK_LOG_RATIO) : 0;
    if (i >= ACK_BUCKETS) i = ACK_BUCKETS - 1;
    this.buckets[i]!++;
    this.slotAcks++;
    if (ms < this.slotMin) this.slotMin = ms;
    if (ms > this.slotMax) this.slotMax = ms;
  }

  /** Closes the current slot as of now (the timer calls this at each slot's end). */
  sample(): void {
    const now = this.options.now();
    const dt = now - this.lastT;
    if (dt <= 0) return;
    const events = this.source.eventsTotal();
    const dl = this.source.deadLetters;
    const i = this.next;
    if (this.size === this.slots) this.base = this.codes[i] ?? this.base; // the oldest leaves the window
    this.t[i] = now;
    this.eps[i] = Math.max(0, events - this.lastEvents) / (dt / 1000);
    this.p99[i] = this.slotAcks === 0 ? NaN : this.quantile(0.99);
    this.acks[i] = this.slotAcks;
    this.dead[i] = dl.total - this.lastDead;
    this.codes[i] = dl.snapshot();
    this.next = (i + 1) % this.slots;
    if (this.size < this.slots) this.size++;
    this.lastT = now;
    this.lastEvents = events;
    this.lastDead = dl.total;
    this.buckets.fill(0);
    this.slotAcks = 0;
    this.slotMin = Infinity;
    this.slotMax = 0;
  }

  /** Dead-letter totals per code as of the start of the window. */
  baseline(): Record<string, number> {
    return this.base;
  }

  view(): HistoryView {
    const samples: HistorySample[] = [];
    for (let k = this.size; k >= 1; k--) {
      const i = (this.next - k + this.slots) % this.slots;
      const p = this.p99[i]!;
      samples.push({ t: this.t[i]!, events_per_sec: round3(this.eps[i]!), ack_p99_ms: Number.isNaN(p) ? null : round3(p), acks: this.acks[i]!, dead_letters: this.dead[i]! });
    }
    return { slot_ms: this.options.slotMs, window_ms: this.options.windowMs, samples };
  }

  /** Samples at each slot's end (wall-clock multiples of slotMs) until `stop`. */
  start(): void {
    if (this.timer) return;
    const fire = (): void => {
      const slot = this.options.slotMs;
      const left = slot - (Date.now() % slot);
      // Node may wake a timer a millisecond before its mark (seen in CI: a sample stamped at
      // …9999): wait for the mark, so a sample is always stamped at the slot it closes.
      if (left < slot / 2) {
        this.timer = setTimeout(fire, left);
        this.timer.unref();
        return;
      }
      this.sample();
      arm();
    };
    const arm = (): void => {
      const slot = this.options.slotMs;
      this.timer = setTimeout(fire, slot - (Date.now() % slot));
      this.timer.unref();
    };
    arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The upper edge of the bucket holding the q-th ack, kept within the slot's exact min and max. */
  private quantile(q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.slotAcks));
    let seen = 0;
    for (let i = 0; i < ACK_BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min(this.slotMax, Math.max(this.slotMin, ACK_MIN_MS * ACK_RATIO ** (i + 1)));
    }
    return this.slotMax;
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

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
