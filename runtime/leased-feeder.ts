// Several nodes (DESIGN.md decision 2): this runtime owns the key groups it is given with
// `acquireKeyGroups` (from leases), and its hosts are fed by one loop tailing the shared log, so
// an event appended by any node reaches its owner. Ownership changes and host replacements run
// in that loop between two reads, so they never interleave with delivery: a key group's replay
// ends exactly where its live events begin.
import { emptyBatch, sealBatch, type EventBatch } from './batch.js';
import { ErrorCode, VigilError, toWire } from './errors.js';
import type { Feeder, FeederDeps } from './feeder.js';
import { AckAt } from './ledger.js';
import { splitByHost, type SplitFilter } from './ranges.js';

export class LeasedFeeder implements Feeder {
  static readonly ackAt = AckAt.appended;
  static readonly fencesCommits = true;
  static readonly ownsAll = false;
  private readonly d: FeederDeps;
  /** Every event with sequence <= tailSeq has been read from the log and routed. */
  private tailSeq = 0;
  /** Ownership changes and host restores, run by the tail between two reads. */
  private ops: (() => Promise<void>)[] = [];
  private task: Promise<void> | null = null;
  private wakeTail: (() => void) | null = null;
  private closing = false;

  constructor(deps: FeederDeps) {
    this.d = deps;
  }

  get position(): number {
    return this.tailSeq;
  }

  init(head: number): void {
    // Starting owning nothing, the hosts are replayed up to here (key groups come with leases,
    // each restored then) and the tail reads on from here.
    this.tailSeq = head;
  }

  start(): void {
    this.task = this.runTail();
  }

  heartbeat(): void {
    // The tail tells every host how far the log went.
  }

  appended(): void {
    this.wakeTail?.();
  }

  committed(): void {
    // The log is shared: only the cluster-wide minimum checkpoint may trim it (cluster.ts).
  }

  replayUntil(): number {
    return this.tailSeq;
  }

  serialize(op: () => Promise<void>): Promise<void> {
    return this.runOp(op);
  }

  busy(): boolean {
    // What was appended here must have gone past the tail, unless this node may not deliver now
    // (its leases lapsed): then nothing more will be applied here anyway.
    return this.ops.length > 0 || (this.tailSeq < this.d.ledger.head && this.d.hooks.canDeliver?.() !== false);
  }

  trusted(): boolean {
    const canDeliver = this.d.hooks.canDeliver;
    return !canDeliver || canDeliver();
  }

  rescaleRefusal(): VigilError | null {
    return new VigilError(ErrorCode.InvalidOption, 'live shard rescale runs on a single node; with several nodes, add or remove nodes instead');
  }

  /**
   * Start owning `keyGroups`, whose leases were taken with fencing token `token` (one for all,
   * or one per key group). Runs between two reads of the log tail, so nothing is delivered
   * meanwhile: the store is fenced first (the previous owner can no longer commit), the hosts
   * take the key groups, the log is replayed from their checkpoints up to the tail, and from the
   * next read on they are live.
   */
  acquire(keyGroups: readonly number[], token: number | readonly number[]): Promise<void> {
    const { placement, ports, hosts } = this.d;
    const tokenOf = (i: number): number => (typeof token === 'number' ? token : token[i]!);
    return this.runOp(async () => {
      const byToken = new Map<number, number[]>();
      keyGroups.forEach((k, i) => {
        if (placement.owned[k] === 1) return;
        const t = tokenOf(i);
        let l = byToken.get(t);
        if (!l) byToken.set(t, (l = []));
        l.push(k);
      });
      if (byToken.size === 0) return;
      await Promise.all([...byToken].map(([t, ks]) => ports.snapshotStore.fence(ks, t)));
      const kgs = [...byToken.values()].flat();
      const cps = await ports.snapshotStore.checkpoints(kgs);
      for (const [t, ks] of byToken) {
        for (const k of ks) {
          placement.owned[k] = 1;
          placement.fenceToken[k] = t;
        }
      }
      placement.recompute();
      const per = placement.perHost(kgs);
      for (const [h, ranges] of per) hosts[h]!.send({ t: 'acquire', ranges, epoch: placement.shardMap.epoch, replaying: true });
      try {
        await this.replayKeyGroups(kgs, cps);
      } catch (err) {
        // Not restored: let go of them again (nothing of theirs was committed as checkpoint).
        await this.dropNow(kgs);
        throw err;
      }
      for (const [h, ranges] of per) hosts[h]!.send({ t: 'replayed', ranges });
    });
  }

  /**
   * Hand `keyGroups` over gracefully: their actors passivate and one commit writes their
   * snapshots and checkpoints (still under this node's tokens), so the next owner has little to
   * replay. Waits at most `timeoutMs` for that commit; past it they are dropped instead (the
   * next owner replays more, nothing is lost: the log still has every event past the last
   * checkpoint that did get written).
   */
  release(keyGroups: readonly number[], timeoutMs: number): Promise<void> {
    const { placement, ports, hosts, supervisor } = this.d;
    return this.runOp(async () => {
      const kgs = keyGroups.filter((k) => placement.owned[k] === 1);
      if (kgs.length === 0) return;
      const per = placement.perHost(kgs);
      const timer = { cancel: (): void => undefined };
      const timeout = new Promise<void>((r) => (timer.cancel = ports.clock.setTimeout(r, timeoutMs)));
      const epoch = placement.shardMap.epoch;
      await Promise.race([Promise.all([...per].map(([h, ranges]) => supervisor.release(hosts[h]!, ranges, epoch))), timeout]);
      timer.cancel();
      for (const k of kgs) placement.owned[k] = 0;
      placement.recompute();
    });
  }

