// One shard host as the main thread sees it: the worker's ports and task, its generation (bumped
// on each replacement) and its life-cycle state. Its submission lane lives in the ledger.
import type { MessagePort } from 'node:worker_threads';
import type * as Comlink from 'comlink';
import type { EventBatch } from './batch.js';
import type { HostControl } from './host-worker.js';
import { hostId, type HostId } from './ids.js';
import type { LaneTarget } from './ledger.js';
import type { ToHost } from './protocol.js';

export const HostState = { starting: 0, live: 1, restoring: 2, stopped: 3 } as const;
export type HostState = (typeof HostState)[keyof typeof HostState];

export class HostSlot implements LaneTarget {
  readonly id: HostId;
  generation = 0;
  state: HostState = HostState.starting;
  port: MessagePort | null = null;
  control: Comlink.Remote<HostControl> | null = null;
  controlPort: MessagePort | null = null;
  task: Promise<unknown> | null = null;
  /** Checkpoint sequence of its last successful commit. */
  committedSeq = 0;

  constructor(id: number) {
    this.id = hostId(id);
  }

  live(): boolean {
    return this.state === HostState.live;
  }

  /** Being restored (started, or replaced after dying) and not yet caught up. */
  restoring(): boolean {
    return this.state !== HostState.live && this.state !== HostState.stopped;
  }

  post(batch: EventBatch, lastSeq: number): boolean {
    if (!this.port) return false;
    this.port.postMessage({ t: 'events', batch, lastSeq } satisfies ToHost);
    return true;
  }

  /** A message on the data port, ordered after every batch already posted; dropped without one. */
  send(msg: ToHost): void {
    this.port?.postMessage(msg);
  }
}
