import type { WireError } from '../errors.js';
import { actorKey, parseActorKey } from '../ids.js';
import type { Clock, DueChange, SnapshotRecord } from '../ports.js';
import { encodeSnapshot } from '../snapshot-codec.js';
import { ACTIVE, type Cell } from './cell.js';
import type { Ownership } from './ownership.js';
import type { Progress } from './progress.js';
import type { Range } from './ranges.js';
import type { ActorTable } from './table.js';
import { earliestDue } from './timers.js';
import type { Uplink } from './uplink.js';

/** A snapshot as the host keeps it until committed: also its key group and due-index change. */
export interface HostSnapshot extends SnapshotRecord {
  readonly kg: number;
  /**
   * Its earliest processing-time timer; null: it has none, remove its entry; undefined: it has
   * none and never had an entry (most actors), nothing to write.
   */
  readonly due: number | null | undefined;
}

/**
 * Snapshot commits: one at a time in flight, each writing every dirty actor plus the snapshots
 * taken at passivation, and checkpointing the owned key groups at the applied sequence.
 */
export class Commits {
  /** Snapshots written and not yet confirmed by the store; an activation reads them first. */
  readonly pendingWrites = new Map<string, HostSnapshot>();
  lastCommitAt: number;
  private passivated: HostSnapshot[] = [];
  private inFlight: { req: number; snapshots: HostSnapshot[]; waiters: (() => void)[]; checkpointSeq: number; partial: boolean } | null = null;
  /** Actors whose processing-time timers fired, to be written by a prompt (partial) commit. */
  private fired: Cell[] = [];
  /** The checkpoint sequence the store last confirmed: what a partial commit reports as its own. */
  private confirmedSeq = 0;
  private waiters: (() => void)[] = [];
  /** Key groups released since the last commit: checkpointed once more, by their last owner. */
  private extraCheckpoints: Range[] = [];

  constructor(
    private readonly table: ActorTable,
    private readonly ownership: Ownership,
    private readonly progress: Progress,
    private readonly uplink: Uplink,
    private readonly clock: Clock,
    now: number,
    private readonly intervalMs: number,
  ) {
    this.lastCommitAt = now;
  }

  /** Snapshots taken at passivation wait for the next commit. */
  get hasPassivated(): boolean {
    return this.passivated.length > 0;
  }

  /** The actor leaves memory: its snapshot is the only copy of its state until committed. */
  keepPassivated(cell: Cell): void {
    const rec = this.encode(cell);
    this.pendingWrites.set(rec.key, rec);
    this.passivated.push(rec);
  }

  /**
   * A processing-time timer of this actor, clean until then, fired. The firing is recorded (the
   * timer gone from the snapshot and the due index) only by a commit, and until then a crash
   * would restore the timer and fire it once more; so the actor is written promptly
   * (commitFired), alone.
   */
  timerFired(cell: Cell): void {
    this.fired.push(cell);
  }

  /**
   * Writes the actors whose timers fired since the last call, without checkpoints: a partial
   * commit, cheap next to the full one (every dirty actor) and safe, since each snapshot carries
   * its own sequence. Follows the commit in flight, if any.
   */
  commitFired(): void {
    if (this.fired.length === 0 || this.inFlight) return;
    const snapshots: HostSnapshot[] = [];
    for (const cell of this.fired) {
      if (!cell.dirty || !cell.resident || cell.status !== ACTIVE) continue;
      cell.dirty = false; // still listed in table.dirty: the full commit skips it
      const rec = this.encode(cell);
      this.pendingWrites.set(rec.key, rec);
      snapshots.push(rec);
    }
    this.fired = [];
    if (snapshots.length === 0) return;
    const req = this.uplink.request();
    // Its checkpoint sequence is the last confirmed one: the main thread trims the log by it.
    this.inFlight = { req, snapshots, waiters: [], checkpointSeq: this.confirmedSeq, partial: true };
    this.uplink.post({ t: 'commit', req, snapshots, checkpointSeq: this.confirmedSeq, ranges: [], due: dueChanges(snapshots) });
  }

  /** Commits when the snapshot interval has passed. */
  onTick(now: number): void {
    if (now - this.lastCommitAt >= this.intervalMs) this.commit();
  }

