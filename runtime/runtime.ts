import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { setImmediate } from 'node:timers';
import { Piscina } from 'piscina';
import * as Comlink from 'comlink';
import { loadActorModules } from './actor.js';
import { assignSeq, emptyBatch, pushEvent, resetBuilder, sealBatch, type EventBatch } from './batch.js';
import { ErrorCode, VigilError, fromWire, toWire } from './errors.js';
import { portEndpoint } from './endpoint.js';
import type { HostControl, HostTask } from './host-worker.js';
import { actorKey, hostId, parseActorKey, type HostId } from './ids.js';
import { ShardMap, keyGroupOf } from './keygroups.js';
import { resolveOptions, type RuntimeOptions } from './options.js';
import type {
  AlertSink, Clock, CounterHandle, EventLog, GaugeHandle, HistogramHandle, Metrics, RollupSink, SnapshotStore,
} from './ports.js';
import { DUPLICATE, type ActorFailure, type FromHost, type HostInit, type HostStats, type MessageBatch, type Outcomes, type ToHost } from './protocol.js';
import type { ActorInspection } from './shard-host.js';

export interface RuntimePorts {
  eventLog: EventLog;
  snapshotStore: SnapshotStore;
  rollupSink: RollupSink;
  alertSink: AlertSink;
  clock: Clock;
  metrics: Metrics;
}

/** What a producer hands the runtime: already validated, already routed to an actor kind. */
export interface RuntimeEvent {
  tenant: string;
  kind: string;
  id: string;
  time: number;
  body: unknown;
}

export interface EventRejection {
  /** Position of the event in the submitted array. */
  index: number;
  code: string;
  message: string;
}

export interface RescaleReport {
  from: number;
  to: number;
  epoch: number;
  movedKeyGroups: number;
  movedActors: number;
  /** How long the moving key groups held their events (the longest pause any saw). */
  pauseMs: number;
}

function addKg(m: Map<number, [number, number][]>, h: number, k: number): void {
  let r = m.get(h);
  if (!r) m.set(h, (r = []));
  const last = r[r.length - 1];
  if (last && last[1] === k) last[1] = k + 1;
  else r.push([k, k + 1]);
}

export interface SubmitResult {
  events: number;
  /** Highest log sequence given to one of the events. */
  lastSeq: number;
  /** Events their actor had already applied (same event id). */
  duplicates: number;
  /** Events an actor refused, with the reason; every other event was applied. */
  rejected: readonly EventRejection[];
}

const NO_REJECTIONS: readonly EventRejection[] = Object.freeze([]);

export type SubmitCallback = (err: VigilError | null, result: SubmitResult) => void;

export interface RuntimeHooks {
  /**
   * 'leased' ownership: false while this node cannot be sure it still holds its leases (it has
   * not renewed them recently, e.g. it was paused). The log tail delivers nothing meanwhile.
   */
  canDeliver?: () => boolean;
  /** 'leased' ownership: a commit was refused because another node fenced these key groups. */
  onFenced?: (keyGroups: number[]) => void;
  /** 'leased' ownership: every batch the log tail read (all key groups, owned or not). */
  onTail?: (batch: EventBatch) => void;
  /** 'leased' ownership: an ownership change or the log tail failed (it retries). */
  onTailError?: (err: VigilError) => void;
  /** An actor's handler threw: it is now failed (its host keeps running). */
  onActorFailed?: (f: ActorFailure) => void;
  /** A host died and was replaced; its shards were restored. */
  onHostRestarted?: (info: { hostId: number; generation: number; cause: VigilError; replayed: number; ms: number }) => void;
}

interface Submission {
  remaining: number;
  events: number;
  lastSeq: number;
  duplicates: number;
  rejected: EventRejection[] | null;
  cb: SubmitCallback | undefined;
}

/** Where each event of a sent batch came from, so an actor's verdict reaches its producer. */
interface BatchOrigins {
  base: number;
  n: number;
  subs: Submission[];
  idx: number[];
}

const HostState = { starting: 0, live: 1, restoring: 2, stopped: 3 } as const;

class HostSlot {
  readonly id: HostId;
  ranges: [number, number][];
  generation = 0;
  state: number = HostState.starting;
  port: MessagePort | null = null;
  control: Comlink.Remote<HostControl> | null = null;
  controlPort: MessagePort | null = null;
  task: Promise<unknown> | null = null;
  builder: EventBatch;
  /** Per event in `builder`: its submission and its index there. */
  originSubs: Submission[] = [];
  originIdx: number[] = [];
  /** Origins of batches appended and not yet applied, oldest first; kept across a host restart. */
  origins: BatchOrigins[] = [];
  /** Submissions with events in `builder`, waiting for its flush to learn their sequence. */
  unflushed: Submission[] = [];
  /** lastSeq of each batch sent and not yet applied, oldest first. */
  inFlight: number[] = [];
  /** Submissions waiting for this host to apply through a sequence, oldest first. */
  waitSeq: number[] = [];
  waitSub: Submission[] = [];
  waitHead = 0;
  appliedSeq = 0;
  lastSentSeq = 0;
  lastHeartbeatAt = 0;
  committedSeq = 0;
  chain: Promise<void> = Promise.resolve();
  /** Batches handed to the log and not yet sent. */
  appending = 0;
  /** Resolved when every batch sent to this host is applied (a restore waits for its replay). */
  appliedWaiters: (() => void)[] = [];
  keyGroups: number[] = [];

  constructor(id: number, ranges: [number, number][], capacity: number) {
    this.id = hostId(id);
    this.ranges = ranges;
    this.builder = emptyBatch(capacity);
    for (const [from, to] of ranges) for (let k = from; k < to; k++) this.keyGroups.push(k);
  }
}

function emptyResult(): SubmitResult {
  return { events: 0, lastSeq: 0, duplicates: 0, rejected: NO_REJECTIONS };
}

function workerUrl(): string {
  // Running from TypeScript sources (vitest), the worker must still be compiled JavaScript:
  // a worker thread has no TypeScript loader. `npm run build` produces dist/.
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../dist/runtime/host-worker.js', here).href;
  return new URL('./host-worker.js', here).href;
}

/**
 * The main-thread half of the runtime: routes events by key group to shard hosts running as
 * long-lived Piscina tasks, appends them to the event log first, acks submissions once the
 * hosts have applied them, serves the hosts' snapshot requests, and replaces dead hosts.
 */
