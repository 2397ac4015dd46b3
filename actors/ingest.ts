// The ingest pipeline, independent of any transport: a frame's text in, an ack out. Used by the
// WebSocket stream, the HTTP batch endpoint and (later) file imports and NATS feeds, so every
// source gets the same contracts, the same routing and the same accounting.
import type { SubmitCallback, SubmitResult, RuntimeEvent } from '../runtime/runtime.js';
import type { FrameVerdict } from '../runtime/ingest/protocol.js';
import { ContractRegistry, emptyValidated, type ActorEvent, type Rejection, type ValidatedBatch } from './contracts/registry.js';
import { Shape } from './contracts/limits.js';
import { RejectCode } from './contracts/spec.js';
import { VigilError } from '../runtime/errors.js';

/** The part of the actor runtime the ingest pipeline needs. */
export interface EventSubmitter {
  submit(events: ArrayLike<RuntimeEvent>, cb?: SubmitCallback): boolean;
  whenWritable(): Promise<void>;
}

/**
 * The part of the runtime the frame pipeline needs: frames go in as bytes and come back as the
 * edge's verdict plus the actors' (duplicates, refusals with their index in the frame).
 */
export interface FrameRuntime {
  submitFrame(lane: number, tenant: string, source: string, bytes: Uint8Array, done: FrameDone): void;
  writable(): boolean;
  whenWritable(): Promise<void>;
}

export interface FrameResult {
  duplicates: number;
  /** Events an actor refused, with their index in the frame and the body the actor saw. */
  refused: { index: number; code: string; message: string; tenant: string; time: number; body: unknown }[] | null;
}

export type FrameDone = (err: Error | null, verdict: FrameVerdict | null, result: FrameResult | null) => void;

/** The ack of SPEC §2 without the stream's own `seq` and `credit` (HTTP and NATS answer this). */
export interface FrameAck {
  batch_id: string | null;
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/** How a frame ended: an ack, or the frame refused (status) or not taken (unavailable). */
export interface FrameOutcome {
  ack: FrameAck;
  /** 0 when the frame was read; else the HTTP status of the frame's refusal. */
  status: number;
  /** The runtime did not take the events (shutting down, store unavailable): retry later. */
  unavailable: boolean;
  /** The frame's event count (0 when it could not be read). */
  items: number;
}

export interface Ack {
  type: 'ack';
  seq: number;
  batch_id: string | null;
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
  credit: number;
}

/** A frame that cannot be taken at all (as opposed to some of its events). */
// Its status is the one adapters/http/errors.ts STATUS_OF gives its code (a test holds them
// equal): actors/ cannot import the HTTP table, and the worker needs the status for WebSocket acks.
export class FrameError extends VigilError {
  constructor(
    code: RejectCode,
    message: string,
    readonly status: number,
    /** The frame's batch_id when it could be read before the frame was refused (echoed in the ack). */
    readonly batchId: string | null = null,
  ) {
    super(code, message);
    this.name = 'FrameError';
  }
}

export interface ParsedFrame {
  batchId: string | null;
  items: unknown[];
  /** `"mode": "import"`: history, accepted within the back-fill horizon (actors/backfill.ts). */
  backfill: boolean;
}

/** The batch modes: `live` (the default) and `import` (back-fill, SPEC §5). */
export const FrameMode = { Live: 'live', Import: 'import' } as const;

/**
 * A frame is one envelope, an array of envelopes, or `{"batch_id"?, "mode"?, "events": [...]}`
 * where `mode` is `live` (default) or `import`.
 */
export function parseFrame(text: string, maxEvents: number): ParsedFrame {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new FrameError(RejectCode.InvalidJson, `frame is not valid JSON: ${(err as Error).message}`, 400);
  }
  let items: unknown[];
  let batchId: string | null = null;
  let backfill = false;
  if (Array.isArray(body)) items = body;
  else if (body !== null && typeof body === 'object' && 'events' in body) {
    const b = body as { events: unknown; batch_id?: unknown; mode?: unknown };
    if (!Array.isArray(b.events)) throw new FrameError(RejectCode.InvalidType, 'events must be an array', 400);
    if (b.batch_id !== undefined && b.batch_id !== null && typeof b.batch_id !== 'string') {
      throw new FrameError(RejectCode.InvalidType, 'batch_id must be a string', 400);
    }
    batchId = (b.batch_id as string | undefined) ?? null;
    if (b.mode !== undefined && b.mode !== null) {
      if (b.mode !== FrameMode.Live && b.mode !== FrameMode.Import) {
        throw new FrameError(RejectCode.InvalidType, `mode must be "${FrameMode.Live}" or "${FrameMode.Import}"; got ${JSON.stringify(b.mode).slice(0, 64)}`, 400, batchId);
      }
      backfill = b.mode === FrameMode.Import;
    }
    items = b.events;
  } else items = [body];
  if (items.length > maxEvents) {
    throw new FrameError(RejectCode.TooManyEvents, `at most ${maxEvents} events per batch; got ${items.length}`, 413, batchId);
  }
  return { batchId, items, backfill };
}

