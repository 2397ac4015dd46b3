import { loadActorModules } from './actor.js';
import { ErrorCode, VigilError } from './errors.js';
import type { ShardMap } from './keygroups.js';
import { DirectFeeder, type Feeder, type FeederClass } from './feeder.js';
import { HostSlot } from './host-slot.js';
import { actorKey } from './ids.js';
import { LeasedFeeder } from './leased-feeder.js';
import { SubmissionLedger, emptyResult, type BatchOrigins, type RuntimeEvent, type SubmitCallback, type SubmitResult } from './ledger.js';
import { FrameIntake, type FrameCallback, type FrameIngestOptions } from './frames.js';
import { resolveOptions, type RuntimeOptions } from './options.js';
import { Placement } from './placement.js';
import { Rescaler } from './rescale.js';
import { Router } from './router.js';
import type { RescaleReport, RuntimeHooks, RuntimePorts } from './runtime-api.js';
import { registerRuntimeMetrics } from './runtime-metrics.js';
import type { ActorInspection } from './shard-host.js';
import { SnapshotBroker } from './snapshot-broker.js';
import { snapshotBody } from './snapshot-codec.js';
import { HostSupervisor } from './supervisor.js';

export type { EventRejection, RuntimeEvent, SubmitCallback, SubmitResult } from './ledger.js';
export type { AcceptedEvents, HostRestart, RescaleReport, RuntimeHooks, RuntimePorts } from './runtime-api.js';
export type { FrameCallback, FrameIngestOptions, FrameRefusal, FrameResult } from './frames.js';

/**
 * The main-thread half of the runtime: routes events by key group to shard hosts running as
 * long-lived Piscina tasks, appends them to the event log first, acks submissions once the
 * hosts have applied them, serves the hosts' snapshot requests, and replaces dead hosts.
 *
 * A facade over modules by role: the submission ledger (lanes, acks, verdicts, backpressure),
 * the router (key groups to hosts, held while they move), the host supervisor (workers, restore,
 * replay), the snapshot broker (load, fenced commit, trim), the rescaler, and the feeder, whose
 * two implementations are the two ownership modes.
 */
export class ActorRuntime {
  readonly options: RuntimeOptions;
  readonly kinds: string[];
  private readonly ports: RuntimePorts;
  private readonly kindIndex = new Map<string, number>();
  private readonly placement: Placement;
  private readonly hosts: HostSlot[];
  private readonly ledger: SubmissionLedger;
  private readonly broker: SnapshotBroker;
  private readonly router: Router;
  private readonly supervisor: HostSupervisor;
  private readonly feeder: Feeder;
  private readonly rescaler: Rescaler;
  private closing = false;
  private frames: FrameIntake | null = null;
  private readonly hooks: RuntimeHooks;

  private constructor(options: RuntimeOptions, kinds: string[], ports: RuntimePorts, hooks: RuntimeHooks) {
    this.options = options;
    this.ports = ports;
    this.hooks = hooks;
    this.kinds = kinds;
    kinds.forEach((k, i) => this.kindIndex.set(k, i));
    // The one place the ownership mode is looked at: everything that differs follows from the feeder.
    const Feed: FeederClass = options.ownership === 'leased' ? LeasedFeeder : DirectFeeder;
    const placement = (this.placement = new Placement(options.keyGroups, options.shards, options.hosts, Feed.ownsAll));
    const hosts = (this.hosts = Array.from({ length: options.hosts }, (_, h) => new HostSlot(h)));
    const metrics = registerRuntimeMetrics(ports.metrics);
    const ledger = (this.ledger = new SubmissionLedger(
      { hostBatchEvents: options.hostBatchEvents, maxInFlightBatches: options.maxInFlightBatches, maxLogEvents: options.maxLogEvents, coalesceMs: options.coalesceMs },
      {
        log: ports.eventLog, clock: ports.clock, targets: hosts, ackAt: Feed.ackAt, onFlush: () => this.feeder.heartbeat(), onAppend: () => this.feeder.appended(),
        onRetired: hooks.onAccepted ? (o) => this.retired(o, hooks.onAccepted!) : undefined,
      },
    ));
    const broker = (this.broker = new SnapshotBroker({
      store: ports.snapshotStore, log: ports.eventLog, clock: ports.clock, metrics, placement, ledger, hosts,
      fences: Feed.fencesCommits, onFenced: (kgs) => hooks.onFenced?.(kgs), onCommitted: () => this.feeder.committed(),
    }));
    const router = (this.router = new Router({ placement, ledger, kindIndex: this.kindIndex, hosts }));
    const supervisor = (this.supervisor = new HostSupervisor({
      options, kinds, ports, metrics, hooks, hosts, placement, ledger, broker,
      gate: { replayUntil: () => this.feeder.replayUntil(), serialize: (op) => this.feeder.serialize(op) },
      routeMessages: (b) => router.routeMessages(b),
    }));
    this.feeder = new Feed({ options, ports, hooks, ledger, placement, hosts, supervisor, broker });
    this.rescaler = new Rescaler({ placement, ledger, router, supervisor, hosts, metrics, clock: ports.clock });
  }

