// The live spans a series keeps for back-fill (actors/windows.ts): which minutes ever had a live
// window, bounded to a few spans (older gaps merge into "live", never the other way), kept
// through buffer growth, several series per buffer, and the snapshot form.
import { describe, expect, it } from 'vitest';
import { addValue, advance, MINUTE, newSeries, seriesFromJSON, seriesRecordFromJSON, seriesRecordToJSON, seriesToJSON, wasLive, type SeriesState } from '../../actors/windows.js';

const T0 = Date.UTC(2026, 10, 21, 8);
const noEmit = () => undefined;

function feed(b: SeriesState, r: number, minutes: number[]): SeriesState {
  for (const k of minutes) {
    b = addValue(b, r, 's', T0 + k * MINUTE + 1000, 1, T0 + k * MINUTE, noEmit);
    advance(b, r, 's', T0 + k * MINUTE, 5 * MINUTE, noEmit);
  }
  return b;
}
const live = (b: SeriesState, r: number, ks: number[]) => ks.map((k) => wasLive(b, r, T0 + k * MINUTE));

describe('live spans', () => {
  it('a steady stream is one span; a gap stays not-live; out-of-order minutes join their neighbours', () => {
    let b = feed(newSeries(), 0, [0, 1, 2, 3, 10, 11, 5, 4]);
    expect(live(b, 0, [-1, 0, 3, 4, 5, 6, 9, 10, 11, 12])).toEqual([false, true, true, true, true, false, false, true, true, false]);
    b = feed(b, 0, [6, 7, 8, 9]);
    expect(live(b, 0, [5, 6, 9, 10, 12])).toEqual([true, true, true, true, false]);
    expect(seriesRecordToJSON({ s: b }).s!.iv).toEqual([[T0, T0 + 12 * MINUTE]]);
  });

  it('keeps the newest 4 spans; older gaps merge into live (refusing more, never merging wrongly)', () => {
    const b = feed(newSeries(), 0, [0, 2, 4, 6, 8, 10]);
    expect(live(b, 0, [1, 3, 4, 5, 7, 9, 10, 11])).toEqual([true, true, true, false, false, false, true, false]);
  });

  it('survives growth of a buffer of several series, and the snapshot form', () => {
    let b = newSeries(3);
    b = feed(b, 1, [0, 1, 3]);
    // Enough minutes in series 2 to grow the buffer (more rows than it started with).
    for (let k = 100; k < 130; k++) b = addValue(b, 2, 's', T0 + k * MINUTE, 1, -Infinity, noEmit);
    expect(live(b, 1, [0, 1, 2, 3])).toEqual([true, true, false, true]);
    expect(live(b, 0, [0, 1])).toEqual([false, false]);
    expect(wasLive(b, 2, T0 + 129 * MINUTE)).toBe(true);
    const back = seriesRecordFromJSON(JSON.parse(JSON.stringify(seriesRecordToJSON({ s: feed(newSeries(), 0, [0, 2]) }))) as never);
    expect(live(back.s!, 0, [0, 1, 2, 3])).toEqual([true, false, true, false]);
  });

  it('a snapshot without spans (written before back-fill) counts every minute as live', () => {
    const old = seriesFromJSON({ m: [], hr: [] });
    expect(wasLive(old, 0, T0 - 10 * 24 * 60 * MINUTE)).toBe(true);
    expect(seriesRecordToJSON({ s: old }).s!.iv).toBeUndefined(); // re-encodes as it was
    expect(seriesToJSON(feed(newSeries(), 0, [0]))).toEqual({ m: expect.any(Array), hr: expect.any(Array) }); // the plain form keeps no spans
  });
});
