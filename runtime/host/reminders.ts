import type { WireError } from '../errors.js';
import { parseActorKey } from '../ids.js';
import { keyGroupOf } from '../keygroups.js';
import type { DueTimer } from '../ports.js';
import type { Activation } from './activation.js';
import type { TimerPayload } from './cell.js';
import type { Ownership } from './ownership.js';
import { mergeRanges, type Range } from './ranges.js';
import type { ActorTable } from './table.js';
import type { ActorTimers } from './timers.js';
import type { Uplink } from './uplink.js';

/**
 * Durable timers (reminders): a passivated actor's processing-time timers live in its snapshot,
 * and its key group's due index in the store lists it at the earliest of them (written in the
 * same commit). When this host comes to own key groups (restored after a start or a crash once
 * their replay is applied, handed over by a rescale, taken over from another node) it reads
 * their index and files one wake-up per actor not in memory; a due wake-up re-activates the
 * actor, whose restored timers fire as usual. Nothing else needs to wake it.
 */
export class Reminders {
  private readonly loads = new Map<number, Range[]>();
  /** Key groups whose index could not be read: asked again on the next tick. */
  private retry: Range[] = [];

  constructor(
    private readonly table: ActorTable,
    private readonly ownership: Ownership,
    private readonly activation: Activation,
    private readonly timers: ActorTimers,
    private readonly uplink: Uplink,
  ) {
    timers.listen(
      (p) => this.wakeUp(p),
      (ranges) => this.load(ranges),
    );
  }

  /** Reads the due index of key groups this host now owns with their state restored. */
  load(ranges: readonly Range[]): void {
    const owned = ranges.filter(([a, b]) => b > a);
    if (owned.length === 0) return;
    const req = this.uplink.request();
    this.loads.set(req, owned);
    this.uplink.post({ t: 'due', req, ranges: owned.map(([a, b]) => [a, b]) });
  }

  /** True when the reply was ours. */
  onLoaded(req: number, timers: readonly DueTimer[], error?: WireError): boolean {
    const ranges = this.loads.get(req);
    if (!ranges) return false;
    this.loads.delete(req);
    if (error) {
      this.retry.push(...ranges);
      return true;
    }
    const { table, ownership } = this;
    for (const d of timers) {
      const { tenant, kind, id } = parseActorKey(d.key);
      const k = table.kindIndex.get(kind);
      if (k === undefined) continue;
      // Ownership by the actor's own key group, not the store's say: a cell must carry the right one.
      const kg = keyGroupOf(tenant, kind, id, ownership.keyGroupCount);
      if (ownership.owned[kg] !== 1) continue;
      // In memory already (its replayed or live input woke it): its own timers are armed.
      if (table.get(k, tenant, id) !== undefined) continue;
      this.timers.wake(d.key, k, tenant, id, kg, d.at, false);
    }
    return true;
  }

  onTick(): void {
    if (this.retry.length === 0) return;
    const r = mergeRanges(this.retry);
    this.retry = [];
    // Key groups given up meanwhile are filtered out by the main thread and by onLoaded.
    this.load(r);
  }

  private wakeUp(p: TimerPayload): void {
    if (this.ownership.owned[p.kg] !== 1) return; // handed over meanwhile: the new owner wakes it
    if (this.table.get(p.kind, p.tenant, p.id) !== undefined) return;
    // Its entry is in the index (or was, in memory): see Activation.rehydrate.
    this.activation.cellFor(p.kind, p.tenant, p.id, p.kg).indexed = true;
  }
}
