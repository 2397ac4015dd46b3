// Back-fill (SPEC §5, issue 14 item 4): history older than an actor's watermark, sent as an
// import (`vigil import`, or a batch `{"mode": "import", "events": [...]}`), is accepted within
// the back-fill horizon. It lands in analytics and corrects the minute rollups; it never moves the
// watermark, never replaces a newer latest value and never opens or resolves a live alert.
//
// The mark travels in the event body (`bf: 1`, set by the frame decoder for an import frame):
// ingest groups mix frames of many connections per host batch, so a per-batch flag would not
// survive routing, while the body rides the packed batch, the durable log and its replay as it is.
// A live event has no such field: its cost is one absent-property read.
//
// A minute window belongs either to the live series or to the back-fill store, never both:
//   - a minute the live series still holds: the back-filled value is a late correction there;
//   - a minute that never had a live window: the store keeps it (for the horizon) and re-emits it
//     with the next revision on every value, live ones too, so order never matters;
//   - a minute whose live window was released (older than the allowed lateness): its contents
//     are gone from the actor, so no correct merged row can be written: refused `too_late`.
import type { ActorContext } from '../runtime/actor.js';
import { contains, decodeDedup, dedupSize, encodeDedup, expire, newDedup, seenBefore, type DedupState } from './dedup.js';
import { dict, toDict } from './dict.js';
import {
  addHourValue, addStoredValue, dropMinutesBefore, holdsMinute, minuteOf, newSeries, seriesFromJSON, seriesToJSON, wasLive,
  type EmitRollup, type SeriesJSON, type SeriesState,
} from './windows.js';

/** The field an import frame's events carry in their body. */
export interface BackfillMark {
  readonly bf?: 1;
}

export function isBackfill(body: unknown): boolean {
  return (body as BackfillMark).bf === 1;
}

/** What an actor keeps once it has back-filled events (absent before: live actors pay nothing). */
export interface BackfillState {
  /** Newest back-filled event time: with the watermark, the reference the horizon counts from. */
  bt: number;
  /** Ids of back-filled events within the horizon (re-importing a file is idempotent). */
  dd: DedupState;
  /** Minute windows that never had a live window, per series name (one region each). */
  rows: Record<string, SeriesState>;
}

export interface BackfillJSON {
  bt: number;
  dd: string;
  rows: Record<string, SeriesJSON>;
}

export function newBackfill(): BackfillState {
  return { bt: -Infinity, dd: newDedup(), rows: dict() };
}

export function backfillToJSON(b: BackfillState): BackfillJSON {
  const rows = dict<SeriesJSON>();
  for (const k in b.rows) rows[k] = seriesToJSON(b.rows[k]!);
  return { bt: b.bt, dd: encodeDedup(b.dd), rows };
}

export function backfillFromJSON(j: BackfillJSON): BackfillState {
  const rows = dict<SeriesState>();
  for (const k of Object.keys(j.rows)) rows[k] = seriesFromJSON(j.rows[k]!);
  return { bt: j.bt ?? -Infinity, dd: decodeDedup(j.dd), rows: toDict(rows) };
}

export interface BackfillLimits {
  /** `clinical.patient.backfillHorizonMs` */
  horizonMs: number;
  /** `clinical.patient.backfillDedupCapacity` */
  dedupCapacity: number;
  latenessMs: number;
}

/** The name the horizon is configured by, for messages. */
export const HORIZON_SETTING = 'clinical.patient.backfillHorizonMs';

/**
 * The horizon and duplicate gate of a back-filled event (the live `admit` of dedup.ts, for
 * history): beyond the horizon it is refused `too_late`; an id seen live or back-filled is a
 * duplicate. Read-only: `commitBackfill` remembers the id once the event is known to apply.
 */
