// Frames as bytes, for front-ends: handed to the ingest workers (runtime/ingest/) and, routed and
// built into one columnar batch per host there, entered into the ledger whole. The main thread's
// work is per frame and per batch: a submission per frame, a share per (frame, host), one append
// and one post per batch. Verdicts come back through the ledger's typed origin columns.
//
// The fast path trusts the worker's routing only if it was done under the current key-group
// table and nothing is moving: otherwise (a rescale since, or one running) the batch's events are
// routed again one by one, as `submit` would (rare, and bounded by the frames in flight).
import { type BatchOrigins, type EventRejection, type Submission, type SubmissionLedger } from './ledger.js';
import { ErrorCode, VigilError } from './errors.js';
import type { EventBatch } from './batch.js';
import { IngestPool } from './ingest/pool.js';
import type { FrameVerdict, RoutedGroup } from './ingest/protocol.js';
import type { Placement } from './placement.js';
import type { Clock } from './ports.js';
import type { Router } from './router.js';

export interface FrameIngestOptions {
  /** Ingest worker threads (parse, validate, route). */
  workers: number;
  /** URL of the decoder module (see FrameDecoderModule) each worker loads. */
  decoderModule: string;
  decoderConfig: unknown;
  /** Largest number of events in one frame. */
  maxFrameEvents: number;
}

/** An event an actor refused, as a frame's producer hears of it. */
export interface FrameRefusal {
  index: number;
  code: string;
  message: string;
  tenant: string;
  time: number;
  body: unknown;
}

export interface FrameResult {
  duplicates: number;
  refused: FrameRefusal[] | null;
}

/** `verdict` is null when the frame never came back from a worker (err says why). */
export type FrameCallback = (err: VigilError | null, verdict: FrameVerdict | null, result: FrameResult | null) => void;

interface FrameCtx {
  done: FrameCallback;
  source: string;
}

export interface FrameIntakeDeps {
  placement: Placement;
  ledger: SubmissionLedger;
  router: Router;
  kinds: string[];
  clock: Clock;
  closing: () => boolean;
  onNotes?: ((notes: unknown) => void) | undefined;
}

function refusals(rejected: readonly EventRejection[]): FrameRefusal[] | null {
  if (rejected.length === 0) return null;
  return rejected.map((r) => ({ index: r.index, code: r.code, message: r.message, tenant: r.tenant ?? '', time: r.time ?? NaN, body: r.body }));
}

export class FrameIntake {
  private readonly pool: IngestPool<FrameCtx>;
  private readonly d: FrameIntakeDeps;

  constructor(deps: FrameIntakeDeps, options: FrameIngestOptions) {
    this.d = deps;
    this.pool = new IngestPool<FrameCtx>(
      {
        workers: options.workers,
        decoderModule: options.decoderModule,
        decoderConfig: options.decoderConfig,
        kinds: deps.kinds,
        keyGroups: deps.placement.keyGroupCount,
        hosts: deps.placement.hostCount,
        hostOfKg: deps.placement.hostOfKg.buffer as SharedArrayBuffer,
        routeEpoch: deps.placement.routeEpoch.buffer as SharedArrayBuffer,
        maxFrameEvents: options.maxFrameEvents,
        defer: (fn) => deps.clock.defer(fn),
        now: () => deps.clock.now(),
      },
      { routed: (g, ctxs) => this.routed(g, ctxs), failed: (ctxs, err) => this.failed(ctxs, err) },
    );
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  /** Frames handed to workers and not answered yet. */
  get inFlight(): number {
    return this.pool.inFlight;
  }

  submit(lane: number, tenant: string, source: string, bytes: Uint8Array, done: FrameCallback): void {
    if (this.d.closing()) {
      done(new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down'), null, null);
      return;
    }
    this.pool.push(lane, tenant, source, bytes, { done, source });
  }

  private failed(ctxs: readonly FrameCtx[], err: VigilError): void {
    for (const c of ctxs) c.done(err, null, null);
  }

  private routed(g: RoutedGroup, ctxs: readonly FrameCtx[]): void {
    const { ledger, placement, router } = this.d;
    if (g.notes !== null) this.d.onNotes?.(g.notes);
    if (this.d.closing()) {
      this.failed(ctxs, new VigilError(ErrorCode.ShuttingDown, 'runtime is shutting down'));
      return;
    }
    const frames = ctxs.length;
    const subs: Submission[] = new Array<Submission>(frames);
    const sources: string[] = new Array<string>(frames);
    for (let f = 0; f < frames; f++) {
      const ctx = ctxs[f]!;
      const verdict = g.verdicts[f]!;
      sources[f] = ctx.source;
      subs[f] = ledger.open(verdict.items, (err, r) => {
        if (err) ctx.done(err, verdict, null);
        else ctx.done(null, verdict, r.rejected.length === 0 && r.duplicates === 0 ? NO_REFUSALS : { duplicates: r.duplicates, refused: refusals(r.rejected) });
      });
    }
    const fast = g.epoch === Atomics.load(placement.routeEpoch, 0) && router.moving === null && placement.hostCount <= 31;
    for (let h = 0; h < g.batches.length; h++) {
      const b = g.batches[h];
      if (!b) continue;
      const batch: EventBatch = {
        n: b.n, seq: new Float64Array(b.n), kg: b.kg, kind: b.kind, time: b.time, tenant: [], id: [], body: [], packed: b.packed,
      };
      if (!fast) {
        router.routeColumns(batch, subs, b.frame, b.index);
        continue;
      }
      const bit = 1 << h;
      const touching: Submission[] = [];
      for (let f = 0; f < frames; f++) if ((g.verdicts[f]!.hosts & bit) !== 0) touching.push(subs[f]!);
      const origins: BatchOrigins = { base: 0, n: b.n, subs, slot: b.frame, idx: b.index, batch, skip: [], sources };
      ledger.enqueueRouted(h, batch, origins, touching);
    }
    for (const s of subs) ledger.opened(s);
    if (!fast) ledger.scheduleFlush();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

const NO_REFUSALS: FrameResult = Object.freeze({ duplicates: 0, refused: null }) as FrameResult;
