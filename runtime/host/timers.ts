import type { TimerDomain } from '../actor.js';
import { TimerWheel } from '../timer-wheel.js';
import type { Cell, NamedTimer, TimerPayload } from './cell.js';

/**
 * Actors' named timers. Processing-time timers sit in the host's one wheel; event-time timers
 * live only on their cell and fire when its watermark passes them (see Handlers).
 */
export class ActorTimers {
  private readonly wheel: TimerWheel<TimerPayload>;

  constructor(tickMs: number, now: number) {
    this.wheel = new TimerWheel(tickMs, now);
  }

  /** Processing-time timers pending in the wheel. */
  get size(): number {
    return this.wheel.size;
  }

  /** Fires due processing-time timers; `fire` finds (or re-activates) the actor. */
  advance(now: number, fire: (p: TimerPayload, at: number) => void): void {
    this.wheel.advance(now, fire);
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
      else t.entry = this.wheel.schedule(at, { cell, kind: cell.kind, tenant: cell.tenant, id: cell.id, name });
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

  /** The wheel fired this processing-time timer: false when it is stale (cancelled or re-armed as event time). */
  claimFired(cell: Cell, name: string): boolean {
    const t = cell.timers?.find((x) => x.name === name);
    if (!t || t.domain !== 'processing') return false;
    t.entry = null;
    this.cancel(cell, name);
    return true;
  }

  /** Removes and returns the earliest event-time timer (call only when `nextEventTimerAt` is finite). */
  takeNextEventTimer(cell: Cell): NamedTimer {
    const t = cell.timers!.find((x) => x.domain === 'event' && x.at === cell.nextEventTimerAt)!;
    this.cancel(cell, t.name);
    return t;
  }

  /** The actor passivates: its wheel entries stay, without the cell, so firing one re-activates it. */
  detach(cell: Cell): void {
    if (!cell.timers) return;
    for (const t of cell.timers) if (t.entry) t.entry.payload.cell = null;
  }

  private recomputeEventTimer(cell: Cell): void {
    let min = Infinity;
    if (cell.timers) for (const t of cell.timers) if (t.domain === 'event' && t.at < min) min = t.at;
    cell.nextEventTimerAt = min;
  }
}
