import { actorKey } from '../ids.js';
import { ACTIVATING, ACTIVE, type Cell } from './cell.js';
import type { Commits } from './commits.js';
import type { Reports } from './reports.js';
import type { ActorTable } from './table.js';
import type { ActorTimers } from './timers.js';

/** Actors leave memory when idle, on hand-over, or on reset; a dirty one snapshots first. */
export class Passivation {
  private lastSweepAt: number;

  constructor(
    private readonly table: ActorTable,
    private readonly timers: ActorTimers,
    private readonly commits: Commits,
    private readonly reports: Reports,
    now: number,
    private readonly sweepMs: number,
  ) {
    this.lastSweepAt = now;
  }

  /** Every `sweepMs`: passivates the idle, and commits their snapshots promptly. */
  onTick(now: number): void {
    if (now - this.lastSweepAt < this.sweepMs) return;
    this.lastSweepAt = now;
    this.sweep(now, false);
    // Passivated state lives only in pendingWrites until committed: write it out promptly.
    if (this.commits.hasPassivated) this.commits.commit();
  }

  /** Passivates actors idle past their kind's limit, or every actor with `all`; activating ones stay. */
  sweep(now: number, all: boolean): void {
    const { idle, idleAfter } = this.table;
    for (let k = 0; k < idle.length; k++) {
      const list = idle[k]!;
      const cutoff = now - idleAfter[k]!;
      let c = list.head;
      while (c !== null && (all || c.lastActive <= cutoff)) {
        const next = c.next;
        if (c.status !== ACTIVATING) this.passivate(c);
        c = next;
      }
    }
  }

  passivate(cell: Cell): void {
    this.table.idle[cell.kind]!.unlink(cell);
    // A failed actor's state is not trusted: drop it and let the next message rehydrate the
    // last good snapshot (a restart, in supervisor terms).
    if (cell.dirty && cell.status === ACTIVE) this.commits.keepPassivated(cell);
    // Its timers are in that snapshot (or the stored one, when clean); a wake-up stands in for them.
    if (cell.timers !== null && cell.timers.length > 0) this.timers.detach(cell, actorKey(cell.tenant, this.table.defs[cell.kind]!.kind, cell.id));
    cell.resident = false;
    cell.dirty = false;
    this.table.remove(cell);
    this.table.active--;
    this.reports.stats.passivations++;
  }
}
