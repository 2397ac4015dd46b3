// Hosts have no store of their own: they ask the main thread to load snapshots and to commit
// dirty ones with their checkpoints. The broker serves both, fences what a host may write (only
// key groups the map gives it that this node owns; several nodes: under the token each lease was
// taken with, checked by the store) and trims the log behind the checkpoints.
import { ErrorCode, toWire } from './errors.js';
import type { HostSlot } from './host-slot.js';
import { parseActorKey } from './ids.js';
import type { SubmissionLedger } from './ledger.js';
import type { Placement } from './placement.js';
import type { Clock, EventLog, SnapshotStore } from './ports.js';
import type { FromHost, ToHost } from './protocol.js';
import type { RuntimeMetrics } from './runtime-metrics.js';

export interface SnapshotBrokerDeps {
  store: SnapshotStore;
  log: EventLog;
  clock: Clock;
  metrics: RuntimeMetrics;
  placement: Placement;
  ledger: SubmissionLedger;
  hosts: readonly HostSlot[];
  /** Several nodes: commits carry fencing tokens, and a fenced one gives its key groups up. */
  fences: boolean;
  /** A commit was refused because another node fenced these key groups. */
  onFenced?: (keyGroups: number[]) => void;
  /** A host's checkpoint moved. */
  onCommitted: () => void;
}

export class SnapshotBroker {
  /** The log was trimmed through this sequence (by this node). */
  trimmedTo = 0;
  private readonly d: SnapshotBrokerDeps;

  constructor(deps: SnapshotBrokerDeps) {
    this.d = deps;
  }

  load(host: HostSlot, msg: Extract<FromHost, { t: 'load' }>): void {
    const port = host.port;
    this.d.store.load(msg.keys).then(
      (records) => port?.postMessage({ t: 'loaded', req: msg.req, records } satisfies ToHost),
      (err: unknown) => port?.postMessage({ t: 'loaded', req: msg.req, records: [], error: toWire(err) } satisfies ToHost),
    );
  }

  /** A host's due index read, for the key groups of `ranges` the map gives it and this node owns. */
  loadDue(host: HostSlot, msg: Extract<FromHost, { t: 'due' }>): void {
    const port = host.port;
    const { hostOfKg, owned } = this.d.placement;
    const keyGroups: number[] = [];
    for (const [a, b] of msg.ranges) for (let k = a; k < b; k++) if (hostOfKg[k] === host.id && owned[k] === 1) keyGroups.push(k);
    this.d.store.dueTimers(keyGroups).then(
      (timers) => port?.postMessage({ t: 'dueLoaded', req: msg.req, timers } satisfies ToHost),
      (err: unknown) => port?.postMessage({ t: 'dueLoaded', req: msg.req, timers: [], error: toWire(err) } satisfies ToHost),
    );
  }

  commit(host: HostSlot, gen: number, msg: Extract<FromHost, { t: 'commit' }>): void {
    const { placement, metrics: m, clock } = this.d;
    const port = host.port;
    const { hostOfKg, owned, fenceToken } = placement;
    // Fencing: a host writes only key groups the current map gives it (a released key group
    // is still its own until its `released` arrives, which follows this commit).
    // Several nodes: and only key groups this node still owns (a dropped lease's actors are not
    // written), each with the token its lease was taken with, checked by the store.
    const keyGroups: number[] = [];
    for (const [a, b] of msg.ranges) for (let k = a; k < b; k++) if (hostOfKg[k] === host.id && owned[k] === 1) keyGroups.push(k);
    const fenceKgs = this.d.fences ? new Set(keyGroups) : null;
    const snapshots = msg.snapshots.filter((r) => {
      const { tenant, kind, id } = parseActorKey(r.key);
      const kg = placement.keyGroupOf(kind, tenant, id);
      if (hostOfKg[kg] !== host.id || owned[kg] !== 1) return false;
      fenceKgs?.add(kg);
      return true;
    });
    if (snapshots.length !== msg.snapshots.length) m.fenced.inc(msg.snapshots.length - snapshots.length);
    // Due-index entries go with their snapshots: same fencing.
    const due = msg.due?.filter((d) => hostOfKg[d.keyGroup] === host.id && owned[d.keyGroup] === 1);
    let fence: { keyGroups: number[]; tokens: number[] } | undefined;
    if (fenceKgs !== null) {
      const kgs = [...fenceKgs];
      fence = { keyGroups: kgs, tokens: kgs.map((k) => fenceToken[k]!) };
    }
    const commitStarted = clock.now();
    let bytes = 0;
    for (const r of snapshots) bytes += r.data.length;
    const commit = { snapshots, keyGroups, checkpointSeq: msg.checkpointSeq, ...(fence ? { fence } : {}), ...(due && due.length > 0 ? { due } : {}) };
    this.d.store.commit(commit).then(
      () => {
        m.commitSeconds.observe((clock.now() - commitStarted) / 1000);
        m.commitBytes.observe(bytes);
        m.snapshotsWritten.inc(snapshots.length);
        port?.postMessage({ t: 'committed', req: msg.req } satisfies ToHost);
        if (host.generation === gen) {
          host.committedSeq = msg.checkpointSeq;
          this.d.onCommitted();
        }
      },
      (err: unknown) => {
        port?.postMessage({ t: 'committed', req: msg.req, error: toWire(err) } satisfies ToHost);
        if (fence && (err as { code?: unknown }).code === ErrorCode.Fenced) this.fenced(fence);
      },
    );
  }

  /** Which of a fenced commit's key groups another node has taken since (a newer token). */
  private fenced(fence: { keyGroups: number[]; tokens: number[] }): void {
    this.d.metrics.fencedCommits.inc();
    const { fenceToken } = this.d.placement;
    void this.d.store.fences(fence.keyGroups).then(
      (stored) => {
        const lost = fence.keyGroups.filter((k, i) => stored[i]! > fence.tokens[i]! && fenceToken[k] === fence.tokens[i]);
        if (lost.length > 0) this.d.onFenced?.(lost);
      },
      () => undefined,
    );
  }

  /** Trims the log through the lowest checkpoint of every host (one node owns the whole log). */
  trim(): void {
    let min = Infinity;
    for (const h of this.d.hosts) if (h.committedSeq < min) min = h.committedSeq;
    if (!Number.isFinite(min) || min <= this.trimmedTo) return;
    this.trimmedTo = min;
    // Trimming is housekeeping: a failure leaves more log to replay, never less.
    this.d.log.trim(min).catch(() => this.d.metrics.trimFailures.inc());
    this.d.metrics.logEvents.set(this.d.ledger.forget(min));
  }
}
