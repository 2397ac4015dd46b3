import type { ActorAddress } from '../actor.js';
import type { Cell } from './cell.js';
import type { Handlers } from './handlers.js';
import type { BatchRecord } from './progress.js';

// Input for an activating actor waits in its mailbox, five flat slots per entry, so parking
// allocates nothing per message beyond array growth: [type, seq, time, body, extra], where
// extra is the event's batch record, a message's sender, or a timer's name.
const M_EVENT = 0;
const M_MESSAGE = 1;
const M_TIMER = 2;
const SLOTS = 5;

/** Parked input across the host's actors, and the back-pressure it causes. */
export class Mailboxes {
  /** Entries parked in all mailboxes. */
  parked = 0;
  /**
   * Intake holds new input back while set: one mailbox reached its limit, or too many entries
   * are parked host-wide. Intake recomputes it after each message it processes.
   */
  paused = false;

  constructor(
    private readonly handlers: Handlers,
    private readonly mailboxLimit: number,
    private readonly maxParked: number,
  ) {}

  /** The event counts against its batch until applied: the batch's sequence is not reported before. */
  parkEvent(cell: Cell, seq: number, time: number, body: unknown, batch: BatchRecord): void {
    this.park(cell, M_EVENT, seq, time, body, batch);
    batch.parked++;
  }

  parkMessage(cell: Cell, body: unknown, from: ActorAddress): void {
    this.park(cell, M_MESSAGE, NaN, 0, body, from);
  }

  parkTimer(cell: Cell, name: string, at: number): void {
    this.park(cell, M_TIMER, NaN, at, undefined, name);
  }

  /** The actor is active (or failed): applies its parked input in arrival order. */
  drain(cell: Cell): void {
    const mb = cell.mailbox;
    if (!mb) return;
    cell.mailbox = null;
    for (let j = 0; j < mb.length; j += SLOTS) {
      const type = mb[j] as number;
      this.parked--;
      if (type === M_EVENT) {
        this.handlers.applyEvent(cell, mb[j + 1] as number, mb[j + 2] as number, mb[j + 3]);
        (mb[j + 4] as BatchRecord).parked--;
      } else if (type === M_MESSAGE) {
        this.handlers.applyMessage(cell, mb[j + 3], mb[j + 4] as ActorAddress);
      } else {
        this.handlers.runTimer(cell, mb[j + 4] as string, mb[j + 2] as number);
      }
    }
    if (this.parked < this.maxParked) this.paused = false;
  }

  private park(cell: Cell, type: number, seq: number, time: number, body: unknown, extra: unknown): void {
    const mb = (cell.mailbox ??= []);
    mb.push(type, seq, time, body, extra);
    this.parked++;
    if (mb.length >= this.mailboxLimit * SLOTS) this.paused = true;
  }
}
