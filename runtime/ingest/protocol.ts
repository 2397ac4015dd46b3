// Frames between the uWS thread and the ingest workers. The main thread hands over bytes and gets
// back, per frame, a compact verdict and, per shard host, one columnar batch of the frame group's
// routed events: it never touches an event itself (DESIGN.md, performance budget). Plain data only.
import type { WireError } from '../errors.js';

/**
 * What a decoder module gives the worker for each accepted event. The body is an actor's event
 * as the actor will see it; `index` is the event's position in its frame (for acks).
 */
export interface DecodedSink {
  push(kind: string, tenant: string, id: string, time: number, body: unknown, index: number): void;
}

/** One event of a frame refused before any actor saw it. `index` is null for the whole frame. */
export interface FrameRejection {
  index: number | null;
  event_id: string | null;
  code: string;
  message: string;
}

/** The edge's verdict on one frame: everything the ack needs besides the actors' own verdicts. */
export interface FrameVerdict {
  batchId: string | null;
  /** Events the frame held (0 when it could not be read). */
  items: number;
  /** Refused at the edge, in input order; null when none. */
  rejected: FrameRejection[] | null;
  /** The frame was refused as a whole (unreadable, too many events): its HTTP status. */
  frameStatus: number;
  /** Dead letters for the refusals, in the decoder's own shape; null when none. */
  deadLetters: unknown[] | null;
  /** Bit h set: an event of the frame went to host h (the worker sets it; decoders leave 0). */
  hosts: number;
}

/**
 * Loaded in every ingest worker by URL (like actor modules in shard hosts): the domain half of
 * the edge, parse and validate, so `runtime/` stays free of any event contract.
 */
export interface FrameDecoder {
  decode(text: string, tenant: string, source: string, now: number, sink: DecodedSink): FrameVerdict;
  /**
   * Called once per group after its frames: what the domain wants the main thread to know about
   * them (e.g. actors seen for the first time), kept small; null when nothing is new.
   */
  takeNotes?(): unknown;
}

export interface FrameDecoderModule {
  createDecoder(config: unknown): FrameDecoder | Promise<FrameDecoder>;
}

export interface IngestWorkerInit {
  workerId: number;
  decoderModule: string;
  decoderConfig: unknown;
  kinds: string[];
  keyGroups: number;
  hosts: number;
  /** Uint16Array over shared memory: the host of every key group, rewritten by a rescale. */
  hostOfKg: SharedArrayBuffer;
  /** Int32Array[1] over shared memory: bumped after every rewrite of `hostOfKg`. */
  routeEpoch: SharedArrayBuffer;
  /** Largest number of events of one frame (refused beyond it with `too_many_events`). */
  maxFrameEvents: number;
}

/** A turn's frames for one worker, in arrival order. Bytes are transferred, not copied. */
export interface FrameGroup {
  t: 'frames';
  group: number;
  now: number;
  tenant: string[];
  source: string[];
  bytes: Uint8Array[];
}

/**
 * The events of one frame group bound for one host, in columns. `packed` is the UTF-8 JSON text
 * of `[tenant[], id[], body[]]` (the JetStream log's own encoding) on shared memory: it crosses
 * the main thread, and on to the host and the analytics worker, as a reference, instead of a
 * structured-clone walk over every body or a copied string. `frame`/`index` say where each
 * event came from, so a verdict reaches its producer with no per-event bookkeeping on main.
 */
export interface RoutedBatch {
  n: number;
  kg: Uint32Array;
  kind: Uint8Array;
  time: Float64Array;
  frame: Uint32Array;
  index: Uint32Array;
  packed: Uint8Array;
}

export interface RoutedGroup {
  t: 'routed';
  group: number;
  /** `routeEpoch` the group was routed under; a rescale since means it is routed again. */
  epoch: number;
  verdicts: FrameVerdict[];
  /** Per host (by host index); null where no event of the group goes. */
  batches: (RoutedBatch | null)[];
  /** The decoder's `takeNotes()` for this group. */
  notes: unknown;
}

export type FromIngest = RoutedGroup | { t: 'ready' } | { t: 'failed'; group: number; error: WireError };

export function routedTransferables(g: RoutedGroup): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const b of g.batches) {
    if (b === null) continue;
    out.push(b.kg.buffer as ArrayBuffer, b.kind.buffer as ArrayBuffer, b.time.buffer as ArrayBuffer, b.frame.buffer as ArrayBuffer, b.index.buffer as ArrayBuffer);
  }
  return out;
}
