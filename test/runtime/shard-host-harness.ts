// Drives one ShardHost in-process: a ManualClock for time, a Map for the snapshot store, and the
// main thread's side of the data-port protocol played by hand. Nothing runs unless the test
// says so: `settle()` answers the host's loads and commits, `advance()` moves the clock (the
// host's tick runs inside it). No worker, no build, no sleeps.
import { defineActor, type AnyActorDefinition } from '../../runtime/actor.js';
import { emptyBatch, pushEvent, sealBatch } from '../../runtime/batch.js';
import { ManualClock } from '../../runtime/clock.js';
import type { WireError } from '../../runtime/errors.js';
import { actorKey } from '../../runtime/ids.js';
import { keyGroupOf } from '../../runtime/keygroups.js';
import type { AlertRecord, RollupRow, SnapshotRecord } from '../../runtime/ports.js';
import { emptyMessageBatch, type ActorFailure, type FromHost, type HostInit, type HostStats, type ToHost } from '../../runtime/protocol.js';
import { ShardHost } from '../../runtime/shard-host.js';
import { actors as fixtureActors } from '../fixtures/counter-actor.js';

/**
 * Logs every call it gets, so a test can read the order input reached it. Event bodies: `n`
 * a label; `timer`/`eventTimer` arm a timer; `cancel` cancels one; `to` sends `n` to that actor.
 */
export interface RecorderEvent {
  n?: string;
  timer?: { name: string; in: number };
  eventTimer?: { name: string; at: number };
  cancel?: string;
  to?: string;
}

export const recorder = defineActor<{ log: string[] }, RecorderEvent, string>({
  kind: 'rec',
  initialState: () => ({ log: [] }),
  onEvent(s, e, ctx) {
    s.log.push(`e${ctx.seq}${e.n ? `:${e.n}` : ''}`);
    if (e.timer) ctx.setTimer(e.timer.name, ctx.now() + e.timer.in, 'processing');
    if (e.eventTimer) ctx.setTimer(e.eventTimer.name, e.eventTimer.at, 'event');
    if (e.cancel) ctx.cancelTimer(e.cancel);
    if (e.to) ctx.send('rec', e.to, e.n ?? '');
    return s;
  },
  onMessage(s, m, from) {
    s.log.push(`m:${from.id}:${m}`);
    return s;
  },
  onTimer(s, name, ctx) {
    s.log.push(`t:${name}@${ctx.eventTime}`);
    return s;
  },
});

export type Report = Extract<FromHost, { t: 'report' }>;
export type CommitMsg = Extract<FromHost, { t: 'commit' }>;
export type LoadMsg = Extract<FromHost, { t: 'load' }>;
export type DueMsg = Extract<FromHost, { t: 'due' }>;

export interface EventSpec {
  id: string;
  body?: unknown;
  time?: number;
  kind?: string;
  tenant?: string;
  /** Defaults to the next sequence; give one to replay an old event. */
  seq?: number;
}

export interface Verdict {
  seq: number;
  code: string;
  message: string;
}

export interface HarnessOptions {
  init?: Partial<HostInit>;
  /** Defaults to the counter fixtures. */
  actors?: AnyActorDefinition[];
  start?: number;
}

export class HostHarness {
  readonly clock: ManualClock;
  readonly host: ShardHost;
  readonly init: HostInit;
  /** The snapshot store: loads read it, confirmed commits write it. */
  readonly store = new Map<string, SnapshotRecord>();
  readonly checkpoints = new Map<number, number>();
  /** The store's due index: key group → actor key → due time. Confirmed commits write it. */
  readonly dueIndex = new Map<number, Map<string, number>>();
  /** Everything the host posted, in order. */
  readonly posted: FromHost[] = [];
  /** Commits are confirmed by `settle()` unless held; held ones wait for `releaseCommits()`. */
  holdCommits = false;
  /** The next load is answered with this error (the store being down). */
  loadError: WireError | null = null;
  /** The next commit is answered with this error. */
  commitError: WireError | null = null;
  private unanswered: (LoadMsg | CommitMsg | DueMsg)[] = [];
  private held: CommitMsg[] = [];
  private seq = 0;

  constructor(opts: HarnessOptions = {}) {
    this.clock = new ManualClock(opts.start ?? 1_000_000);
    const defs = opts.actors ?? [...fixtureActors, recorder];
    this.init = {
      hostId: 0, generation: 1, keyGroupCount: 64, ranges: [[0, 64]], actorModules: [], actorConfig: null,
      kinds: defs.map((d) => d.kind), idleAfterMs: 60_000, passivationSweepMs: 1000, snapshotIntervalMs: 60_000,
      mailboxLimit: 1000, maxParkedEvents: 100_000, timerTickMs: 10,
      ...opts.init,
    };
    this.host = new ShardHost(this.init, defs, {
      clock: this.clock,
      post: (m) => {
        this.posted.push(m);
        if (m.t === 'load' || m.t === 'commit' || m.t === 'due') this.unanswered.push(m);
      },
    });
  }

  kindIndex(kind: string): number {
    const k = this.init.kinds.indexOf(kind);
    if (k < 0) throw new Error(`unknown kind ${kind}`);
    return k;
  }

  kg(id: string, kind = 'counter', tenant = 't'): number {
    return keyGroupOf(tenant, kind, id, this.init.keyGroupCount);
  }