export class ActorRuntime {
  readonly options: RuntimeOptions;
  shardMap: ShardMap;
  readonly kinds: string[];
  private readonly ports: RuntimePorts;
  private readonly hooks: RuntimeHooks;
  private readonly kindIndex = new Map<string, number>();
  private readonly pool: Piscina;
  private readonly hosts: HostSlot[] = [];
  private hostOfShard: Uint16Array;
  private readonly hostOfKg: Uint16Array;
  private readonly touched: Uint8Array;
  private flushScheduled = false;
  private closing = false;
  private logHead = 0;
  private trimmedTo = 0;
  /**
   * Events appended and not yet trimmed, with the last sequence of each append: sequences are
   * the log's (a JetStream log spaces them by message), so retained events must be counted.
   */
  private retained = 0;
  private readonly appends: number[] = [];
  private readonly appendSizes: number[] = [];
  private drainWaiters: (() => void)[] = [];
  private readonly leased: boolean;
  /** Key groups this runtime owns (all of them unless ownership is 'leased'). */
  private readonly owned: Uint8Array;
  /** 'leased': the fencing token each owned key group was acquired with. */
  private readonly fenceToken: Float64Array;
  /** 'leased': every event with sequence <= tailSeq has been read from the log and routed. */
  private tailSeq = 0;
  /** 'leased': ownership changes and host restores, run by the tail between two reads. */
  private tailOps: (() => Promise<void>)[] = [];
  private tailTask: Promise<void> | null = null;
  private wakeTail: (() => void) | null = null;
  private readonly m: {
    events: CounterHandle; activations: CounterHandle; passivations: CounterHandle; failures: CounterHandle;
    rejected: CounterHandle; restarts: CounterHandle; trimFailures: CounterHandle; fenced: CounterHandle; fencedCommits: CounterHandle;
    rescales: CounterHandle; rescalePause: HistogramHandle; commitSeconds: HistogramHandle; commitBytes: HistogramHandle;
    snapshotsWritten: CounterHandle; restoreSeconds: HistogramHandle; alerts: CounterHandle; active: GaugeHandle; parked: GaugeHandle; logEvents: GaugeHandle;
  };