/** The envelope an actor event came from, as a dead letter shows it (enough to fix and replay). */
function envelopeOf(tenant: string, time: number, b: ActorEvent): Record<string, unknown> {
  return { event_id: b.id, tenant_id: tenant, event_type: b.type, schema_version: b.v, event_time: new Date(time).toISOString(), payload: b.p };
}

/** Strings of a truncated dead letter are cut to this many characters; fields past the first 64 are left out. */
const LETTER_STRING_CHARS = 1024;
const LETTER_FIELDS = 64;

/**
 * The event a dead letter carries. One over the event limits (refused `too_deep` or `too_large`,
 * or refused for something else with a too-deep field outside its payload) must not travel as it
 * is: the structured clone to the main thread, the JSON of the dead-letter row and String() all
 * recurse, and would throw on it. It goes as its top-level fields, scalars only (so the event id,
 * type and time still identify it). Measuring here is on the refusal path only.
 */
export function deadLetterEvent(item: unknown, code: string, registry: ContractRegistry): unknown {
  if (code !== RejectCode.TooDeep && code !== RejectCode.TooLarge && registry.shapeOf(item) === Shape.Ok) return item;
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return `(not kept: ${Array.isArray(item) ? 'an array' : typeof item} over the event limits)`;
  }
  // A plain object, not a null-prototype one: sinks may String() it, which needs the prototype.
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const k in item) {
    if (++n > LETTER_FIELDS) break;
    const x = (item as Record<string, unknown>)[k];
    const value = typeof x === 'string' ? x.slice(0, LETTER_STRING_CHARS) : typeof x === 'object' && x !== null ? '(not kept)' : x;
    // Assigning "__proto__" would set the prototype instead of a field.
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out;
}

/** A rejected event on its way to the dead-letter queue, with everything needed to fix and replay it. */
export interface DeadLetter {
  tenant_id: string;
  /** ws, http, nats, import */
  source: string;
  /** Position in its frame; null when the whole frame was refused. */
  index: number | null;
  event_id: string | null;
  code: string;
  message: string;
  /** The event as received (or the frame's text, truncated, when it could not be read). */
  event: unknown;
  rejected_at: string;
}

export type DeadLetterSink = (letters: DeadLetter[]) => void;

interface DeadLetterContext {
  dlq: { tenant: string; source: string; items: readonly unknown[] };
}

export interface IngestMetrics {
  onFrame(events: number, bytes: number): void;
  onRejected(code: string): void;
  onAccepted(n: number, duplicates: number): void;
}

const noMetrics: IngestMetrics = { onFrame() {}, onRejected() {}, onAccepted() {} };

/**
 * Validates a tenant's events and hands the good ones to the runtime; calls `done` with the
 * counts once they are applied (embedded) or durable (durable mode). Bad events are answered
 * one by one and never hold back the good ones.
 */
export class IngestService {
  constructor(
    private readonly registry: ContractRegistry,
    private readonly runtime: EventSubmitter & FrameRuntime,
    private readonly clock: { now(): number },
    private readonly metrics: IngestMetrics = noMetrics,
    private readonly onAccepted?: (events: readonly RuntimeEvent[], source: string) => void,
    private readonly deadLetters?: DeadLetterSink,
  ) {}

  private dead(tenant: string, source: string, items: readonly unknown[] | null, rejected: readonly Rejection[]): void {
    if (!this.deadLetters || rejected.length === 0) return;
    const at = new Date(this.clock.now()).toISOString();
    this.deadLetters(rejected.map((r) => ({
      tenant_id: tenant, source, index: r.index, event_id: r.event_id, code: r.code, message: r.message,
      event: items ? deadLetterEvent(items[r.index], r.code, this.registry) : null, rejected_at: at,
    })));
  }

  /** Validates now; returns a function that submits (false while the runtime has no room). */
  prepare(items: readonly unknown[], tenant: string, source = 'ws'): ValidatedBatch {
    const v = emptyValidated() as ValidatedBatch & DeadLetterContext;
    this.registry.validate(items, tenant, this.clock.now(), v);
    for (const r of v.rejected) this.metrics.onRejected(r.code);
    this.dead(tenant, source, items, v.rejected);
    v.dlq = { tenant, source, items };
    return v;
  }

