import { keyGroup, shardId, type KeyGroup, type ShardId } from './ids.js';

// FNV-1a over UTF-16 code units, with a murmur3 finalizer for avalanche: fast, allocation
// free (no string concatenation of the three parts), and stable across runtimes and
// releases, which matters because key groups are persisted (snapshots, checkpoints, leases).
// Changing this function is a data migration.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvMix(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  // A separator so ("ab","c") and ("a","bc") hash differently.
  h ^= 0xff;
  return Math.imul(h, FNV_PRIME);
}

export function hashActor(tenant: string, kind: string, id: string): number {
  let h = fnvMix(fnvMix(fnvMix(FNV_OFFSET, tenant), kind), id);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyGroupOf(tenant: string, kind: string, id: string, keyGroups: number): KeyGroup {
  return keyGroup(hashActor(tenant, kind, id) % keyGroups);
}

/**
 * Which shard owns each key group. Shards own contiguous ranges so a rescale moves few,
 * large, contiguous pieces; the table is a flat typed array so routing is one indexed load.
 */
export class ShardMap {
  readonly keyGroups: number;
  readonly shardCount: number;
  readonly epoch: number;
  private readonly owner: Uint16Array;

  constructor(keyGroups: number, shardCount: number, epoch = 1) {
    if (shardCount < 1 || shardCount > keyGroups) {
      throw new RangeError(`shardCount must be between 1 and keyGroups (${keyGroups}); got ${shardCount}`);
    }
    this.keyGroups = keyGroups;
    this.shardCount = shardCount;
    this.epoch = epoch;
    this.owner = new Uint16Array(keyGroups);
    for (let s = 0; s < shardCount; s++) {
      const [from, to] = ShardMap.rangeOf(keyGroups, shardCount, s);
      this.owner.fill(s, from, to);
    }
  }

  /** Half-open range [from, to) of key groups owned by shard `s` of `shardCount`. */
  static rangeOf(keyGroups: number, shardCount: number, s: number): [number, number] {
    return [Math.floor((s * keyGroups) / shardCount), Math.floor(((s + 1) * keyGroups) / shardCount)];
  }

  shardOf(kg: KeyGroup | number): ShardId {
    return shardId(this.owner[kg]!);
  }

  keyGroupsOf(s: ShardId | number): KeyGroup[] {
    const [from, to] = ShardMap.rangeOf(this.keyGroups, this.shardCount, s);
    const out: KeyGroup[] = [];
    for (let k = from; k < to; k++) out.push(keyGroup(k));
    return out;
  }

  ranges(): { shard: ShardId; from: number; to: number }[] {
    const out: { shard: ShardId; from: number; to: number }[] = [];
    for (let s = 0; s < this.shardCount; s++) {
      const [from, to] = ShardMap.rangeOf(this.keyGroups, this.shardCount, s);
      out.push({ shard: shardId(s), from, to });
    }
    return out;
  }
}