  private constructor(options: RuntimeOptions, kinds: string[], ports: RuntimePorts, hooks: RuntimeHooks) {
    this.options = options;
    this.ports = ports;
    this.hooks = hooks;
    this.kinds = kinds;
    kinds.forEach((k, i) => this.kindIndex.set(k, i));
    this.shardMap = new ShardMap(options.keyGroups, options.shards);
    this.hostOfShard = new Uint16Array(options.shards);
    for (let s = 0; s < options.shards; s++) this.hostOfShard[s] = s % options.hosts;
    this.hostOfKg = new Uint16Array(options.keyGroups);
    for (let k = 0; k < options.keyGroups; k++) this.hostOfKg[k] = this.hostOfShard[this.shardMap.shardOf(k)]!;
    this.touched = new Uint8Array(options.hosts);
    this.leased = options.ownership === 'leased';
    this.owned = new Uint8Array(options.keyGroups).fill(this.leased ? 0 : 1);
    this.fenceToken = new Float64Array(options.keyGroups);
    for (let h = 0; h < options.hosts; h++) this.hosts.push(new HostSlot(h, [], options.maxBatchEvents));
    this.recomputeHostRanges();
    this.pool = new Piscina({
      filename: workerUrl(),
      minThreads: options.hosts,
      maxThreads: options.hosts,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
    });
    const mt = ports.metrics;
    this.m = {
      events: mt.counter('vigil_actor_events_total', 'Events applied to actor state', ['host']),
      activations: mt.counter('vigil_actor_activations_total', 'Actor activations', ['host']),
      passivations: mt.counter('vigil_actor_passivations_total', 'Actor passivations', ['host']),
      failures: mt.counter('vigil_actor_failures_total', 'Actors whose handler threw', ['kind']),
      rejected: mt.counter('vigil_actor_rejected_total', 'Events refused by a failed actor', ['host']),
      restarts: mt.counter('vigil_host_restarts_total', 'Shard hosts replaced after dying', ['host']),
      trimFailures: mt.counter('vigil_log_trim_failures_total', 'Event log trims that failed (retried at the next checkpoint)'),
      fenced: mt.counter('vigil_fenced_writes_total', 'Snapshots refused because their key group belongs to another host'),
      fencedCommits: mt.counter('vigil_fenced_commits_total', 'Commits the snapshot store refused because another node fenced their key groups (several nodes)'),
      rescales: mt.counter('vigil_rescales_total', 'Live shard rescales completed'),
      commitSeconds: mt.histogram('vigil_snapshot_commit_seconds', 'Snapshot commit (dirty actors + checkpoints) duration', [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]),
      commitBytes: mt.histogram('vigil_snapshot_commit_bytes', 'Encoded state written per snapshot commit', [1e3, 1e4, 1e5, 1e6, 1e7, 1e8]),
      snapshotsWritten: mt.counter('vigil_snapshots_written_total', 'Actor snapshots written'),
      restoreSeconds: mt.histogram('vigil_host_restore_seconds', 'From a host dying to its replacement restored and replayed', [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
      alerts: mt.counter('vigil_alerts_total', 'Alert changes emitted by actors', ['level', 'state']),
      rescalePause: mt.histogram('vigil_rescale_pause_seconds', 'How long moving key groups held their events during a rescale', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
      active: mt.gauge('vigil_actors_active', 'Resident actors', ['host']),
      parked: mt.gauge('vigil_mailbox_parked', 'Messages parked in mailboxes of activating actors', ['host']),
      logEvents: mt.gauge('vigil_log_retained_events', 'Events kept in the log for replay'),
    };
  }

  static async start(input: Partial<RuntimeOptions>, ports: RuntimePorts, hooks: RuntimeHooks = {}): Promise<ActorRuntime> {
    const options = resolveOptions(input);
    const defs = await loadActorModules(options.actorModules, options.actorConfig);
    const rt = new ActorRuntime(options, defs.map((d) => d.kind), ports, hooks);
    rt.logHead = await ports.eventLog.head();
    rt.trimmedTo = rt.logHead;
    // A leased node starts owning nothing: key groups come with leases, each restored then.
    rt.tailSeq = rt.logHead;
    // Recovering a node: every host restores from the store and replays what the log still has.
    await Promise.all(rt.hosts.map((h) => rt.launch(h, null)));
    rt.maintenance();
    if (rt.leased) rt.tailTask = rt.runTail();
    return rt;
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
    if (!this.writable()) return false;
    const sub: Submission = { remaining: 0, events: events.length, lastSeq: 0, duplicates: 0, rejected: null, cb };
    const kgs = this.options.keyGroups;
    const touched = this.touched;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const kind = this.kindIndex.get(e.kind);
      if (kind === undefined) {
        // Nothing was routed yet for this call if it is the first; either way fail loudly:
        // routing to an unknown kind is a programming error in the front-end, not bad input.
        throw new VigilError(ErrorCode.UnknownActorKind, `unknown actor kind ${JSON.stringify(e.kind)}`);
      }
      const kg = keyGroupOf(e.tenant, e.kind, e.id, kgs);
      if (this.moving !== null && this.moving[kg] === 1) {
        // Its key group is changing hands: held (bounded, see writable()) until the new owner
        // has it, then routed like any other event. The submission waits for it.
        if (this.heldEvents.length === 0 || this.heldEvents[this.heldEvents.length - 1]!.sub !== sub) sub.remaining++;
        this.heldEvents.push({ sub, idx: i, e, kind, kg });
        continue;
      }
      const h = this.hostOfKg[kg]!;
      const host = this.hosts[h]!;
      pushEvent(host.builder, kg, kind, e.tenant, e.id, e.time, e.body);
      host.originSubs.push(sub);
      host.originIdx.push(i);
      if (touched[h] === 0) {
        touched[h] = 1;
        sub.remaining++;
        host.unflushed.push(sub);
      }
      if (host.builder.n >= this.options.maxBatchEvents) this.flushHost(host);
    }
    touched.fill(0);
    if (sub.remaining === 0) cb?.(null, emptyResult());
    this.scheduleFlush();
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
    if (this.heldEvents.length > this.options.maxBatchEvents * this.options.maxInFlightBatches) return false;
    if (this.retained > this.options.maxLogEvents) return false;
    // Leased: the log is the buffer between producers and hosts (the tail paces itself).
    for (const h of this.hosts) if ((this.leased ? 0 : h.inFlight.length) + h.appending >= this.options.maxInFlightBatches) return false;
    return true;
  }

  whenWritable(): Promise<void> {
    if (this.writable()) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: it runs after the I/O callbacks of this loop turn, so the
    // frames of every connection that arrived together are coalesced into one batch per host.
    // Under load (the previous flush was under `coalesceMs` ago) wait out the rest of that
    // window instead: each cross-thread batch has a fixed cost (clone setup, a wake-up, a
    // report back), and bigger batches buy throughput for at most `coalesceMs` of latency.
    const since = performance.now() - this.lastFlushAt;
    if (since >= this.options.coalesceMs) setImmediate(this.flush);
    else setTimeout(this.flush, this.options.coalesceMs - since);
  }

  private lastFlushAt = 0;

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.lastFlushAt = performance.now();
    for (const host of this.hosts) if (host.builder.n > 0) this.flushHost(host);
    this.heartbeat();
  };

  /**
   * An idle host hears the log head now and then, so its checkpoints advance and the log can
   * be trimmed past events that were never its own. Called on flush and on a slow timer.
   */
  private heartbeat(): void {
    if (this.leased) return; // the tail tells every host how far the log went
    const now = this.ports.clock.now();
    for (const host of this.hosts) {
      if (host.state === HostState.live && host.builder.n === 0 && host.appending === 0 &&
        host.inFlight.length === 0 && host.lastSentSeq < this.logHead && now - host.lastHeartbeatAt > 100) {
        host.lastHeartbeatAt = now;
        this.sendEmpty(host, this.logHead);
      }
    }
  }

  private readonly maintenance = (): void => {
    if (this.closing) return;
    this.heartbeat();
    this.cancelMaintenance = this.ports.clock.setTimeout(this.maintenance, Math.max(50, this.options.snapshotIntervalMs / 2));
  };
  private cancelMaintenance: (() => void) | null = null;

  private flushHost(host: HostSlot): void {
    // Held (bounded by writable()) until restored. Leased: the append does not need the host.
    if (!this.leased && host.state !== HostState.live) return;
    const batch = sealBatch(host.builder);
    resetBuilder(host.builder);
    const subs = host.unflushed;
    host.unflushed = [];
    const origin: BatchOrigins = { base: 0, n: batch.n, subs: host.originSubs, idx: host.originIdx };
    host.originSubs = [];
    host.originIdx = [];
    const gen = host.generation;
    const append = this.ports.eventLog.append(batch);
    host.appending++;
    host.chain = host.chain.then(async () => {
      let base: number;
      try {
        base = await append;
      } catch (err) {
        host.appending--;
        const e = new VigilError(ErrorCode.StoreUnavailable, `event log append failed: ${toWire(err).message}`, { cause: err });
        for (const s of subs) s.cb?.(e, emptyResult());
        this.notifyWritable();
        return;
      }
      const lastSeq = base + batch.n - 1;
      if (lastSeq > this.logHead) this.logHead = lastSeq;
      if (this.leased) {
        // One node of several: the batch is durable in the shared log and its owners (any
        // node) will apply it from there, so this is the producer's ack. Actor verdicts
        // (duplicates, lateness) are counted by the owner and go to the dead-letter subject.
        host.appending--;
        for (const s of subs) {
          if (lastSeq > s.lastSeq) s.lastSeq = lastSeq;
          if (--s.remaining === 0) s.cb?.(null, { events: s.events, lastSeq: s.lastSeq, duplicates: s.duplicates, rejected: s.rejected ?? NO_REJECTIONS });
        }
        this.wakeTail?.();
        this.notifyWritable();
        return;
      }
      assignSeq(batch, base);
      origin.base = base;
      host.origins.push(origin);
      this.appends.push(lastSeq);
      this.appendSizes.push(batch.n);
      this.retained += batch.n;
      host.appending--;
      for (const s of subs) {
        if (lastSeq > s.lastSeq) s.lastSeq = lastSeq;
        host.waitSeq.push(lastSeq);
        host.waitSub.push(s);
      }
      // A host replaced meanwhile gets this batch from the log replay instead.
      if (host.generation !== gen || host.state !== HostState.live || !host.port) return;
      host.inFlight.push(lastSeq);
      host.lastSentSeq = lastSeq;
      host.port.postMessage({ t: 'events', batch, lastSeq } satisfies ToHost);
    });
  }

  private sendEmpty(host: HostSlot, lastSeq: number): void {
    host.inFlight.push(lastSeq);
    host.lastSentSeq = lastSeq;
    host.port!.postMessage({ t: 'events', batch: emptyBatch(0), lastSeq } satisfies ToHost);
  }

  private onApplied(host: HostSlot, appliedSeq: number): void {
    host.appliedSeq = appliedSeq;
    while (host.inFlight.length > 0 && host.inFlight[0]! <= appliedSeq) host.inFlight.shift();
    if (host.inFlight.length === 0 && host.appliedWaiters.length > 0) {
      const w = host.appliedWaiters;
      host.appliedWaiters = [];
      for (const f of w) f();
    }
    let i = host.waitHead;
    while (i < host.waitSeq.length && host.waitSeq[i]! <= appliedSeq) {
      const s = host.waitSub[i]!;
      host.waitSub[i] = undefined as unknown as Submission;
      if (--s.remaining === 0) s.cb?.(null, { events: s.events, lastSeq: s.lastSeq, duplicates: s.duplicates, rejected: s.rejected ?? NO_REJECTIONS });
      i++;
    }
    host.waitHead = i;
    while (host.origins.length > 0 && host.origins[0]!.base + host.origins[0]!.n - 1 <= appliedSeq) host.origins.shift();
    if (i > 4096 && i * 2 > host.waitSeq.length) {
      host.waitSeq.splice(0, i);
      host.waitSub.splice(0, i);
      host.waitHead = 0;
    }
    this.notifyWritable();
  }

  private notifyWritable(): void {
    if (this.drainWaiters.length === 0 || !this.writable()) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  // ------------------------------------------------------------------ hosts

  private async launch(host: HostSlot, cause: VigilError | null): Promise<void> {
    const started = this.ports.clock.now();
    host.generation++;
    host.state = cause ? HostState.restoring : HostState.starting;
    // Sends already chained for the dead host must settle before replay reads the log, or a
    // batch appended during the crash could be neither replayed nor sent.
    await host.chain;
    const data = new MessageChannel();
    const control = new MessageChannel();
    const gen = host.generation;
    const init: HostInit = {
      hostId: host.id,
      generation: gen,
      keyGroupCount: this.options.keyGroups,
      ranges: host.ranges,
      actorModules: this.options.actorModules,
      actorConfig: this.options.actorConfig,
      kinds: this.kinds,
      idleAfterMs: this.options.idleAfterMs,
      passivationSweepMs: this.options.passivationSweepMs,
      snapshotIntervalMs: this.options.snapshotIntervalMs,
      mailboxLimit: this.options.mailboxLimit,
      maxParkedEvents: this.options.maxParkedEvents,
      timerTickMs: this.options.timerTickMs,
    };
    host.port = data.port1;
    host.control = Comlink.wrap<HostControl>(portEndpoint(control.port1));
    host.controlPort = control.port1;
    host.inFlight = [];
    data.port1.on('message', (msg: FromHost) => this.onHostMessage(host, gen, msg));
    const task: HostTask = { init, data: data.port2, control: control.port2 };
    host.task = this.pool.run(task, { transferList: [data.port2, control.port2] as never });
    host.task.then(
      () => {
        if (host.generation === gen && !this.closing) void this.replace(host, new VigilError(ErrorCode.HostDied, `host ${host.id} returned early`));
      },
      (err: unknown) => {
        if (host.generation === gen && !this.closing) {
          void this.replace(host, new VigilError(ErrorCode.HostDied, `host ${host.id} died: ${toWire(err).message}`, { cause: err }));
        }
      },
    );
    const replayed = await this.replay(host, this.leased ? this.tailSeq : Infinity);
    // Restored means applied, not just sent: until the replay is in actor state, reads of these
    // key groups would answer from an older past (or 404), so the host is not live (and the
    // node not ready) before then. Live events for it wait in its builder meanwhile (bounded).
    await new Promise<void>((resolve) => {
      if (host.inFlight.length === 0 || host.generation !== gen) resolve();
      else host.appliedWaiters.push(resolve);
    });
    if (host.generation !== gen) return; // died again while replaying: the newer launch owns it
    host.state = HostState.live;
    host.lastSentSeq = Math.max(host.lastSentSeq, host.appliedSeq);
    if (cause) {
      this.m.restarts.inc(1, { host: host.id });
      this.m.restoreSeconds.observe((this.ports.clock.now() - started) / 1000);
      this.hooks.onHostRestarted?.({ hostId: host.id, generation: gen, cause, replayed, ms: this.ports.clock.now() - started });
    }
    if (host.builder.n > 0) this.flushHost(host);
  }

  private async replace(host: HostSlot, cause: VigilError): Promise<void> {
    if (this.leased) {
      // Restored between two reads of the tail, so its replay ends exactly where the tail is.
      host.state = HostState.restoring;
      await this.runOp(() => this.replaceNow(host, cause));
      return;
    }
    await this.replaceNow(host, cause);
  }

  private async replaceNow(host: HostSlot, cause: VigilError): Promise<void> {
    const old = host.port;
    host.port = null;
    old?.close();
    // Comlink calls waiting on the dead worker never settle; closing its port lets go of them.
    host.controlPort?.close();
    host.controlPort = null;
    await this.launch(host, cause);
  }

  /** Feeds a (re)started host every logged event of its key groups past their checkpoints. */
  private async replay(host: HostSlot, until: number): Promise<number> {
    const log = this.ports.eventLog;
    const cps = await this.ports.snapshotStore.checkpoints(host.keyGroups);
    const cp = new Float64Array(this.options.keyGroups);
    let from = Infinity;
    host.keyGroups.forEach((kg, i) => {
      cp[kg] = cps[i]!;
      if (cps[i]! < from) from = cps[i]!;
    });
    if (!Number.isFinite(from)) from = 0;
    let replayed = 0;
    let after = Math.max(from, 0);
    const mine = this.hostOfKg;
    const owned = this.owned;
    while (after < until) {
      const chunk = await log.read(after, 8192);
      if (!chunk || chunk.n === 0) break;
      const out = emptyBatch(chunk.n);
      for (let i = 0; i < chunk.n; i++) {
        const kg = chunk.kg[i]!;
        const seq = chunk.seq[i]!;
        if (seq > until) break;
        if (mine[kg] === host.id && owned[kg] === 1 && seq > cp[kg]!) {
          pushEvent(out, kg, chunk.kind[i]!, chunk.tenant[i]!, chunk.id[i]!, chunk.time[i]!, chunk.body[i], seq);
        }
      }
      after = Math.min(chunk.seq[chunk.n - 1]!, until);
      replayed += out.n;
      host.inFlight.push(after);
      host.lastSentSeq = after;
      host.port!.postMessage({ t: 'events', batch: sealBatch(out), lastSeq: after } satisfies ToHost);
    }
    if (after > this.logHead) this.logHead = after;
    // Tells the host how far the log went even when nothing was left to replay, so producers
    // waiting on events its checkpoint already covered are acked.
    this.sendEmpty(host, this.leased ? until : this.logHead);
    return replayed;
  }

  private onHostMessage(host: HostSlot, gen: number, msg: FromHost): void {
    if (host.generation !== gen) return;
    switch (msg.t) {
      case 'report':
        this.onReport(host, msg);
        break;
      case 'load': {
        const port = host.port;
        this.ports.snapshotStore.load(msg.keys).then(
          (records) => port?.postMessage({ t: 'loaded', req: msg.req, records } satisfies ToHost),
          (err: unknown) => port?.postMessage({ t: 'loaded', req: msg.req, records: [], error: toWire(err) } satisfies ToHost),
        );
        break;
      }
      case 'released': {
        const w = this.releaseWaiters.get(msg.req);
        this.releaseWaiters.delete(msg.req);
        w?.(msg.actors);
        break;
      }
      case 'commit': {
        const port = host.port;
        // Fencing: a host writes only key groups the current map gives it (a released key group
        // is still its own until its `released` arrives, which follows this commit).
        // Leased: and only key groups this node still owns (a dropped lease's actors are not
        // written), each with the token its lease was taken with, checked by the store.
        const owned = this.owned;
        const keyGroups: number[] = [];
        for (const [a, b] of msg.ranges) for (let k = a; k < b; k++) if (this.hostOfKg[k] === host.id && owned[k] === 1) keyGroups.push(k);
        const fenceKgs = this.leased ? new Set(keyGroups) : null;
        const snapshots = msg.snapshots.filter((r) => {
          const { tenant, kind, id } = parseActorKey(r.key);
          const kg = keyGroupOf(tenant, kind, id, this.options.keyGroups);
          if (this.hostOfKg[kg] !== host.id || owned[kg] !== 1) return false;
          fenceKgs?.add(kg);
          return true;
        });
        if (snapshots.length !== msg.snapshots.length) this.m.fenced.inc(msg.snapshots.length - snapshots.length);
        let fence: { keyGroups: number[]; tokens: number[] } | undefined;
        if (fenceKgs !== null) {
          const kgs = [...fenceKgs];
          fence = { keyGroups: kgs, tokens: kgs.map((k) => this.fenceToken[k]!) };
        }
        const commitStarted = this.ports.clock.now();
        let bytes = 0;
        for (const r of snapshots) bytes += r.data.length;
        this.ports.snapshotStore.commit({ snapshots, keyGroups, checkpointSeq: msg.checkpointSeq, ...(fence ? { fence } : {}) }).then(
          () => {
            this.m.commitSeconds.observe((this.ports.clock.now() - commitStarted) / 1000);
            this.m.commitBytes.observe(bytes);
            this.m.snapshotsWritten.inc(snapshots.length);
            port?.postMessage({ t: 'committed', req: msg.req } satisfies ToHost);
            if (host.generation === gen) {
              host.committedSeq = msg.checkpointSeq;
              this.maybeTrim();
            }
          },
          (err: unknown) => {
            port?.postMessage({ t: 'committed', req: msg.req, error: toWire(err) } satisfies ToHost);
            if (fence && (err as { code?: unknown }).code === ErrorCode.Fenced) {
              this.m.fencedCommits.inc();
              void this.ports.snapshotStore.fences(fence.keyGroups).then(
                (stored) => {
                  const lost = fence.keyGroups.filter((k, i) => stored[i]! > fence.tokens[i]! && this.fenceToken[k] === fence.tokens[i]);
                  if (lost.length > 0) this.hooks.onFenced?.(lost);
                },
                () => undefined,
              );
            }
          },
        );
        break;
      }
    }
  }

  private onReport(host: HostSlot, r: Extract<FromHost, { t: 'report' }>): void {
    const s: HostStats = r.stats;
    const label = { host: host.id };
    if (s.events) this.m.events.inc(s.events, label);
    if (s.activations) this.m.activations.inc(s.activations, label);
    if (s.passivations) this.m.passivations.inc(s.passivations, label);
    if (s.rejected) this.m.rejected.inc(s.rejected, label);
    this.m.active.set(s.active, label);
    this.m.parked.set(s.parked, label);
    if (r.alerts) {
      for (const a of r.alerts) this.m.alerts.inc(1, { level: a.level, state: a.state });
      void this.ports.alertSink.publish(r.alerts).catch(() => undefined);
    }
    if (r.rollups) void this.ports.rollupSink.write(r.rollups).catch(() => undefined);
    if (r.messages) this.routeMessages(r.messages);
    if (r.failures) {
      for (const f of r.failures) {
        this.m.failures.inc(1, { kind: f.kind });
        // Rebuilt on arrival: the hook gets a VigilError (code, message, stack here), not the
        // plain object that crossed the thread.
        this.hooks.onActorFailed?.({ ...f, error: fromWire(f.error) });
      }
    }
    if (r.outcomes) this.onOutcomes(host, r.outcomes);
    this.onApplied(host, r.appliedSeq);
  }

  /** Verdicts on single events go back to the submission that carried each one. */
  private onOutcomes(host: HostSlot, o: Outcomes): void {
    for (let j = 0; j < o.n; j++) {
      const seq = o.seq[j]!;
      const origin = host.origins.find((b) => seq >= b.base && seq < b.base + b.n);
      if (!origin) continue; // replayed from an earlier run of the node: its producer is gone
      const sub = origin.subs[seq - origin.base]!;
      if (o.code[j] === DUPLICATE) sub.duplicates++;
      else (sub.rejected ??= []).push({ index: origin.idx[seq - origin.base]!, code: o.code[j]!, message: o.message[j]! });
    }
  }

  /** Actor-to-actor messages that left their host: regrouped by destination host. */
  private routeMessages(b: MessageBatch): void {
    const per = new Map<number, MessageBatch>();
    for (let i = 0; i < b.n; i++) {
      if (this.moving !== null && this.moving[b.kg[i]!] === 1) {
        this.heldMessages.push({ kg: b.kg[i]!, kind: b.kind[i]!, tenant: b.tenant[i]!, id: b.id[i]!, body: b.body[i], fromKind: b.fromKind[i]!, fromId: b.fromId[i]! });
        continue;
      }
      const h = this.hostOfKg[b.kg[i]!]!;
      let out = per.get(h);
      if (!out) {
        out = { n: 0, kg: [], kind: [], tenant: [], id: [], body: [], fromKind: [], fromId: [] };
        per.set(h, out);
      }
      out.kg.push(b.kg[i]!);
      out.kind.push(b.kind[i]!);
      out.tenant.push(b.tenant[i]!);
      out.id.push(b.id[i]!);
      out.body.push(b.body[i]);
      out.fromKind.push(b.fromKind[i]!);
      out.fromId.push(b.fromId[i]!);
      out.n++;
    }
    for (const [h, out] of per) this.hosts[h]!.port?.postMessage({ t: 'messages', batch: out } satisfies ToHost);
  }

  private maybeTrim(): void {
    // Leased: the log is shared, so only the cluster-wide minimum checkpoint may trim it.
    if (this.leased) return;
    let min = Infinity;
    for (const h of this.hosts) if (h.committedSeq < min) min = h.committedSeq;
    if (Number.isFinite(min) && min > this.trimmedTo) {
      this.trimmedTo = min;
      // Trimming is housekeeping: a failure leaves more log to replay, never less.
      this.ports.eventLog.trim(min).catch(() => this.m.trimFailures.inc());
      let k = 0;
      while (k < this.appends.length && this.appends[k]! <= min) this.retained -= this.appendSizes[k++]!;
      if (k > 0) {
        this.appends.splice(0, k);
        this.appendSizes.splice(0, k);
      }
      this.m.logEvents.set(this.retained);
      this.notifyWritable();
    }
  }

  // ------------------------------------------------------------------ control plane

  private hostOf(kind: string, tenant: string, id: string): HostSlot {
    return this.hosts[this.hostOfKg[keyGroupOf(tenant, kind, id, this.options.keyGroups)]!]!;
  }

  /** One actor's state: live from its host when resident, else from its last snapshot. */
  async inspect(kind: string, tenant: string, id: string): Promise<(ActorInspection & { state: unknown }) | null> {
    if (!this.kindIndex.has(kind)) throw new VigilError(ErrorCode.UnknownActorKind, `unknown actor kind ${JSON.stringify(kind)}`);
    const kg = keyGroupOf(tenant, kind, id, this.options.keyGroups);
    if (this.owned[kg] !== 1) throw new VigilError(ErrorCode.NotOwner, `key group ${kg} of ${kind} ${tenant}/${id} is not owned by this node`);
    if (this.leased && this.hooks.canDeliver && !this.hooks.canDeliver()) {
      throw new VigilError(ErrorCode.NotOwner, `this node cannot confirm its lease on key group ${kg} right now`);
    }
    const host = this.hostOf(kind, tenant, id);
    const live = host.control ? await host.control.inspect(kind, tenant, id) : null;
    if (live) return { ...live, state: live.data === null ? null : JSON.parse(live.data) };
    const [rec] = await this.ports.snapshotStore.load([actorKey(tenant, kind, id)]);
    if (!rec) return null;
    const body = rec.data.slice(rec.data.indexOf('\n') + 1);
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

  async stats(): Promise<{ hostId: number; generation: number; appliedSeq: number; inFlight: number; active: number; parked: number; timers: number; keyGroups: number }[]> {
    return Promise.all(
      this.hosts.map(async (h) => {
        const c = h.control ? await h.control.counts() : { active: 0, parked: 0, timers: 0, appliedSeq: 0, inbox: 0 };
        return { hostId: h.id, generation: h.generation, appliedSeq: h.appliedSeq, inFlight: h.inFlight.length, active: c.active, parked: c.parked, timers: c.timers, keyGroups: h.keyGroups.length };
      }),
    );
  }

  // ------------------------------------------------------------------ leased ownership

  /** 'leased': key groups this node owns now. */
  ownedKeyGroups(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.owned.length; k++) if (this.owned[k] === 1) out.push(k);
    return out;
  }

  /** Whether this runtime owns the actor's key group (always, unless ownership is 'leased'). */
  owns(kind: string, tenant: string, id: string): boolean {
    return this.owned[keyGroupOf(tenant, kind, id, this.options.keyGroups)] === 1;
  }

  /** 'leased': how far the log has been read and routed to this node's hosts. */
  get tailPosition(): number {
    return this.tailSeq;
  }

  /**
   * 'leased': start owning `keyGroups`, whose leases were taken with fencing token `token` (one
   * for all, or one per key group). Runs
   * between two reads of the log tail, so nothing is delivered meanwhile: the store is fenced
   * first (the previous owner can no longer commit), the hosts take the key groups, the log is
   * replayed from their checkpoints up to the tail, and from the next read on they are live.
   */
  acquireKeyGroups(keyGroups: readonly number[], token: number | readonly number[]): Promise<void> {
    this.requireLeased('acquireKeyGroups');
    const tokenOf = (i: number): number => (typeof token === 'number' ? token : token[i]!);
    return this.runOp(async () => {
      const byToken = new Map<number, number[]>();
      keyGroups.forEach((k, i) => {
        if (this.owned[k] === 1) return;
        const t = tokenOf(i);
        let l = byToken.get(t);
        if (!l) byToken.set(t, (l = []));
        l.push(k);
      });
      if (byToken.size === 0) return;
      await Promise.all([...byToken].map(([t, ks]) => this.ports.snapshotStore.fence(ks, t)));
      const kgs = [...byToken.values()].flat();
      const cps = await this.ports.snapshotStore.checkpoints(kgs);
      for (const [t, ks] of byToken) {
        for (const k of ks) {
          this.owned[k] = 1;
          this.fenceToken[k] = t;
        }
      }
      this.recomputeHostRanges();
      const per = this.rangesPerHost(kgs);
      for (const [h, ranges] of per) this.hosts[h]!.port?.postMessage({ t: 'acquire', ranges, epoch: this.shardMap.epoch, replaying: true } satisfies ToHost);
      try {
        await this.replayKeyGroups(kgs, cps);
      } catch (err) {
        // Not restored: let go of them again (nothing of theirs was committed as checkpoint).
        await this.dropNow(kgs);
        throw err;
      }
      for (const [h, ranges] of per) this.hosts[h]!.port?.postMessage({ t: 'replayed', ranges } satisfies ToHost);
    });
  }

  /**
   * 'leased': hand `keyGroups` over gracefully: their actors passivate and one commit writes
   * their snapshots and checkpoints (still under this node's tokens), so the next owner has
   * little to replay. Waits at most `timeoutMs` for that commit; past it they are dropped
   * instead (the next owner replays more, nothing is lost: the log still has every event past
   * the last checkpoint that did get written).
   */
  releaseKeyGroups(keyGroups: readonly number[], timeoutMs = 5000): Promise<void> {
    this.requireLeased('releaseKeyGroups');
    return this.runOp(async () => {
      const kgs = keyGroups.filter((k) => this.owned[k] === 1);
      if (kgs.length === 0) return;
      const per = this.rangesPerHost(kgs);
      let timer: (() => void) | null = null;
      const timeout = new Promise<void>((r) => (timer = this.ports.clock.setTimeout(r, timeoutMs)));
      await Promise.race([Promise.all([...per].map(([h, ranges]) => this.releaseOn(this.hosts[h]!, ranges, this.shardMap.epoch))), timeout]);
      (timer as (() => void) | null)?.();
      for (const k of kgs) this.owned[k] = 0;
      this.recomputeHostRanges();
    });
  }

  /**
   * 'leased': stop owning `keyGroups` at once, writing nothing of theirs: the lease is lost (or
   * about to be), so another node may already own them and restore from the store.
   */
  dropKeyGroups(keyGroups: readonly number[]): Promise<void> {
    this.requireLeased('dropKeyGroups');
    // Not owned from this instant, before the op runs: commits already on their way are
    // filtered by `owned` and the tail stops delivering them.
    const kgs = keyGroups.filter((k) => this.owned[k] === 1);
    for (const k of kgs) this.owned[k] = 0;
    return this.runOp(() => this.dropNow(kgs, true));
  }

  private async dropNow(kgs: readonly number[], alreadyClear = false): Promise<void> {
    if (kgs.length === 0) return;
    // The hosts' ranges still include them until recomputed: that is how we find the hosts.
    const per = this.rangesPerHost(kgs);
    if (!alreadyClear) for (const k of kgs) this.owned[k] = 0;
    this.recomputeHostRanges();
    // A release whose commit writes nothing of theirs (filtered by `owned`): the host lets
    // their actors go. Not awaited: it completes with the host's next successful commit.
    for (const [h, ranges] of per) void this.releaseOn(this.hosts[h]!, ranges, this.shardMap.epoch);
  }

  private requireLeased(what: string): void {
    if (!this.leased) throw new VigilError(ErrorCode.InvalidOption, `${what} needs ownership 'leased'`);
  }

  private rangesPerHost(kgs: readonly number[]): Map<number, [number, number][]> {
    const per = new Map<number, [number, number][]>();
    for (const k of [...kgs].sort((a, b) => a - b)) addKg(per, this.hostOfKg[k]!, k);
    return per;
  }

  /** Queues `op` for the tail to run between two reads; settles with it. */
  private runOp(op: () => Promise<void>): Promise<void> {
    if (this.closing) return Promise.reject(new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down'));
    return new Promise<void>((resolve, reject) => {
      this.tailOps.push(() => op().then(resolve, (err: unknown) => {
        reject(err);
      }));
      this.wakeTail?.();
    });
  }

  /** Replays the log from the given checkpoints up to the tail, for newly acquired key groups. */
  private async replayKeyGroups(kgs: readonly number[], cps: readonly number[]): Promise<void> {
    const want = new Float64Array(this.options.keyGroups).fill(-1);
    let after = Infinity;
    kgs.forEach((k, i) => {
      want[k] = cps[i]!;
      if (cps[i]! < after) after = cps[i]!;
    });
    const until = this.tailSeq;
    const H = this.hosts.length;
    while (after < until) {
      const chunk = await this.ports.eventLog.read(after, 8192);
      if (!chunk || chunk.n === 0) break;
      const outs: (EventBatch | null)[] = new Array(H).fill(null);
      for (let i = 0; i < chunk.n; i++) {
        const seq = chunk.seq[i]!;
        if (seq > until) break;
        const kg = chunk.kg[i]!;
        if (want[kg]! < 0 || seq <= want[kg]! || this.owned[kg] !== 1) continue;
        const h = this.hostOfKg[kg]!;
        const out = (outs[h] ??= emptyBatch(64));
        pushEvent(out, kg, chunk.kind[i]!, chunk.tenant[i]!, chunk.id[i]!, chunk.time[i]!, chunk.body[i], seq);
      }
      after = Math.min(chunk.seq[chunk.n - 1]!, until);
      for (let h = 0; h < H; h++) {
        const out = outs[h];
        const host = this.hosts[h]!;
        if (!out || !host.port) continue;
        // Stamped with what the host has already been sent: its applied sequence never goes
        // backwards, and "applied through lastSeq" stays true once this batch is applied.
        const lastSeq = Math.max(host.lastSentSeq, after);
        host.inFlight.push(lastSeq);
        host.lastSentSeq = lastSeq;
        host.port.postMessage({ t: 'events', batch: sealBatch(out), lastSeq } satisfies ToHost);
      }
    }
  }

  /**
   * 'leased': reads the shared log in order and sends each host the events of the key groups
   * this node owns. One loop, so ownership changes (run between two reads) never interleave
   * with delivery: a key group's replay ends exactly where its live events begin.
   */
  private async runTail(): Promise<void> {
    const log = this.ports.eventLog;
    const H = this.hosts.length;
    const max = this.options.maxBatchEvents * 4;
    while (!this.closing) {
      while (this.tailOps.length > 0 && !this.closing) {
        try {
          await this.tailOps.shift()!();
        } catch (err) {
          this.hooks.onTailError?.(err instanceof VigilError ? err : new VigilError(ErrorCode.Internal, toWire(err).message, { cause: err }));
        }
      }
      if (this.closing) break;
      if (this.hooks.canDeliver && !this.hooks.canDeliver()) {
        await this.tailWait(20);
        continue;
      }
      // Bounded: a host with too much unapplied stops the tail (the log holds the rest).
      if (this.hosts.some((h) => h.inFlight.length >= this.options.maxInFlightBatches)) {
        await this.tailWait(1);
        continue;
      }
      let chunk: EventBatch | undefined;
      try {
        chunk = await log.read(this.tailSeq, max);
      } catch (err) {
        this.hooks.onTailError?.(new VigilError(ErrorCode.StoreUnavailable, `log tail: ${toWire(err).message}`, { cause: err }));
        await this.tailWait(250);
        continue;
      }
      if (!chunk || chunk.n === 0) {
        await this.tailWait(this.options.tailIdleMs);
        continue;
      }
      // Re-checked after the read: a pause (or a lapse of the leases) may have happened during it.
      if (this.hooks.canDeliver && !this.hooks.canDeliver()) continue;
      const outs: (EventBatch | null)[] = new Array(H).fill(null);
      const owned = this.owned;
      for (let i = 0; i < chunk.n; i++) {
        const kg = chunk.kg[i]!;
        if (owned[kg] !== 1) continue;
        const h = this.hostOfKg[kg]!;
        const out = (outs[h] ??= emptyBatch(chunk.n));
        pushEvent(out, kg, chunk.kind[i]!, chunk.tenant[i]!, chunk.id[i]!, chunk.time[i]!, chunk.body[i], chunk.seq[i]!);
      }
      const lastSeq = chunk.seq[chunk.n - 1]!;
      this.tailSeq = lastSeq;
      if (lastSeq > this.logHead) this.logHead = lastSeq;
      for (let h = 0; h < H; h++) {
        const host = this.hosts[h]!;
        if (host.state !== HostState.live || !host.port) continue;
        host.inFlight.push(lastSeq);
        host.lastSentSeq = lastSeq;
        // Every host hears how far the log went, with or without events of its own: that is
        // what advances its checkpoints (and lets the log be trimmed).
        const out = outs[h];
        host.port.postMessage({ t: 'events', batch: out ? sealBatch(out) : emptyBatch(0), lastSeq } satisfies ToHost);
      }
      this.hooks.onTail?.(chunk);
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
      cancel = this.ports.clock.setTimeout(done, ms);
    });
  }

  // ------------------------------------------------------------------ live rescale

  private moving: Uint8Array | null = null;
  private heldEvents: { sub: Submission; idx: number; e: RuntimeEvent; kind: number; kg: number }[] = [];
  private heldMessages: { kg: number; kind: number; tenant: string; id: string; body: unknown; fromKind: number; fromId: string }[] = [];
  private readonly releaseWaiters = new Map<number, (actors: number) => void>();
  private nextReleaseReq = 1;

  get rescaling(): boolean {
    return this.moving !== null;
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
    if (this.moving !== null) throw new VigilError('rescale_in_progress', 'a rescale is already in progress');
    if (this.leased) {
      throw new VigilError(ErrorCode.InvalidOption, 'live shard rescale runs on a single node; with several nodes, add or remove nodes instead');
    }
    if (this.closing) throw new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down');
    const from = this.shardMap.shardCount;
    const next = new ShardMap(this.options.keyGroups, shards, this.shardMap.epoch + 1);
    const H = this.options.hosts;
    const nextHostOfKg = new Uint16Array(this.options.keyGroups);
    for (let k = 0; k < this.options.keyGroups; k++) nextHostOfKg[k] = next.shardOf(k) % H;
    const moving = new Uint8Array(this.options.keyGroups);
    const releases = new Map<number, [number, number][]>();
    const acquires = new Map<number, [number, number][]>();
    let moved = 0;
    for (let k = 0; k < this.options.keyGroups; k++) {
      const a = this.hostOfKg[k]!;
      const b = nextHostOfKg[k]!;
      if (a === b) continue;
      moving[k] = 1;
      moved++;
      addKg(releases, a, k);
      addKg(acquires, b, k);
    }
    const started = this.ports.clock.now();
    if (moved === 0) {
      this.applyMap(next, nextHostOfKg);
      return { from, to: shards, epoch: next.epoch, movedKeyGroups: 0, movedActors: 0, pauseMs: 0 };
    }
    this.moving = moving;
    let movedActors = 0;
    try {
      // Everything already routed to the old owners goes out first (ordered before the release).
      for (const h of this.hosts) if (h.builder.n > 0) this.flushHost(h);
      await Promise.all(this.hosts.map((h) => h.chain));
      const counts = await Promise.all([...releases].map(([h, ranges]) => this.releaseOn(this.hosts[h]!, ranges, next.epoch)));
      movedActors = counts.reduce((a, b) => a + b, 0);
      this.applyMap(next, nextHostOfKg);
      for (const [h, ranges] of acquires) this.hosts[h]!.port?.postMessage({ t: 'acquire', ranges, epoch: next.epoch } satisfies ToHost);
    } finally {
      this.moving = null;
      this.releaseHeld();
    }
    const pauseMs = this.ports.clock.now() - started;
    this.m.rescales.inc();
    this.m.rescalePause.observe(pauseMs / 1000);
    return { from, to: shards, epoch: next.epoch, movedKeyGroups: moved, movedActors, pauseMs };
  }

  private releaseOn(host: HostSlot, ranges: [number, number][], epoch: number): Promise<number> {
    return new Promise((resolve) => {
      const req = this.nextReleaseReq++;
      this.releaseWaiters.set(req, resolve);
      host.port!.postMessage({ t: 'release', req, ranges, epoch } satisfies ToHost);
    });
  }

  private applyMap(next: ShardMap, nextHostOfKg: Uint16Array): void {
    this.shardMap = next;
    this.hostOfKg.set(nextHostOfKg);
    this.hostOfShard = new Uint16Array(next.shardCount);
    for (let s = 0; s < next.shardCount; s++) this.hostOfShard[s] = s % this.options.hosts;
    this.recomputeHostRanges();
  }

  /** Each host's ranges: the key groups the map gives it that this runtime owns. */
  private recomputeHostRanges(): void {
    for (const h of this.hosts) {
      h.ranges = [];
      h.keyGroups = [];
    }
    const K = this.options.keyGroups;
    for (let k = 0; k < K; k++) {
      if (this.owned[k] !== 1) continue;
      const h = this.hosts[this.hostOfKg[k]!]!;
      const last = h.ranges[h.ranges.length - 1];
      if (last && last[1] === k) last[1] = k + 1;
      else h.ranges.push([k, k + 1]);
      h.keyGroups.push(k);
    }
  }

  /** Held events and messages, in arrival order, to their new owners. */
  private releaseHeld(): void {
    const held = this.heldEvents;
    this.heldEvents = [];
    const touched = this.touched;
    let last: Submission | null = null;
    for (const x of held) {
      if (x.sub !== last) {
        touched.fill(0);
        if (last !== null) this.settleHeld(last);
        last = x.sub;
      }
      const h = this.hostOfKg[x.kg]!;
      const host = this.hosts[h]!;
      pushEvent(host.builder, x.kg, x.kind, x.e.tenant, x.e.id, x.e.time, x.e.body);
      host.originSubs.push(x.sub);
      host.originIdx.push(x.idx);
      if (touched[h] === 0) {
        touched[h] = 1;
        x.sub.remaining++;
        host.unflushed.push(x.sub);
      }
      if (host.builder.n >= this.options.maxBatchEvents) this.flushHost(host);
    }
    touched.fill(0);
    if (last !== null) this.settleHeld(last);
    const msgs = this.heldMessages;
    this.heldMessages = [];
    if (msgs.length > 0) {
      const b: MessageBatch = { n: 0, kg: [], kind: [], tenant: [], id: [], body: [], fromKind: [], fromId: [] };
      for (const m of msgs) {
        b.kg.push(m.kg);
        b.kind.push(m.kind);
        b.tenant.push(m.tenant);
        b.id.push(m.id);
        b.body.push(m.body);
        b.fromKind.push(m.fromKind);
        b.fromId.push(m.fromId);
        b.n++;
      }
      this.routeMessages(b);
    }
    this.scheduleFlush();
    this.notifyWritable();
  }

  /** The "held" share of a submission's wait is now carried by the hosts its events went to. */
  private settleHeld(sub: Submission): void {
    if (--sub.remaining === 0) sub.cb?.(null, { events: sub.events, lastSeq: sub.lastSeq, duplicates: sub.duplicates, rejected: sub.rejected ?? NO_REJECTIONS });
  }

  /** Per host V8 heap (after GC where available); for the memory benchmark. */
  async hostMemory(): Promise<{ heapUsed: number; gcRan: boolean }[]> {
    return Promise.all(this.hosts.map((h) => (h.control ? h.control.memory() : { heapUsed: 0, gcRan: false })));
  }

  /** For supervision tests: make host `h`'s worker die. */
  async crashHost(h: number, how: 'exit' | 'throw'): Promise<void> {
    const host = this.hosts[h];
    if (!host?.control) throw new VigilError(ErrorCode.NotOwner, `no host ${h}`);
    void host.control.crash(how).catch(() => undefined);
  }

  /** Waits until every submitted event is applied. */
  async settle(): Promise<void> {
    for (;;) {
      if (this.flushScheduled) await new Promise<void>((r) => setImmediate(r));
      await Promise.all(this.hosts.map((h) => h.chain));
      const busy = this.hosts.some((h) => h.inFlight.length > 0 || h.appending > 0 || h.builder.n > 0 || h.state !== HostState.live) ||
        // Leased: what was appended here must have gone past the tail, unless this node may
        // not deliver now (its leases lapsed): then nothing more will be applied here anyway.
        (this.leased && (this.tailOps.length > 0 || (this.tailSeq < this.logHead && this.hooks.canDeliver?.() !== false)));
      if (!busy && !this.flushScheduled) return;
      await new Promise<void>((r) => setTimeout(r, 2));
    }
  }

  /** Hosts being restored (started, or replaced after dying) and not yet caught up. */
  restoring(): number[] {
    return this.hosts.filter((h) => h.state !== HostState.live && h.state !== HostState.stopped).map((h) => h.id);
  }

  get generation(): number[] {
    return this.hosts.map((h) => h.generation);
  }

  /** Drains: every actor passivates with a final snapshot, then the workers stop. */
  async close(): Promise<void> {
    if (this.closing) return;
    await this.settle().catch(() => undefined);
    this.closing = true;
    this.cancelMaintenance?.();
    this.wakeTail?.();
    await this.tailTask;
    const drains = this.hosts.map(async (h) => {
      const ctl = h.control;
      if (!ctl) return;
      const timeout = new Promise<void>((r) => setTimeout(r, this.options.drainTimeoutMs).unref());
      await Promise.race([ctl.drain().catch(() => undefined), timeout]);
      ctl[Comlink.releaseProxy]();
      h.state = HostState.stopped;
    });
    await Promise.all(drains);
    await Promise.allSettled(this.hosts.map((h) => h.task));
    for (const h of this.hosts) {
      h.port?.close();
      h.controlPort?.close();
    }
    await this.pool.destroy();
  }
}