  static async start(input: Partial<RuntimeOptions>, ports: RuntimePorts, hooks: RuntimeHooks = {}): Promise<ActorRuntime> {
    const options = resolveOptions(input);
    const defs = await loadActorModules(options.actorModules, options.actorConfig);
    const rt = new ActorRuntime(options, defs.map((d) => d.kind), ports, hooks);
    const head = await ports.eventLog.head();
    rt.ledger.observeHead(head);
    rt.broker.trimmedTo = head;
    rt.feeder.init(head);
    // Recovering a node: every host restores from the store and replays what the log still has.
    await Promise.all(rt.hosts.map((h) => rt.supervisor.launch(h, null)));
    rt.feeder.start();
    return rt;
  }

  get shardMap(): ShardMap {
    return this.placement.shardMap;
  }

  // ------------------------------------------------------------------ submit

  /**
   * Routes `events` to their hosts. The callback runs once every event is applied to actor
   * state. Returns false, taking nothing, when the runtime is saturated; call again after
   * `whenWritable()`. This is the backpressure signal a front-end turns into "stop reading".
   */
  submit(events: ArrayLike<RuntimeEvent>, cb?: SubmitCallback): boolean {
    if (this.closing) {
      cb?.(new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down'), emptyResult());
      return true;
    }
    if (!this.ledger.writable()) return false;
    const sub = this.ledger.open(events.length, cb);
    this.router.route(events, sub);
    this.ledger.opened(sub);
    this.ledger.scheduleFlush();
    return true;
  }

  /** Same as `submit`, as a promise; waits for room instead of refusing. */
  async submitAsync(events: ArrayLike<RuntimeEvent>): Promise<SubmitResult> {
    for (;;) {
      let accepted = false;
      const p = new Promise<SubmitResult>((resolve, reject) => {
        accepted = this.submit(events, (err, r) => (err ? reject(err) : resolve(r)));
      });
      if (accepted) return p;
      await this.whenWritable();
    }
  }

  writable(): boolean {
    return this.ledger.writable();
  }

  // ------------------------------------------------------------------ frames

  /**
   * Starts the ingest workers `submitFrame` needs: frames are parsed, validated and routed there,
   * by the decoder module named in `options`.
   */
  async startFrames(options: FrameIngestOptions): Promise<void> {
    if (this.frames) throw new VigilError(ErrorCode.InvalidOption, 'frame ingest is already started');
    const frames = new FrameIntake({
      placement: this.placement, ledger: this.ledger, router: this.router, kinds: this.kinds, clock: this.ports.clock,
      closing: () => this.closing, onNotes: this.hooks.onIngestNotes,
    }, options);
    await frames.start();
    this.frames = frames;
  }

  /**
   * One frame's bytes (the caller's own copy: it is transferred) from `tenant`, in `lane` order
   * (one lane per producer connection). `done` gets the decoder's verdict on the frame and, once
   * its events are applied (or durable, at 'appended'), the actors' duplicates and refusals.
   * Check `writable()` first: frames are taken even when it is false (bounded by the caller's credit).
   */
  submitFrame(lane: number, tenant: string, source: string, bytes: Uint8Array, done: FrameCallback): void {
    if (!this.frames) throw new VigilError(ErrorCode.InvalidOption, 'frame ingest is not started (startFrames)');
    this.frames.submit(lane, tenant, source, bytes, done);
  }

  private retired(o: BatchOrigins, tap: NonNullable<RuntimeHooks['onAccepted']>): void {
    const b = o.batch!;
    const skip = o.skip ?? [];
    if (skip.length > 1) skip.sort((x, y) => x - y);
    tap({ n: b.n, kind: b.kind, time: b.time, packed: b.packed!, skip, frame: o.slot, sources: o.sources as string[], ingestTime: this.ports.clock.now() });
  }

  whenWritable(): Promise<void> {
    return this.ledger.whenWritable();
  }

  // ------------------------------------------------------------------ live rescale

  get rescaling(): boolean {
    return this.rescaler.running;
  }

  /**
   * Changes the shard count while events flow. Key groups whose host changes move with their
   * snapshots: their new events are held (bounded), their old host applies what it already has,
   * passivates their actors and commits, then the new host takes them and the held events go
   * there. Hosts (workers) stay; shard s lives on host s % hosts. The map's epoch fences writes.
   */
  async rescale(shards: number): Promise<RescaleReport> {
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > this.options.keyGroups) {
      throw new VigilError(ErrorCode.InvalidOption, `shard count must be an integer from 1 to ${this.options.keyGroups}; got ${shards}`);
    }
    if (this.rescaler.running) throw new VigilError('rescale_in_progress', 'a rescale is already in progress');
    const refused = this.feeder.rescaleRefusal();
    if (refused) throw refused;
    if (this.closing) throw new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down');
    return this.rescaler.run(shards);
  }

