// In-process fakes for the submission ledger's tests: a log whose appends the test settles, hosts
// that record what they were posted, and a ManualClock. No worker, no build, no sleeps.
import type { EventBatch } from '../../runtime/batch.js';
import { ManualClock } from '../../runtime/clock.js';
import { AckAt, SubmissionLedger, type LaneTarget, type LedgerLimits, type SubmitResult } from '../../runtime/ledger.js';
import type { VigilError } from '../../runtime/errors.js';

export class FakeLog {
  /** Sequence of the last event appended. */
  head = 0;
  /** When false, appends wait for `settle`/`fail`. */
  auto = true;
  readonly appended: EventBatch[] = [];
  private readonly waiting: { batch: EventBatch; resolve: (base: number) => void; reject: (err: Error) => void }[] = [];

  append(batch: EventBatch): Promise<number> {
    if (this.auto) return Promise.resolve(this.take(batch));
    return new Promise((resolve, reject) => this.waiting.push({ batch, resolve, reject }));
  }

  /** Settles the oldest waiting append. */
  settleNext(): void {
    const w = this.waiting.shift()!;
    w.resolve(this.take(w.batch));
  }

  failNext(message = 'log down'): void {
    this.waiting.shift()!.reject(new Error(message));
  }

  get pending(): number {
    return this.waiting.length;
  }

  private take(batch: EventBatch): number {
    const base = this.head + 1;
    this.head += batch.n;
    this.appended.push(batch);
    return base;
  }
}

export class FakeHost implements LaneTarget {
  generation = 1;
  isLive = true;
  hasPort = true;
  readonly posts: { batch: EventBatch; lastSeq: number }[] = [];
  live(): boolean {
    return this.isLive;
  }
  post(batch: EventBatch, lastSeq: number): boolean {
    if (!this.hasPort) return false;
    this.posts.push({ batch, lastSeq });
    return true;
  }
  /** The ids posted so far, in order. */
  ids(): string[] {
    return this.posts.flatMap((p) => p.batch.id.slice(0, p.batch.n));
  }
}

export interface Answer {
  err: VigilError | null;
  result: SubmitResult;
}

export function setup(opts: { hosts?: number; ackAt?: AckAt; limits?: Partial<LedgerLimits> } = {}) {
  const clock = new ManualClock(1_000);
  const log = new FakeLog();
  const hosts = Array.from({ length: opts.hosts ?? 2 }, () => new FakeHost());
  const limits: LedgerLimits = { hostBatchEvents: 4, maxInFlightBatches: 3, maxLogEvents: 1_000, coalesceMs: 0, ...opts.limits };
  let flushes = 0;
  let appends = 0;
  const ledger = new SubmissionLedger(limits, {
    log,
    clock,
    targets: hosts,
    ackAt: opts.ackAt ?? AckAt.applied,
    onFlush: () => flushes++,
    onAppend: () => appends++,
  });
  /** Opens a submission whose answers are recorded (normally exactly one). */
  const open = (events: number) => {
    const answers: Answer[] = [];
    const sub = ledger.open(events, (err, result) => answers.push({ err, result }));
    return { sub, answers };
  };
  /** Event `index` of `sub` for host `h`, with id `id`. */
  const add = (h: number, sub: ReturnType<typeof open>['sub'], index: number, id: string, kg = h) =>
    ledger.add(h, sub, index, kg, 0, 't', id, 0, { v: index });
  /** Runs the deferred flush and waits for every append it started. */
  const flush = async () => {
    clock.advance(0);
    await ledger.allAppended();
  };
  return { clock, log, hosts, ledger, open, add, flush, counts: () => ({ flushes, appends }) };
}
