import type { TimerDomain } from '../actor.js';
import { TimerWheel, type WheelEntry } from '../timer-wheel.js';
import type { Range } from './ranges.js';
import type { Cell, NamedTimer, TimerPayload } from './cell.js';

/**
 * Actors' named timers. Processing-time timers of resident actors sit in the host's one wheel;
 * event-time timers live only on their cell and fire when its watermark passes them (see
 * Handlers). A passivated actor keeps one wake-up in the wheel, at its earliest processing-time
 * timer: the timers themselves are in its snapshot (and its due-index entry in the store, which
 * is how a host that restarts or takes the key group over finds it again, see Reminders).
 * Waking only re-activates the actor; its restored timers then fire, so a timer that is no
 * longer in the actor's state (cancelled, moved, or fired and committed) never fires.
 */
export class ActorTimers {
  private readonly wheel: TimerWheel<TimerPayload>;
  /** Wake-ups of passivated actors, by actor key: at most one each. */
  private readonly wakes = new Map<string, WheelEntry<TimerPayload>>();
  private fire: (p: TimerPayload, at: number) => void = () => undefined;
  private wakeUp: (p: TimerPayload) => void = () => undefined;
  private onRestored: (ranges: readonly Range[]) => void = () => undefined;
  /** Bound once: the wheel's callback splits wake-ups from armed timers without a closure per tick. */
  private readonly dispatch = (p: TimerPayload, at: number): void => {
    if (p.key === null) {
      this.fire(p, at);
      return;
    }
    if (this.wakes.get(p.key)?.payload === p) this.wakes.delete(p.key);
    this.wakeUp(p);
  };

  constructor(tickMs: number, now: number) {
    this.wheel = new TimerWheel(tickMs, now);
  }

  /** Processing-time timers and wake-ups pending in the wheel. */
  get size(): number {
    return this.wheel.size;
  }

  /** Wake-ups pending (passivated actors with a processing-time timer). */
  get waking(): number {
    return this.wakes.size;
  }

  /** Where wake-ups go when due, and who hears of restored key groups (set once, by Reminders). */
  listen(wakeUp: (p: TimerPayload) => void, restored: (ranges: readonly Range[]) => void): void {
    this.wakeUp = wakeUp;
    this.onRestored = restored;
  }

  /** These key groups' state is restored here (their replay applied, in order): their reminders load. */
  restored(ranges: readonly Range[]): void {
    this.onRestored(ranges);
  }

  /** Fires due processing-time timers (`fire`, the actor is resident) and wake-ups. */
  advance(now: number, fire: (p: TimerPayload, at: number) => void): void {
    this.fire = fire;
    this.wheel.advance(now, this.dispatch);
  }

  set(cell: Cell, name: string, at: number, domain: TimerDomain): void {
    const timers = (cell.timers ??= []);
    let t: NamedTimer | undefined;
    for (let i = 0; i < timers.length; i++) if (timers[i]!.name === name) t = timers[i];
    if (!t) {
      t = { name, domain, at, entry: null };
      timers.push(t);
    }
    if (t.domain !== domain && t.entry) {
      this.wheel.cancel(t.entry);
      t.entry = null;
    }
    t.domain = domain;
    t.at = at;
    if (domain === 'processing') {
      if (t.entry) this.wheel.reschedule(t.entry, at);
      else t.entry = this.wheel.schedule(at, { cell, kind: cell.kind, tenant: cell.tenant, id: cell.id, kg: cell.kg, name, key: null });
    }
    this.recomputeEventTimer(cell);
  }

  cancel(cell: Cell, name: string): void {
    const timers = cell.timers;
    if (!timers) return;
    const i = timers.findIndex((t) => t.name === name);
    if (i < 0) return;
    const [t] = timers.splice(i, 1);
    if (t!.entry) this.wheel.cancel(t!.entry);
    this.recomputeEventTimer(cell);
  }

  /**
   * Actors whose processing-time timer fired while they had nothing else uncommitted (a silent
   * patient's signal_lost, a woken actor's timer): their firing is committed at once (see
   * Commits.timerFired). The ShardHost empties it every tick.
   */
  readonly fired: Cell[] = [];

  /** The wheel fired this processing-time timer: false when it is stale (cancelled or re-armed as event time). */
  claimFired(cell: Cell, name: string): boolean {
    const t = cell.timers?.find((x) => x.name === name);
    if (!t || t.domain !== 'processing') return false;
    t.entry = null;
    this.cancel(cell, name);
    // An actor with uncommitted events (one streaming, whose timers fire as it goes) is left to
    // the interval commit: a crash replays those events and the timer fires again with them, a
    // re-execution of what was lost, and a prompt commit of a busy actor's whole state on each
    // firing would cost more than its events do.
    if (!cell.dirty) this.fired.push(cell);
    return true;
  }

  /** Removes and returns the earliest event-time timer (call only when `nextEventTimerAt` is finite). */
  takeNextEventTimer(cell: Cell): NamedTimer {
    const t = cell.timers!.find((x) => x.domain === 'event' && x.at === cell.nextEventTimerAt)!;
    this.cancel(cell, t.name);
    return t;
  }

  /**
   * The actor passivates: its processing-time timers leave the wheel and one wake-up at the
   * earliest of them takes their place (replacing any it had).
   */
  detach(cell: Cell, key: string): void {
    if (!cell.timers) return;
    let min = Infinity;
    for (const t of cell.timers) {
      if (t.entry === null) continue;
      this.wheel.cancel(t.entry);
      t.entry.payload.cell = null;
      t.entry = null;
      if (t.at < min && Number.isFinite(t.at)) min = t.at;
    }
    if (min !== Infinity) this.wake(key, cell.kind, cell.tenant, cell.id, cell.kg, min, true);
  }

  /**
   * A passivated actor is due at `at`. `replace`: this is its current due time (it just
   * passivated); otherwise (read from the store's due index) an existing wake-up is kept.
   */
  wake(key: string, kind: number, tenant: string, id: string, kg: number, at: number, replace: boolean): void {
    const e = this.wakes.get(key);
    if (e === undefined) {
      this.wakes.set(key, this.wheel.schedule(at, { cell: null, kind, tenant, id, kg, name: '', key }));
    } else if (replace) {
      this.wheel.reschedule(e, at);
    }
  }

  /** The actor is back in memory with its timers: it needs no wake-up. */
  unwake(key: string): void {
    const e = this.wakes.get(key);
    if (e === undefined) return;
    this.wheel.cancel(e);
    this.wakes.delete(key);
  }

  /** Key groups were handed over: their wake-ups are the new owner's business. */
  dropWakes(ranges: readonly Range[]): void {
    for (const [key, e] of this.wakes) {
      const kg = e.payload.kg;
      if (ranges.some(([a, b]) => kg >= a && kg < b)) {
        this.wheel.cancel(e);
        this.wakes.delete(key);
      }
    }
  }

  private recomputeEventTimer(cell: Cell): void {
    let min = Infinity;
    if (cell.timers) for (const t of cell.timers) if (t.domain === 'event' && t.at < min) min = t.at;
    cell.nextEventTimerAt = min;
  }
}

/** The actor's earliest processing-time timer, or null: its entry in the store's due index. */
export function earliestDue(cell: Cell): number | null {
  let min = Infinity;
  // A non-finite deadline never comes due (and the store takes only finite ones).
  if (cell.timers) for (const t of cell.timers) if (t.domain === 'processing' && t.at < min && Number.isFinite(t.at)) min = t.at;
  return min === Infinity ? null : min;
}
