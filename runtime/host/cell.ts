// The per-actor record a shard host keeps, and the idle order over them. Plain data shared by
// every role module of the host; nothing here does work beyond list upkeep.
import type { TimerDomain } from '../actor.js';
import type { WireError } from '../errors.js';
import type { WheelEntry } from '../timer-wheel.js';

// Status values are small ints, compared on every event.
export const ACTIVE = 0;
export const ACTIVATING = 1;
export const FAILED = 2;

/**
 * What the host's timer wheel holds: an armed timer of a resident actor (`cell` set), or the
 * wake-up of a passivated one (`key` set): firing that re-activates the actor, whose timers come
 * back from its snapshot and fire from there.
 */
export interface TimerPayload {
  /** Null for a wake-up (or once the actor left memory). */
  cell: Cell | null;
  kind: number;
  tenant: string;
  id: string;
  kg: number;
  /** The timer's name; '' for a wake-up. */
  name: string;
  /** A wake-up: the actor key it is filed under. Null for an armed timer. */
  key: string | null;
}

export interface NamedTimer {
  name: string;
  domain: TimerDomain;
  at: number;
  /** Processing-time timers only: their wheel entry. */
  entry: WheelEntry<TimerPayload> | null;
}

export interface Cell {
  /** Index into the host's kinds. */
  kind: number;
  tenant: string;
  id: string;
  kg: number;
  state: unknown;
  lastSeq: number;
  watermark: number;
  status: number;
  dirty: boolean;
  resident: boolean;
  lastActive: number;
  /** Links in the kind's idle list. */
  prev: Cell | null;
  next: Cell | null;
  /** Parked input while activating; see mailbox.ts for the slot layout. */
  mailbox: unknown[] | null;
  timers: NamedTimer[] | null;
  /** Earliest event-time timer, Infinity when none: checked against the watermark per event. */
  nextEventTimerAt: number;
  /**
   * The store's due index may hold this actor (it had a processing-time timer in a snapshot, or
   * was woken from the index): its next snapshot without one must remove the entry.
   */
  indexed: boolean;
  error: WireError | null;
}

export function newCell(kind: number, tenant: string, id: string, kg: number): Cell {
  return {
    kind, tenant, id, kg,
    state: undefined, lastSeq: 0, watermark: -Infinity, status: ACTIVATING,
    dirty: false, resident: true, lastActive: 0, prev: null, next: null,
    mailbox: null, timers: null, nextEventTimerAt: Infinity, indexed: false, error: null,
  };
}

/** Idle order per kind: an intrusive list, so touching an actor on every event is O(1) and allocation free. */
export class IdleList {
  head: Cell | null = null;
  tail: Cell | null = null;
  touch(c: Cell): void {
    if (this.tail === c) return;
    this.unlink(c);
    c.prev = this.tail;
    c.next = null;
    if (this.tail) this.tail.next = c;
    else this.head = c;
    this.tail = c;
  }
  unlink(c: Cell): void {
    if (c.prev) c.prev.next = c.next;
    else if (this.head === c) this.head = c.next;
    if (c.next) c.next.prev = c.prev;
    else if (this.tail === c) this.tail = c.prev;
    c.prev = null;
    c.next = null;
  }
}
