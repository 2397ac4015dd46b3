// The compact live forms of dedup, windows and trends (typed arrays) against straightforward
// models of the same rules (the array-of-rows code they replaced): same answers, same emitted
// rollups, same snapshot form, through growth, shrinking, eviction and snapshot round trips.
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDedup, dedupSize, encodeDedup, expire, newDedup, seenBefore, type DedupState } from '../../actors/dedup.js';
import { hash53 } from '../../actors/hash.js';
import { addPoint, classify, newTrend, trendFromJSON, trendToJSON, type TrendJSON } from '../../actors/trend.js';
import {
  addValue, advance, HOUR, latestStats, MINUTE, newSeries, seriesFromJSON, seriesToJSON, type SeriesJSON, type WindowRow,
} from '../../actors/windows.js';

const T0 = Date.UTC(2026, 10, 21, 8, 0, 0);

// ---------------------------------------------------------------- dedup

class DedupModel {
  h: number[] = [];
  t: number[] = [];
  set = new Set<number>();
  seen(id: string, time: number, capacity: number): boolean {
    const h = hash53(id);
    if (this.set.has(h)) return true;
    this.set.add(h);
    this.h.push(h);
    this.t.push(time);
    if (this.h.length > capacity) {
      this.set.delete(this.h.shift()!);
      this.t.shift();
    }
    return false;
  }
  expire(cutoff: number): void {
    while (this.t.length > 0 && this.t[0]! < cutoff) {
      this.set.delete(this.h.shift()!);
      this.t.shift();
    }
  }
  encoded(): string {
    return Buffer.from(new Float64Array([...this.h, ...this.t]).buffer).toString('base64');
  }
}

const dedupOp = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('id' as const), id: fc.integer({ min: 0, max: 400 }), dt: fc.integer({ min: -50, max: 100 }) }), weight: 8 },
  { arbitrary: fc.record({ k: fc.constant('expire' as const), back: fc.integer({ min: 0, max: 3000 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('snapshot' as const) }), weight: 1 },
);

describe('dedup in one typed array', () => {
  it('answers, expires, evicts and encodes like a Set and two arrays', () => {
    fc.assert(
      fc.property(fc.array(dedupOp, { minLength: 100, maxLength: 1500, size: 'max' }), fc.integer({ min: 16, max: 200 }), (ops, capacity) => {
        const s: { dd: DedupState } = { dd: newDedup() };
        const m = new DedupModel();
        const got: (boolean | number | string)[] = [];
        const want: (boolean | number | string)[] = [];
        let t = T0;
        for (const op of ops) {
          if (op.k === 'id') {
            t += op.dt;
            got.push(seenBefore(s, `e-${op.id}`, t, capacity));
            want.push(m.seen(`e-${op.id}`, t, capacity));
          } else if (op.k === 'expire') {
            expire(s, t - op.back);
            m.expire(t - op.back);
          } else {
            const enc = encodeDedup(s.dd);
            got.push(enc);
            want.push(m.encoded());
            s.dd = decodeDedup(enc);
          }
          got.push(dedupSize(s.dd));
          want.push(m.h.length);
        }
        expect(got).toEqual(want);
        expect(encodeDedup(s.dd)).toBe(m.encoded());
      }),
      { numRuns: 100, seed: 4242 },
    );
  }, 30_000);

  it('grows for a burst and shrinks back once it has expired', () => {
    const s = { dd: newDedup() };
    for (let i = 0; i < 10_000; i++) expect(seenBefore(s, `b-${i}`, T0 + i, 65_536)).toBe(false);
    const big = s.dd.length;
    expect(seenBefore(s, 'b-9999', T0, 65_536)).toBe(true);
    expire(s, T0 + 9_990);
    expect(dedupSize(s.dd)).toBe(10);
    expect(s.dd.length).toBeLessThan(big / 16);
    for (let i = 9_990; i < 10_000; i++) expect(seenBefore(s, `b-${i}`, T0 + i, 65_536)).toBe(true);
    expect(seenBefore(s, 'b-0', T0 + 10_000, 65_536)).toBe(false);
  });
});

// ---------------------------------------------------------------- windows

interface ModelSeries {
  m: WindowRow[];
  hr: WindowRow[];
}
type Emitted = [string, number, ...WindowRow];

function modelFind(rows: WindowRow[], start: number): WindowRow {
  let i = rows.length - 1;
  while (i >= 0 && rows[i]![0] > start) i--;
  if (i >= 0 && rows[i]![0] === start) return rows[i]!;
  const row: WindowRow = [start, 0, Infinity, -Infinity, 0, 0, 0];
  rows.splice(i + 1, 0, row);
  return row;
}

function modelAdd(row: WindowRow, v: number): void {
  row[1]++;
  if (v < row[2]) row[2] = v;
  if (v > row[3]) row[3] = v;
  row[4] += v;
  row[6] = 1;
}

function modelAddValue(s: ModelSeries, name: string, t: number, v: number, wm: number, out: Emitted[]): void {
  const mStart = t - (t % MINUTE);
  const row = modelFind(s.m, mStart);
  modelAdd(row, v);
  if (row[5] > 0 && mStart + MINUTE <= wm) {
    row[5]++;
    row[6] = 0;
    out.push([name, MINUTE, ...row]);
  }
  modelAdd(modelFind(s.hr, t - (t % HOUR)), v);
}

function modelAdvance(s: ModelSeries, name: string, wm: number, lateness: number, out: Emitted[]): void {
  for (const row of s.m) {
    if (row[0] + MINUTE > wm) break;
    if (row[5] === 0) {
      row[5] = 1;
      row[6] = 0;
      out.push([name, MINUTE, ...row]);
    }
  }
  while (s.m.length > 0 && s.m[0]![0] + MINUTE + lateness < wm) s.m.shift();
  while (s.hr.length > 0 && s.hr[0]![0] + 2 * HOUR + lateness < wm) s.hr.shift();
}

const NAMES = ['a', 'b', 'c'];

describe('windows in one typed array per actor', () => {
  it('emit the same rollups and hold the same rows as arrays of rows, several series per buffer', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ series: fc.integer({ min: 0, max: 2 }), dt: fc.integer({ min: 0, max: 40_000 }), late: fc.integer({ min: 0, max: 100 }), v: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }), { minLength: 20, maxLength: 400, size: 'max' }),
        fc.constantFrom(0, 30_000, 5 * MINUTE, 3 * HOUR),
        (items, lateness) => {
          let b = newSeries(NAMES.length);
          const model: ModelSeries[] = NAMES.map(() => ({ m: [], hr: [] }));
          const got: Emitted[] = [];
          const want: Emitted[] = [];
          const emit = (name: string, buf: Float64Array, at: number, windowMs: number): void => {
            got.push([name, windowMs, ...(Array.from(buf.subarray(at, at + 7)) as WindowRow)]);
          };
          let wm = T0;
          let now = T0;
          for (const x of items) {
            now += x.dt;
            // Up to the whole lateness late, as the actors admit.
            const t = now - Math.floor((lateness * x.late) / 100);
            if (t > wm) wm = t;
            const name = NAMES[x.series]!;
            b = addValue(b, x.series, name, t, x.v, wm, emit);
            modelAddValue(model[x.series]!, name, t, x.v, wm, want);
            for (let r = 0; r < NAMES.length; r++) {
              advance(b, r, NAMES[r]!, wm, lateness, emit);
              modelAdvance(model[r]!, NAMES[r]!, wm, lateness, want);
            }
          }
          expect(got).toEqual(want);
          for (let r = 0; r < NAMES.length; r++) {
            expect(seriesToJSON(b, r)).toEqual(model[r]);
            expect(latestStats(b, r)).toEqual(latestStats(model[r]!));
          }
          const again = seriesFromJSON(...NAMES.map((_, r) => JSON.parse(JSON.stringify(seriesToJSON(b, r))) as SeriesJSON));
          // JSON has no -0: compare with the model's own round trip.
          for (let r = 0; r < NAMES.length; r++) expect(seriesToJSON(again, r)).toEqual(JSON.parse(JSON.stringify(model[r])));
        },
      ),
      { numRuns: 300, seed: 777 },
    );
  });
});

