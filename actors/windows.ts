// Event-time window statistics per series (one series per vital sign, biometric or telemetry
// channel). Windows are keyed by their start; a window is final once the actor's watermark
// passes its end, and is kept for corrections until the allowed lateness has passed too. A late
// event inside the lateness corrects its window and bumps its revision, so the rollup is
// re-emitted and the analytics store keeps the highest revision (ReplacingMergeTree(rev)).
//
// Live, series are held in Float64Arrays, one or several series per buffer: every event updates a
// minute and an hour window of several series of a cold actor, and as arrays of row arrays that
// was ten or so scattered objects per series, each a likely cache miss. Snapshots keep the
// row-array form (SeriesJSON), so their encoding did not change; summaries accept either form.
import { dict } from './dict.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/** [start, count, min, max, sum, revision emitted (0 = not yet), dirty since emit (0/1)] */
export type WindowRow = [number, number, number, number, number, number, number];

/** A series as snapshots hold it. */
export interface SeriesJSON {
  /** Minute windows, ascending by start. */
  m: WindowRow[];
  /** Hour windows, ascending by start (not emitted; served live). */
  hr: WindowRow[];
  /**
   * Spans [from, to) of minutes that ever had a live window (back-fill may not write a released
   * one: its contents are gone). Absent in snapshots from before back-fill: unknown, taken as
   * "all of time" (back-fill into released windows of such a series is refused).
   */
  iv?: [number, number][];
}

/**
 * One or more series as the actor holds them: [minute rows per series, hour rows per series,
 * series], then a region per series: [minute rows in use, hour rows in use, the minute rows, the
 * hour rows], then per series its live spans: [spans in use, SPANS x (from, to)] (after all the
 * rows, so an event's reads of a region touch the same cache lines as without them). A row is
 * ROW doubles in WindowRow order; rows ascend by start. Functions that add rows return the
 * buffer to keep, a larger copy when a region was full.
 */
export type SeriesState = Float64Array;

const CM = 0;
const CH = 1;
const REGIONS = 2;
const HDR = 3;
const ROW = 7;

// Fields of a region, from its offset.
const NM = 0;
const NH = 1;
const ROWS = 2;

// Fields of a series' spans, from their offset.
const NI = 0;
const SPAN0 = 1;
/**
 * Live spans kept per series: a steady stream is one span, each outage adds one. Beyond this the
 * two oldest merge (the gap between them counts as live: back-fill into it is refused, never
 * merged wrongly).
 */
const SPANS = 4;
const SPAN_STRIDE = 1 + 2 * SPANS;

// Fields of a row, from its offset.
const START = 0;
const COUNT = 1;
const MIN = 2;
const MAX = 3;
const SUM = 4;
const REV = 5;
const DIRTY = 6;