export function checkBackfill(
  s: { wm: number; dd: DedupState; bf?: BackfillState | undefined }, eventId: string, ctx: ActorContext, lim: BackfillLimits,
): boolean {
  const t = ctx.eventTime;
  const ref = Math.max(s.wm, s.bf?.bt ?? -Infinity);
  if (t < ref - lim.horizonMs) {
    ctx.reject('too_late', `event_time is ${Math.round((ref - t) / 1000)} s behind ${ctx.kind} ${ctx.id}'s newest reading; the back-fill horizon (${HORIZON_SETTING}) is ${lim.horizonMs / 1000} s`);
    return false;
  }
  if (contains(s.dd, eventId) || (s.bf !== undefined && contains(s.bf.dd, eventId))) {
    ctx.duplicate();
    return false;
  }
  return true;
}

/** Remembers a back-filled event that applies, and forgets what the horizon has passed. */
export function commitBackfill(s: { wm: number; bf?: BackfillState | undefined }, eventId: string, t: number, lim: BackfillLimits): BackfillState {
  const b = (s.bf ??= newBackfill());
  seenBefore(b, eventId, t, lim.dedupCapacity);
  if (t > b.bt) b.bt = t;
  pruneBackfill(s, lim);
  return b;
}

/**
 * Forgets ids and windows the horizon has passed; once nothing is left the actor drops its
 * back-fill state and is a plain live actor again (no state, no per-event checks). Called on
 * back-filled events and on live events of an actor that has back-fill state.
 */
export function pruneBackfill(s: { wm: number; bf?: BackfillState | undefined }, lim: BackfillLimits): void {
  const b = s.bf;
  if (b === undefined) return;
  const cutoff = Math.max(s.wm, b.bt) - lim.horizonMs;
  expire(b, cutoff);
  let rows = 0;
  for (const k in b.rows) {
    if (dropMinutesBefore(b.rows[k]!, 0, cutoff)) delete b.rows[k];
    else rows++;
  }
  if (rows === 0 && dedupSize(b.dd) === 0) s.bf = undefined;
}

/**
 * True when back-filling time `t` into live series `live` would have to rewrite a released live
 * window (see the top of this file): the event is then refused before anything changes.
 */
export function releasedLive(b: BackfillState | undefined, name: string, live: SeriesState | undefined, t: number, wm: number, latenessMs: number): boolean {
  if (live === undefined) return false;
  const m = minuteOf(t);
  if (b?.rows[name] !== undefined && holdsMinute(b.rows[name], 0, m)) return false;
  if (holdsMinute(live, 0, m)) return false;
  // Still within the lateness (not yet dropped by `advance`)? Then it was never a live window.
  if (m + 60_000 + latenessMs >= wm) return false;
  return wasLive(live, 0, m);
}

/**
 * True when the store owns the minute of time `t` for series `name`: every value for it (live
 * ones too) goes there, never to a live window.
 */
export function storeOwns(b: BackfillState | undefined, name: string, t: number): boolean {
  const r = b?.rows[name];
  return r !== undefined && holdsMinute(r, 0, minuteOf(t));
}

/**
 * Adds a value to the store's minute window (re-emitted at once) and to the live series' hour
 * window when that is still kept. Returns the live series buffer to keep.
 */
export function addToStore(b: BackfillState, name: string, live: SeriesState, t: number, v: number, wm: number, latenessMs: number, emit: EmitRollup): SeriesState {
  const cur = b.rows[name] ?? newSeries();
  const grown = addStoredValue(cur, 0, name, t, v, emit);
  b.rows[name] = grown;
  return addHourValue(live, 0, t, v, wm, latenessMs);
}

/** True when a value of series `name` at time `t` goes to the back-fill store, not the live series. */
export function toStore(b: BackfillState | undefined, name: string, backfilling: boolean, live: SeriesState, t: number): boolean {
  if (b === undefined) return false;
  if (storeOwns(b, name, t)) return true;
  return backfilling && !holdsMinute(live, 0, minuteOf(t));
}

/** A live event whose id was back-filled: a duplicate (checked only once the actor back-filled). */
export function backfilledBefore(s: { bf?: BackfillState | undefined }, eventId: string): boolean {
  return s.bf !== undefined && contains(s.bf.dd, eventId);
}
