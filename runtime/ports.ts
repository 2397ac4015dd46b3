// The runtime's ports, in its own words. Each has an in-memory adapter (adapters/memory, the
// embedded default) and a real one (adapters/<thing>), and one conformance suite in
// test/conformance that every adapter must pass.
import type { EventBatch } from './batch.js';

export interface Clock {
  /** Wall-clock epoch ms: event and lease times. */
  now(): number;
  /** Returns a cancel function. Used for the runtime's own ticks, never one timer per actor. */
  setTimeout(fn: () => void, ms: number): () => void;
  /**
   * Milliseconds from an arbitrary origin that never go backwards (a wall clock may be stepped):
   * for pacing and durations measured within one process.
   */
  monotonic(): number;
  /**
   * Runs `fn` once, after the I/O callbacks of the current event-loop turn (`setImmediate`), so
   * work that arrived together is handled together. Returns a cancel function.
   */
  defer(fn: () => void): () => void;
}

/** The durable (or, embedded, in-memory) ordered log between the front-end and the shard hosts. */
export interface EventLog {
  /** True when an appended batch survives the loss of this process. */
  readonly durable: boolean;
  /**
   * Appends a batch atomically. Event `i` of the batch gets sequence `base + i`; the returned
   * `base` is strictly greater than every earlier sequence. `dedupId`, when given, makes the
   * append idempotent within the log's dedup window: a second append with the same id stores
   * nothing and returns the first append's base.
   */
  append(batch: EventBatch, dedupId?: string): Promise<number>;
  /**
   * Reads up to `maxEvents` events with sequence > `afterSeq`, in order, in one batch whose
   * `seq` column holds each event's sequence. `undefined` when nothing is newer.
   */
  read(afterSeq: number, maxEvents: number): Promise<EventBatch | undefined>;
  /** Lets the log forget events with sequence <= `seq` (they are covered by checkpoints). */
  trim(seq: number): Promise<void>;
  /** The highest sequence appended so far (0 when empty). */
  head(): Promise<number>;
  close(): Promise<void>;
}

/** One actor's encoded state and the log sequence of the last event it reflects. */
export interface SnapshotRecord {
  readonly key: string;
  readonly data: string;
  readonly seq: number;
}

export interface SnapshotCommit {
  readonly snapshots: readonly SnapshotRecord[];
  /** Key groups whose every event up to `checkpointSeq` is reflected by the stored snapshots. */
  readonly keyGroups: ArrayLike<number>;
  readonly checkpointSeq: number;
  /**
   * Cross-node fencing (several nodes, DESIGN.md decision 2). When given, the commit is written
   * only if, for every listed key group, the store's fencing token is not above the token given
   * for it (`tokens[i]` for `keyGroups[i]`); otherwise nothing is written and the commit fails
   * with VigilError code `fenced`. Checked atomically with the writes. Absent: no check.
   */
  readonly fence?: { readonly keyGroups: ArrayLike<number>; readonly tokens: ArrayLike<number> };
  /**
   * Changes to the due index (the actors of a key group with a processing-time timer, by their
   * earliest due time), written atomically with the snapshots: the entry of `key` in
   * `keyGroup`'s index becomes `at`, or is removed when `at` is null. Absent: no change.
   */
  readonly due?: readonly DueChange[];
}

/** One actor's entry in its key group's due index: its earliest processing-time timer. */
export interface DueTimer {
  readonly keyGroup: number;
  /** The actor key, as in SnapshotRecord. */
  readonly key: string;
  /** Epoch ms. */
  readonly at: number;
}

/** A due-index write: set the entry to `at`, or remove it (null). */
export interface DueChange {
  readonly keyGroup: number;
  readonly key: string;
  readonly at: number | null;
}

export interface SnapshotStore {
  /** Same order as `keys`; `undefined` for an actor that was never snapshotted. */
  load(keys: readonly string[]): Promise<(SnapshotRecord | undefined)[]>;
  /** Writes every snapshot and checkpoint of the commit, or none of them. */
  commit(commit: SnapshotCommit): Promise<void>;
  /** Checkpoint sequence per key group, 0 where none was written; same order as `keyGroups`. */
  checkpoints(keyGroups: ArrayLike<number>): Promise<number[]>;
  /**
   * Raises the fencing token of each key group to `token` (never lowers one). A node calls it
   * when it takes a key group's lease, before reading its checkpoints: from then on a commit by
   * the previous owner (with its older, lower token) is refused, so a paused node that wakes up
   * after losing its lease cannot overwrite what the new owner restores from.
   */
  fence(keyGroups: ArrayLike<number>, token: number): Promise<void>;
  /** Fencing tokens per key group, 0 where none was set; same order as `keyGroups`. */
  fences(keyGroups: ArrayLike<number>): Promise<number[]>;
  /**
   * Every entry of these key groups' due indexes (see SnapshotCommit.due), in no particular
   * order: what a new owner of the key groups loads to wake passivated actors whose timers are due.
   */
  dueTimers(keyGroups: ArrayLike<number>): Promise<DueTimer[]>;
  close(): Promise<void>;
}

/** One lease held in a LeaseStore. */
export interface Lease {
  readonly key: string;
  /** Who holds it (a node id) and what it published with it (e.g. its URL). */
  readonly holder: string;
  readonly value: string;
  /**
   * Changes on every acquire and renew; strictly increasing across the whole store, so the
   * revision at acquire time is a fencing token: any later holder's is higher.
   */
  readonly revision: number;
}

/**
 * Leases with expiry and compare-and-set (several nodes, DESIGN.md decision 2): key-group
 * slots and node membership. A lease that is not renewed within the store's `ttlMs` disappears
 * by itself, so a dead node's leases free up without anyone deciding it is dead.
 */
