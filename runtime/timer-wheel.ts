/**
 * A hashed timer wheel: one per shard host, so a million actors with timers cost a million small
 * entries and one `setTimeout`, not a million. Entries are re-armed in place (`at` moved later)
 * without touching the wheel; when a slot comes due, an entry whose `at` moved is re-slotted
 * instead of fired. That makes "push my deadline back on every event" (signal-lost timers)
 * allocation free.
 */
export interface WheelEntry<T> {
  at: number;
  payload: T;
  cancelled: boolean;
  /** The tick this entry currently sits in. */
  slotTick: number;
}

export class TimerWheel<T> {
  private readonly slots: WheelEntry<T>[][];
  private readonly mask: number;
  private readonly tickMs: number;
  private currentTick: number;
  private count = 0;

  constructor(tickMs: number, now: number, slotsPow2 = 1024) {
    if ((slotsPow2 & (slotsPow2 - 1)) !== 0) throw new RangeError('slot count must be a power of two');
    this.tickMs = tickMs;
    this.mask = slotsPow2 - 1;
    this.slots = Array.from({ length: slotsPow2 }, () => []);
    this.currentTick = Math.floor(now / tickMs);
  }

  get size(): number {
    return this.count;
  }

  schedule(at: number, payload: T): WheelEntry<T> {
    const e: WheelEntry<T> = { at, payload, cancelled: false, slotTick: 0 };
    this.place(e);
    this.count++;
    return e;
  }

  /**
   * Moves an entry; later deadlines are free, earlier ones re-slot it. An entry that already
   * fired or was cancelled is armed again, as if scheduled anew.
   */
  reschedule(e: WheelEntry<T>, at: number): void {
    if (e.cancelled) {
      // Its old slot may have dropped it already, so it must be placed again to be found.
      e.at = at;
      e.cancelled = false;
      this.count++;
      this.place(e);
      return;
    }
    const wasLater = at >= e.at;
    e.at = at;
    if (!wasLater) {
      // The old slot still holds it; it will be skipped there because its slotTick changes.
      this.place(e);
    }
  }

  cancel(e: WheelEntry<T>): void {
    if (!e.cancelled) {
      e.cancelled = true;
      this.count--;
    }
  }

  /**
   * Fires every entry due at or before `now`, tick by tick in deadline order (entries within one
   * tick fire in the order they reached their slot). Entries that `fire` schedules or moves to a
   * deadline at or before `now` fire in this same call.
   */
  advance(now: number, fire: (payload: T, at: number) => void): void {
    // A clock that steps back must not move the wheel back: entries are placed no earlier than
    // currentTick, and each one is checked against its own `at` anyway.
    const target = Math.max(this.currentTick, Math.floor(now / this.tickMs));
    // A long stall (or a test's clock jump) would walk many empty ticks, and walking one turn
    // from a later start would fire overdue entries in slot order rather than deadline order.
    if (target - this.currentTick > this.mask) this.rebase(target - this.mask);
    for (let t = this.currentTick; t <= target; t++) {
      // Set before firing, so an entry scheduled from `fire` lands in this tick or a later
      // one of this walk, never in a slot already walked (which would hold it a whole turn).
      this.currentTick = t;
      const s = t & this.mask;
      const slot = this.slots[s]!;
      if (slot.length === 0) continue;
      let keep = 0;
      // `slot.length` is re-read: `fire` may push entries into this very slot.
      for (let i = 0; i < slot.length; i++) {
        const e = slot[i]!;
        // Cancelled, or a stale copy left behind when the entry was moved to an earlier slot.
        if (e.cancelled || (e.slotTick & this.mask) !== s) continue;
        if (e.slotTick > t) {
          slot[keep++] = e; // a later turn of the wheel
          continue;
        }
        const due = Math.floor(e.at / this.tickMs);
        if (due > t) {
          // Moved later since it was slotted: firing it here, even if it is due by `now`, would
          // put it ahead of entries with earlier deadlines in the ticks still to walk.
          e.slotTick = due;
          if ((due & this.mask) === s) slot[keep++] = e;
          else this.slots[due & this.mask]!.push(e);
        } else if (e.at <= now) {
          e.cancelled = true;
          this.count--;
          fire(e.payload, e.at);
        } else {
          // Due later within this same (last) tick.
          e.slotTick = t;
          slot[keep++] = e;
        }
      }
      slot.length = keep;
    }
    // The target tick is only partly elapsed: it is walked again next time.
    this.currentTick = target;
  }

  /**
   * Re-slots every live entry for a walk that starts at tick `from`: overdue entries go into
   * `from`'s slot sorted by deadline (so the walk fires them in order), the rest into the slot
   * of their own deadline. Costs a sort, but only after the clock skipped a whole turn.
   */
  private rebase(from: number): void {
    const overdue: WheelEntry<T>[] = [];
    const rest: WheelEntry<T>[] = [];
    const seen = new Set<WheelEntry<T>>();
    for (let s = 0; s <= this.mask; s++) {
      const slot = this.slots[s]!;
      for (const e of slot) {
        if (e.cancelled || (e.slotTick & this.mask) !== s || seen.has(e)) continue;
        seen.add(e);
        const due = Math.floor(e.at / this.tickMs);
        if (due < from) overdue.push(e);
        else rest.push(e);
      }
      slot.length = 0;
    }
    overdue.sort((a, b) => a.at - b.at);
    for (const e of overdue) {
      e.slotTick = from;
      this.slots[from & this.mask]!.push(e);
    }
    for (const e of rest) {
      e.slotTick = Math.floor(e.at / this.tickMs);
      this.slots[e.slotTick & this.mask]!.push(e);
    }
    this.currentTick = from;
  }

  private place(e: WheelEntry<T>): void {
    let tick = Math.floor(e.at / this.tickMs);
    if (tick < this.currentTick) tick = this.currentTick;
    e.slotTick = tick;
    this.slots[tick & this.mask]!.push(e);
  }
}
