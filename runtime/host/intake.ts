import type { ActorAddress } from '../actor.js';
import { unpackBatch, type EventBatch } from '../batch.js';
import type { MessageBatch, ToHost } from '../protocol.js';
import type { Activation } from './activation.js';
import { ACTIVATING, type TimerPayload } from './cell.js';
import type { Commits } from './commits.js';
import type { Handlers } from './handlers.js';
import type { Mailboxes } from './mailbox.js';
import type { Ownership } from './ownership.js';
import type { Passivation } from './passivation.js';
import type { Progress } from './progress.js';
import type { Range } from './ranges.js';
import type { ActorTable } from './table.js';
import type { ActorTimers } from './timers.js';
import type { Uplink } from './uplink.js';

/** The part of the data port's input that is ordered with events. */
export type OrderedInput = Extract<ToHost, { t: 'events' | 'messages' | 'release' | 'replayed' }>;

/**
 * Input on its way to actors: event batches, actor messages and fired timers. An active actor
 * gets it at once, an activating one in its mailbox. While mailboxes are too full, whole
 * messages wait in the inbox, in order; a hand-over or end-of-replay marker also waits there
 * until every event before it is applied.
 */
export class Intake {
  stopped = false;
  private readonly inbox: OrderedInput[] = [];

  constructor(
    private readonly table: ActorTable,
    private readonly activation: Activation,
    private readonly mailboxes: Mailboxes,
    private readonly handlers: Handlers,
    private readonly timers: ActorTimers,
    private readonly progress: Progress,
    private readonly ownership: Ownership,
    private readonly passivation: Passivation,
    private readonly commits: Commits,
    private readonly uplink: Uplink,
    private readonly maxParked: number,
  ) {}

  /** Messages held back in the inbox. */
  get queued(): number {
    return this.inbox.length;
  }

  take(msg: OrderedInput): void {
    const held = this.mailboxes.paused || this.inbox.length > 0;
    // A hand-over or end-of-replay is also ordered behind events still parked in mailboxes.
    const marker = msg.t === 'release' || msg.t === 'replayed';
    if (held || (marker && this.mailboxes.parked > 0)) this.inbox.push(msg);
    else this.process(msg);
  }

  /** Processes held messages for as long as the mailboxes allow. */
  resume(): void {
    while (!this.mailboxes.paused && this.inbox.length > 0 && !this.stopped) {
      // A release (or the end of a replay) waits until every event before it is applied (no
      // actor still activating).
      const t = this.inbox[0]!.t;
      if ((t === 'release' || t === 'replayed') && this.mailboxes.parked > 0) return;
      this.process(this.inbox.shift()!);
    }
  }

  /** Actors just activated and applied their parked input: carry on from there. */
  afterActivations(): void {
    this.drainLocal();
    this.activation.request();
    this.progress.advance();
  }

  /** Messages between actors of this host run after the input that sent them, in the same synchronous drain. */
  drainLocal(): void {
    // Bounded rounds: two actors pinging each other forever must not starve the port.
    for (let round = 0; round < 64 && this.handlers.local.n > 0; round++) this.deliverMessages(this.handlers.takeLocal());
  }

  /**
   * The wheel's callback: a resident actor's processing-time timer is due. (A passivated actor
   * has a wake-up instead, see Reminders: it re-activates and its restored timers fire.)
   */
  readonly timerDue = (p: TimerPayload, at: number): void => {
    const cell = p.cell;
    if (cell === null || !cell.resident) return;
    if (!this.timers.claimFired(cell, p.name)) return;
    if (cell.status === ACTIVATING) this.mailboxes.parkTimer(cell, p.name, at);
    else this.handlers.runTimer(cell, p.name, at);
  };

  private process(msg: OrderedInput): void {
    if (msg.t === 'release') {
      this.release(msg.req, msg.ranges, msg.epoch);
      return;
    }
    if (msg.t === 'replayed') {
      // Everything before this message is applied (it waited for parked events, see
      // resume): from here a checkpoint of these key groups is backed by actor state.
      this.ownership.replayed(msg.ranges);
      this.timers.restored(msg.ranges);
      return;
    }
    if (msg.t === 'events') this.applyBatch(msg.batch, msg.lastSeq);
    else this.deliverMessages(msg.batch);
    this.drainLocal();
    this.activation.request();
    this.mailboxes.paused = this.mailboxes.parked >= this.maxParked;
  }

  private applyBatch(b: EventBatch, lastSeq: number): void {
    unpackBatch(b);
    const rec = this.progress.open(lastSeq);
    const n = b.n;
    for (let i = 0; i < n; i++) {
      const cell = this.activation.cellFor(b.kind[i]!, b.tenant[i]!, b.id[i]!, b.kg[i]!);
      if (cell.status === ACTIVATING) this.mailboxes.parkEvent(cell, b.seq[i]!, b.time[i]!, b.body[i], rec);
      else this.handlers.applyEvent(cell, b.seq[i]!, b.time[i]!, b.body[i]);
    }
    this.progress.advance();
  }

  private deliverMessages(b: MessageBatch): void {
    const defs = this.table.defs;
    for (let i = 0; i < b.n; i++) {
      const cell = this.activation.cellFor(b.kind[i]!, b.tenant[i]!, b.id[i]!, b.kg[i]!);
      const from: ActorAddress = { tenant: b.tenant[i]!, kind: defs[b.fromKind[i]!]!.kind, id: b.fromId[i]! };
      if (cell.status === ACTIVATING) this.mailboxes.parkMessage(cell, b.body[i], from);
      else this.handlers.applyMessage(cell, b.body[i], from);
    }
  }

  /**
   * Hands key groups over: every actor in them passivates (dirty ones snapshot), one commit
   * writes those snapshots and checkpoints the released key groups at the applied sequence, and
   * only then does the main thread hear `released` and let their new owner start.
   */
  private release(req: number, ranges: Range[], epoch: number): void {
    const inRange = (kg: number) => ranges.some(([a, b]) => kg >= a && kg < b);
    let moved = 0;
    for (const cell of this.table.residents()) {
      if (inRange(cell.kg) && cell.status !== ACTIVATING) {
        this.passivation.passivate(cell);
        moved++;
      }
    }
    this.ownership.release(ranges, epoch);
    this.timers.dropWakes(ranges);
    this.commits.commit(() => this.uplink.post({ t: 'released', req, actors: moved }), ranges);
  }
}
