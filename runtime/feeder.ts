// How a runtime's hosts get their events: the one place the ownership mode matters.
//
// 'all' (one node, DirectFeeder): this runtime owns every key group; each lane sends its batch
// to its host right after appending it, producers are acked once their events are applied, and
// this node trims the log behind its hosts' checkpoints.
// 'leased' (several nodes, LeasedFeeder in leased-feeder.ts): this runtime owns the key groups it
// holds leases for; a tail reads the shared log and feeds every host, producers are acked once
// the log has their events, commits are fenced, and the cluster trims the shared log.
import { emptyBatch } from './batch.js';
import { ErrorCode, VigilError } from './errors.js';
import type { HostSlot } from './host-slot.js';
import { AckAt, type SubmissionLedger } from './ledger.js';
import type { RuntimeOptions } from './options.js';
import type { Placement } from './placement.js';
import type { RuntimeHooks, RuntimePorts } from './runtime-api.js';
import type { SnapshotBroker } from './snapshot-broker.js';
import type { HostSupervisor, RestoreGate } from './supervisor.js';

export interface Feeder extends RestoreGate {
  /** 'leased': how far the log has been read and routed to this node's hosts. */
  readonly position: number;
  /** Before the hosts start: the log's head now. */
  init(head: number): void;
  /** Once every host is live. */
  start(): void;
  /** After each scheduled flush (idle hosts may need to hear how far the log went). */
  heartbeat(): void;
  /** A batch was appended and acked ('leased': the tail may read it now). */
  appended(): void;
  /** A host committed a checkpoint. */
  committed(): void;
  /** Work the feed itself still has to deliver (`settle` waits for it). */
  busy(): boolean;
  /** Whether this node may answer for the key groups it owns right now. */
  trusted(): boolean;
  /** Why a live rescale is refused, or null. */
  rescaleRefusal(): VigilError | null;
  acquire(keyGroups: readonly number[], token: number | readonly number[]): Promise<void>;
  release(keyGroups: readonly number[], timeoutMs: number): Promise<void>;
  drop(keyGroups: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

export interface FeederDeps {
  options: RuntimeOptions;
  ports: RuntimePorts;
  hooks: RuntimeHooks;
  ledger: SubmissionLedger;
  placement: Placement;
  hosts: readonly HostSlot[];
  supervisor: HostSupervisor;
  broker: SnapshotBroker;
}

/** A feeder class and what follows from its mode before any instance exists. */
export interface FeederClass {
  /** When a producer is acked (see AckAt). */
  readonly ackAt: AckAt;
  /** Whether commits carry fencing tokens (several nodes). */
  readonly fencesCommits: boolean;
  /** Whether the runtime owns every key group from the start. */
  readonly ownsAll: boolean;
  new (deps: FeederDeps): Feeder;
}

export function requireLeased(what: string): never {
  throw new VigilError(ErrorCode.InvalidOption, `${what} needs ownership 'leased'`);
}

/** One node: hosts are fed from the appends themselves. */
export class DirectFeeder implements Feeder {
  static readonly ackAt = AckAt.applied;
  static readonly fencesCommits = false;
  static readonly ownsAll = true;
  private readonly d: FeederDeps;
  private head = 0;
  private readonly lastHeartbeatAt: number[];
  private cancelMaintenance: (() => void) | null = null;
  private stopped = false;

  constructor(deps: FeederDeps) {
    this.d = deps;
    this.lastHeartbeatAt = deps.hosts.map(() => 0);
  }

  get position(): number {
    return this.head;
  }

  init(head: number): void {
    this.head = head;
  }

  start(): void {
    this.maintenance();
  }

  private readonly maintenance = (): void => {
    if (this.stopped) return;
    this.heartbeat();
    this.cancelMaintenance = this.d.ports.clock.setTimeout(this.maintenance, Math.max(50, this.d.options.snapshotIntervalMs / 2));
  };

  /**
   * An idle host hears the log head now and then, so its checkpoints advance and the log can
   * be trimmed past events that were never its own. Called on flush and on a slow timer.
   */
  heartbeat(): void {
    const { ledger, hosts } = this.d;
    const now = this.d.ports.clock.now();
    for (const host of hosts) {
      const h = host.id;
      if (host.live() && ledger.building(h) === 0 && ledger.appending(h) === 0 && ledger.inFlight(h) === 0 &&
        ledger.lastSentSeq(h) < ledger.head && now - this.lastHeartbeatAt[h]! > 100) {
        this.lastHeartbeatAt[h] = now;
        ledger.send(h, emptyBatch(0), ledger.head);
      }
    }
  }

  appended(): void {}

  committed(): void {
    this.d.broker.trim();
  }

  replayUntil(): number {
    return Infinity;
  }

  serialize(op: () => Promise<void>): Promise<void> {
    return op();
  }

  busy(): boolean {
    return false;
  }

  trusted(): boolean {
    return true;
  }

  rescaleRefusal(): VigilError | null {
    return null;
  }

  acquire(): Promise<void> {
    return requireLeased('acquireKeyGroups');
  }

  release(): Promise<void> {
    return requireLeased('releaseKeyGroups');
  }

  drop(): Promise<void> {
    return requireLeased('dropKeyGroups');
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.cancelMaintenance?.();
  }
}
