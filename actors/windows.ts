// Event-time window statistics per series (one series per vital sign, biometric or telemetry
// channel). Windows are keyed by their start; a window is final once the actor's watermark
// passes its end, and is kept for corrections until the allowed lateness has passed too. A late
// event inside the lateness corrects its window and bumps its revision, so the rollup is
// re-emitted and the analytics store keeps the highest revision (ReplacingMergeTree(rev)).

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/** [start, count, min, max, sum, revision emitted (0 = not yet), dirty since emit (0/1)] */
export type WindowRow = [number, number, number, number, number, number, number];

export interface SeriesState {
  /** Minute windows, ascending by start. */
  m: WindowRow[];
  /** Hour windows, ascending by start (not emitted; served live). */
  hr: WindowRow[];
}

export interface WindowStats {
  start: number;
  count: number;
  min: number;
  max: number;
  avg: number;
}

export type EmitRollup = (series: string, row: WindowRow, windowMs: number, final: boolean) => void;

function findOrInsert(rows: WindowRow[], start: number): WindowRow {
  // Windows arrive mostly in order: search from the end.
  let i = rows.length - 1;
  while (i >= 0 && rows[i]![0] > start) i--;
  if (i >= 0 && rows[i]![0] === start) return rows[i]!;
  const row: WindowRow = [start, 0, Infinity, -Infinity, 0, 0, 0];
  rows.splice(i + 1, 0, row);
  return row;
}

function addTo(row: WindowRow, v: number): void {
  row[1]++;
  if (v < row[2]) row[2] = v;
  if (v > row[3]) row[3] = v;
  row[4] += v;
  row[6] = 1;
}

export function newSeries(): SeriesState {
  return { m: [], hr: [] };
}

/** Adds one value at event time `t`. A window that was already emitted is re-emitted at once. */
export function addValue(s: SeriesState, name: string, t: number, v: number, watermark: number, emit: EmitRollup): void {
  const mStart = t - (t % MINUTE);
  const row = findOrInsert(s.m, mStart);
  addTo(row, v);
  if (row[5] > 0 && mStart + MINUTE <= watermark) {
    // A correction of a final window.
    row[5]++;
    row[6] = 0;
    emit(name, row, MINUTE, true);
  }
  addTo(findOrInsert(s.hr, t - (t % HOUR)), v);
}

/**
 * Emits windows the watermark has passed (first revision), and forgets windows that can no
 * longer be corrected. Hour windows are kept for an hour longer: they back the live summary.
 */
export function advance(s: SeriesState, name: string, watermark: number, latenessMs: number, emit: EmitRollup): void {
  const m = s.m;
  for (let i = 0; i < m.length; i++) {
    const row = m[i]!;
    if (row[0] + MINUTE > watermark) break;
    if (row[5] === 0) {
      row[5] = 1;
      row[6] = 0;
      emit(name, row, MINUTE, true);
    }
  }
  let drop = 0;
  while (drop < m.length && m[drop]![0] + MINUTE + latenessMs < watermark) drop++;
  if (drop > 0) m.splice(0, drop);
  let dropH = 0;
  const hr = s.hr;
  while (dropH < hr.length && hr[dropH]![0] + 2 * HOUR + latenessMs < watermark) dropH++;
  if (dropH > 0) hr.splice(0, dropH);
}

export function stats(row: WindowRow | undefined): WindowStats | null {
  if (!row || row[1] === 0) return null;
  return { start: row[0], count: row[1], min: row[2], max: row[3], avg: row[4] / row[1] };
}

/** The newest minute and hour windows, for the live summary. */
export function latestStats(s: SeriesState): { minute: WindowStats | null; hour: WindowStats | null } {
  return { minute: stats(s.m[s.m.length - 1]), hour: stats(s.hr[s.hr.length - 1]) };
}