export interface LeaseStore {
  /** How long a lease lives without a renewal. */
  readonly ttlMs: number;
  /** Takes `key` if nobody holds it; its revision, or null when it is held. */
  acquire(key: string, holder: string, value: string): Promise<number | null>;
  /**
   * Extends a lease held at `revision`; the new revision, or null when the lease is no longer
   * that one (expired, taken by another, released).
   */
  renew(key: string, holder: string, value: string, revision: number): Promise<number | null>;
  /** Gives the lease up if it is still held at `revision`; true when it was. */
  release(key: string, revision: number): Promise<boolean>;
  /** Every live lease whose key starts with `prefix`. */
  list(prefix: string): Promise<Lease[]>;
  close(): Promise<void>;
}

export interface RollupRow {
  readonly tenant: string;
  readonly actorKind: string;
  readonly actorId: string;
  readonly metric: string;
  /** Start of the window, epoch ms (event time). */
  readonly windowStart: number;
  readonly windowMs: number;
  /** Higher revision replaces lower for the same (tenant, kind, id, metric, window). */
  readonly revision: number;
  /** The actor's watermark has passed the window's end. */
  readonly final: boolean;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
}

export const AlertLevel = { low: 1, medium: 2, high: 3, critical: 4 } as const;
export type AlertLevelName = keyof typeof AlertLevel;

/** `acknowledged` and `shelved` are still open (staff have seen it; silenced for a while). */
export type AlertState = 'open' | 'acknowledged' | 'shelved' | 'resolved';

export interface AlertRecord {
  /** Deterministic: the same condition on the same subject always gets the same id. */
  readonly alertId: string;
  readonly tenant: string;
  readonly subjectKind: string;
  readonly subjectId: string;
  readonly level: AlertLevelName;
  readonly state: AlertState;
  readonly reason: string;
  readonly value: number;
  readonly eventTime: number;
  /** Acknowledged or shelved: who did it. */
  readonly by?: string;
  /** Acknowledged: their note, when they left one. */
  readonly note?: string;
  /** Shelved: when it comes back (epoch ms). */
  readonly until?: number;
}

/**
 * The patients each tenant has sent events for (GET /v1/patients), kept beside the durable state
 * so the list survives a restart and every node of a cluster answers the same.
 */
export interface PatientIndex {
  /** Adds (tenant, patient id) pairs; adding a known one changes nothing. */
  addPatients(pairs: readonly (readonly [tenant: string, id: string])[]): Promise<void>;
  /**
   * One page of `tenant`'s patients in ascending code-point order, those after `cursor` (an id
   * from an earlier page, exclusive). `next` is the last id of the page when more follow.
   */
  patientPage(tenant: string, limit: number, cursor: string | null): Promise<{ ids: string[]; next: string | null; total: number }>;
  /** Patients per tenant (tenants with none are absent). */
  patientCounts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Open alerts per level, with their sum. */
export type OpenAlertCounts = Record<AlertLevelName | 'total', number>;

/**
 * The alert view derived from the actors' transitions: open alerts per tenant (anything not
 * `resolved`, at its latest transition) and the newest transitions per tenant. Kept beside the
 * durable state so it survives a restart, shared by every node of a cluster.
 */
export interface AlertIndex {
  /**
   * Applies transitions in order and returns those that are new. A transition already applied
   * (same alert, same content: a replay after a restart or a takeover re-emits it) is not new:
   * it is neither returned nor listed again, but an open alert takes it as its latest (where the
   * replay has got to). Any transition of an alert already resolved is skipped.
   */
  applyAlerts(alerts: readonly AlertRecord[]): Promise<AlertRecord[]>;
  /** Newest first, at or above `minLevel`; `tenant` null: every tenant's. */
  recentAlerts(tenant: string | null, minLevel: AlertLevelName, limit: number): Promise<AlertRecord[]>;
  /** Open alerts: highest level first, then latest transition first, then alert id descending. */
  topAlerts(tenant: string, limit: number): Promise<AlertRecord[]>;
  /** Exact open-alert counts per tenant (tenants with none are absent). */
  openAlertCounts(): Promise<Record<string, OpenAlertCounts>>;
  /**
   * One alert of `tenant`: its latest transition while open, `'resolved'` when it is remembered as
   * resolved (see resolvedKeep), null when unknown (never seen, or another tenant's).
   */
  lookupAlert(tenant: string, alertId: string): Promise<AlertRecord | 'resolved' | null>;
  close(): Promise<void>;
}

/** Rows must be idempotent downstream: writing the same row twice leaves one row. */
export interface RollupSink {
  write(rows: readonly RollupRow[]): Promise<void>;
  close(): Promise<void>;
}

/** Alerts keyed by (alertId, state): re-publishing one after a replay changes nothing. */
export interface AlertSink {
  publish(alerts: readonly AlertRecord[]): Promise<void>;
  close(): Promise<void>;
}

export type Labels = Readonly<Record<string, string | number>>;
export interface CounterHandle {
  inc(value?: number, labels?: Labels): void;
}
export interface GaugeHandle {
  set(value: number, labels?: Labels): void;
}
export interface HistogramHandle {
  observe(value: number, labels?: Labels): void;
}
/** Registered once, on the main thread; workers send their counts up in batched messages. */
export interface Metrics {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterHandle;
  gauge(name: string, help: string, labelNames?: readonly string[]): GaugeHandle;
  histogram(name: string, help: string, buckets?: readonly number[], labelNames?: readonly string[]): HistogramHandle;
}
