// The runtime's public types that its modules share (re-exported by runtime.ts, where callers
// import them from): kept apart so no module has to import the facade.
import type { EventBatch } from './batch.js';
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
}