  /**
   * Stop owning `keyGroups` at once, writing nothing of theirs: the lease is lost (or about to
   * be), so another node may already own them and restore from the store.
   */
  drop(keyGroups: readonly number[]): Promise<void> {
    const owned = this.d.placement.owned;
    // Not owned from this instant, before the op runs: commits already on their way are
    // filtered by `owned` and the tail stops delivering them.
    const kgs = keyGroups.filter((k) => owned[k] === 1);
    for (const k of kgs) owned[k] = 0;
    return this.runOp(() => this.dropNow(kgs, true));
  }

  private async dropNow(kgs: readonly number[], alreadyClear = false): Promise<void> {
    if (kgs.length === 0) return;
    const { placement, hosts, supervisor } = this.d;
    // The hosts' ranges still include them until recomputed: that is how we find the hosts.
    const per = placement.perHost(kgs);
    if (!alreadyClear) for (const k of kgs) placement.owned[k] = 0;
    placement.recompute();
    // A release whose commit writes nothing of theirs (filtered by `owned`): the host lets
    // their actors go. Not awaited: it completes with the host's next successful commit.
    for (const [h, ranges] of per) void supervisor.release(hosts[h]!, ranges, placement.shardMap.epoch);
  }

  /** Queues `op` for the tail to run between two reads; settles with it. */
  private runOp(op: () => Promise<void>): Promise<void> {
    if (this.closing) return Promise.reject(new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down'));
    return new Promise<void>((resolve, reject) => {
      this.ops.push(() => op().then(resolve, (err: unknown) => {
        reject(err);
      }));
      this.wakeTail?.();
    });
  }

  /** Replays the log from the given checkpoints up to the tail, for newly acquired key groups. */
  private async replayKeyGroups(kgs: readonly number[], cps: readonly number[]): Promise<void> {
    const { placement, ports, ledger } = this.d;
    const skipThrough = new Float64Array(placement.keyGroupCount).fill(Infinity);
    let after = Infinity;
    kgs.forEach((k, i) => {
      skipThrough[k] = cps[i]!;
      if (cps[i]! < after) after = cps[i]!;
    });
    const until = this.tailSeq;
    const filter: SplitFilter = { hostOfKg: placement.hostOfKg, owned: placement.owned, after: skipThrough, until, only: -1 };
    const outs = new Array<EventBatch | null>(placement.hostCount).fill(null);
    while (after < until) {
      const chunk = await ports.eventLog.read(after, 8192);
      if (!chunk || chunk.n === 0) break;
      after = splitByHost(chunk, filter, outs);
      for (let h = 0; h < outs.length; h++) {
        const out = outs[h];
        if (!out) continue;
        // Stamped with what the host has already been sent: its applied sequence never goes
        // backwards, and "applied through lastSeq" stays true once this batch is applied.
        ledger.send(h, sealBatch(out), Math.max(ledger.lastSentSeq(h), after));
      }
    }
  }

  /** Reads the shared log in order and sends each host the events of key groups this node owns. */
  private async runTail(): Promise<void> {
    const { options, ports, hooks, placement, ledger, hosts } = this.d;
    const log = ports.eventLog;
    const max = options.hostBatchEvents * 4;
    const filter: SplitFilter = { hostOfKg: placement.hostOfKg, owned: placement.owned, after: null, until: Infinity, only: -1 };
    const outs = new Array<EventBatch | null>(hosts.length).fill(null);
    while (!this.closing) {
      while (this.ops.length > 0 && !this.closing) {
        try {
          await this.ops.shift()!();
        } catch (err) {
          hooks.onTailError?.(err instanceof VigilError ? err : new VigilError(ErrorCode.Internal, toWire(err).message, { cause: err }));
        }
      }
      if (this.closing) break;
      if (hooks.canDeliver && !hooks.canDeliver()) {
        await this.tailWait(20);
        continue;
      }
      // Bounded: a host with too much unapplied stops the tail (the log holds the rest).
      if (hosts.some((h) => ledger.inFlight(h.id) >= options.maxInFlightBatches)) {
        await this.tailWait(1);
        continue;
      }
      let chunk: EventBatch | undefined;
      try {
        chunk = await log.read(this.tailSeq, max);
      } catch (err) {
        hooks.onTailError?.(new VigilError(ErrorCode.StoreUnavailable, `log tail: ${toWire(err).message}`, { cause: err }));
        await this.tailWait(250);
        continue;
      }
      if (!chunk || chunk.n === 0) {
        await this.tailWait(options.tailIdleMs);
        continue;
      }
      // Re-checked after the read: a pause (or a lapse of the leases) may have happened during it.
      if (hooks.canDeliver && !hooks.canDeliver()) continue;
      const lastSeq = splitByHost(chunk, filter, outs);
      this.tailSeq = lastSeq;
      ledger.observeHead(lastSeq);
      for (const host of hosts) {
        if (!host.live()) continue;
        // Every host hears how far the log went, with or without events of its own: that is
        // what advances its checkpoints (and lets the log be trimmed).
        const out = outs[host.id];
        ledger.send(host.id, out ? sealBatch(out) : emptyBatch(0), lastSeq);
      }
      hooks.onTail?.(chunk);
    }
  }

  private tailWait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let cancel: (() => void) | null = null;
      const done = (): void => {
        this.wakeTail = null;
        cancel?.();
        resolve();
      };
      this.wakeTail = done;
      cancel = this.d.ports.clock.setTimeout(done, ms);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wakeTail?.();
    await this.task;
  }
}
