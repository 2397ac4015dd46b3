// One worker's share of the actors. The work is split by role under host/; this class builds
// those parts, routes the data port's messages to them and runs the host's one tick.
import type { AnyActorDefinition } from './actor.js';
import type { WireError } from './errors.js';
import type { Clock } from './ports.js';
import type { FromHost, HostInit, ToHost } from './protocol.js';
import { Activation } from './host/activation.js';
import { ACTIVATING, ACTIVE, FAILED } from './host/cell.js';
import { Commits } from './host/commits.js';
import { Handlers } from './host/handlers.js';
import { Intake } from './host/intake.js';
import { Mailboxes } from './host/mailbox.js';
import { Ownership } from './host/ownership.js';
import { Passivation } from './host/passivation.js';
import { Progress } from './host/progress.js';
import { Reminders } from './host/reminders.js';
import { Reports } from './host/reports.js';
import { ActorTable } from './host/table.js';
import { ActorTimers } from './host/timers.js';
import { Uplink } from './host/uplink.js';

export interface ActorInspection {
  resident: boolean;
  status: 'active' | 'activating' | 'failed' | 'passive';
  lastSeq: number;
  watermark: number;
  error: WireError | null;
  /** The actor's encoded state (its `encode`, JSON by default). */
  data: string | null;
}

/** What a host needs from where it runs. A test passes a ManualClock and answers `post` itself. */
export interface ShardHostPorts {
  /** Processing time, and the host's one tick timer: the host reads no other clock. */
  readonly clock: Clock;
  /** To the main thread (in a worker, the data port): reports, loads, commits, hand-overs. */
  readonly post: (msg: FromHost) => void;
}

/**
 * Everything here runs on a single thread, driven by `receive` and the tick. It never awaits:
 * activation is a request/response over the data port, and the input for an activating actor
 * waits in its mailbox while every other actor proceeds.
 */
export class ShardHost {
  private readonly init: HostInit;
  private readonly clock: Clock;
  private readonly table: ActorTable;
  private readonly timers: ActorTimers;
  private readonly reports: Reports;
  private readonly handlers: Handlers;
  private readonly mailboxes: Mailboxes;
  private readonly progress: Progress;
  private readonly commits: Commits;
  private readonly passivation: Passivation;
  private readonly activation: Activation;
  private readonly intake: Intake;
  private readonly ownership: Ownership;
  private readonly reminders: Reminders;
  private cancelTick: (() => void) | null = null;
  private readonly onTick = (): void => this.tick();

  constructor(init: HostInit, defs: AnyActorDefinition[], ports: ShardHostPorts) {
    this.init = init;
    const clock = (this.clock = ports.clock);
    const table = (this.table = new ActorTable(init.hostId, init.kinds, defs, init.idleAfterMs));
    const now = clock.now();
    const uplink = new Uplink(ports.post);
    const ownership = (this.ownership = new Ownership(init.keyGroupCount, init.ranges));
    const progress = (this.progress = new Progress());
    const reports = (this.reports = new Reports(uplink));
    const timers = (this.timers = new ActorTimers(init.timerTickMs, now));
    const handlers = (this.handlers = new Handlers(table, timers, reports, ownership, clock));
    handlers.now = now;
    const mailboxes = (this.mailboxes = new Mailboxes(handlers, init.mailboxLimit, init.maxParkedEvents));
    const commits = (this.commits = new Commits(table, ownership, progress, uplink, clock, now, init.snapshotIntervalMs));
    const passivation = (this.passivation = new Passivation(table, timers, commits, reports, now, init.passivationSweepMs));
    const activation = (this.activation = new Activation(table, commits, timers, handlers, mailboxes, reports, uplink, clock));
    // Its due index is read once the main thread says the owned key groups are restored (`replayed`).
    this.reminders = new Reminders(table, ownership, activation, timers, uplink);
    this.intake = new Intake(
      table, activation, mailboxes, handlers, timers, progress, ownership, passivation, commits, uplink, init.maxParkedEvents,
    );
    this.scheduleTick();
  }

