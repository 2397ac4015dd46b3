import { Buffer } from 'node:buffer';
import type { ActorContext } from '../runtime/actor.js';
import { hash53 } from './hash.js';

/**
 * Event ids seen within the allowed lateness, as plain data in the actor's state. An id older
 * than the lateness can be forgotten: a copy of its event is refused as `too_late` anyway.
 * Bounded by a capacity too (oldest out first), which is the documented limit: more than
 * `capacity` events for one actor inside the lateness horizon, and a copy of the oldest of them
 * is no longer recognised.
 */
export interface DedupState {
  /** hash53 of each id and its event time, in arrival order, live from `head`. */
  h: number[];
  t: number[];
  head: number;
}

// The lookup set is derived data, rebuilt from the arrays after a snapshot is decoded. It hangs
// off the state under a symbol key: JSON.stringify skips it, and reading it is a plain property
// load (a WeakMap lookup per event cost ~10% of a shard host's time in `vigil bench`).
const SET = Symbol('dedupSet');
type WithSet = DedupState & { [SET]?: Set<number> };

function setOf(d: DedupState): Set<number> {
  let s = (d as WithSet)[SET];
  if (s === undefined) {
    s = new Set(d.h.slice(d.head));
    Object.defineProperty(d, SET, { value: s, enumerable: false, writable: true });
  }
  return s;
}

export function newDedup(): DedupState {
  return { h: [], t: [], head: 0 };
}

/** True when `id` was seen; else remembers it. */
export function seenBefore(d: DedupState, id: string, time: number, capacity: number): boolean {
  const set = setOf(d);
  const h = hash53(id);
  if (set.has(h)) return true;
  set.add(h);
  d.h.push(h);
  d.t.push(time);
  if (d.h.length - d.head > capacity) {
    set.delete(d.h[d.head]!);
    d.head++;
  }
  return false;
}

/** Forgets ids whose event time is before `cutoff`. */
export function expire(d: DedupState, cutoff: number): void {
  const set = setOf(d);
  // Arrival order is roughly time order: stop at the first young one (stragglers stay a little
  // longer, which only makes dedup stricter).
  while (d.head < d.h.length && d.t[d.head]! < cutoff) {
    set.delete(d.h[d.head]!);
    d.head++;
  }
  if (d.head > 64 && d.head * 2 > d.h.length) {
    d.h.splice(0, d.head);
    d.t.splice(0, d.head);
    d.head = 0;
  }
}

export function dedupSize(d: DedupState): number {
  return d.h.length - d.head;
}

/** Snapshot form: the live hashes and times as one base64 Float64 block (JSON would triple it). */
export function encodeDedup(d: DedupState): string {
  const n = d.h.length - d.head;
  const buf = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    buf[i] = d.h[d.head + i]!;
    buf[n + i] = d.t[d.head + i]!;
  }
  return Buffer.from(buf.buffer).toString('base64');
}

export function decodeDedup(s: string): DedupState {
  const bytes = Buffer.from(s, 'base64');
  const buf = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const n = buf.length / 2;
  const d = newDedup();
  for (let i = 0; i < n; i++) {
    d.h.push(buf[i]!);
    d.t.push(buf[n + i]!);
  }
  return d;
}

/**
 * The gate every clinical event passes first, in event time: beyond the allowed lateness it is
 * refused `too_late`; a repeated event id is a duplicate. Either way the state is untouched and
 * false is returned; else the watermark advances and the event is admitted.
 */
export function admit(s: { wm: number; dd: DedupState }, eventId: string, ctx: ActorContext, latenessMs: number, dedupCapacity: number): boolean {
  const t = ctx.eventTime;
  if (t < s.wm - latenessMs) {
    ctx.reject('too_late', `event_time is ${Math.round((s.wm - t) / 1000)} s behind ${ctx.kind} ${ctx.id}'s watermark; allowed lateness is ${latenessMs / 1000} s`);
    return false;
  }
  if (seenBefore(s.dd, eventId, t, dedupCapacity)) {
    ctx.duplicate();
    return false;
  }
  if (t > s.wm) s.wm = t;
  return true;
}