  /** Sends one batch; returns the sequences it carried. */
  events(list: EventSpec[]): number[] {
    const b = emptyBatch(list.length);
    const seqs: number[] = [];
    for (const e of list) {
      const kind = e.kind ?? 'counter';
      const tenant = e.tenant ?? 't';
      const seq = e.seq ?? ++this.seq;
      if (seq > this.seq) this.seq = seq;
      seqs.push(seq);
      pushEvent(b, this.kg(e.id, kind, tenant), this.kindIndex(kind), tenant, e.id, e.time ?? 0, e.body ?? {}, seq);
    }
    // The batch's end in the log: a replayed batch ends where its last event is.
    this.host.receive({ t: 'events', batch: sealBatch(b), lastSeq: seqs.length > 0 ? Math.max(...seqs) : this.seq });
    return seqs;
  }

  /** An actor message from another host, as the main thread routes it. */
  message(to: string, body: unknown, from = { kind: 'counter', id: 'elsewhere' }, kind = 'counter', tenant = 't'): void {
    const b = emptyMessageBatch();
    b.kg.push(this.kg(to, kind, tenant));
    b.kind.push(this.kindIndex(kind));
    b.tenant.push(tenant);
    b.id.push(to);
    b.body.push(body);
    b.fromKind.push(this.kindIndex(from.kind));
    b.fromId.push(from.id);
    b.n = 1;
    this.host.receive({ t: 'messages', batch: b });
  }

  send(msg: ToHost): void {
    this.host.receive(msg);
  }

  /** Answers loads and commits, and whatever they cause, until the host waits on nothing. */
  settle(): void {
    while (this.unanswered.length > 0) {
      const m = this.unanswered.shift()!;
      if (m.t === 'load') this.answerLoad(m);
      else if (m.t === 'due') this.answerDue(m);
      else if (this.holdCommits) this.held.push(m);
      else this.answerCommit(m);
    }
  }

  releaseCommits(): void {
    this.holdCommits = false;
    const held = this.held;
    this.held = [];
    for (const m of held) this.answerCommit(m);
    this.settle();
  }

  /** Moves the clock `ms` in steps of one tick, settling after each (replies arrive between ticks). */
  advance(ms: number): void {
    const step = this.init.timerTickMs;
    for (let left = ms; left > 0; left -= step) {
      this.clock.advance(Math.min(step, left));
      this.settle();
    }
  }

  seed(kind: string, tenant: string, id: string, data: string, seq: number): void {
    const key = actorKey(tenant, kind, id);
    this.store.set(key, { key, data, seq });
  }

  inspect(id: string, kind = 'counter', tenant = 't') {
    return this.host.inspect(kind, tenant, id);
  }

  /** The live state of a resident actor. */
  state<S>(id: string, kind = 'counter', tenant = 't'): S {
    const i = this.inspect(id, kind, tenant);
    if (!i || i.data === null) throw new Error(`${kind} ${id} is not resident and active`);
    return JSON.parse(i.data) as S;
  }

  reports(): Report[] {
    return this.posted.filter((m): m is Report => m.t === 'report');
  }

  loads(): LoadMsg[] {
    return this.posted.filter((m): m is LoadMsg => m.t === 'load');
  }

  commits(): CommitMsg[] {
    return this.posted.filter((m): m is CommitMsg => m.t === 'commit');
  }

  appliedSeq(): number {
    return this.reports().at(-1)?.appliedSeq ?? 0;
  }

  verdicts(): Verdict[] {
    const out: Verdict[] = [];
    for (const r of this.reports()) {
      const o = r.outcomes;
      if (o) for (let i = 0; i < o.n; i++) out.push({ seq: o.seq[i]!, code: o.code[i]!, message: o.message[i]! });
    }
    return out;
  }

  failures(): ActorFailure[] {
    return this.reports().flatMap((r) => r.failures ?? []);
  }

  rollups(): RollupRow[] {
    return this.reports().flatMap((r) => r.rollups ?? []);
  }

  alerts(): AlertRecord[] {
    return this.reports().flatMap((r) => r.alerts ?? []);
  }

  /** A counter summed over every report so far. */
  total(stat: Exclude<keyof HostStats, 'active' | 'parked' | 'wheel'>): number {
    return this.reports().reduce((n, r) => n + r.stats[stat], 0);
  }

  private answerLoad(m: LoadMsg): void {
    if (this.loadError) {
      const error = this.loadError;
      this.loadError = null;
      this.host.receive({ t: 'loaded', req: m.req, records: [], error });
      return;
    }
    this.host.receive({ t: 'loaded', req: m.req, records: m.keys.map((k) => this.store.get(k)) });
  }

  private answerDue(m: DueMsg): void {
    if (this.loadError) {
      const error = this.loadError;
      this.loadError = null;
      this.host.receive({ t: 'dueLoaded', req: m.req, timers: [], error });
      return;
    }
    const timers: { keyGroup: number; key: string; at: number }[] = [];
    for (const [a, b] of m.ranges) {
      for (let k = a; k < b; k++) for (const [key, at] of this.dueIndex.get(k) ?? []) timers.push({ keyGroup: k, key, at });
    }
    this.host.receive({ t: 'dueLoaded', req: m.req, timers });
  }

  private answerCommit(m: CommitMsg): void {
    if (this.commitError) {
      const error = this.commitError;
      this.commitError = null;
      this.host.receive({ t: 'committed', req: m.req, error });
      return;
    }
    for (const r of m.snapshots) this.store.set(r.key, r);
    for (const d of m.due ?? []) {
      let idx = this.dueIndex.get(d.keyGroup);
      if (!idx) this.dueIndex.set(d.keyGroup, (idx = new Map()));
      if (d.at === null) idx.delete(d.key);
      else idx.set(d.key, d.at);
    }
    for (const [a, b] of m.ranges) for (let k = a; k < b; k++) this.checkpoints.set(k, m.checkpointSeq);
    this.host.receive({ t: 'committed', req: m.req });
  }
}
