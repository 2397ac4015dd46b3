// Live rescale (one node): change the shard count while events flow. Key groups whose host
// changes move with their snapshots: their new events are held (bounded), their old host applies
// what it already has, passivates their actors and commits, then the new host takes them and the
// held events go there. Hosts (workers) stay; shard s lives on host s % hosts. The map's epoch
// fences writes.
import type { HostSlot } from './host-slot.js';
import { ShardMap } from './keygroups.js';
import type { SubmissionLedger } from './ledger.js';
import type { Placement } from './placement.js';
import type { Clock } from './ports.js';
import { addToRanges, type KgRange } from './ranges.js';
import type { Router } from './router.js';
import type { RescaleReport } from './runtime-api.js';
import type { RuntimeMetrics } from './runtime-metrics.js';
import type { HostSupervisor } from './supervisor.js';

export interface RescalerDeps {
  placement: Placement;
  ledger: SubmissionLedger;
  router: Router;
  supervisor: HostSupervisor;
  hosts: readonly HostSlot[];
  metrics: RuntimeMetrics;
  clock: Clock;
}

export class Rescaler {
  private readonly d: RescalerDeps;

  constructor(deps: RescalerDeps) {
    this.d = deps;
  }

  get running(): boolean {
    return this.d.router.moving !== null;
  }

  /** Moves to `shards` shards (already validated; no other rescale running). */
  async run(shards: number): Promise<RescaleReport> {
    const { placement, ledger, router, supervisor, hosts, metrics, clock } = this.d;
    const K = placement.keyGroupCount;
    const from = placement.shardMap.shardCount;
    const next = new ShardMap(K, shards, placement.shardMap.epoch + 1);
    const nextHostOfKg = placement.hostsUnder(next);
    const moving = new Uint8Array(K);
    const releases = new Map<number, KgRange[]>();
    const acquires = new Map<number, KgRange[]>();
    let moved = 0;
    for (let k = 0; k < K; k++) {
      const a = placement.hostOfKg[k]!;
      const b = nextHostOfKg[k]!;
      if (a === b) continue;
      moving[k] = 1;
      moved++;
      addToRanges(releases, a, k);
      addToRanges(acquires, b, k);
    }
    const started = clock.now();
    if (moved === 0) {
      placement.apply(next, nextHostOfKg);
      return { from, to: shards, epoch: next.epoch, movedKeyGroups: 0, movedActors: 0, pauseMs: 0 };
    }
    router.moving = moving;
    let movedActors = 0;
    try {
      // Everything already routed to the old owners goes out first (ordered before the release).
      ledger.flushNow();
      await ledger.allAppended();
      const counts = await Promise.all([...releases].map(([h, ranges]) => supervisor.release(hosts[h]!, ranges, next.epoch)));
      movedActors = counts.reduce((a, b) => a + b, 0);
      placement.apply(next, nextHostOfKg);
      for (const [h, ranges] of acquires) hosts[h]!.send({ t: 'acquire', ranges, epoch: next.epoch });
    } finally {
      router.moving = null;
      router.releaseHeld();
    }
    const pauseMs = clock.now() - started;
    metrics.rescales.inc();
    metrics.rescalePause.observe(pauseMs / 1000);
    return { from, to: shards, epoch: next.epoch, movedKeyGroups: moved, movedActors, pauseMs };
  }
}