  receive(msg: ToHost): void {
    if (this.intake.stopped) return;
    // One clock read per message, not per event: idle tracking needs no finer grain.
    this.handlers.now = this.clock.now();
    switch (msg.t) {
      case 'events':
      case 'messages':
      case 'release':
      case 'replayed':
        this.intake.take(msg);
        break;
      case 'loaded':
        if (this.activation.onLoaded(msg.req, msg.records, msg.error)) this.intake.afterActivations();
        this.intake.resume();
        break;
      case 'committed':
        this.commits.onCommitted(msg.req, msg.error);
        break;
      case 'dueLoaded':
        this.reminders.onLoaded(msg.req, msg.timers, msg.error);
        break;
      case 'acquire':
        this.ownership.acquire(msg.ranges, msg.epoch, msg.replaying === true);
        // A rescale's hand-over committed their state already; a replayed takeover waits for `replayed`.
        if (msg.replaying !== true) this.reminders.load(msg.ranges);
        break;
    }
    this.flushOut();
  }

  // ---------------------------------------------------------------- control plane

  inspect(kind: string, tenant: string, id: string): ActorInspection | null {
    const cell = this.table.find(kind, tenant, id);
    if (!cell) return null;
    const status = cell.status === ACTIVE ? 'active' : cell.status === FAILED ? 'failed' : 'activating';
    let data: string | null = null;
    if (cell.status !== ACTIVATING) {
      const def = this.table.defs[cell.kind]!;
      data = def.encode ? def.encode(cell.state) : JSON.stringify(cell.state);
    }
    return { resident: true, status, lastSeq: cell.lastSeq, watermark: cell.watermark, error: cell.error, data };
  }

  /** Drops a failed actor so its next message rehydrates the last good snapshot. */
  resetActor(kind: string, tenant: string, id: string): boolean {
    const cell = this.table.find(kind, tenant, id);
    if (!cell || cell.status !== FAILED) return false;
    this.passivation.passivate(cell);
    return true;
  }

  snapshotNow(): Promise<void> {
    return new Promise((resolve) => {
      this.commits.commit(resolve);
      this.flushOut();
    });
  }

  /** Passivates every actor (snapshot first) and stops taking input. */
  async drain(): Promise<void> {
    this.passivation.sweep(this.clock.now(), true);
    await this.snapshotNow();
    this.stop();
  }

  counts(): { active: number; parked: number; appliedSeq: number; timers: number; inbox: number } {
    return {
      active: this.table.active,
      parked: this.mailboxes.parked,
      appliedSeq: this.progress.appliedSeq,
      timers: this.timers.size,
      inbox: this.intake.queued,
    };
  }

  stop(): void {
    this.intake.stopped = true;
    this.cancelTick?.();
  }

  // ---------------------------------------------------------------- tick

  private scheduleTick(): void {
    if (this.intake.stopped) return;
    this.cancelTick = this.clock.setTimeout(this.onTick, this.init.timerTickMs);
  }

  private tick(): void {
    if (this.intake.stopped) return;
    const now = this.clock.now();
    this.handlers.now = now;
    this.timers.advance(now, this.intake.timerDue);
    this.intake.drainLocal();
    this.passivation.onTick(now);
    this.commits.onTick(now);
    // A firing is durable once committed, and the interval may be long: the actors whose
    // timers fired are written now, alone (see Commits.timerFired).
    if (this.timers.fired.length > 0) {
      for (const cell of this.timers.fired) this.commits.timerFired(cell);
      this.timers.fired.length = 0;
    }
    this.commits.commitFired();
    this.reminders.onTick();
    this.activation.request();
    this.flushOut();
    this.scheduleTick();
  }

  private flushOut(): void {
    this.reports.flush(this.progress.appliedSeq, this.table.active, this.mailboxes.parked, this.timers.size);
  }
}