// ---------------------------------------------------------------- trends

function modelAddPoint(tr: TrendJSON, t: number, v: number, maxPoints: number): void {
  const key = Math.floor(t / 60_000);
  let i = tr.k.length - 1;
  while (i >= 0 && tr.k[i]! > key) i--;
  if (i >= 0 && tr.k[i] === key) {
    tr.s[i]! += v;
    tr.c[i]!++;
    return;
  }
  if (tr.k.length >= maxPoints && i < 0) return;
  tr.k.splice(i + 1, 0, key);
  tr.s.splice(i + 1, 0, v);
  tr.c.splice(i + 1, 0, 1);
  if (tr.k.length > maxPoints) {
    tr.k.shift();
    tr.s.shift();
    tr.c.shift();
  }
}

describe('trend buckets in one typed array', () => {
  it('keep the same buckets and classify the same as three arrays, also when maxPoints changes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: -5 * MINUTE, max: 3 * MINUTE }), v: fc.integer({ min: 0, max: 300 }) }), { minLength: 10, maxLength: 300, size: 'max' }),
        fc.integer({ min: 3, max: 40 }),
        fc.integer({ min: 3, max: 40 }),
        (items, p1, p2) => {
          let tr = newTrend(p1);
          const model: TrendJSON = { k: [], s: [], c: [] };
          let t = T0;
          items.forEach((x, i) => {
            t += x.dt;
            // Halfway through, a restart with another configured size, as after a config change.
            const points = i < items.length / 2 ? p1 : p2;
            if (i === Math.floor(items.length / 2)) tr = trendFromJSON(JSON.parse(JSON.stringify(trendToJSON(tr))) as TrendJSON);
            tr = addPoint(tr, t, x.v, points);
            modelAddPoint(model, t, x.v, points);
          });
          expect(trendToJSON(tr)).toEqual(model);
          expect(classify(tr)).toEqual(classify(model));
        },
      ),
      { numRuns: 300, seed: 99 },
    );
  });
});
