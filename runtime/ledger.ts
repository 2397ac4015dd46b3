// The submission ledger: what producers handed the runtime and what it owes them back.
//
// Per host a lane: the builder the next batch is collected in (with each event's origin in
// typed columns beside it), the append to the log, the batches sent and not yet applied, and the
// submissions waiting for the host to apply through a sequence. A submission is acked once every
// host batch carrying one of its events is done (applied, or appended when the log is the
// delivery); each actor verdict on one of its events (duplicate, rejection) is mapped back to the
// index it was submitted at. No worker, port or timer of its own: hosts are `LaneTarget`s and time
// is the injected Clock, so it runs (and is tested) in-process.
//
// Origins are columns, not per-event objects: a batch's origins are `subs` (the submissions it
// carries events of) and, per event, `slot` (index into `subs`) and `idx` (position in what that
// submission handed over). The per-event path (`add`) writes two typed-array cells; a producer
// that routes and builds columns itself can hand a sealed batch with its origin columns to
// `enqueue` as they are (one share per submission in `touching`), with no per-event work here.
import { assignSeq, emptyBatch, pushEvent, resetBuilder, sealBatch, unpackBatch, type EventBatch } from './batch.js';
import { ErrorCode, VigilError, toWire } from './errors.js';
import type { Clock, EventLog } from './ports.js';
import { DUPLICATE, type Outcomes } from './protocol.js';

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
  /** Frames (routed batches): the refused event itself, which the main thread never held. */
  tenant?: string;
  time?: number;
  body?: unknown;
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

export type SubmitCallback = (err: VigilError | null, result: SubmitResult) => void;

const NO_REJECTIONS: readonly EventRejection[] = Object.freeze([]);

export function emptyResult(): SubmitResult {
  return { events: 0, lastSeq: 0, duplicates: 0, rejected: NO_REJECTIONS };
}

/** One producer call, answered once. */
export interface Submission {
  /** Shares still owed: one per host batch carrying its events, one while some are held. */
  remaining: number;
  readonly events: number;
  lastSeq: number;
  duplicates: number;
  rejected: EventRejection[] | null;
  /** Answered (acked or failed): later shares and verdicts change nothing. */
  done: boolean;
  readonly cb: SubmitCallback | undefined;
}

/** Where each event of a batch came from: event i is `subs[slot[i]]`'s event `idx[i]`. */
export interface BatchOrigins {
  /** Log sequence of event 0 (0 until appended). */
  base: number;
  readonly n: number;
  readonly subs: readonly Submission[];
  readonly slot: Uint32Array;
  readonly idx: Uint32Array;
  /**
   * Routed batches (built by an ingest worker): the batch itself, for the event of a refusal
   * (unpacked then, and only then) and for `onRetired`; `skip` collects the positions that were
   * not applied (duplicates, refusals), ascending.
   */
  readonly batch?: EventBatch;
  skip?: number[];
  /** Routed batches: the source (ws, http, nats, import) of each frame `slot` points at. */
  readonly sources?: readonly string[];
}

/**
 * When a submission is acked. 'applied': once the hosts applied its events (one node: the
 * lanes send each batch to their host right after its append, and actor verdicts come back).
 * 'appended': once the shared log has it (several nodes: its owners, on any node, apply it from
 * the log; their verdicts go to the dead-letter subject there).
 */
export const AckAt = { applied: 'applied', appended: 'appended' } as const;
export type AckAt = (typeof AckAt)[keyof typeof AckAt];

/** What a lane needs of its host; the host supervisor's slots implement it, tests fake it. */
export interface LaneTarget {
  /** Changes each time the host is replaced: a batch appended for an older one is left to replay. */
  readonly generation: number;
  /** Started and restored: takes events now. */
  live(): boolean;
  /** Posts events on the host's data port; false when it has none. */
  post(batch: EventBatch, lastSeq: number): boolean;
}

export interface LedgerLimits {
  /** A lane's builder is flushed inline at this many events, else once per tick. */
  hostBatchEvents: number;
  /** Per lane, batches appending (and, acking at 'applied', sent and unapplied) before refusing. */
  maxInFlightBatches: number;
  /** Events appended and not yet trimmed before refusing. */
  maxLogEvents: number;
  /** Under load a flush waits up to this long for more events (see scheduleFlush). */
  coalesceMs: number;
}

