// Calls into actor code. One context object serves every call (its fields are rewritten before
// each), so a handler call allocates nothing of the runtime's. A throw fails the actor, never
// the host: the actor's status, a failure report and, for an event, a verdict record it.
import type { ActorAddress, ActorContext } from '../actor.js';
import { ErrorCode, toWire } from '../errors.js';
import { keyGroupOf } from '../keygroups.js';
import type { Clock } from '../ports.js';
import { DUPLICATE, emptyMessageBatch, type MessageBatch } from '../protocol.js';
import { ACTIVE, FAILED, type Cell } from './cell.js';
import type { Ownership } from './ownership.js';
import type { Reports } from './reports.js';
import type { ActorTable } from './table.js';
import type { ActorTimers } from './timers.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

export class Handlers {
  /** Messages to actors on this host: delivered after the current input, in the same drain. */
  local: MessageBatch = emptyMessageBatch();
  /** Processing time of the input being handled: one clock read per message, not per event. */
  now = 0;
  private cur: Cell | null = null;
  private readonly ctx: Writable<ActorContext>;

  constructor(
    private readonly table: ActorTable,
    private readonly timers: ActorTimers,
    private readonly reports: Reports,
    private readonly ownership: Ownership,
    private readonly clock: Clock,
  ) {
    this.ctx = this.makeContext();
  }

  applyEvent(cell: Cell, seq: number, time: number, body: unknown): void {
    if (seq <= cell.lastSeq) return; // replayed event the snapshot already reflects
    if (cell.status === FAILED) {
      this.reports.stats.rejected++;
      this.reports.outcome(seq, ErrorCode.ActorFailed, `${this.table.defs[cell.kind]!.kind} ${cell.id} has failed: ${cell.error?.message ?? ''}`);
      return;
    }
    const def = this.table.defs[cell.kind]!;
    const wm = time - this.table.lag[cell.kind]!;
    if (wm > cell.watermark) cell.watermark = wm;
    this.enter(cell, seq, time);
    try {
      cell.state = def.onEvent(cell.state, body, this.ctx);
    } catch (err) {
      this.fail(cell, seq, err);
    }
    this.cur = null;
    cell.lastSeq = seq;
    this.reports.stats.events++;
    this.table.touch(cell, this.now);
    if (cell.nextEventTimerAt <= cell.watermark && cell.status === ACTIVE) this.fireEventTimers(cell);
  }

  applyMessage(cell: Cell, body: unknown, from: ActorAddress): void {
    if (cell.status === FAILED) {
      this.reports.stats.rejected++;
      return;
    }
    const def = this.table.defs[cell.kind]!;
    this.reports.stats.messages++;
    if (!def.onMessage) return;
    this.enter(cell, NaN, cell.watermark);
    try {
      cell.state = def.onMessage(cell.state, body, from, this.ctx);
    } catch (err) {
      this.fail(cell, NaN, err);
    }
    this.cur = null;
    this.table.touch(cell, this.now);
  }

  runTimer(cell: Cell, name: string, at: number): void {
    if (cell.status !== ACTIVE) return;
    const def = this.table.defs[cell.kind]!;
    // A timer restored from a snapshot is still listed on the cell; it fires once.
    this.timers.cancel(cell, name);
    this.reports.stats.timers++;
    if (!def.onTimer) return;
    this.enter(cell, NaN, at);
    try {
      cell.state = def.onTimer(cell.state, name, this.ctx);
    } catch (err) {
      this.fail(cell, NaN, err);
    }
    this.cur = null;
    this.table.touch(cell, this.now);
  }

  /** `seq` NaN: not an event, so no verdict is recorded. */
  fail(cell: Cell, seq: number, err: unknown, code: string = ErrorCode.ActorFailed): void {
    const w = toWire(err);
    const kind = this.table.defs[cell.kind]!.kind;
    const error = { code, message: `${kind} ${cell.id}: ${w.message}` };
    cell.status = FAILED;
    cell.error = error;
    if (!Number.isNaN(seq)) this.reports.outcome(seq, code, error.message);
    this.reports.failures.push({ tenant: cell.tenant, kind, id: cell.id, seq, error });
  }

  /** Swaps out the local messages gathered so far, for delivery. */
  takeLocal(): MessageBatch {
    const b = this.local;
    this.local = emptyMessageBatch();
    return b;
  }

  private fireEventTimers(cell: Cell): void {
    while (cell.status === ACTIVE && cell.nextEventTimerAt <= cell.watermark) {
      const t = this.timers.takeNextEventTimer(cell);
      this.runTimer(cell, t.name, t.at);
    }
  }

  private enter(cell: Cell, seq: number, time: number): void {
    this.cur = cell;
    const c = this.ctx;
    c.tenant = cell.tenant;
    c.kind = this.table.defs[cell.kind]!.kind;
    c.id = cell.id;
    c.keyGroup = cell.kg;
    c.seq = seq;
    c.eventTime = time;
    c.watermark = cell.watermark;
  }

  private makeContext(): Writable<ActorContext> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const h = this;
    return {
      tenant: '', kind: '', id: '', keyGroup: 0, seq: NaN, eventTime: 0, watermark: -Infinity,
      now: () => h.clock.now(),
      setTimer(name, at, domain = 'processing') {
        h.timers.set(h.current(), name, at, domain);
      },
      cancelTimer(name) {
        h.timers.cancel(h.current(), name);
      },
      send(kind, id, message, tenant) {
        h.send(h.current(), kind, id, message, tenant);
      },
      emitRollup(row) {
        h.reports.rollups.push(row);
      },
      emitAlert(alert) {
        h.reports.alerts.push(alert);
      },
      reject(code, message) {
        h.current();
        if (Number.isNaN(h.ctx.seq)) throw new Error('ctx.reject is only for events');
        h.reports.outcome(h.ctx.seq, code, message);
      },
      duplicate() {
        h.current();
        if (Number.isNaN(h.ctx.seq)) throw new Error('ctx.duplicate is only for events');
        h.reports.outcome(h.ctx.seq, DUPLICATE, '');
      },
    };
  }

  private current(): Cell {
    if (!this.cur) throw new Error('actor context used outside of a handler call');
    return this.cur;
  }

  private send(from: Cell, kind: string, id: string, message: unknown, tenant = from.tenant): void {
    const k = this.table.kindIndex.get(kind);
    if (k === undefined) throw new Error(`send: unknown actor kind ${kind}`);
    const kg = keyGroupOf(tenant, kind, id, this.ownership.keyGroupCount);
    const b = this.ownership.owned[kg] ? this.local : this.reports.outMessages;
    b.kg.push(kg);
    b.kind.push(k);
    b.tenant.push(tenant);
    b.id.push(id);
    b.body.push(message);
    b.fromKind.push(from.kind);
    b.fromId.push(from.id);
    b.n++;
  }
}
