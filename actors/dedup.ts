import { Buffer } from 'node:buffer';
import type { ActorContext } from '../runtime/actor.js';
import { hash53 } from './hash.js';

/**
 * Event ids seen within the allowed lateness, as plain data in the actor's state. An id older
 * than the lateness can be forgotten: a copy of its event is refused as `too_late` anyway.
 * Bounded by a capacity too (oldest out first), which is the documented limit: more than
 * `capacity` events for one actor inside the lateness horizon, and a copy of the oldest of them
 * is no longer recognised.
 *
 * One Float64Array holds it all: a few counters, a ring of [hash53 of the id, event time] in
 * arrival order, and an open-addressing index of the live hashes (linear probing, at most half
 * full). As arrays plus a Set<number> every id was a heap number behind pointer hops, so the
 * lookup per event was mostly cache misses on a cold actor, and work for every major GC.
 * The buffer is replaced when it grows or shrinks: the owner's `dd` is updated here.
 */
export type DedupState = Float64Array;

const HEAD = 0; // ring slot of the oldest live id
const N = 1; // live ids
const CAP = 2; // ring slots, a power of two; the index has twice as many
const OLDEST = 3; // event time at HEAD (Infinity when empty), so expire reads no ring slot
const META = 4;
const MIN_CAP = 16;
// hash53 is never negative.
const EMPTY = -1;

function alloc(cap: number): DedupState {
  const d = new Float64Array(META + 4 * cap);
  d.fill(EMPTY, META + 2 * cap);
  d[CAP] = cap;
  d[OLDEST] = Infinity;
  return d;
}

export function newDedup(): DedupState {
  return alloc(MIN_CAP);
}

/** Index slot holding `h`, or the free slot where it would go. */
function probe(d: DedupState, ix: number, mask: number, h: number): number {
  // The low 32 bits of hash53 come out of a finalizer, so they spread well on their own.
  let i = h & mask;
  for (;;) {
    const x = d[ix + i]!;
    if (x === h || x === EMPTY) return i;
    i = (i + 1) & mask;
  }
}

/** Linear-probing delete with backward shift, so no tombstones pile up as ids come and go. */
function unindex(d: DedupState, h: number): void {
  const ix = META + 2 * d[CAP]!;
  const mask = 2 * d[CAP]! - 1;
  let i = probe(d, ix, mask, h);
  if (d[ix + i] === EMPTY) return;
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const x = d[ix + j]!;
    if (x === EMPTY) break;
    const home = x & mask;
    // x may move back to the hole at i only if its home slot is not cyclically within (i, j].
    if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
    d[ix + i] = x;
    i = j;
  }
  d[ix + i] = EMPTY;
}

/** The same live ids, in order, in a buffer of `cap` ring slots. */
function resize(d: DedupState, cap: number): DedupState {
  const out = alloc(cap);
  const n = d[N]!;
  const head = d[HEAD]!;
  const oldMask = d[CAP]! - 1;
  const ix = META + 2 * cap;
  const mask = 2 * cap - 1;
  for (let k = 0; k < n; k++) {
    const from = META + 2 * ((head + k) & oldMask);
    const h = d[from]!;
    out[META + 2 * k] = h;
    out[META + 2 * k + 1] = d[from + 1]!;
    out[ix + probe(out, ix, mask, h)] = h;
  }
  out[N] = n;
  out[OLDEST] = d[OLDEST]!;
  return out;
}

/** True when `id` is among the live ids (nothing is remembered). */
export function contains(d: DedupState, id: string): boolean {
  const cap = d[CAP]!;
  const ix = META + 2 * cap;
  const h = hash53(id);
  return d[ix + probe(d, ix, 2 * cap - 1, h)] === h;
}

/** True when `id` was seen; else remembers it. May replace `s.dd`. */
export function seenBefore(s: { dd: DedupState }, id: string, time: number, capacity: number): boolean {
  let d = s.dd;
  const h = hash53(id);
  let cap = d[CAP]!;
  let slot = probe(d, META + 2 * cap, 2 * cap - 1, h);
  if (d[META + 2 * cap + slot] === h) return true;
  if (d[N] === cap) {
    s.dd = d = resize(d, cap * 2);
    cap *= 2;
    slot = probe(d, META + 2 * cap, 2 * cap - 1, h);
  }
  d[META + 2 * cap + slot] = h;
  const tail = META + 2 * ((d[HEAD]! + d[N]!) & (cap - 1));
  d[tail] = h;
  d[tail + 1] = time;
  if (d[N] === 0) d[OLDEST] = time;
  d[N]!++;
  if (d[N]! > capacity) dropOldest(d);
  return false;
}

function dropOldest(d: DedupState): void {
  const head = d[HEAD]!;
  unindex(d, d[META + 2 * head]!);
  const next = (head + 1) & (d[CAP]! - 1);
  d[HEAD] = next;
  d[N]!--;
  d[OLDEST] = d[N]! > 0 ? d[META + 2 * next + 1]! : Infinity;
}

/** Forgets ids whose event time is before `cutoff`. May replace `s.dd`. */
export function expire(s: { dd: DedupState }, cutoff: number): void {
  const d = s.dd;
  // Arrival order is roughly time order: stop at the first young one (stragglers stay a little
  // longer, which only makes dedup stricter).
  if (!(d[OLDEST]! < cutoff)) return;
  do dropOldest(d);
  while (d[OLDEST]! < cutoff);
  // A burst that has expired should not pin a large buffer (or slow the probes).
  const cap = d[CAP]!;
  if (cap > MIN_CAP && d[N]! * 8 < cap) {
    let c = MIN_CAP;
    while (c < d[N]! * 2) c *= 2;
    s.dd = resize(d, c);
  }
}

export function dedupSize(d: DedupState): number {
  return d[N]!;
}

/** Snapshot form: the live hashes and times as one base64 Float64 block (JSON would triple it). */
export function encodeDedup(d: DedupState): string {
  const n = d[N]!;
  const head = d[HEAD]!;
  const mask = d[CAP]! - 1;
  const buf = new Float64Array(n * 2);
  for (let k = 0; k < n; k++) {
    const at = META + 2 * ((head + k) & mask);
    buf[k] = d[at]!;
    buf[n + k] = d[at + 1]!;
  }
  return Buffer.from(buf.buffer).toString('base64');
}

export function decodeDedup(s: string): DedupState {
  const bytes = Buffer.from(s, 'base64');
  const buf = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const n = buf.length / 2;
  let cap = MIN_CAP;
  while (cap < n + 1) cap *= 2;
  const d = alloc(cap);
  const ix = META + 2 * cap;
  const mask = 2 * cap - 1;
  for (let k = 0; k < n; k++) {
    const h = buf[k]!;
    d[META + 2 * k] = h;
    d[META + 2 * k + 1] = buf[n + k]!;
    d[ix + probe(d, ix, mask, h)] = h;
  }
  d[N] = n;
  if (n > 0) d[OLDEST] = buf[n]!;
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
  if (seenBefore(s, eventId, t, dedupCapacity)) {
    ctx.duplicate();
    return false;
  }
  if (t > s.wm) s.wm = t;
  return true;
}
