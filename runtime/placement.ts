// Where each key group lives on this node: its shard (the map, with its epoch), its host, whether
// this node owns it, and (several nodes) the fencing token it was acquired with. Flat typed
// arrays, mutated in place, so every module holding them sees a change at once and routing stays
// one indexed load.
import { ShardMap, keyGroupOf } from './keygroups.js';
import { appendRange, rangesPerHost, type KgRange } from './ranges.js';

export class Placement {
  shardMap: ShardMap;
  readonly keyGroupCount: number;
  readonly hostCount: number;
  /**
   * Host of each key group: shard s lives on host s % hosts. In shared memory: ingest workers
   * route with this very table, and `routeEpoch` tells them (and their batches) which version.
   */
  readonly hostOfKg: Uint16Array;
  /** Bumped after every rewrite of `hostOfKg` (Atomics, so the rewrite is visible before it). */
  readonly routeEpoch: Int32Array;
  /** Key groups this runtime owns (all of them unless ownership is 'leased'). */
  readonly owned: Uint8Array;
  /** 'leased': the fencing token each owned key group was acquired with. */
  readonly fenceToken: Float64Array;
  /** Per host: the key groups the map gives it that this runtime owns, as ranges and as a list. */
  ranges: KgRange[][] = [];
  keyGroups: number[][] = [];

  constructor(keyGroups: number, shards: number, hosts: number, ownsAll: boolean) {
    this.keyGroupCount = keyGroups;
    this.hostCount = hosts;
    this.shardMap = new ShardMap(keyGroups, shards);
    this.hostOfKg = new Uint16Array(new SharedArrayBuffer(keyGroups * 2));
    this.routeEpoch = new Int32Array(new SharedArrayBuffer(4));
    for (let k = 0; k < keyGroups; k++) this.hostOfKg[k] = this.shardMap.shardOf(k) % hosts;
    this.owned = new Uint8Array(keyGroups).fill(ownsAll ? 1 : 0);
    this.fenceToken = new Float64Array(keyGroups);
    this.recompute();
  }

  keyGroupOf(kind: string, tenant: string, id: string): number {
    return keyGroupOf(tenant, kind, id, this.keyGroupCount);
  }

  hostOf(kind: string, tenant: string, id: string): number {
    return this.hostOfKg[this.keyGroupOf(kind, tenant, id)]!;
  }

  /** Host of every key group under `next` (for a rescale, before it is applied). */
  hostsUnder(next: ShardMap): Uint16Array {
    const out = new Uint16Array(this.keyGroupCount);
    for (let k = 0; k < this.keyGroupCount; k++) out[k] = next.shardOf(k) % this.hostCount;
    return out;
  }

  /** Switches to a new map (a rescale's last step). */
  apply(next: ShardMap, nextHostOfKg: Uint16Array): void {
    this.shardMap = next;
    this.hostOfKg.set(nextHostOfKg);
    Atomics.add(this.routeEpoch, 0, 1);
    this.recompute();
  }

  /** Recomputes each host's ranges after the map or ownership changed. */
  recompute(): void {
    const ranges: KgRange[][] = [];
    const lists: number[][] = [];
    for (let h = 0; h < this.hostCount; h++) {
      ranges.push([]);
      lists.push([]);
    }
    for (let k = 0; k < this.keyGroupCount; k++) {
      if (this.owned[k] !== 1) continue;
      const h = this.hostOfKg[k]!;
      appendRange(ranges[h]!, k);
      lists[h]!.push(k);
    }
    this.ranges = ranges;
    this.keyGroups = lists;
  }

  /** `kgs` grouped by their host now. */
  perHost(kgs: readonly number[]): Map<number, KgRange[]> {
    return rangesPerHost(kgs, this.hostOfKg);
  }

  ownedKeyGroups(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.owned.length; k++) if (this.owned[k] === 1) out.push(k);
    return out;
  }
}
