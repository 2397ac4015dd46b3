import type { ActorAddress, ActorContext, AnyActorDefinition, TimerDomain } from './actor.js';
import type { EventBatch } from './batch.js';
import { ErrorCode, toWire, type WireError } from './errors.js';
import { actorKey, parseActorKey } from './ids.js';
import { keyGroupOf } from './keygroups.js';
import type { AlertRecord, Clock, RollupRow, SnapshotRecord } from './ports.js';
import {
  DUPLICATE,
  emptyMessageBatch,
  type ActorFailure,
  type FromHost,
  type HostInit,
  type HostStats,
  type MessageBatch,
  type Outcomes,
  type ToHost,
} from './protocol.js';

/** Sorted, merged half-open ranges. */
export function mergeRanges(r: [number, number][]): [number, number][] {
  const s = r.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function subtractRanges(r: [number, number][], minus: [number, number][]): [number, number][] {
  let cur = mergeRanges(r);
  for (const [a, b] of minus) {
    const next: [number, number][] = [];
    for (const [x, y] of cur) {
      if (b <= x || a >= y) next.push([x, y]);
      else {
        if (x < a) next.push([x, a]);
        if (b < y) next.push([b, y]);
      }
    }
    cur = next;
  }
  return cur;
}

function emptyOutcomes(): Outcomes {
  return { n: 0, seq: [], code: [], message: [] };
}
import { TimerWheel, type WheelEntry } from './timer-wheel.js';

const ACTIVE = 0;
const ACTIVATING = 1;
const FAILED = 2;

// Mailbox entries are five flat slots, so parking a message allocates nothing per message
// beyond array growth: [type, seq, time, body, extra].
const M_EVENT = 0;
const M_MESSAGE = 1;
const M_TIMER = 2;
const SLOTS = 5;

interface BatchRecord {
  lastSeq: number;
  parked: number;
}

interface TimerPayload {
  cell: Cell | null;
  kind: number;
  tenant: string;
  id: string;
  name: string;
}

interface NamedTimer {
  name: string;
  domain: TimerDomain;
  at: number;
  entry: WheelEntry<TimerPayload> | null;
}

interface Cell {
  kind: number;
  tenant: string;
  id: string;
  kg: number;
  state: unknown;
  lastSeq: number;
  watermark: number;
  status: number;
  dirty: boolean;
  resident: boolean;
  lastActive: number;
  prev: Cell | null;
  next: Cell | null;
  mailbox: unknown[] | null;
  timers: NamedTimer[] | null;
  nextEventTimerAt: number;
  error: WireError | null;
}

/** The runtime's own header in front of an actor's encoded state. */
interface SnapshotHeader {
  w: number;
  t?: [string, TimerDomain, number][];
}

export interface ActorInspection {
  resident: boolean;
  status: 'active' | 'activating' | 'failed' | 'passive';
  lastSeq: number;
  watermark: number;
  error: WireError | null;
  /** The actor's encoded state (its `encode`, JSON by default). */
  data: string | null;
}

/** Idle order per kind: an intrusive list, so touching an actor on every event is O(1) and allocation free. */
class IdleList {
  head: Cell | null = null;
  tail: Cell | null = null;
  touch(c: Cell): void {
    if (this.tail === c) return;
    this.unlink(c);
    c.prev = this.tail;
    c.next = null;
    if (this.tail) this.tail.next = c;
    else this.head = c;
    this.tail = c;
  }
  unlink(c: Cell): void {
    if (c.prev) c.prev.next = c.next;
    else if (this.head === c) this.head = c.next;
    if (c.next) c.next.prev = c.prev;
    else if (this.tail === c) this.tail = c.prev;
    c.prev = null;
    c.next = null;
  }
}

function zeroStats(): HostStats {
  return { events: 0, messages: 0, timers: 0, activations: 0, passivations: 0, rejected: 0, active: 0, parked: 0, wheel: 0 };
}

/**
 * One worker's share of the actors: everything here runs on a single thread, driven by
 * `receive`. It never awaits: activation is a request/response over the data port, and the
 * messages for an activating actor wait in its mailbox while every other actor proceeds.
 */
export class ShardHost {
  private readonly init: HostInit;
  private readonly defs: AnyActorDefinition[];
  private readonly kindIndex = new Map<string, number>();
  private readonly clock: Clock;
  private readonly post: (msg: FromHost) => void;
  private readonly tables: Map<string, Map<string, Cell>>[];
  private readonly idle: IdleList[];
  private readonly idleAfter: number[];
  private readonly lag: number[];
  private readonly owned: Uint8Array;
  private readonly wheel: TimerWheel<TimerPayload>;

  private dirtyCells: Cell[] = [];
  private passivated: SnapshotRecord[] = [];
  /** Snapshots written at passivation and not yet committed; an activation reads them first. */
  private readonly pendingWrites = new Map<string, SnapshotRecord>();

  private readonly batches: BatchRecord[] = [];
  private batchHead = 0;
  private appliedSeq = 0;
  private reportedSeq = -1;
  private parkedTotal = 0;
  private paused = false;
  private readonly inbox: ToHost[] = [];

  private nextReq = 1;
  private readonly loads = new Map<number, Cell[]>();
  private toActivate: Cell[] = [];
  private commitInFlight: { req: number; passivated: SnapshotRecord[]; waiters: (() => void)[] } | null = null;
  private commitWaiters: (() => void)[] = [];
  private lastCommitAt: number;
  private lastSweepAt: number;

  private local: MessageBatch = emptyMessageBatch();
  private outMessages: MessageBatch = emptyMessageBatch();
  private alerts: AlertRecord[] = [];
  private rollups: RollupRow[] = [];
  private failures: ActorFailure[] = [];
  private outcomes: Outcomes = emptyOutcomes();
  private stats: HostStats = zeroStats();
  private active = 0;
  private stopped = false;
  /** Key groups released since the last commit: checkpointed once more, by their last owner. */
  private extraCheckpoints: [number, number][] = [];
  /** Acquired key groups whose replay is not applied yet: owned, but not checkpointed. */
  private replaying: [number, number][] = [];
  private epoch = 1;
  private nowCache = 0;
  private cancelTick: (() => void) | null = null;

  // The reused handler context: its fields are rewritten before each call.
  private cur: Cell | null = null;
  private readonly ctx: ActorContext & { seq: number; eventTime: number };

  constructor(init: HostInit, defs: AnyActorDefinition[], clock: Clock, post: (msg: FromHost) => void) {
    this.init = init;
    this.clock = clock;
    this.post = post;
    this.defs = init.kinds.map((k) => {
      const d = defs.find((x) => x.kind === k);
      if (!d) throw new Error(`host ${init.hostId}: actor kind ${k} is not defined by the actor modules`);
      return d;
    });
    this.defs.forEach((d, i) => this.kindIndex.set(d.kind, i));
    this.tables = this.defs.map(() => new Map());
    this.idle = this.defs.map(() => new IdleList());
    this.idleAfter = this.defs.map((d) => d.idleAfterMs ?? init.idleAfterMs);
    this.lag = this.defs.map((d) => d.watermarkLagMs ?? 0);
    this.owned = new Uint8Array(init.keyGroupCount);
    for (const [from, to] of init.ranges) this.owned.fill(1, from, to);
    const now = clock.now();
    this.wheel = new TimerWheel(init.timerTickMs, now);
    this.lastCommitAt = now;
    this.lastSweepAt = now;
    this.nowCache = now;
    this.ctx = this.makeContext();
    this.scheduleTick();
  }

  // ---------------------------------------------------------------- intake

  receive(msg: ToHost): void {
    if (this.stopped) return;
    // One clock read per message, not per event: idle tracking needs no finer grain.
    this.nowCache = this.clock.now();
    switch (msg.t) {
      case 'events':
      case 'messages':
        if (this.paused || this.inbox.length > 0) this.inbox.push(msg);
        else this.process(msg);
        break;
      case 'loaded':
        this.onLoaded(msg.req, msg.records, msg.error);
        this.resumeInbox();
        break;
      case 'committed':
        this.onCommitted(msg.req, msg.error);
        break;
      case 'release':
      case 'replayed':
        // Ordered with events: queued behind anything the host is holding back.
        if (this.paused || this.inbox.length > 0 || this.parkedTotal > 0) this.inbox.push(msg);
        else this.process(msg);
        break;
      case 'acquire':
        for (const [from, to] of msg.ranges) this.owned.fill(1, from, to);
        this.init.ranges = mergeRanges([...this.init.ranges, ...msg.ranges]);
        if (msg.replaying) this.replaying = mergeRanges([...this.replaying, ...msg.ranges]);
        this.epoch = msg.epoch;
        break;
    }
    this.flushOut();
  }

  private process(msg: ToHost): void {
    if (msg.t === 'release') {
      this.release(msg.req, msg.ranges, msg.epoch);
      return;
    }
    if (msg.t === 'replayed') {
      // Everything before this message is applied (it waited for parked events, see
      // resumeInbox): from here a checkpoint of these key groups is backed by actor state.
      this.replaying = subtractRanges(this.replaying, msg.ranges);
      return;
    }
    if (msg.t === 'events') this.applyBatch(msg.batch, msg.lastSeq);
    else if (msg.t === 'messages') this.deliverMessages(msg.batch);
    this.drainLocal();
    this.requestActivations();
    this.paused = this.parkedTotal >= this.init.maxParkedEvents;
  }

  private resumeInbox(): void {
    while (!this.paused && this.inbox.length > 0 && !this.stopped) {
      // A release (or the end of a replay) waits until every event before it is applied (no
      // actor still activating).
      const t = this.inbox[0]!.t;
      if ((t === 'release' || t === 'replayed') && this.parkedTotal > 0) return;
      this.process(this.inbox.shift()!);
    }
  }

  /**
   * Hands key groups over: every actor in them passivates (dirty ones snapshot), one commit
   * writes those snapshots and checkpoints the released key groups at the applied sequence, and
   * only then does the main thread hear `released` and let their new owner start.
   */
  private release(req: number, ranges: [number, number][], epoch: number): void {
    const inRange = (kg: number) => ranges.some(([a, b]) => kg >= a && kg < b);
    let moved = 0;
    for (let k = 0; k < this.tables.length; k++) {
      for (const byId of [...this.tables[k]!.values()]) {
        for (const cell of [...byId.values()]) {
          if (inRange(cell.kg) && cell.status !== ACTIVATING) {
            this.passivate(cell);
            moved++;
          }
        }
      }
    }
    for (const [from, to] of ranges) this.owned.fill(0, from, to);
    this.init.ranges = subtractRanges(this.init.ranges, ranges);
    this.replaying = subtractRanges(this.replaying, ranges);
    this.epoch = epoch;
    this.commit(() => this.post({ t: 'released', req, actors: moved }), ranges);
  }

  private applyBatch(b: EventBatch, lastSeq: number): void {
    const rec: BatchRecord = { lastSeq, parked: 0 };
    this.batches.push(rec);
    const n = b.n;
    for (let i = 0; i < n; i++) {
      const cell = this.cellFor(b.kind[i]!, b.tenant[i]!, b.id[i]!, b.kg[i]!);
      if (cell.status === ACTIVATING) {
        this.park(cell, M_EVENT, b.seq[i]!, b.time[i]!, b.body[i], rec);
        rec.parked++;
      } else {
        this.applyEvent(cell, b.seq[i]!, b.time[i]!, b.body[i]);
      }
    }
    this.advanceApplied();
  }

  private applyEvent(cell: Cell, seq: number, time: number, body: unknown): void {
    if (seq <= cell.lastSeq) return; // replayed event the snapshot already reflects
    if (cell.status === FAILED) {
      this.stats.rejected++;
      this.outcome(seq, ErrorCode.ActorFailed, `${this.defs[cell.kind]!.kind} ${cell.id} has failed: ${cell.error?.message ?? ''}`);
      return;
    }
    const def = this.defs[cell.kind]!;
    const wm = time - this.lag[cell.kind]!;
    if (wm > cell.watermark) cell.watermark = wm;
    this.enter(cell, seq, time);
    try {
      cell.state = def.onEvent(cell.state, body, this.ctx);
    } catch (err) {
      this.fail(cell, seq, err);
    }
    this.cur = null;
    cell.lastSeq = seq;
    this.stats.events++;
    this.touchDirty(cell);
    if (cell.nextEventTimerAt <= cell.watermark && cell.status === ACTIVE) this.fireEventTimers(cell);
  }

  private deliverMessages(b: MessageBatch): void {
    for (let i = 0; i < b.n; i++) {
      const cell = this.cellFor(b.kind[i]!, b.tenant[i]!, b.id[i]!, b.kg[i]!);
      const from: ActorAddress = { tenant: b.tenant[i]!, kind: this.defs[b.fromKind[i]!]!.kind, id: b.fromId[i]! };
      if (cell.status === ACTIVATING) this.park(cell, M_MESSAGE, NaN, 0, b.body[i], from);
      else this.applyMessage(cell, b.body[i], from);
    }
  }

  private applyMessage(cell: Cell, body: unknown, from: ActorAddress): void {
    if (cell.status === FAILED) {
      this.stats.rejected++;
      return;
    }
    const def = this.defs[cell.kind]!;
    this.stats.messages++;
    if (!def.onMessage) return;
    this.enter(cell, NaN, cell.watermark);
    try {
      cell.state = def.onMessage(cell.state, body, from, this.ctx);
    } catch (err) {
      this.fail(cell, NaN, err);
    }
    this.cur = null;
    this.touchDirty(cell);
  }

  /** Messages between actors of this host run after the batch, in the same synchronous drain. */
  private drainLocal(): void {
    // Bounded rounds: two actors pinging each other forever must not starve the port.
    for (let round = 0; round < 64 && this.local.n > 0; round++) {
      const b = this.local;
      this.local = emptyMessageBatch();
      this.deliverMessages(b);
    }
  }

  // ---------------------------------------------------------------- activation

  private cellFor(kind: number, tenant: string, id: string, kg: number): Cell {
    const table = this.tables[kind]!;
    let byId = table.get(tenant);
    if (byId === undefined) {
      byId = new Map();
      table.set(tenant, byId);
    }
    let cell = byId.get(id);
    if (cell === undefined) {
      cell = {
        kind, tenant, id, kg,
        state: undefined, lastSeq: 0, watermark: -Infinity, status: ACTIVATING,
        dirty: false, resident: true, lastActive: 0, prev: null, next: null,
        mailbox: null, timers: null, nextEventTimerAt: Infinity, error: null,
      };
      byId.set(id, cell);
      const pending = this.pendingWrites.get(actorKey(tenant, this.defs[kind]!.kind, id));
      if (pending) this.rehydrate(cell, pending);
      else this.toActivate.push(cell);
    }
    return cell;
  }

  private park(cell: Cell, type: number, seq: number, time: number, body: unknown, extra: unknown): void {
    const mb = (cell.mailbox ??= []);
    mb.push(type, seq, time, body, extra);
    this.parkedTotal++;
    if (mb.length >= this.init.mailboxLimit * SLOTS) this.paused = true;
  }

  private requestActivations(): void {
    if (this.toActivate.length === 0) return;
    const cells = this.toActivate;
    this.toActivate = [];
    const req = this.nextReq++;
    this.loads.set(req, cells);
    this.post({ t: 'load', req, keys: cells.map((c) => actorKey(c.tenant, this.defs[c.kind]!.kind, c.id)) });
  }

  private onLoaded(req: number, records: (SnapshotRecord | undefined)[], error?: WireError): void {
    const cells = this.loads.get(req);
    if (!cells) return;
    this.loads.delete(req);
    if (error) {
      // The store is unreachable: retry the same activations on the next tick rather than
      // guessing an empty state, which would silently lose the actor's history.
      this.toActivate.push(...cells);
      return;
    }
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i]!;
      // A newer passivation snapshot beats what the store had when the load was read.
      const pending = this.pendingWrites.get(actorKey(cell.tenant, this.defs[cell.kind]!.kind, cell.id));
      this.rehydrate(cell, pending ?? records[i]);
      this.drainMailbox(cell);
    }
    this.drainLocal();
    this.requestActivations();
    this.advanceApplied();
  }

  private rehydrate(cell: Cell, rec: SnapshotRecord | undefined): void {
    const def = this.defs[cell.kind]!;
    cell.status = ACTIVE;
    this.active++;
    this.stats.activations++;
    this.idle[cell.kind]!.touch(cell);
    cell.lastActive = this.clock.now();
    if (rec === undefined) {
      cell.state = def.initialState(cell.tenant, cell.id);
      return;
    }
    try {
      const nl = rec.data.indexOf('\n');
      const header = JSON.parse(rec.data.slice(0, nl)) as SnapshotHeader;
      const body = rec.data.slice(nl + 1);
      cell.state = def.decode ? def.decode(body) : JSON.parse(body);
      cell.lastSeq = rec.seq;
      cell.watermark = header.w ?? -Infinity;
      if (header.t) for (const [name, domain, at] of header.t) this.setTimer(cell, name, at, domain);
    } catch (err) {
      cell.state = undefined;
      this.fail(cell, NaN, err, ErrorCode.SnapshotDecode);
    }
  }

  private drainMailbox(cell: Cell): void {
    const mb = cell.mailbox;
    if (!mb) return;
    cell.mailbox = null;
    for (let j = 0; j < mb.length; j += SLOTS) {
      const type = mb[j] as number;
      this.parkedTotal--;
      if (type === M_EVENT) {
        this.applyEvent(cell, mb[j + 1] as number, mb[j + 2] as number, mb[j + 3]);
        (mb[j + 4] as BatchRecord).parked--;
      } else if (type === M_MESSAGE) {
        this.applyMessage(cell, mb[j + 3], mb[j + 4] as ActorAddress);
      } else {
        this.runTimer(cell, mb[j + 4] as string, mb[j + 2] as number);
      }
    }
    if (this.parkedTotal < this.init.maxParkedEvents) this.paused = false;
  }

  private advanceApplied(): void {
    while (this.batchHead < this.batches.length && this.batches[this.batchHead]!.parked === 0) {
      this.appliedSeq = this.batches[this.batchHead]!.lastSeq;
      this.batchHead++;
    }
    if (this.batchHead > 1024 && this.batchHead * 2 > this.batches.length) {
      this.batches.splice(0, this.batchHead);
      this.batchHead = 0;
    }
  }

  // ---------------------------------------------------------------- handlers' world

  private enter(cell: Cell, seq: number, time: number): void {
    this.cur = cell;
    const c = this.ctx as { -readonly [K in keyof ActorContext]: ActorContext[K] };
    c.tenant = cell.tenant;
    c.kind = this.defs[cell.kind]!.kind;
    c.id = cell.id;
    c.keyGroup = cell.kg;
    c.seq = seq;
    c.eventTime = time;
    c.watermark = cell.watermark;
  }

  private makeContext(): ActorContext & { seq: number; eventTime: number } {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const host = this;
    return {
      tenant: '', kind: '', id: '', keyGroup: 0, seq: NaN, eventTime: 0, watermark: -Infinity,
      now: () => host.clock.now(),
      setTimer(name, at, domain = 'processing') {
        host.setTimer(host.current(), name, at, domain);
      },
      cancelTimer(name) {
        host.cancelTimer(host.current(), name);
      },
      send(kind, id, message, tenant) {
        host.send(host.current(), kind, id, message, tenant);
      },
      emitRollup(row) {
        host.rollups.push(row);
      },
      emitAlert(alert) {
        host.alerts.push(alert);
      },
      reject(code, message) {
        host.current();
        if (Number.isNaN(host.ctx.seq)) throw new Error('ctx.reject is only for events');
        host.outcome(host.ctx.seq, code, message);
      },
      duplicate() {
        host.current();
        if (Number.isNaN(host.ctx.seq)) throw new Error('ctx.duplicate is only for events');
        host.outcome(host.ctx.seq, DUPLICATE, '');
      },
    };
  }

  private outcome(seq: number, code: string, message: string): void {
    const o = this.outcomes;
    o.seq.push(seq);
    o.code.push(code);
    o.message.push(message);
    o.n++;
  }

  private current(): Cell {
    if (!this.cur) throw new Error('actor context used outside of a handler call');
    return this.cur;
  }

  private send(from: Cell, kind: string, id: string, message: unknown, tenant = from.tenant): void {
    const k = this.kindIndex.get(kind);
    if (k === undefined) throw new Error(`send: unknown actor kind ${kind}`);
    const kg = keyGroupOf(tenant, kind, id, this.init.keyGroupCount);
    const b = this.owned[kg] ? this.local : this.outMessages;
    b.kg.push(kg);
    b.kind.push(k);
    b.tenant.push(tenant);
    b.id.push(id);
    b.body.push(message);
    b.fromKind.push(from.kind);
    b.fromId.push(from.id);
    b.n++;
  }

  private fail(cell: Cell, seq: number, err: unknown, code: string = ErrorCode.ActorFailed): void {
    const w = toWire(err);
    const error = { code, message: `${this.defs[cell.kind]!.kind} ${cell.id}: ${w.message}` };
    cell.status = FAILED;
    cell.error = error;
    if (!Number.isNaN(seq)) this.outcome(seq, code, error.message);
    this.failures.push({ tenant: cell.tenant, kind: this.defs[cell.kind]!.kind, id: cell.id, seq, error });
  }

  private touchDirty(cell: Cell): void {
    if (!cell.dirty) {
      cell.dirty = true;
      this.dirtyCells.push(cell);
    }
    this.idle[cell.kind]!.touch(cell);
    cell.lastActive = this.nowCache;
  }

  // ---------------------------------------------------------------- timers

  private setTimer(cell: Cell, name: string, at: number, domain: TimerDomain): void {
    const timers = (cell.timers ??= []);
    let t: NamedTimer | undefined;
    for (let i = 0; i < timers.length; i++) if (timers[i]!.name === name) t = timers[i];
    if (!t) {
      t = { name, domain, at, entry: null };
      timers.push(t);
    }
    if (t.domain !== domain && t.entry) {
      this.wheel.cancel(t.entry);
      t.entry = null;
    }
    t.domain = domain;
    t.at = at;
    if (domain === 'processing') {
      if (t.entry) this.wheel.reschedule(t.entry, at);
      else t.entry = this.wheel.schedule(at, { cell, kind: cell.kind, tenant: cell.tenant, id: cell.id, name });
    }
    this.recomputeEventTimer(cell);
  }

  private cancelTimer(cell: Cell, name: string): void {
    const timers = cell.timers;
    if (!timers) return;
    const i = timers.findIndex((t) => t.name === name);
    if (i < 0) return;
    const [t] = timers.splice(i, 1);
    if (t!.entry) this.wheel.cancel(t!.entry);
    this.recomputeEventTimer(cell);
  }

  private recomputeEventTimer(cell: Cell): void {
    let min = Infinity;
    if (cell.timers) for (const t of cell.timers) if (t.domain === 'event' && t.at < min) min = t.at;
    cell.nextEventTimerAt = min;
  }

  private fireEventTimers(cell: Cell): void {
    while (cell.status === ACTIVE && cell.nextEventTimerAt <= cell.watermark) {
      const t = cell.timers!.find((x) => x.domain === 'event' && x.at === cell.nextEventTimerAt)!;
      this.cancelTimer(cell, t.name);
      this.runTimer(cell, t.name, t.at);
    }
  }

  private onWheel = (p: TimerPayload, at: number): void => {
    let cell = p.cell;
    if (cell && !cell.resident) cell = null;
    if (cell) {
      const t = cell.timers?.find((x) => x.name === p.name);
      if (!t || t.domain !== 'processing') return;
      t.entry = null;
      this.cancelTimer(cell, p.name);
      if (cell.status === ACTIVATING) this.park(cell, M_TIMER, NaN, at, undefined, p.name);
      else this.runTimer(cell, p.name, at);
      return;
    }
    // A passivated actor's timer: activate it and deliver the timer once it is back.
    const kg = keyGroupOf(p.tenant, this.defs[p.kind]!.kind, p.id, this.init.keyGroupCount);
    if (!this.owned[kg]) return;
    const c = this.cellFor(p.kind, p.tenant, p.id, kg);
    if (c.status === ACTIVATING) this.park(c, M_TIMER, NaN, at, undefined, p.name);
    else this.runTimer(c, p.name, at);
  };

  private runTimer(cell: Cell, name: string, at: number): void {
    if (cell.status !== ACTIVE) return;
    const def = this.defs[cell.kind]!;
    // A timer restored from a snapshot is still listed on the cell; it fires once.
    if (cell.timers?.some((t) => t.name === name)) this.cancelTimer(cell, name);
    this.stats.timers++;
    if (!def.onTimer) return;
    this.enter(cell, NaN, at);
    try {
      cell.state = def.onTimer(cell.state, name, this.ctx);
    } catch (err) {
      this.fail(cell, NaN, err);
    }
    this.cur = null;
    this.touchDirty(cell);
  }

  // ---------------------------------------------------------------- ticks, passivation, snapshots

  private scheduleTick(): void {
    if (this.stopped) return;
    this.cancelTick = this.clock.setTimeout(() => this.tick(), this.init.timerTickMs);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    this.nowCache = now;
    this.wheel.advance(now, this.onWheel);
    this.drainLocal();
    if (now - this.lastSweepAt >= this.init.passivationSweepMs) {
      this.lastSweepAt = now;
      this.sweepIdle(now, false);
      // Passivated state lives only in pendingWrites until committed: write it out promptly.
      if (this.passivated.length > 0) this.commit();
    }
    if (now - this.lastCommitAt >= this.init.snapshotIntervalMs) this.commit();
    this.requestActivations();
    this.flushOut();
    this.scheduleTick();
  }

  private sweepIdle(now: number, all: boolean): void {
    for (let k = 0; k < this.defs.length; k++) {
      const list = this.idle[k]!;
      const cutoff = now - this.idleAfter[k]!;
      let c = list.head;
      while (c !== null && (all || c.lastActive <= cutoff)) {
        const next = c.next;
        if (c.status !== ACTIVATING) this.passivate(c);
        c = next;
      }
    }
  }

  private passivate(cell: Cell): void {
    this.idle[cell.kind]!.unlink(cell);
    // A failed actor's state is not trusted: drop it and let the next message rehydrate the
    // last good snapshot (a restart, in supervisor terms).
    if (cell.dirty && cell.status === ACTIVE) {
      const rec = this.encode(cell);
      this.pendingWrites.set(rec.key, rec);
      this.passivated.push(rec);
    }
    if (cell.timers) {
      for (const t of cell.timers) {
        if (t.entry) {
          // The wheel keeps the timer without the cell; firing it re-activates the actor.
          t.entry.payload.cell = null;
        }
      }
    }
    cell.resident = false;
    cell.dirty = false;
    const byId = this.tables[cell.kind]!.get(cell.tenant)!;
    byId.delete(cell.id);
    if (byId.size === 0) this.tables[cell.kind]!.delete(cell.tenant);
    this.active--;
    this.stats.passivations++;
  }

  private encode(cell: Cell): SnapshotRecord {
    const def = this.defs[cell.kind]!;
    const header: SnapshotHeader = { w: Number.isFinite(cell.watermark) ? cell.watermark : -1e300 };
    if (cell.timers && cell.timers.length > 0) header.t = cell.timers.map((t) => [t.name, t.domain, t.at]);
    const body = def.encode ? def.encode(cell.state) : JSON.stringify(cell.state);
    return { key: actorKey(cell.tenant, def.kind, cell.id), data: `${JSON.stringify(header)}\n${body}`, seq: cell.lastSeq };
  }

  /**
   * Writes every dirty actor plus the passivation snapshots, and checkpoints all owned key
   * groups at the fully-applied sequence. Encoding happens here, synchronously, so the
   * snapshots are exactly the state at this instant; events applied to other actors beyond the
   * checkpoint are covered by each snapshot's own `seq` (replay skips them per actor).
   */
  private commit(waiter?: () => void, alsoCheckpoint: [number, number][] = []): void {
    if (waiter) this.commitWaiters.push(waiter);
    if (alsoCheckpoint.length > 0) this.extraCheckpoints.push(...alsoCheckpoint);
    if (this.commitInFlight) return;
    this.lastCommitAt = this.clock.now();
    const snapshots: SnapshotRecord[] = this.passivated;
    this.passivated = [];
    for (const cell of this.dirtyCells) {
      if (!cell.dirty || !cell.resident) continue;
      cell.dirty = false;
      if (cell.status === ACTIVE) {
        const rec = this.encode(cell);
        // Until the store confirms, this record is the newest copy: an actor that passivates
        // and reactivates meanwhile must read it, not the store's older one.
        this.pendingWrites.set(rec.key, rec);
        snapshots.push(rec);
      }
    }
    this.dirtyCells = [];
    const req = this.nextReq++;
    this.commitInFlight = { req, passivated: snapshots, waiters: this.commitWaiters };
    this.commitWaiters = [];
    let ranges = this.extraCheckpoints.length > 0 ? [...this.init.ranges, ...this.extraCheckpoints] : this.init.ranges;
    if (this.replaying.length > 0) ranges = subtractRanges(ranges, this.replaying);
    this.extraCheckpoints = [];
    this.post({ t: 'commit', req, snapshots, checkpointSeq: this.appliedSeq, ranges });
  }

  private onCommitted(req: number, error?: WireError): void {
    const c = this.commitInFlight;
    if (!c || c.req !== req) return;
    this.commitInFlight = null;
    if (error) {
      // Nothing was written. Records still current go into the next commit as they are; a
      // resident actor is simply dirty again (it will be encoded afresh).
      for (const r of c.passivated) {
        if (this.pendingWrites.get(r.key) !== r) continue;
        const { tenant, kind, id } = parseActorKey(r.key);
        const cell = this.tables[this.kindIndex.get(kind)!]?.get(tenant)?.get(id);
        if (cell && cell.status === ACTIVE) {
          if (!cell.dirty) {
            cell.dirty = true;
            this.dirtyCells.push(cell);
          }
        } else {
          this.passivated.push(r);
        }
      }
      this.commitWaiters.unshift(...c.waiters);
      return;
    }
    for (const r of c.passivated) if (this.pendingWrites.get(r.key) === r) this.pendingWrites.delete(r.key);
    for (const w of c.waiters) w();
    if (this.commitWaiters.length > 0 || this.passivated.length > 0) this.commit();
  }

  // ---------------------------------------------------------------- upward

  private flushOut(): void {
    const changed =
      this.appliedSeq !== this.reportedSeq ||
      this.alerts.length > 0 || this.rollups.length > 0 || this.outMessages.n > 0 ||
      this.failures.length > 0 || this.outcomes.n > 0;
    if (!changed) return;
    const stats = this.stats;
    stats.active = this.active;
    stats.parked = this.parkedTotal;
    stats.wheel = this.wheel.size;
    this.reportedSeq = this.appliedSeq;
    this.post({
      t: 'report',
      appliedSeq: this.appliedSeq,
      stats,
      alerts: this.alerts.length > 0 ? this.alerts : null,
      rollups: this.rollups.length > 0 ? this.rollups : null,
      messages: this.outMessages.n > 0 ? this.outMessages : null,
      failures: this.failures.length > 0 ? this.failures : null,
      outcomes: this.outcomes.n > 0 ? this.outcomes : null,
    });
    this.stats = zeroStats();
    if (this.alerts.length > 0) this.alerts = [];
    if (this.rollups.length > 0) this.rollups = [];
    if (this.outMessages.n > 0) this.outMessages = emptyMessageBatch();
    if (this.failures.length > 0) this.failures = [];
    if (this.outcomes.n > 0) this.outcomes = emptyOutcomes();
  }

  // ---------------------------------------------------------------- control plane

  inspect(kind: string, tenant: string, id: string): ActorInspection | null {
    const k = this.kindIndex.get(kind);
    if (k === undefined) return null;
    const cell = this.tables[k]!.get(tenant)?.get(id);
    if (!cell) return null;
    const status = cell.status === ACTIVE ? 'active' : cell.status === FAILED ? 'failed' : 'activating';
    let data: string | null = null;
    if (cell.status !== ACTIVATING) {
      const def = this.defs[k]!;
      data = def.encode ? def.encode(cell.state) : JSON.stringify(cell.state);
    }
    return { resident: true, status, lastSeq: cell.lastSeq, watermark: cell.watermark, error: cell.error, data };
  }

  /** Drops a failed actor so its next message rehydrates the last good snapshot. */
  resetActor(kind: string, tenant: string, id: string): boolean {
    const k = this.kindIndex.get(kind);
    const cell = k === undefined ? undefined : this.tables[k]!.get(tenant)?.get(id);
    if (!cell || cell.status !== FAILED) return false;
    this.passivate(cell);
    return true;
  }

  snapshotNow(): Promise<void> {
    return new Promise((resolve) => {
      this.commit(resolve);
      this.flushOut();
    });
  }

  /** Passivates every actor (snapshot first) and stops taking input. */
  async drain(): Promise<void> {
    this.sweepIdle(this.clock.now(), true);
    await this.snapshotNow();
    this.stop();
  }

  counts(): { active: number; parked: number; appliedSeq: number; timers: number; inbox: number } {
    return { active: this.active, parked: this.parkedTotal, appliedSeq: this.appliedSeq, timers: this.wheel.size, inbox: this.inbox.length };
  }

  stop(): void {
    this.stopped = true;
    this.cancelTick?.();
  }
}
