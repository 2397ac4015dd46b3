import { availableParallelism } from 'node:os';
import { ErrorCode, VigilError } from './errors.js';

/** Every runtime option with its default, in one place; validated once by `resolveOptions`. */
export const kDefaultRuntimeOptions = {
  /** Fixed for the life of a cluster: key groups are persisted in snapshots and checkpoints. */
  keyGroups: 4096,
  shards: 2,
  /** Worker threads hosting the shards; shard s lives on host s % hosts. */
  hosts: Math.max(1, Math.min(2, availableParallelism())),
  /** URLs of modules exporting `actors` (defineActor results); imported by every host. */
  actorModules: [] as string[],
  /** Plain data handed to each actor module's `createActors(config)`, on every host. */
  actorConfig: {} as unknown,
  /** A host's batch is flushed inline when it reaches this many events, else once per tick. */
  hostBatchEvents: 2048,
  /** Under load, a host's batch waits up to this long to fill (see SubmissionLedger.scheduleFlush). */
  coalesceMs: 0,
  /** Batches sent to one host and not yet applied; beyond it `submit` refuses (backpressure). */
  maxInFlightBatches: 64,
  /** How often each host commits dirty snapshots and its key-group checkpoints. */
  snapshotIntervalMs: 5000,
  /** Default idle time before passivation, for kinds that do not set `idleAfterMs`. */
  idleAfterMs: 120_000,
  passivationSweepMs: 1000,
  /** Per actor: messages parked while it activates; a full one pauses its host's intake. */
  mailboxLimit: 4096,
  /** Per host: parked messages across all activating actors before intake pauses. */
  maxParkedEvents: 200_000,
  /** Processing-time timer wheel resolution. */
  timerTickMs: 10,
  /** Embedded log: events kept for replay before `submit` refuses until checkpoints catch up. */
  maxLogEvents: 4_000_000,
  /** How long `close` waits for hosts to drain. */
  drainTimeoutMs: 30_000,
  /**
   * 'all': this runtime owns every key group and sends events to its hosts as it appends them
   * (one node). 'leased': one node of several: it owns only the key groups it is given with
   * `acquireKeyGroups` (from leases), and its hosts are fed by tailing the shared log, so an
   * event appended by any node reaches its owner (DESIGN.md decision 2).
   */
  ownership: 'all' as 'all' | 'leased',
  /** 'leased' only: how long the log tail waits before polling again when it found nothing. */
  tailIdleMs: 5,
};

export type RuntimeOptions = typeof kDefaultRuntimeOptions;

const positiveInts = [
  'keyGroups', 'shards', 'hosts', 'hostBatchEvents', 'maxInFlightBatches', 'snapshotIntervalMs',
  'idleAfterMs', 'passivationSweepMs', 'mailboxLimit', 'maxParkedEvents', 'timerTickMs', 'maxLogEvents',
  'drainTimeoutMs', 'tailIdleMs',
] as const;

function invalid(name: string, rule: string, got: unknown): never {
  throw new VigilError(ErrorCode.InvalidOption, `options.${name} ${rule}; got ${JSON.stringify(got)}`);
}

export function resolveOptions(input: Partial<RuntimeOptions>): RuntimeOptions {
  for (const k of Object.keys(input)) {
    // Own keys only: `in` would accept names every object inherits (toString, constructor).
    if (!Object.hasOwn(kDefaultRuntimeOptions, k)) invalid(k, 'is not a runtime option', (input as Record<string, unknown>)[k]);
  }
  const o: RuntimeOptions = { ...kDefaultRuntimeOptions, ...input };
  for (const k of positiveInts) {
    const v = o[k];
    if (!Number.isSafeInteger(v) || v < 1) invalid(k, 'must be a positive integer', v);
  }
  if (!Number.isSafeInteger(o.coalesceMs) || o.coalesceMs < 0) invalid('coalesceMs', 'must be an integer >= 0', o.coalesceMs);
  if (o.keyGroups > 65535) invalid('keyGroups', 'must be at most 65535', o.keyGroups);
  if (o.shards > o.keyGroups) invalid('shards', `must be at most keyGroups (${o.keyGroups})`, o.shards);
  if (o.hosts > o.shards) o.hosts = o.shards;
  if (o.ownership !== 'all' && o.ownership !== 'leased') invalid('ownership', "must be 'all' or 'leased'", o.ownership);
  if (!Array.isArray(o.actorModules) || o.actorModules.length === 0) {
    invalid('actorModules', 'must list at least one module URL', o.actorModules);
  }
  return o;
}
