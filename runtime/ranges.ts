// Key-group ranges and the one loop that splits a chunk of the log by host (a host's replay,
// the replay of newly acquired key groups, and the several-node log tail all read the log in
// chunks and keep, per host, the events that are theirs).
import { emptyBatch, pushEvent, type EventBatch, unpackBatch } from './batch.js';

/** Half-open [from, to) range of key groups. */
export type KgRange = [number, number];

/** Appends key group `k` to host `h`'s ranges, extending the last range when `k` continues it. */
export function addToRanges(per: Map<number, KgRange[]>, h: number, k: number): void {
  let r = per.get(h);
  if (!r) per.set(h, (r = []));
  appendRange(r, k);
}

/** Appends key group `k` (ascending) to `ranges`, merging with the last range when adjacent. */
export function appendRange(ranges: KgRange[], k: number): void {
  const last = ranges[ranges.length - 1];
  if (last && last[1] === k) last[1] = k + 1;
  else ranges.push([k, k + 1]);
}

/** `kgs` (any order) grouped by the host `hostOfKg` gives each, as ascending ranges. */
export function rangesPerHost(kgs: readonly number[], hostOfKg: ArrayLike<number>): Map<number, KgRange[]> {
  const per = new Map<number, KgRange[]>();
  for (const k of [...kgs].sort((a, b) => a - b)) addToRanges(per, hostOfKg[k]!, k);
  return per;
}

/** Which events of a log chunk go to which host; read live, so ownership changes apply at once. */
export interface SplitFilter {
  readonly hostOfKg: ArrayLike<number>;
  /** 1 for key groups this runtime owns; events of the others are skipped. */
  readonly owned: ArrayLike<number>;
  /** Per key group, events at or below this sequence are skipped (its checkpoint); null: none. */
  readonly after: ArrayLike<number> | null;
  /** Events past this sequence are left for later reads (Infinity: none are). */
  readonly until: number;
  /** Only this host's events are kept (-1: every host's). */
  readonly only: number;
}

/**
 * Splits `chunk` (ascending sequences) into one batch per host, in `outs` (indexed by host; null
 * where a host gets nothing). Returns how far the chunk was consumed: its last sequence, or
 * `until` when the chunk reaches past it.
 */
export function splitByHost(chunk: EventBatch, f: SplitFilter, outs: (EventBatch | null)[]): number {
  outs.fill(null);
  unpackBatch(chunk);
  const { hostOfKg, owned, after, until, only } = f;
  for (let i = 0; i < chunk.n; i++) {
    const seq = chunk.seq[i]!;
    if (seq > until) break;
    const kg = chunk.kg[i]!;
    if (owned[kg] !== 1) continue;
    if (after !== null && seq <= after[kg]!) continue;
    const h = hostOfKg[kg]!;
    if (only >= 0 && h !== only) continue;
    const out = (outs[h] ??= emptyBatch(chunk.n));
    pushEvent(out, kg, chunk.kind[i]!, chunk.tenant[i]!, chunk.id[i]!, chunk.time[i]!, chunk.body[i], seq);
  }
  return chunk.n === 0 ? 0 : Math.min(chunk.seq[chunk.n - 1]!, until);
}