export interface LedgerDeps {
  log: Pick<EventLog, 'append'>;
  clock: Clock;
  targets: readonly LaneTarget[];
  ackAt: AckAt;
  /** After each scheduled flush of every lane. */
  onFlush?: () => void;
  /** A batch was appended and acked at append ('appended'). */
  onAppend?: () => void;
  /**
   * A routed batch is done: applied (its `skip` complete) or, acking at 'appended', appended
   * (nothing skipped yet: its owners decide later, elsewhere).
   */
  onRetired?: (origins: BatchOrigins) => void;
}

interface Held {
  batch: EventBatch;
  origins: BatchOrigins;
  touching: readonly Submission[];
}

class Lane {
  readonly builder: EventBatch;
  /** Origins of the builder's events, beside its columns (see BatchOrigins). */
  slot: Uint32Array;
  idx: Uint32Array;
  /** Submissions with events in the builder; one share each, taken when first added. */
  touching: Submission[] = [];
  /** The submission the builder's last event came from (its events run on in the same slot). */
  last: Submission | null = null;
  /** Origins of batches appended and not yet applied, oldest first; kept across a host restart. */
  sent: BatchOrigins[] = [];
  /** lastSeq of each batch sent and not yet applied, oldest first. */
  inFlight: number[] = [];
  /** Submissions waiting for the host to apply through a sequence, oldest first. */
  waitSeq: number[] = [];
  waitSub: (Submission | undefined)[] = [];
  waitHead = 0;
  appliedSeq = 0;
  lastSentSeq = 0;
  /** Appends of this lane, in order: each sends its batch only after the earlier ones. */
  chain: Promise<void> = Promise.resolve();
  /** Batches handed to the log and not yet through `chain`. */
  appending = 0;
  /** Called once nothing sent is unapplied (a restore waits for its replay). */
  appliedWaiters: (() => void)[] = [];
  /**
   * Sealed batches (routed ones, and the builder's events sealed ahead of them to keep the lane's
   * order) waiting for the host to be live: appended now, they could land in the log after a
   * restoring host's replay read it and before it went live, and be neither replayed nor sent,
   * yet acked by its later reports. Enqueued, in order, by the next `flush` once it is live.
   */
  held: Held[] = [];
  heldEvents = 0;

  constructor(capacity: number) {
    this.builder = emptyBatch(capacity);
    this.slot = new Uint32Array(capacity);
    this.idx = new Uint32Array(capacity);
  }

  growOrigins(): void {
    const cap = Math.max(16, this.slot.length * 2);
    const slot = new Uint32Array(cap);
    slot.set(this.slot);
    const idx = new Uint32Array(cap);
    idx.set(this.idx);
    this.slot = slot;
    this.idx = idx;
  }
}

export class SubmissionLedger {
  /** Highest log sequence seen (appended here, or read from the log). */
  head = 0;
  /** Events held outside every lane (their key group is moving); they count against writable(). */
  held = 0;
  private readonly lanes: Lane[] = [];
  private readonly limits: LedgerLimits;
  private readonly deps: LedgerDeps;
  private flushScheduled = false;
  private lastFlushAt = -Infinity;
  /**
   * Events appended and not yet trimmed, with the last sequence of each append: sequences are
   * the log's (a JetStream log spaces them by message), so retained events must be counted.
   */
  private retainedEvents = 0;
  private readonly appends: number[] = [];
  private readonly appendSizes: number[] = [];
  private drainWaiters: (() => void)[] = [];

  constructor(limits: LedgerLimits, deps: LedgerDeps) {
    this.limits = limits;
    this.deps = deps;
    for (let h = 0; h < deps.targets.length; h++) this.lanes.push(new Lane(limits.hostBatchEvents));
  }

  // ------------------------------------------------------------------ submissions

  open(events: number, cb: SubmitCallback | undefined): Submission {
    return { remaining: 0, events, lastSeq: 0, duplicates: 0, rejected: null, done: false, cb };
  }

  /** After routing every event of `sub`: one that carries none is acked now. */
  opened(sub: Submission): void {
    if (sub.remaining === 0 && !sub.done) {
      sub.done = true;
      sub.cb?.(null, emptyResult());
    }
  }

