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

  /** Moves an entry; later deadlines are free, earlier ones re-slot it. */
  reschedule(e: WheelEntry<T>, at: number): void {
    const wasLater = at >= e.at;
    e.at = at;
    e.cancelled = false;
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

  /** Fires every entry due at or before `now`, in slot order. */
  advance(now: number, fire: (payload: T, at: number) => void): void {
    const target = Math.floor(now / this.tickMs);
    // A long stall (or a test's clock jump) would walk many empty ticks; one full turn visits
    // every slot, which is enough because each entry is checked against its own `at`.
    let t = this.currentTick;
    if (target - t > this.mask) t = target - this.mask;
    for (; t <= target; t++) {
      const s = t & this.mask;
      const slot = this.slots[s]!;
      if (slot.length === 0) continue;
      let keep = 0;
      for (let i = 0; i < slot.length; i++) {
        const e = slot[i]!;
        // Cancelled, or a stale copy left behind when the entry was moved to an earlier slot.
        if (e.cancelled || (e.slotTick & this.mask) !== s) continue;
        if (e.slotTick > t) {
          slot[keep++] = e; // a later turn of the wheel
        } else if (e.at <= now) {
          e.cancelled = true;
          this.count--;
          fire(e.payload, e.at);
        } else {
          const due = Math.max(t, Math.floor(e.at / this.tickMs));
          e.slotTick = due;
          if ((due & this.mask) === s) slot[keep++] = e;
          else this.slots[due & this.mask]!.push(e);
        }
      }
      slot.length = keep;
    }
    // The target tick is only partly elapsed: scan it again next time.
    this.currentTick = target;
  }

  private place(e: WheelEntry<T>): void {
    let tick = Math.floor(e.at / this.tickMs);
    if (tick < this.currentTick) tick = this.currentTick;
    e.slotTick = tick;
    this.slots[tick & this.mask]!.push(e);
  }
}