  /**
   * Submits a validated batch. Returns false, having taken nothing, while the runtime is
   * saturated; the caller holds the batch (bounded by its credit) and retries after
   * `runtime.whenWritable()`.
   */
  trySubmit(v: ValidatedBatch, done: (err: Error | null, counts: { accepted: number; duplicates: number; rejected: Rejection[] }) => void): boolean {
    if (v.events.length === 0) {
      done(null, { accepted: 0, duplicates: 0, rejected: v.rejected });
      return true;
    }
    const ok = this.runtime.submit(v.events, (err, r: SubmitResult) => {
      if (err) return done(err, { accepted: 0, duplicates: 0, rejected: v.rejected });
      let rejected = v.rejected;
      if (r.rejected.length > 0) {
        rejected = rejected.slice();
        const refused: Rejection[] = [];
        for (const x of r.rejected) {
          const index = v.inputIndex[x.index]!;
          const body = v.events[x.index]!.body as { id: string };
          const rej = { index, event_id: body.id, code: x.code, message: x.message };
          rejected.push(rej);
          refused.push(rej);
          this.metrics.onRejected(x.code);
        }
        rejected.sort((a, b) => a.index - b.index);
        const ctx = (v as Partial<DeadLetterContext>).dlq;
        if (ctx) this.dead(ctx.tenant, ctx.source, ctx.items, refused);
      }
      const accepted = v.events.length - r.duplicates - r.rejected.length;
      this.metrics.onAccepted(accepted, r.duplicates);
      done(null, { accepted, duplicates: r.duplicates, rejected });
    });
    if (ok) this.onAccepted?.(v.events, (v as Partial<DeadLetterContext>).dlq?.source ?? 'ws');
    return ok;
  }

  whenWritable(): Promise<void> {
    return this.runtime.whenWritable();
  }

  /** False while the runtime has no room: hold frames (bounded) until `whenWritable()`. */
  writable(): boolean {
    return this.runtime.writable();
  }

  /**
   * The one frame pipeline every source uses (WebSocket, HTTP batch, NATS, import): bytes in,
   * parsed, validated and routed off this thread, applied (or made durable), then `done` with
   * the ack. `lane` keeps one producer's frames in order (use its connection number).
   */
  submitFrame(lane: number, tenant: string, source: string, bytes: Uint8Array, done: (o: FrameOutcome) => void): void {
    const bytesIn = bytes.byteLength;
    this.runtime.submitFrame(lane, tenant, source, bytes, (err, verdict, result) => {
      if (verdict !== null && verdict.deadLetters !== null) {
        if (this.deadLetters) this.deadLetters(verdict.deadLetters as DeadLetter[]);
      }
      if (verdict === null) {
        const message = `events not taken: ${err?.message ?? 'unknown error'}`;
        done({ ack: { batch_id: null, accepted: 0, duplicates: 0, rejected: [{ index: null as unknown as number, event_id: null, code: 'unavailable', message }] }, status: 503, unavailable: true, items: 0 });
        return;
      }
      this.metrics.onFrame(verdict.items, bytesIn);
      const edge = verdict.rejected;
      if (edge !== null) for (const r of edge) this.metrics.onRejected(r.code);
      if (verdict.frameStatus !== 0) {
        done({ ack: { batch_id: verdict.batchId, accepted: 0, duplicates: 0, rejected: edge as Rejection[] }, status: verdict.frameStatus, unavailable: false, items: 0 });
        return;
      }
      if (err !== null || result === null) {
        const message = `events not taken: ${err?.message ?? 'unknown error'}`;
        done({
          ack: { batch_id: verdict.batchId, accepted: 0, duplicates: 0, rejected: [{ index: null as unknown as number, event_id: null, code: 'unavailable', message }] },
          status: 503, unavailable: true, items: verdict.items,
        });
        return;
      }
      let rejected = (edge ?? []) as Rejection[];
      const refused = result.refused;
      if (refused !== null && refused.length > 0) {
        const byActor: Rejection[] = refused.map((r) => ({ index: r.index, event_id: (r.body as ActorEvent).id, code: r.code, message: r.message }));
        rejected = rejected.concat(byActor);
        rejected.sort((a, b) => a.index - b.index);
        for (const r of refused) this.metrics.onRejected(r.code);
        if (this.deadLetters) {
          const at = new Date(this.clock.now()).toISOString();
          this.deadLetters(refused.map((r) => ({
            tenant_id: tenant, source, index: r.index, event_id: (r.body as ActorEvent).id, code: r.code, message: r.message,
            event: envelopeOf(r.tenant, r.time, r.body as ActorEvent), rejected_at: at,
          })));
        }
      }
      const valid = verdict.items - (edge === null ? 0 : edge.length);
      const accepted = valid - result.duplicates - (refused === null ? 0 : refused.length);
      this.metrics.onAccepted(accepted, result.duplicates);
      done({ ack: { batch_id: verdict.batchId, accepted, duplicates: result.duplicates, rejected }, status: 0, unavailable: false, items: verdict.items });
    });
  }

  frameMetrics(events: number, bytes: number): void {
    this.metrics.onFrame(events, bytes);
  }

  /**
   * A frame refused as a whole (unreadable, too many events): counted under its code, and its
   * text (the first 64 KiB) goes to the dead-letter queue when the tenant is known.
   */
  frameRejected(code: string, tenant?: string, source = 'ws', text?: string, message = ''): void {
    this.metrics.onRejected(code);
    if (tenant === undefined || !this.deadLetters) return;
    this.deadLetters([{
      tenant_id: tenant, source, index: null, event_id: null, code, message,
      event: text === undefined ? null : text.slice(0, 65536), rejected_at: new Date(this.clock.now()).toISOString(),
    }]);
  }
}