  // ------------------------------------------------------------------ control plane

  private hostOf(kind: string, tenant: string, id: string): HostSlot {
    return this.hosts[this.placement.hostOf(kind, tenant, id)]!;
  }

  /** One actor's state: live from its host when resident, else from its last snapshot. */
  async inspect(kind: string, tenant: string, id: string): Promise<(ActorInspection & { state: unknown }) | null> {
    if (!this.kindIndex.has(kind)) throw new VigilError(ErrorCode.UnknownActorKind, `unknown actor kind ${JSON.stringify(kind)}`);
    const kg = this.placement.keyGroupOf(kind, tenant, id);
    if (this.placement.owned[kg] !== 1) throw new VigilError(ErrorCode.NotOwner, `key group ${kg} of ${kind} ${tenant}/${id} is not owned by this node`);
    if (!this.feeder.trusted()) {
      throw new VigilError(ErrorCode.NotOwner, `this node cannot confirm its lease on key group ${kg} right now`);
    }
    const host = this.hostOf(kind, tenant, id);
    const live = host.control ? await host.control.inspect(kind, tenant, id) : null;
    if (live) return { ...live, state: live.data === null ? null : JSON.parse(live.data) };
    const [rec] = await this.ports.snapshotStore.load([actorKey(tenant, kind, id)]);
    if (!rec) return null;
    const body = snapshotBody(rec.data);
    return { resident: false, status: 'passive', lastSeq: rec.seq, watermark: NaN, error: null, data: body, state: JSON.parse(body) };
  }

  async resetActor(kind: string, tenant: string, id: string): Promise<boolean> {
    const host = this.hostOf(kind, tenant, id);
    return host.control ? host.control.resetActor(kind, tenant, id) : false;
  }