  /** Event `index` of `sub`, for host `h`: into its lane's builder (flushed when full). */
  add(h: number, sub: Submission, index: number, kg: number, kind: number, tenant: string, id: string, time: number, body: unknown): void {
    const lane = this.lanes[h]!;
    const b = lane.builder;
    if (lane.last !== sub) {
      lane.last = sub;
      lane.touching.push(sub);
      sub.remaining++;
    }
    const i = b.n;
    pushEvent(b, kg, kind, tenant, id, time, body);
    if (i === lane.slot.length) lane.growOrigins();
    lane.slot[i] = lane.touching.length - 1;
    lane.idx[i] = index;
    if (b.n >= this.limits.hostBatchEvents) this.flush(h);
  }

  /** An event of `sub` is held outside the lanes; `first`: the first of `sub` held (one share). */
  hold(sub: Submission, first: boolean): void {
    this.held++;
    if (first) sub.remaining++;
  }

  /** `count` held events went to lanes. */
  unhold(count: number): void {
    this.held -= count;
  }

  /** `sub`'s held events went to lanes: the share they took is now the lanes'. */
  releaseShare(sub: Submission): void {
    this.settle(sub);
  }

  private settle(s: Submission): void {
    if (--s.remaining === 0 && !s.done) {
      s.done = true;
      s.cb?.(null, { events: s.events, lastSeq: s.lastSeq, duplicates: s.duplicates, rejected: s.rejected ?? NO_REJECTIONS });
    }
  }

  private fail(s: Submission, err: VigilError): void {
    if (s.done) return;
    s.done = true;
    s.cb?.(err, emptyResult());
  }

  // ------------------------------------------------------------------ flushing

  get flushPending(): boolean {
    return this.flushScheduled;
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Deferred, not a microtask: it runs after the I/O callbacks of this loop turn, so the
    // frames of every connection that arrived together are coalesced into one batch per host.
    // Under load (the previous flush was under `coalesceMs` ago) wait out the rest of that
    // window instead: each cross-thread batch has a fixed cost (clone setup, a wake-up, a
    // report back), and bigger batches buy throughput for at most `coalesceMs` of latency.
    const { clock } = this.deps;
    const since = clock.monotonic() - this.lastFlushAt;
    if (since >= this.limits.coalesceMs) clock.defer(this.flushAll);
    else clock.setTimeout(this.flushAll, this.limits.coalesceMs - since);
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    this.lastFlushAt = this.deps.clock.monotonic();
    for (let h = 0; h < this.lanes.length; h++) if (this.building(h) > 0) this.flush(h);
    this.deps.onFlush?.();
  };

  /** Flushes every lane that has events (e.g. before a rescale releases key groups). */
  flushNow(): void {
    for (let h = 0; h < this.lanes.length; h++) if (this.building(h) > 0) this.flush(h);
  }

  /** Seals lane `h`'s builder and appends it. */
  flush(h: number): void {
    const lane = this.lanes[h]!;
    // Acked at 'applied', the batch goes to its host right after the append: it waits in the
    // builder (bounded by writable()) until the host is restored. At 'appended' the log is the
    // delivery and the host is not needed.
    if (this.waitsForHost(h)) return;
    if (lane.held.length > 0) {
      const held = lane.held;
      lane.held = [];
      lane.heldEvents = 0;
      for (const x of held) this.enqueue(h, x.batch, x.origins, x.touching);
    }
    const sealed = this.sealBuilder(lane);
    if (sealed !== null) this.enqueue(h, sealed.batch, sealed.origins, sealed.touching);
  }

  /** Acked once applied, lane `h`'s batches wait while its host is not live (see Lane.held). */
  private waitsForHost(h: number): boolean {
    return this.deps.ackAt === AckAt.applied && !this.deps.targets[h]!.live();
  }

  /** The builder's events as a sealed batch with their origins (the builder is empty after); null when none. */
  private sealBuilder(lane: Lane): Held | null {
    const n = lane.builder.n;
    if (n === 0) return null;
    const batch = sealBatch(lane.builder);
    resetBuilder(lane.builder);
    const origins: BatchOrigins = { base: 0, n, subs: lane.touching, slot: lane.slot.slice(0, n), idx: lane.idx.slice(0, n) };
    lane.touching = [];
    lane.last = null;
    return { batch, origins, touching: origins.subs };
  }

