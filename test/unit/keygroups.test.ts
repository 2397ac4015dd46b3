import { describe, expect, it } from 'vitest';
import { hashActor, keyGroupOf, ShardMap } from '../../runtime/keygroups.js';

describe('hashActor', () => {
  // Key groups are persisted (snapshots, checkpoints, leases): a hash that changes silently
  // sends every actor to a different key group than its stored state. These values were
  // computed once from the shipped function; if this test fails, the change is a data
  // migration, not a refactor.
  it('is pinned to the values already persisted', () => {
    expect(hashActor('acme', 'patient', 'p-1')).toBe(2235329442);
    expect(hashActor('acme', 'procedure', 'or-7')).toBe(1685544764);
    expect(hashActor('', '', '')).toBe(1460371061);
    expect(hashActor('tenant-ü', 'patient', '患者-42')).toBe(2331373750);
    expect(keyGroupOf('acme', 'patient', 'p-1', 4096)).toBe(2978);
    expect(keyGroupOf('tenant-ü', 'patient', '患者-42', 4096)).toBe(182);
  });

  it('is deterministic and an unsigned 32-bit integer', () => {
    for (let i = 0; i < 1000; i++) {
      const h = hashActor('t', 'patient', `id-${i}`);
      expect(hashActor('t', 'patient', `id-${i}`)).toBe(h);
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
  });

  it('tells the parts apart, not just their concatenation', () => {
    expect(hashActor('ab', 'c', 'x')).not.toBe(hashActor('a', 'bc', 'x'));
    expect(hashActor('t', 'ab', 'c')).not.toBe(hashActor('t', 'a', 'bc'));
    expect(hashActor('ab', '', 'c')).not.toBe(hashActor('a', 'b', 'c'));
    // The same id under another tenant or kind is another actor.
    expect(hashActor('a', 'patient', '1')).not.toBe(hashActor('b', 'patient', '1'));
    expect(hashActor('a', 'patient', '1')).not.toBe(hashActor('a', 'procedure', '1'));
  });

  it('spreads 100k sequential ids evenly over 4096 key groups', () => {
    const groups = 4096;
    const n = 100_000;
    const counts = new Uint32Array(groups);
    for (let i = 0; i < n; i++) counts[keyGroupOf('acme', 'patient', `p-${i}`, groups)]!++;
    const expected = n / groups;
    let chi2 = 0;
    for (const c of counts) chi2 += (c - expected) ** 2 / expected;
    // df = 4095: a uniform hash lands near 4095 with sd ~90. 5000 is ten sd away, yet a hash
    // that ignores a character or clusters sequential ids scores in the tens of thousands.
    expect(chi2).toBeLessThan(5000);
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan(expected * 3);
  });
});

describe('ShardMap', () => {
  const cases: [number, number][] = [[4096, 1], [4096, 2], [4096, 3], [4096, 7], [4096, 4096], [10, 3], [65535, 1000], [5, 5]];

  it.each(cases)('with %i key groups and %i shards, ranges tile the key groups exactly once', (keyGroups, shards) => {
    const map = new ShardMap(keyGroups, shards);
    const ranges = map.ranges();
    expect(ranges).toHaveLength(shards);
    expect(ranges[0]!.from).toBe(0);
    expect(ranges[ranges.length - 1]!.to).toBe(keyGroups);
    const sizes: number[] = [];
    for (let s = 0; s < ranges.length; s++) {
      const r = ranges[s]!;
      expect(r.shard).toBe(s);
      if (s > 0) expect(r.from).toBe(ranges[s - 1]!.to); // contiguous, no gap, no overlap
      sizes.push(r.to - r.from);
    }
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it.each(cases)('with %i key groups and %i shards, shardOf agrees with keyGroupsOf', (keyGroups, shards) => {
    const map = new ShardMap(keyGroups, shards);
    const ranges = map.ranges();
    const seen = new Uint8Array(keyGroups);
    for (let s = 0; s < shards; s++) {
      const kgs = map.keyGroupsOf(s);
      const r = ranges[s]!;
      expect(kgs.length).toBe(r.to - r.from);
      for (const kg of kgs) {
        expect(map.shardOf(kg)).toBe(s);
        seen[kg]!++;
      }
    }
    expect(seen.every((x) => x === 1)).toBe(true);
  });

  it('rejects a shard count of 0 or more shards than key groups', () => {
    expect(() => new ShardMap(4096, 0)).toThrow(RangeError);
    expect(() => new ShardMap(4096, -1)).toThrow(RangeError);
    expect(() => new ShardMap(16, 17)).toThrow(RangeError);
    expect(() => new ShardMap(16, 16)).not.toThrow();
  });

  it('keeps its epoch', () => {
    expect(new ShardMap(16, 2).epoch).toBe(1);
    expect(new ShardMap(16, 2, 9).epoch).toBe(9);
  });
});
