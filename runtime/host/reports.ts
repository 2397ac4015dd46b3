// What a host owes the main thread besides loads and commits: handler output (alerts, rollups,
// messages for other hosts), per-event verdicts, actor failures and counters, gathered between
// flushes and sent as one `report`.
import type { AlertRecord, RollupRow } from '../ports.js';
import { emptyMessageBatch, type ActorFailure, type HostStats, type MessageBatch, type Outcomes } from '../protocol.js';
import type { Uplink } from './uplink.js';

function emptyOutcomes(): Outcomes {
  return { n: 0, seq: [], code: [], message: [] };
}

function zeroStats(): HostStats {
  return { events: 0, messages: 0, timers: 0, activations: 0, passivations: 0, rejected: 0, active: 0, parked: 0, wheel: 0 };
}

export class Reports {
  alerts: AlertRecord[] = [];
  rollups: RollupRow[] = [];
  failures: ActorFailure[] = [];
  /** Messages to actors on other hosts; the main thread routes them. */
  outMessages: MessageBatch = emptyMessageBatch();
  /**
   * Counters since the last report. Replaced, not reset, at each flush (a caller holding the
   * posted report keeps its numbers), so read it through this field every time.
   */
  stats: HostStats = zeroStats();
  private outcomes: Outcomes = emptyOutcomes();
  private reportedSeq = -1;

  constructor(private readonly uplink: Uplink) {}

  /** A verdict on one event other than "applied": a rejection code or `duplicate`. */
  outcome(seq: number, code: string, message: string): void {
    const o = this.outcomes;
    o.seq.push(seq);
    o.code.push(code);
    o.message.push(message);
    o.n++;
  }

  /** Sends a report when anything changed since the last one; the gauges are as of now. */
  flush(appliedSeq: number, active: number, parked: number, wheel: number): void {
    const changed =
      appliedSeq !== this.reportedSeq ||
      this.alerts.length > 0 || this.rollups.length > 0 || this.outMessages.n > 0 ||
      this.failures.length > 0 || this.outcomes.n > 0;
    if (!changed) return;
    const stats = this.stats;
    stats.active = active;
    stats.parked = parked;
    stats.wheel = wheel;
    this.reportedSeq = appliedSeq;
    this.uplink.post({
      t: 'report',
      appliedSeq,
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
}