  /**
   * A batch an ingest worker routed and built, with its origins (`slot` into `touching`), for
   * host `h`: no per-event work here. Whatever the lane's builder holds goes first, so a lane
   * keeps its order. Every submission in `touching` must hold one share for it.
   */
  enqueueRouted(h: number, batch: EventBatch, origins: BatchOrigins, touching: readonly Submission[]): void {
    for (const s of touching) s.remaining++;
    const lane = this.lanes[h]!;
    if (this.waitsForHost(h)) {
      // Held in order behind the builder's events (sealed first), until the host is live.
      const sealed = this.sealBuilder(lane);
      if (sealed !== null) lane.held.push(sealed);
      lane.held.push({ batch, origins, touching });
      lane.heldEvents += batch.n + (sealed === null ? 0 : sealed.batch.n);
      return;
    }
    if (lane.builder.n > 0 || lane.held.length > 0) this.flush(h);
    this.enqueue(h, batch, origins, touching);
  }

  /**
   * Appends a sealed batch for host `h` and, once appended, sends it (or acks it at
   * 'appended'). `touching`: the submissions it carries events of, each holding one share for
   * it. Batches of a lane go out in the order they were enqueued.
   */
  private enqueue(h: number, batch: EventBatch, origins: BatchOrigins, touching: readonly Submission[]): void {
    const lane = this.lanes[h]!;
    const target = this.deps.targets[h]!;
    const gen = target.generation;
    const append = this.deps.log.append(batch);
    lane.appending++;
    lane.chain = lane.chain.then(async () => {
      let base: number;
      try {
        base = await append;
      } catch (err) {
        lane.appending--;
        const e = new VigilError(ErrorCode.StoreUnavailable, `event log append failed: ${toWire(err).message}`, { cause: err });
        for (const s of touching) this.fail(s, e);
        this.notifyWritable();
        return;
      }
      const lastSeq = base + batch.n - 1;
      if (lastSeq > this.head) this.head = lastSeq;
      lane.appending--;
      if (this.deps.ackAt === AckAt.appended) {
        for (const s of touching) {
          if (lastSeq > s.lastSeq) s.lastSeq = lastSeq;
          this.settle(s);
        }
        if (origins.batch !== undefined) this.deps.onRetired?.(origins);
        this.deps.onAppend?.();
        this.notifyWritable();
        return;
      }
      assignSeq(batch, base);
      origins.base = base;
      lane.sent.push(origins);
      this.appends.push(lastSeq);
      this.appendSizes.push(batch.n);
      this.retainedEvents += batch.n;
      for (const s of touching) {
        if (lastSeq > s.lastSeq) s.lastSeq = lastSeq;
        lane.waitSeq.push(lastSeq);
        lane.waitSub.push(s);
      }
      // A host replaced meanwhile gets this batch from the log replay instead.
      if (target.generation !== gen || !target.live()) return;
      this.send(h, batch, lastSeq);
    });
  }

  // ------------------------------------------------------------------ delivery

  /**
   * Posts events to host `h`, to be reported applied through `lastSeq`; false (nothing sent)
   * when the host has no port. Every batch a host gets goes through here: appended ones,
   * replays, the log tail, empty ones that only say how far the log went.
   */
  send(h: number, batch: EventBatch, lastSeq: number): boolean {
    if (!this.deps.targets[h]!.post(batch, lastSeq)) return false;
    const lane = this.lanes[h]!;
    lane.inFlight.push(lastSeq);
    lane.lastSentSeq = lastSeq;
    return true;
  }

  /** Host `h` applied every event sent to it with sequence <= `appliedSeq`. */
  applied(h: number, appliedSeq: number): void {
    const lane = this.lanes[h]!;
    lane.appliedSeq = appliedSeq;
    while (lane.inFlight.length > 0 && lane.inFlight[0]! <= appliedSeq) lane.inFlight.shift();
    if (lane.inFlight.length === 0 && lane.appliedWaiters.length > 0) {
      const w = lane.appliedWaiters;
      lane.appliedWaiters = [];
      for (const f of w) f();
    }
    let i = lane.waitHead;
    while (i < lane.waitSeq.length && lane.waitSeq[i]! <= appliedSeq) {
      const s = lane.waitSub[i]!;
      lane.waitSub[i] = undefined;
      this.settle(s);
      i++;
    }
    lane.waitHead = i;
    while (lane.sent.length > 0 && lane.sent[0]!.base + lane.sent[0]!.n - 1 <= appliedSeq) {
      const done = lane.sent.shift()!;
      if (done.batch !== undefined) this.deps.onRetired?.(done);
    }
    if (i > 4096 && i * 2 > lane.waitSeq.length) {
      lane.waitSeq.splice(0, i);
      lane.waitSub.splice(0, i);
      lane.waitHead = 0;
    }
    this.notifyWritable();
  }

