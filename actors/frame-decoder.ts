// The domain half of an ingest worker: a frame's text in, accepted events routed to their actors
// and a verdict out. Loaded by URL in each worker (runtime/ingest/worker.ts), so the contracts
// are compiled once per worker and the main thread never parses an event.
import type { DecodedSink, FrameDecoder, FrameRejection, FrameVerdict } from '../runtime/ingest/protocol.js';
import { loadTenantConfigDir, registryFromConfig } from './contracts/load.js';
import { ContractRegistry, emptyValidated, type ActorEvent, type ValidatedBatch } from './contracts/registry.js';
import { FrameError, parseFrame, type DeadLetter } from './ingest.js';

export interface DecoderConfig {
  /** Tenants and their event types (deploy/config layout); absent: built-in types only. */
  configDir?: string;
  maxFrameEvents: number;
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
    try {
      const f = parseFrame(text, this.maxFrameEvents);
      items = f.items;
      batchId = f.batchId;
    } catch (err) {
      const fe = err instanceof FrameError ? err : new FrameError('internal', String(err), 500);
      const rejected: FrameRejection[] = [{ index: null, event_id: null, code: fe.code, message: fe.message }];
      const letter: DeadLetter = {
        tenant_id: tenant, source, index: null, event_id: null, code: fe.code, message: fe.message,
        event: text.slice(0, DLQ_FRAME_CHARS), rejected_at: new Date(now).toISOString(),
      };
      return { batchId: batchId ?? fe.batchId, items: 0, rejected, frameStatus: fe.status, deadLetters: [letter], hosts: 0 };
    }
    const v = this.v;
    v.events.length = 0;
    v.inputIndex.length = 0;
    v.rejected = [];
    this.registry.validate(items, tenant, now, v);
    let newest = -Infinity;
    for (let i = 0; i < v.events.length; i++) {
      const e = v.events[i]!;
      sink.push(e.kind, e.tenant, e.id, e.time, e.body, v.inputIndex[i]!);
      if (e.time > newest) newest = e.time;
      const pid = e.kind === 'patient' ? e.id : (e.body as ActorEvent).p.patient_id;
      if (typeof pid === 'string') this.notePatient(tenant, pid);
    }
    if (newest > -Infinity) {
      const n = (this.notes ??= { patients: [], newest: {} });
      const cur = n.newest[tenant];
      if (cur === undefined || newest > cur) n.newest[tenant] = newest;
    }
    if (v.rejected.length === 0) return { batchId, items: items.length, rejected: null, frameStatus: 0, deadLetters: null, hosts: 0 };
    const at = new Date(now).toISOString();
    const letters: DeadLetter[] = v.rejected.map((r) => ({
      tenant_id: tenant, source, index: r.index, event_id: r.event_id, code: r.code, message: r.message, event: items[r.index], rejected_at: at,
    }));
    return { batchId, items: items.length, rejected: v.rejected, frameStatus: 0, deadLetters: letters, hosts: 0 };
  }

  private notePatient(tenant: string, id: string): void {
    let s = this.seen.get(tenant);
    if (!s) this.seen.set(tenant, (s = new Set()));
    if (s.has(id)) return;
    s.add(id);
    (this.notes ??= { patients: [], newest: {} }).patients.push([tenant, id]);
  }

  takeNotes(): IngestNotes | null {
    const n = this.notes;
    this.notes = null;
    return n;
  }
}

export async function createDecoder(config: unknown): Promise<FrameDecoder> {
  const c = config as DecoderConfig;
  const registry = c.configDir ? registryFromConfig(await loadTenantConfigDir(c.configDir)) : new ContractRegistry();
  return new ClinicalFrameDecoder(registry, c.maxFrameEvents);
}
