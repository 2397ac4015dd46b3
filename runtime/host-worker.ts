// The Piscina task that is a shard host: it starts, owns its shards, and returns only when it is
// drained or stopped. One such task per worker thread (DESIGN.md decision 3).
import { getHeapStatistics } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { loadActorModules } from './actor.js';
import { systemClock } from './clock.js';
import { portEndpoint } from './endpoint.js';
import type { FromHost, HostInit, ToHost } from './protocol.js';
import { ShardHost, type ActorInspection } from './shard-host.js';

export interface HostTask {
  init: HostInit;
  data: MessagePort;
  control: MessagePort;
}

/** What the main thread may ask a host over the comlink control port. */
export interface HostControl {
  inspect(kind: string, tenant: string, id: string): ActorInspection | null;
  resetActor(kind: string, tenant: string, id: string): boolean;
  snapshotNow(): Promise<void>;
  counts(): { active: number; parked: number; appliedSeq: number; timers: number; inbox: number };
  drain(): Promise<void>;
  /** This worker's V8 heap, after a full GC when the process runs with --expose-gc. */
  memory(): { heapUsed: number; gcRan: boolean };
  /** Test hook for supervision: the worker dies the way a native crash or a bug would. */
  crash(how: 'exit' | 'throw'): void;
}

export default async function hostShards(task: HostTask): Promise<{ hostId: number }> {
  const { init, data, control } = task;
  const defs = await loadActorModules(init.actorModules, init.actorConfig);
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const clock = systemClock;
  const host = new ShardHost(init, defs, { clock, post: (msg: FromHost) => data.postMessage(msg) });
  data.on('message', (msg: ToHost) => host.receive(msg));
  const api: HostControl = {
    inspect: (kind, tenant, id) => host.inspect(kind, tenant, id),
    resetActor: (kind, tenant, id) => host.resetActor(kind, tenant, id),
    snapshotNow: () => host.snapshotNow(),
    counts: () => host.counts(),
    memory() {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      return { heapUsed: getHeapStatistics().used_heap_size, gcRan: gc !== undefined };
    },
    async drain() {
      await host.drain();
      // Let the final reports leave before the task returns and the ports close.
      clock.setTimeout(finish, 0);
    },
    crash(how) {
      if (how === 'exit') process.exit(70);
      // Thrown outside the comlink call, so nothing catches it: the worker dies.
      clock.setTimeout(() => {
        throw new Error('shard host crash requested');
      }, 0);
    },
  };
  Comlink.expose(api, portEndpoint(control));
  await done;
  data.close();
  control.close();
  return { hostId: init.hostId };
}