  /** Verdicts on single events of host `h` go back to the submission that carried each one. */
  outcomes(h: number, o: Outcomes): void {
    const sent = this.lanes[h]!.sent;
    for (let j = 0; j < o.n; j++) {
      const seq = o.seq[j]!;
      const origin = sent.find((b) => seq >= b.base && seq < b.base + b.n);
      if (!origin) continue; // replayed from an earlier run of the node: its producer is gone
      const at = seq - origin.base;
      if (origin.skip !== undefined) origin.skip.push(at);
      const sub = origin.subs[origin.slot[at]!]!;
      if (sub.done) continue;
      if (o.code[j] === DUPLICATE) sub.duplicates++;
      else if (origin.batch === undefined) (sub.rejected ??= []).push({ index: origin.idx[at]!, code: o.code[j]!, message: o.message[j]! });
      else {
        // The main thread holds a routed batch packed: unpacked here, for refusals only.
        const b = unpackBatch(origin.batch);
        (sub.rejected ??= []).push({ index: origin.idx[at]!, code: o.code[j]!, message: o.message[j]!, tenant: b.tenant[at]!, time: b.time[at]!, body: b.body[at] });
      }
    }
  }

  /** A new host runs in lane `h`: nothing is in flight to it yet. */
  restarted(h: number): void {
    this.lanes[h]!.inFlight = [];
  }

  /** Resolves once nothing sent to host `h` is unapplied. */
  whenApplied(h: number): Promise<void> {
    const lane = this.lanes[h]!;
    if (lane.inFlight.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => lane.appliedWaiters.push(resolve));
  }

  /** Settles once every append enqueued for lane `h` so far is through. */
  appended(h: number): Promise<void> {
    return this.lanes[h]!.chain;
  }

  /** Settles once every append enqueued so far is through. */
  allAppended(): Promise<void> {
    return Promise.all(this.lanes.map((l) => l.chain)).then(() => undefined);
  }

  /** Lane `h` has events not yet applied (building, appending or in flight). */
  busy(h: number): boolean {
    const lane = this.lanes[h]!;
    return lane.inFlight.length > 0 || lane.appending > 0 || lane.builder.n > 0 || lane.held.length > 0;
  }

  inFlight(h: number): number {
    return this.lanes[h]!.inFlight.length;
  }

  appending(h: number): number {
    return this.lanes[h]!.appending;
  }

  /** Events of lane `h` not yet appended: in its builder, or held for its host (see Lane.held). */
  building(h: number): number {
    const lane = this.lanes[h]!;
    return lane.builder.n + lane.heldEvents;
  }

  appliedSeq(h: number): number {
    return this.lanes[h]!.appliedSeq;
  }

  lastSentSeq(h: number): number {
    return this.lanes[h]!.lastSentSeq;
  }

  /** A restored host reports from where it was restored: what it was sent never goes back. */
  caughtUp(h: number): void {
    const lane = this.lanes[h]!;
    lane.lastSentSeq = Math.max(lane.lastSentSeq, lane.appliedSeq);
  }

  observeHead(seq: number): void {
    if (seq > this.head) this.head = seq;
  }

  // ------------------------------------------------------------------ log retention

  get retained(): number {
    return this.retainedEvents;
  }

  /** The log forgot every event with sequence <= `seq`; returns the events still retained. */
  forget(seq: number): number {
    let k = 0;
    while (k < this.appends.length && this.appends[k]! <= seq) this.retainedEvents -= this.appendSizes[k++]!;
    if (k > 0) {
      this.appends.splice(0, k);
      this.appendSizes.splice(0, k);
    }
    this.notifyWritable();
    return this.retainedEvents;
  }

  // ------------------------------------------------------------------ backpressure

  writable(): boolean {
    const { hostBatchEvents, maxInFlightBatches, maxLogEvents } = this.limits;
    if (this.held > hostBatchEvents * maxInFlightBatches) return false;
    if (this.retainedEvents > maxLogEvents) return false;
    // At 'appended' the log is the buffer between producers and hosts (the tail paces itself).
    const countSent = this.deps.ackAt === AckAt.applied;
    for (const lane of this.lanes) if ((countSent ? lane.inFlight.length : 0) + lane.appending + lane.held.length >= maxInFlightBatches) return false;
    return true;
  }

  whenWritable(): Promise<void> {
    if (this.writable()) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  notifyWritable(): void {
    if (this.drainWaiters.length === 0 || !this.writable()) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}
