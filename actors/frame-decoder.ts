// The domain half of an ingest worker: a frame's text in, accepted events routed to their actors
// and a verdict out. Loaded by URL in each worker (runtime/ingest/worker.ts), so the contracts
// are compiled once per worker and the main thread never parses an event.
import type { DecodedSink, FrameDecoder, FrameRejection, FrameVerdict } from '../runtime/ingest/protocol.js';
import { loadTenantConfigDir, registryFromConfig } from './contracts/load.js';
import { ContractRegistry, emptyValidated, type ActorEvent, type ValidatedBatch } from './contracts/registry.js';
import { Shape } from './contracts/limits.js';
import { RejectCode } from './contracts/spec.js';
import { deadLetterEvent, FrameError, parseFrame, type DeadLetter } from './ingest.js';

export interface DecoderConfig {
  /** Tenants and their event types (deploy/config layout); absent: built-in types only. */
  configDir?: string;
  maxFrameEvents: number;
  /** Deepest nesting of an event, the event object being level 1 (default 32). */
  maxEventDepth?: number;
  /** Most entries in any one object or array of an event (default 1000). */
  maxEventKeys?: number;
}

/** The first 64 KiB of an unreadable frame go to the dead-letter queue, enough to diagnose it. */
const DLQ_FRAME_CHARS = 65536;

/** What a frame group tells the main thread: patients seen for the first time, newest event times. */
export interface IngestNotes {
  /** [tenant, patient id] pairs this worker had not seen before. */
  patients: [string, string][];
  /** Per tenant, the newest event time of the group. */
  newest: Record<string, number>;
}

export class ClinicalFrameDecoder implements FrameDecoder {
  private readonly v: ValidatedBatch = emptyValidated();
  /** Patients this worker has reported, per tenant: the directory on main hears each once. */
  private readonly seen = new Map<string, Set<string>>();
  private notes: IngestNotes | null = null;

  constructor(
    private readonly registry: ContractRegistry,
    private readonly maxFrameEvents: number,
  ) {}

  decode(text: string, tenant: string, source: string, now: number, sink: DecodedSink): FrameVerdict {
    let items: unknown[];
    let batchId: string | null = null;
    let backfill = false;
    try {
      const f = parseFrame(text, this.maxFrameEvents);
      items = f.items;
      batchId = f.batchId;
      backfill = f.backfill;
    } catch (err) {
      const fe = err instanceof FrameError ? err : new FrameError(RejectCode.Internal, String(err), 500);
      return this.refuseFrame(fe.code, fe.message, fe.status, text, tenant, source, now, batchId ?? fe.batchId);
    }
    const v = this.v;
    v.events.length = 0;
    v.inputIndex.length = 0;
    v.rejected = [];
    this.registry.validate(items, tenant, now, v);
    for (const r of v.rejected) {
      // An array in a frame's list of events is no event: nested beyond the limit, it is the
      // frame's own structure that is too deep (a bare `[[[...]]]` body), refused as a whole.
      const item = items[r.index];
      if (Array.isArray(item) && this.registry.shapeOf(item) === Shape.TooDeep) {
        return this.refuseFrame(RejectCode.TooDeep, `frame item ${r.index} nests deeper than ${this.registry.maxEventDepth} levels`, 400, text, tenant, source, now, batchId);
      }
    }
    // An import frame's events carry the mark in their body (actors/backfill.ts says why there).
    if (backfill) for (const e of v.events) (e.body as { bf?: 1 }).bf = 1;
    let newest = -Infinity;
    for (let i = 0; i < v.events.length; i++) {
      const e = v.events[i]!;
      sink.push(e.kind, e.tenant, e.id, e.time, e.body, v.inputIndex[i]!);
      if (e.time > newest) newest = e.time;
      const pid = e.kind === 'patient' ? e.id : (e.body as ActorEvent).p.patient_id;
      if (typeof pid === 'string') this.notePatient(tenant, pid);
    }
    if (newest > -Infinity) {
      const n = (this.notes ??= newNotes());
      const cur = n.newest[tenant];
      if (cur === undefined || newest > cur) n.newest[tenant] = newest;
    }
    if (v.rejected.length === 0) return { batchId, items: items.length, rejected: null, frameStatus: 0, deadLetters: null, hosts: 0 };
    const at = new Date(now).toISOString();
    const letters: DeadLetter[] = v.rejected.map((r) => ({
      tenant_id: tenant, source, index: r.index, event_id: r.event_id, code: r.code, message: r.message,
      event: deadLetterEvent(items[r.index], r.code, this.registry), rejected_at: at,
    }));
    return { batchId, items: items.length, rejected: v.rejected, frameStatus: 0, deadLetters: letters, hosts: 0 };
  }

  /**
   * A frame refused as a whole; its text (the first 64 KiB) is the dead letter. Also what the
   * ingest worker asks for when it refuses a frame itself (bytes that are not UTF-8, a decode
   * that threw), so every refusal has a dead letter in this module's shape.
   */
  refuseFrame(code: string, message: string, status: number, text: string, tenant: string, source: string, now: number, batchId: string | null = null): FrameVerdict {
    const rejected: FrameRejection[] = [{ index: null, event_id: null, code, message }];
    const letter: DeadLetter = {
      tenant_id: tenant, source, index: null, event_id: null, code, message,
      event: text.slice(0, DLQ_FRAME_CHARS), rejected_at: new Date(now).toISOString(),
    };
    return { batchId, items: 0, rejected, frameStatus: status, deadLetters: [letter], hosts: 0 };
  }

  /** The dead letter of an event the ingest worker refused after decoding (it could not be encoded). */
  eventLetter(index: number, code: string, message: string, tenant: string, source: string, now: number): unknown {
    const letter: DeadLetter = {
      tenant_id: tenant, source, index, event_id: null, code, message, event: null, rejected_at: new Date(now).toISOString(),
    };
    return letter;
  }

  private notePatient(tenant: string, id: string): void {
    let s = this.seen.get(tenant);
    if (!s) this.seen.set(tenant, (s = new Set()));
    if (s.has(id)) return;
    s.add(id);
    (this.notes ??= newNotes()).patients.push([tenant, id]);
  }

  takeNotes(): IngestNotes | null {
    const n = this.notes;
    this.notes = null;
    return n;
  }
}

function newNotes(): IngestNotes {
  return { patients: [], newest: Object.create(null) as Record<string, number> };
}

export async function createDecoder(config: unknown): Promise<ClinicalFrameDecoder> {
  const c = config as DecoderConfig;
  const limits = { maxEventDepth: c.maxEventDepth, maxEventKeys: c.maxEventKeys };
  const registry = c.configDir ? registryFromConfig(await loadTenantConfigDir(c.configDir), limits) : new ContractRegistry({}, limits);
  return new ClinicalFrameDecoder(registry, c.maxFrameEvents);
}