export interface WindowStats {
  start: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

/** A window leaving the actor: its row is the ROW doubles of `b` from offset `at`, read at once. */
export type EmitRollup = (series: string, b: Float64Array, at: number, windowMs: number, final: boolean) => void;

// Room for the minute windows of a few minutes' lateness and the hour windows kept (two hours
// and the lateness); more only grows the buffer.
const MINUTE_ROWS = 8;
const HOUR_ROWS = 4;

function stride(cm: number, ch: number): number {
  return ROWS + (cm + ch) * ROW;
}

function alloc(regions: number, cm: number, ch: number): Float64Array {
  const b = new Float64Array(HDR + regions * (stride(cm, ch) + SPAN_STRIDE));
  b[CM] = cm;
  b[CH] = ch;
  b[REGIONS] = regions;
  return b;
}

/** Offset of the live spans of series `r`. */
function spansAt(b: Float64Array, r: number): number {
  return HDR + b[REGIONS]! * stride(b[CM]!, b[CH]!) + r * SPAN_STRIDE;
}

/** Notes that minute window `m` of the series whose spans are at `reg` is live (once per new minute row). */
function markLive(b: Float64Array, reg: number, m: number): void {
  const n = b[reg + NI]!;
  const sp = reg + SPAN0;
  const end = m + MINUTE;
  // The usual case: the next minute of the newest span.
  if (n > 0 && b[sp + 2 * (n - 1) + 1] === m) {
    b[sp + 2 * (n - 1) + 1] = end;
    return;
  }
  let i = 0;
  while (i < n && b[sp + 2 * i + 1]! < m) i++;
  // Spans i.. end at or after m: m joins span i when it touches it.
  if (i < n && b[sp + 2 * i]! <= end) {
    if (m < b[sp + 2 * i]!) b[sp + 2 * i] = m;
    if (end > b[sp + 2 * i + 1]!) b[sp + 2 * i + 1] = end;
    // It may now touch the next span.
    if (i + 1 < n && b[sp + 2 * (i + 1)]! <= b[sp + 2 * i + 1]!) {
      b[sp + 2 * i + 1] = Math.max(b[sp + 2 * i + 1]!, b[sp + 2 * (i + 1) + 1]!);
      b.copyWithin(sp + 2 * (i + 1), sp + 2 * (i + 2), sp + 2 * n);
      b[reg + NI] = n - 1;
    }
    return;
  }
  if (n === SPANS) {
    // Full: the two oldest merge, which only ever refuses more back-fill, never merges wrongly.
    b[sp + 1] = b[sp + 3]!;
    b.copyWithin(sp + 2, sp + 4, sp + 2 * n);
    b[reg + NI] = n - 1;
    markLive(b, reg, m);
    return;
  }
  b.copyWithin(sp + 2 * (i + 1), sp + 2 * i, sp + 2 * n);
  b[sp + 2 * i] = m;
  b[sp + 2 * i + 1] = end;
  b[reg + NI] = n + 1;
}

/** True when minute window `m` of series `r` had a live window once (or nobody knows). */
export function wasLive(b: SeriesState, r: number, m: number): boolean {
  const reg = spansAt(b, r);
  const n = b[reg + NI]!;
  for (let i = 0; i < n; i++) {
    const at = reg + SPAN0 + 2 * i;
    if (m >= b[at]! && m < b[at + 1]!) return true;
  }
  return false;
}

/** `regions` empty series in one buffer. */
export function newSeries(regions = 1): SeriesState {
  return alloc(regions, MINUTE_ROWS, HOUR_ROWS);
}

function regionAt(b: Float64Array, r: number): number {
  return HDR + r * stride(b[CM]!, b[CH]!);
}

/** The same series with room for at least `cm` minute and `ch` hour rows each. */
function grow(b: Float64Array, cm: number, ch: number): Float64Array {
  const regions = b[REGIONS]!;
  const oldCm = b[CM]!;
  const n = alloc(regions, Math.max(oldCm, cm), Math.max(b[CH]!, ch));
  const newCm = n[CM]!;
  for (let r = 0; r < regions; r++) {
    const from = regionAt(b, r);
    const to = regionAt(n, r);
    const nm = b[from + NM]!;
    const nh = b[from + NH]!;
    n[to + NM] = nm;
    n[to + NH] = nh;
    n.set(b.subarray(from + ROWS, from + ROWS + nm * ROW), to + ROWS);
    const hFrom = from + ROWS + oldCm * ROW;
    n.set(b.subarray(hFrom, hFrom + nh * ROW), to + ROWS + newCm * ROW);
  }
  const spans = spansAt(b, 0);
  n.set(b.subarray(spans, spans + regions * SPAN_STRIDE), spansAt(n, 0));
  return n;
}

/** Offset of the row starting at `start` among `n` rows from `base`, or ~(index it would take). */
function find(b: Float64Array, base: number, n: number, start: number): number {
  // Windows arrive mostly in order: search from the end.
  let i = n - 1;
  while (i >= 0 && b[base + i * ROW]! > start) i--;
  if (i >= 0 && b[base + i * ROW] === start) return base + i * ROW;
  return ~(i + 1);
}

/** Opens an empty window at index `i` of `n` rows from `base` (the region has room); its offset. */
function insert(b: Float64Array, base: number, n: number, i: number, start: number): number {
  const at = base + i * ROW;
  if (i < n) b.copyWithin(at + ROW, at, base + n * ROW);
  b[at + START] = start;
  b[at + COUNT] = 0;
  b[at + MIN] = Infinity;
  b[at + MAX] = -Infinity;
  b[at + SUM] = 0;
  b[at + REV] = 0;
  b[at + DIRTY] = 0;
  return at;
}

function addTo(b: Float64Array, at: number, v: number): void {
  b[at + COUNT]!++;
  if (v < b[at + MIN]!) b[at + MIN] = v;
  if (v > b[at + MAX]!) b[at + MAX] = v;
  b[at + SUM]! += v;
  b[at + DIRTY] = 1;
}

// Window starts of the last event time seen: an event updates several series at one time, and a
// double remainder is a library call.
let lastT = NaN;
let lastMinute = NaN;
let lastHour = NaN;

/**
 * Adds one value at event time `t` to series `r` of `b`, and returns the buffer to keep. A window
 * that was already emitted is re-emitted at once.
 */
export function addValue(b: SeriesState, r: number, name: string, t: number, v: number, watermark: number, emit: EmitRollup): SeriesState {
  if (t !== lastT) {
    lastT = t;
    lastMinute = t - (t % MINUTE);
    lastHour = t - (t % HOUR);
  }
  const mStart = lastMinute;
  const hStart = lastHour;
  let reg = regionAt(b, r);
  let at = find(b, reg + ROWS, b[reg + NM]!, mStart);
  if (at < 0) {
    if (b[reg + NM] === b[CM]) {
      b = grow(b, 2 * (b[reg + NM]! + 1), 0);
      reg = regionAt(b, r);
    }
    at = insert(b, reg + ROWS, b[reg + NM]!, ~at, mStart);
    b[reg + NM]!++;
    markLive(b, spansAt(b, r), mStart);
  }
  addTo(b, at, v);
  if (b[at + REV]! > 0 && mStart + MINUTE <= watermark) {
    // A correction of a final window.
    b[at + REV]!++;
    b[at + DIRTY] = 0;
    emit(name, b, at, MINUTE, true);
  }
  let hb = reg + ROWS + b[CM]! * ROW;
  let ah = find(b, hb, b[reg + NH]!, hStart);
  if (ah < 0) {
    if (b[reg + NH] === b[CH]) {
      b = grow(b, 0, 2 * (b[reg + NH]! + 1));
      reg = regionAt(b, r);
      hb = reg + ROWS + b[CM]! * ROW;
    }
    ah = insert(b, hb, b[reg + NH]!, ~ah, hStart);
    b[reg + NH]!++;
  }
  addTo(b, ah, v);
  return b;
}

/** Start of the minute window holding event time `t`. */
export function minuteOf(t: number): number {
  return t - (t % MINUTE);
}

/** True when series `r` holds the minute window starting at `m` (live, or a back-fill store's). */
export function holdsMinute(b: SeriesState, r: number, m: number): boolean {
  const reg = regionAt(b, r);
  return find(b, reg + ROWS, b[reg + NM]!, m) >= 0;
}

/**
 * Back-fill (SPEC §5): a minute window that never had a live one is kept in a store of its own
 * (series `r` of `store`, minute rows only), and every value added re-emits it at once with the
 * next revision, so the analytics store keeps the merged window whatever order the values came
 * in. Returns the buffer to keep.
 */
export function addStoredValue(store: SeriesState, r: number, name: string, t: number, v: number, emit: EmitRollup): SeriesState {
  const m = minuteOf(t);
  let b = store;
  let reg = regionAt(b, r);
  let at = find(b, reg + ROWS, b[reg + NM]!, m);
  if (at < 0) {
    if (b[reg + NM] === b[CM]) {
      b = grow(b, 2 * (b[reg + NM]! + 1), 0);
      reg = regionAt(b, r);
    }
    at = insert(b, reg + ROWS, b[reg + NM]!, ~at, m);
    b[reg + NM]!++;
  }
  addTo(b, at, v);
  b[at + REV]!++;
  b[at + DIRTY] = 0;
  emit(name, b, at, MINUTE, true);
  return b;
}

/**
 * Adds a value to the live hour window of series `r` when that window is still kept at this
 * watermark (the live summary's hour stats), not to any minute window. Returns the buffer to keep.
 */
export function addHourValue(b: SeriesState, r: number, t: number, v: number, watermark: number, latenessMs: number): SeriesState {
  const h = t - (t % HOUR);
  if (h + 2 * HOUR + latenessMs < watermark) return b;
  let reg = regionAt(b, r);
  let hb = reg + ROWS + b[CM]! * ROW;
  let ah = find(b, hb, b[reg + NH]!, h);
  if (ah < 0) {
    if (b[reg + NH] === b[CH]) {
      b = grow(b, 0, 2 * (b[reg + NH]! + 1));
      reg = regionAt(b, r);
      hb = reg + ROWS + b[CM]! * ROW;
    }
    ah = insert(b, hb, b[reg + NH]!, ~ah, h);
    b[reg + NH]!++;
  }
  addTo(b, ah, v);
  return b;
}

/** Forgets minute windows of series `r` that end before `cutoff`; true when none is left. */
export function dropMinutesBefore(b: SeriesState, r: number, cutoff: number): boolean {
  const reg = regionAt(b, r);
  const mb = reg + ROWS;
  const nm = b[reg + NM]!;
  let drop = 0;
  while (drop < nm && b[mb + drop * ROW]! + MINUTE < cutoff) drop++;
  if (drop > 0) {
    b.copyWithin(mb, mb + drop * ROW, mb + nm * ROW);
    b[reg + NM] = nm - drop;
  }
  return nm - drop === 0;
}

/**
 * Emits windows of series `r` the watermark has passed (first revision), and forgets windows
 * that can no longer be corrected. Hour windows are kept for an hour longer: they back the live
 * summary.
 */
export function advance(b: SeriesState, r: number, name: string, watermark: number, latenessMs: number, emit: EmitRollup): void {
  const reg = regionAt(b, r);
  const mb = reg + ROWS;
  const nm = b[reg + NM]!;
  for (let i = 0; i < nm; i++) {
    const at = mb + i * ROW;
    if (b[at + START]! + MINUTE > watermark) break;
    if (b[at + REV] === 0) {
      b[at + REV] = 1;
      b[at + DIRTY] = 0;
      emit(name, b, at, MINUTE, true);
    }
  }
  let drop = 0;
  while (drop < nm && b[mb + drop * ROW]! + MINUTE + latenessMs < watermark) drop++;
  if (drop > 0) {
    b.copyWithin(mb, mb + drop * ROW, mb + nm * ROW);
    b[reg + NM] = nm - drop;
  }
  const hb = mb + b[CM]! * ROW;
  const nh = b[reg + NH]!;
  let dropH = 0;
  while (dropH < nh && b[hb + dropH * ROW]! + 2 * HOUR + latenessMs < watermark) dropH++;
  if (dropH > 0) {
    b.copyWithin(hb, hb + dropH * ROW, hb + nh * ROW);
    b[reg + NH] = nh - dropH;
  }
}

function rowsOf(b: Float64Array, base: number, n: number): WindowRow[] {
  const out: WindowRow[] = [];
  for (let i = 0; i < n; i++) {
    const at = base + i * ROW;
    out.push([b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!]);
  }
  return out;
}

/** Snapshot form of series `r` of `b`; with `spans`, its live spans too (unless unknown). */
export function seriesToJSON(b: SeriesState, r = 0, spans = false): SeriesJSON {
  const reg = regionAt(b, r);
  const j: SeriesJSON = { m: rowsOf(b, reg + ROWS, b[reg + NM]!), hr: rowsOf(b, reg + ROWS + b[CM]! * ROW, b[reg + NH]!) };
  const sp = spansAt(b, r);
  if (spans && b[sp + SPAN0] !== -Infinity) {
    const iv: [number, number][] = [];
    for (let i = 0; i < b[sp + NI]!; i++) iv.push([b[sp + SPAN0 + 2 * i]!, b[sp + SPAN0 + 2 * i + 1]!]);
    j.iv = iv;
  }
  return j;
}

/** Live form of snapshot series, one region each in the order given. */
export function seriesFromJSON(...js: SeriesJSON[]): SeriesState {
  let cm = MINUTE_ROWS;
  let ch = HOUR_ROWS;
  for (const j of js) {
    cm = Math.max(cm, j.m.length);
    ch = Math.max(ch, j.hr.length);
  }
  const b = alloc(js.length, cm, ch);
  for (let r = 0; r < js.length; r++) {
    const j = js[r]!;
    const reg = regionAt(b, r);
    b[reg + NM] = j.m.length;
    b[reg + NH] = j.hr.length;
    // A field JSON carried as null (a sum that overflowed) reads as 0, as it did in arithmetic.
    for (let i = 0; i < j.m.length; i++) b.set(j.m[i]!, reg + ROWS + i * ROW);
    // Without spans (an older snapshot, or a caller that keeps none), every minute may have been live.
    const iv = j.iv ?? [[-Infinity, Infinity]];
    const keep = iv.slice(Math.max(0, iv.length - SPANS));
    const sp = spansAt(b, r);
    b[sp + NI] = keep.length;
    for (let i = 0; i < keep.length; i++) b.set(keep[i]!, sp + SPAN0 + 2 * i);
    if (keep.length < iv.length) b[sp + SPAN0] = iv[0]![0];
    const hb = reg + ROWS + cm * ROW;
    for (let i = 0; i < j.hr.length; i++) b.set(j.hr[i]!, hb + i * ROW);
  }
  return b;
}

/** Snapshot form of a record of single series (same keys, same order). */
export function seriesRecordToJSON(rec: Record<string, SeriesState>): Record<string, SeriesJSON> {
  const out = dict<SeriesJSON>();
  for (const k in rec) out[k] = seriesToJSON(rec[k]!, 0, true);
  return out;
}

export function seriesRecordFromJSON(rec: Record<string, SeriesJSON>): Record<string, SeriesState> {
  const out = dict<SeriesState>();
  for (const k of Object.keys(rec)) out[k] = seriesFromJSON(rec[k]!);
  return out;
}

export function stats(row: WindowRow | undefined): WindowStats | null {
  if (!row || row[1] === 0) return null;
  return { start: row[0], count: row[1], min: row[2], max: row[3], avg: row[4] / row[1] };
}

/** The newest minute and hour windows, for the live summary (snapshot form, or series `r` live). */
export function latestStats(s: SeriesState | SeriesJSON, r = 0): { minute: WindowStats | null; hour: WindowStats | null } {
  const j = s instanceof Float64Array ? seriesToJSON(s, r) : s;
  return { minute: stats(j.m[j.m.length - 1]), hour: stats(j.hr[j.hr.length - 1]) };
}
