// The runtime's public types that its modules share (re-exported by runtime.ts, where callers
// import them from): kept apart so no module has to import the facade.
import type { EventBatch, Packed } from './batch.js';
import type { VigilError } from './errors.js';
import type { AlertSink, Clock, EventLog, Metrics, RollupSink, SnapshotStore } from './ports.js';
import type { ActorFailure } from './protocol.js';

export interface RuntimePorts {
  eventLog: EventLog;
  snapshotStore: SnapshotStore;
  rollupSink: RollupSink;
  alertSink: AlertSink;
  clock: Clock;
  metrics: Metrics;
}

export interface RescaleReport {
  from: number;
  to: number;
  epoch: number;
  movedKeyGroups: number;
  movedActors: number;
  /** How long the moving key groups held their events (the longest pause any saw). */
  pauseMs: number;
}

export interface HostRestart {
  hostId: number;
  generation: number;
  cause: VigilError;
  replayed: number;
  ms: number;
}

export interface RuntimeHooks {
  /**
   * 'leased' ownership: false while this node cannot be sure it still holds its leases (it has
   * not renewed them recently, e.g. it was paused). The log tail delivers nothing meanwhile.
   */
  canDeliver?: () => boolean;
  /** 'leased' ownership: a commit was refused because another node fenced these key groups. */
  onFenced?: (keyGroups: number[]) => void;
  /** 'leased' ownership: every batch the log tail read (all key groups, owned or not). */
  onTail?: (batch: EventBatch) => void;
  /** 'leased' ownership: an ownership change or the log tail failed (it retries). */
  onTailError?: (err: VigilError) => void;
  /** An actor's handler threw: it is now failed (its host keeps running). */
  onActorFailed?: (f: ActorFailure) => void;
  /** A host died and was replaced; its shards were restored. */
  onHostRestarted?: (info: HostRestart) => void;
  /** Frames: what the decoder noted about a group of frames (its `takeNotes()`), when not null. */
  onIngestNotes?: (notes: unknown) => void;
  /**
   * Frames: the events of one routed batch that were applied (every position not in `skip`),
   * once all are; acking at 'appended' (several nodes), once appended, with `skip` empty.
   */
  onAccepted?: (a: AcceptedEvents) => void;
}

/** The accepted events of one routed batch, still packed (see EventBatch.packed). */
export interface AcceptedEvents {
  n: number;
  kind: Uint8Array;
  time: Float64Array;
  /** Read it with `packedText` (runtime/batch.ts): an ingest worker's is UTF-8 bytes on shared memory. */
  packed: Packed;
  /** Ascending positions not applied (duplicates, refusals). */
  skip: number[];
  /** Frame of each event: its source is `sources[frame[i]]`. */
  frame: Uint32Array;
  sources: string[];
  ingestTime: number;
}
