import { mergeRanges, subtractRanges, type Range } from './ranges.js';

/**
 * Which key groups this host owns and which of them it may checkpoint. Ownership changes on
 * rescale: `acquire` arrives ahead of the moved actors' events, `release` in order with them.
 */
export class Ownership {
  /** 1 per owned key group: one indexed load decides local versus remote delivery. */
  readonly owned: Uint8Array;
  readonly keyGroupCount: number;
  ranges: Range[];
  /** Acquired key groups whose replay is not applied yet: owned, but not checkpointed. */
  replaying: Range[] = [];
  epoch = 1;

  constructor(keyGroupCount: number, ranges: Range[]) {
    this.keyGroupCount = keyGroupCount;
    this.owned = new Uint8Array(keyGroupCount);
    this.ranges = ranges;
    for (const [from, to] of ranges) this.owned.fill(1, from, to);
  }

  acquire(ranges: Range[], epoch: number, replaying: boolean): void {
    for (const [from, to] of ranges) this.owned.fill(1, from, to);
    this.ranges = mergeRanges([...this.ranges, ...ranges]);
    if (replaying) this.replaying = mergeRanges([...this.replaying, ...ranges]);
    this.epoch = epoch;
  }

  release(ranges: Range[], epoch: number): void {
    for (const [from, to] of ranges) this.owned.fill(0, from, to);
    this.ranges = subtractRanges(this.ranges, ranges);
    this.replaying = subtractRanges(this.replaying, ranges);
    this.epoch = epoch;
  }

  /** Everything before the `replayed` marker is applied: these may be checkpointed again. */
  replayed(ranges: Range[]): void {
    this.replaying = subtractRanges(this.replaying, ranges);
  }

  /** What a commit checkpoints: owned key groups plus `extra` (just released), minus any replaying. */
  checkpointRanges(extra: Range[]): Range[] {
    let ranges = extra.length > 0 ? [...this.ranges, ...extra] : this.ranges;
    if (this.replaying.length > 0) ranges = subtractRanges(ranges, this.replaying);
    return ranges;
  }
}