  /** Commits every host's dirty actors and checkpoints now. */
  async snapshotNow(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.control?.snapshotNow()));
  }

  /** `queued`: events built for the host, not yet sent; `inbox`: messages its intake holds back. */
  async stats(): Promise<{ hostId: number; generation: number; appliedSeq: number; inFlight: number; active: number; parked: number; timers: number; keyGroups: number; queued: number; inbox: number }[]> {
    return Promise.all(
      this.hosts.map(async (h) => {
        const c = h.control ? await h.control.counts() : { active: 0, parked: 0, timers: 0, appliedSeq: 0, inbox: 0 };
        return {
          hostId: h.id, generation: h.generation, appliedSeq: this.ledger.appliedSeq(h.id), inFlight: this.ledger.inFlight(h.id),
          active: c.active, parked: c.parked, timers: c.timers, keyGroups: this.placement.keyGroups[h.id]!.length,
          queued: this.ledger.building(h.id), inbox: c.inbox,
        };
      }),
    );
  }

  /** Per host V8 heap (after GC where available); for the memory benchmark. */
  async hostMemory(): Promise<{ heapUsed: number; gcRan: boolean }[]> {
    return Promise.all(this.hosts.map((h) => (h.control ? h.control.memory() : { heapUsed: 0, gcRan: false })));
  }

  /** For supervision tests: make host `h`'s worker die. */
  async crashHost(h: number, how: 'exit' | 'throw'): Promise<void> {
    const host = this.hosts[h];
    if (!host?.control) throw new VigilError(ErrorCode.NotOwner, `no host ${h}`);
    // Test hook: the call rejects because the worker dies under it, which is the point.
    void host.control.crash(how).catch(() => undefined);
  }

  // ------------------------------------------------------------------ leased ownership

  /** 'leased': key groups this node owns now. */
  ownedKeyGroups(): number[] {
    return this.placement.ownedKeyGroups();
  }

  /** Whether this runtime owns the actor's key group (always, unless ownership is 'leased'). */
  owns(kind: string, tenant: string, id: string): boolean {
    return this.placement.owned[this.placement.keyGroupOf(kind, tenant, id)] === 1;
  }

  /** 'leased': how far the log has been read and routed to this node's hosts. */
  get tailPosition(): number {
    return this.feeder.position;
  }

  /**
   * 'leased': start owning `keyGroups`, whose leases were taken with fencing token `token` (one
   * for all, or one per key group): fenced, restored from their checkpoints and replayed up to
   * the log tail before the tail delivers them (see LeasedFeeder.acquire).
   */
  acquireKeyGroups(keyGroups: readonly number[], token: number | readonly number[]): Promise<void> {
    return this.feeder.acquire(keyGroups, token);
  }

  /** 'leased': hand `keyGroups` over gracefully (passivate, commit), waiting at most `timeoutMs`. */
  releaseKeyGroups(keyGroups: readonly number[], timeoutMs = 5000): Promise<void> {
    return this.feeder.release(keyGroups, timeoutMs);
  }

  /** 'leased': stop owning `keyGroups` at once, writing nothing of theirs (the lease is lost). */
  dropKeyGroups(keyGroups: readonly number[]): Promise<void> {
    return this.feeder.drop(keyGroups);
  }

  // ------------------------------------------------------------------ life cycle

  /** Waits until every submitted event is applied. */
  async settle(): Promise<void> {
    const { clock } = this.ports;
    for (;;) {
      while (this.frames !== null && this.frames.inFlight > 0) await new Promise<void>((r) => clock.setTimeout(r, 1));
      if (this.ledger.flushPending) await new Promise<void>((r) => clock.defer(r));
      await this.ledger.allAppended();
      const busy = this.hosts.some((h) => this.ledger.busy(h.id) || !h.live()) || this.feeder.busy();
      if (!busy && !this.ledger.flushPending) return;
      await new Promise<void>((r) => clock.setTimeout(r, 2));
    }
  }

  /** Hosts being restored (started, or replaced after dying) and not yet caught up. */
  restoring(): number[] {
    return this.hosts.filter((h) => h.restoring()).map((h) => h.id);
  }

  get generation(): number[] {
    return this.hosts.map((h) => h.generation);
  }

  /** Drains: every actor passivates with a final snapshot, then the workers stop. */
  async close(): Promise<void> {
    if (this.closing) return;
    // Closing goes on whatever settle says: a failure there already reached its submitters' callbacks.
    await this.settle().catch(() => undefined);
    this.closing = true;
    this.supervisor.closing = true;
    await this.frames?.close();
    await this.feeder.close();
    await this.supervisor.close();
  }
}