  /**
   * Writes every dirty actor plus the passivation snapshots, and checkpoints all owned key
   * groups at the fully-applied sequence. Encoding happens here, synchronously, so the
   * snapshots are exactly the state at this instant; events applied to other actors beyond the
   * checkpoint are covered by each snapshot's own `seq` (replay skips them per actor).
   * With a commit in flight, this one follows it; `waiter` runs once it is written.
   */
  commit(waiter?: () => void, alsoCheckpoint: Range[] = []): void {
    if (waiter) this.waiters.push(waiter);
    if (alsoCheckpoint.length > 0) this.extraCheckpoints.push(...alsoCheckpoint);
    if (this.inFlight) return;
    this.lastCommitAt = this.clock.now();
    const snapshots: HostSnapshot[] = this.passivated;
    this.passivated = [];
    for (const cell of this.table.dirty) {
      if (!cell.dirty || !cell.resident) continue;
      cell.dirty = false;
      if (cell.status === ACTIVE) {
        const rec = this.encode(cell);
        // Until the store confirms, this record is the newest copy: an actor that passivates
        // and reactivates meanwhile must read it, not the store's older one.
        this.pendingWrites.set(rec.key, rec);
        snapshots.push(rec);
      }
    }
    this.table.dirty = [];
    const req = this.uplink.request();
    const checkpointSeq = this.progress.appliedSeq;
    this.inFlight = { req, snapshots, waiters: this.waiters, checkpointSeq, partial: false };
    this.waiters = [];
    const ranges = this.ownership.checkpointRanges(this.extraCheckpoints);
    this.extraCheckpoints = [];
    this.uplink.post({ t: 'commit', req, snapshots, checkpointSeq, ranges, due: dueChanges(snapshots) });
  }

  onCommitted(req: number, error?: WireError): void {
    const c = this.inFlight;
    if (!c || c.req !== req) return;
    this.inFlight = null;
    if (error) {
      // Nothing was written. Records still current go into the next commit as they are; a
      // resident actor is simply dirty again (it will be encoded afresh).
      for (const r of c.snapshots) {
        const newer = this.pendingWrites.get(r.key);
        if (newer !== r) {
          // Superseded: the newer record was encoded as if this removal had landed.
          if (r.due === null && newer !== undefined && newer.due === undefined) this.replacePending(newer, { ...newer, due: null });
          continue;
        }
        const { tenant, kind, id } = parseActorKey(r.key);
        const cell = this.table.find(kind, tenant, id);
        if (cell && cell.status === ACTIVE) {
          if (r.due === null) cell.indexed = true;
          this.table.markDirty(cell);
        } else this.passivated.push(r);
      }
      this.waiters.unshift(...c.waiters);
      return;
    }
    if (!c.partial) this.confirmedSeq = c.checkpointSeq;
    for (const r of c.snapshots) if (this.pendingWrites.get(r.key) === r) this.pendingWrites.delete(r.key);
    for (const w of c.waiters) w();
    if (this.waiters.length > 0 || this.passivated.length > 0) this.commit();
    else this.commitFired();
  }

  private replacePending(old: HostSnapshot, rec: HostSnapshot): void {
    this.pendingWrites.set(rec.key, rec);
    const i = this.passivated.indexOf(old);
    if (i >= 0) this.passivated[i] = rec;
  }

  private encode(cell: Cell): HostSnapshot {
    const def = this.table.defs[cell.kind]!;
    const body = def.encode ? def.encode(cell.state) : JSON.stringify(cell.state);
    let due: number | null | undefined = earliestDue(cell) ?? undefined;
    if (due !== undefined) cell.indexed = true;
    else if (cell.indexed) {
      due = null;
      // Optimistic: a failed commit sets it again (onCommitted).
      cell.indexed = false;
    }
    return { key: actorKey(cell.tenant, def.kind, cell.id), data: encodeSnapshot(cell.watermark, cell.timers, body), seq: cell.lastSeq, kg: cell.kg, due };
  }
}

/**
 * A snapshot with a processing-time timer sets its actor's due-index entry, in the same commit,
 * every time (a missing entry would lose the timer across a restart); one without removes the
 * entry if it may have one (an entry left behind costs one wasted activation per restart, and
 * that activation removes it).
 */
function dueChanges(snapshots: readonly HostSnapshot[]): DueChange[] {
  const due: DueChange[] = [];
  for (let i = 0; i < snapshots.length; i++) {
    const r = snapshots[i]!;
    if (r.due !== undefined) due.push({ keyGroup: r.kg, key: r.key, at: r.due });
  }
  return due;
}
