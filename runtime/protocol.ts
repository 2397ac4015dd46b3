// Messages on a host's data port. Plain data only: they are structured-cloned, so no class
// instances (errors travel as WireError, see errors.ts).
import type { EventBatch } from './batch.js';
import type { WireError } from './errors.js';
import type { AlertRecord, DueChange, DueTimer, RollupRow, SnapshotRecord } from './ports.js';

/** Actor-to-actor messages in columns, like events. */
export interface MessageBatch {
  n: number;
  kg: number[];
  kind: number[];
  tenant: string[];
  id: string[];
  body: unknown[];
  fromKind: number[];
  fromId: string[];
}

export interface HostInit {
  hostId: number;
  generation: number;
  keyGroupCount: number;
  /** Key groups this host owns, as [from, to) ranges. */
  ranges: [number, number][];
  actorModules: string[];
  actorConfig: unknown;
  kinds: string[];
  idleAfterMs: number;
  passivationSweepMs: number;
  snapshotIntervalMs: number;
  mailboxLimit: number;
  maxParkedEvents: number;
  timerTickMs: number;
}

export type ToHost =
  | { t: 'events'; batch: EventBatch; lastSeq: number }
  | { t: 'messages'; batch: MessageBatch }
  | { t: 'loaded'; req: number; records: (SnapshotRecord | undefined)[]; error?: WireError }
  | { t: 'committed'; req: number; error?: WireError }
  /** The due-index entries of the key groups a `due` asked for (empty with `error`). */
  | { t: 'dueLoaded'; req: number; timers: DueTimer[]; error?: WireError }
  /**
   * Rescale, on the data port so it is ordered after every event already sent: apply them,
   * passivate the actors of these key groups (snapshot first), commit, then stop owning them.
   */
  | { t: 'release'; req: number; ranges: [number, number][]; epoch: number }
  /**
   * Start owning these key groups (their actors activate from the snapshots just committed).
   * `replaying`: their log replay follows on this port, so they are not checkpointed until a
   * `replayed` for them has been reached with everything before it applied (a checkpoint taken
   * mid-replay would claim events that are in no snapshot yet).
   */
  | { t: 'acquire'; ranges: [number, number][]; epoch: number; replaying?: boolean }
  /** Ordered after the replay of key groups acquired with `replaying`: they may be checkpointed. */
  | { t: 'replayed'; ranges: [number, number][] };

export interface ActorFailure {
  tenant: string;
  kind: string;
  id: string;
  seq: number;
  error: WireError;
}

/** Counters since the previous report, and gauges as of now. */
export interface HostStats {
  events: number;
  messages: number;
  timers: number;
  activations: number;
  passivations: number;
  rejected: number;
  active: number;
  parked: number;
  wheel: number;
}

export type FromHost =
  | {
      t: 'report';
      /** Every event with sequence <= appliedSeq that was sent to this host is applied. */
      appliedSeq: number;
      stats: HostStats;
      alerts: AlertRecord[] | null;
      rollups: RollupRow[] | null;
      messages: MessageBatch | null;
      failures: ActorFailure[] | null;
      /** Events an actor refused or recognised as duplicates, in columns. */
      outcomes: Outcomes | null;
    }
  | { t: 'load'; req: number; keys: string[] }
  | { t: 'released'; req: number; actors: number }
  | {
      t: 'commit';
      req: number;
      snapshots: SnapshotRecord[];
      checkpointSeq: number;
      ranges: [number, number][];
      /** The written actors' due-index entries (SnapshotCommit.due), one per snapshot. */
      due?: DueChange[];
    }
  /** Asks for the due index of key groups this host just restored or took over. */
  | { t: 'due'; req: number; ranges: [number, number][] };

/** Per-event results other than "applied": `code` is `duplicate` or a rejection code. */
export interface Outcomes {
  n: number;
  seq: number[];
  code: string[];
  message: string[];
}

export const DUPLICATE = 'duplicate';

export function emptyMessageBatch(): MessageBatch {
  return { n: 0, kg: [], kind: [], tenant: [], id: [], body: [], fromKind: [], fromId: [] };
}
