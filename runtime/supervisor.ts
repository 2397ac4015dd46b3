// Host supervision: each shard host is a long-lived Piscina task. The supervisor starts them,
// restores each from its checkpoints plus a log replay before calling it live, replaces one that
// dies (the same way), hears its reports, and drains them all on close.
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import * as Comlink from 'comlink';
import { emptyBatch, sealBatch, type EventBatch } from './batch.js';
import { portEndpoint } from './endpoint.js';
import { ErrorCode, VigilError, fromWire, toWire } from './errors.js';
import { HostState, type HostSlot } from './host-slot.js';
import type { HostControl, HostTask } from './host-worker.js';
import type { SubmissionLedger } from './ledger.js';
import type { RuntimeOptions } from './options.js';
import type { Placement } from './placement.js';
import type { FromHost, HostInit, HostStats, MessageBatch, ToHost } from './protocol.js';
import { splitByHost, type KgRange, type SplitFilter } from './ranges.js';
import type { RuntimeHooks, RuntimePorts } from './runtime-api.js';
import type { RuntimeMetrics } from './runtime-metrics.js';
import type { SnapshotBroker } from './snapshot-broker.js';

/** How (re)started hosts fit with the way hosts are fed (see feeder.ts). */
export interface RestoreGate {
  /** Log position a (re)started host is replayed up to (Infinity: everything in the log). */
  replayUntil(): number;
  /** Runs a host replacement where it cannot interleave with delivery. */
  serialize(op: () => Promise<void>): Promise<void>;
}

export interface SupervisorDeps {
  options: RuntimeOptions;
  kinds: string[];
  ports: RuntimePorts;
  metrics: RuntimeMetrics;
  hooks: RuntimeHooks;
  hosts: readonly HostSlot[];
  placement: Placement;
  ledger: SubmissionLedger;
  broker: SnapshotBroker;
  gate: RestoreGate;
  /** Actor-to-actor messages a host sent out, to be routed to their hosts. */
  routeMessages: (b: MessageBatch) => void;
}

function workerUrl(): string {
  // Running from TypeScript sources (vitest), the worker must still be compiled JavaScript:
  // a worker thread has no TypeScript loader. `npm run build` produces dist/.
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../dist/runtime/host-worker.js', here).href;
  return new URL('./host-worker.js', here).href;
}

export class HostSupervisor {
  closing = false;
  private readonly d: SupervisorDeps;
  private readonly pool: Piscina;
  private readonly releaseWaiters = new Map<number, (actors: number) => void>();
  private nextReleaseReq = 1;
  // A sink that rejects loses those alerts/rollups downstream (the actors' state keeps them, a
  // replay re-emits them): said in the log, at most once a minute per sink with a count, so a
  // store that is down does not flood it. Bound once: no closure per report.
  private readonly alertSinkFailed = sinkFailureLog('alert sink publish');
  private readonly rollupSinkFailed = sinkFailureLog('rollup sink write');

  constructor(deps: SupervisorDeps) {
    this.d = deps;
    const hosts = deps.options.hosts;
    this.pool = new Piscina({
      filename: workerUrl(),
      minThreads: hosts,
      maxThreads: hosts,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
    });
  }

  /** Starts (cause null) or replaces a host; resolves once its replay is applied and it is live. */
  async launch(host: HostSlot, cause: VigilError | null): Promise<void> {
    const { options, ports, ledger, placement } = this.d;
    const started = ports.clock.now();
    host.generation++;
    host.state = cause ? HostState.restoring : HostState.starting;
    // Sends already chained for the dead host must settle before replay reads the log, or a
    // batch appended during the crash could be neither replayed nor sent.
    await ledger.appended(host.id);
    const data = new MessageChannel();
    const control = new MessageChannel();
    const gen = host.generation;
    const init: HostInit = {
      hostId: host.id,
      generation: gen,
      keyGroupCount: options.keyGroups,
      ranges: placement.ranges[host.id]!,
      actorModules: options.actorModules,
      actorConfig: options.actorConfig,
      kinds: this.d.kinds,
      idleAfterMs: options.idleAfterMs,
      passivationSweepMs: options.passivationSweepMs,
      snapshotIntervalMs: options.snapshotIntervalMs,
      mailboxLimit: options.mailboxLimit,
      maxParkedEvents: options.maxParkedEvents,
      timerTickMs: options.timerTickMs,
    };
    host.port = data.port1;
    host.control = Comlink.wrap<HostControl>(portEndpoint(control.port1));
    host.controlPort = control.port1;
    ledger.restarted(host.id);
    data.port1.on('message', (msg: FromHost) => this.onHostMessage(host, gen, msg));
    const task: HostTask = { init, data: data.port2, control: control.port2 };
    host.task = this.pool.run(task, { transferList: [data.port2, control.port2] as never });
    host.task.then(
      () => {
        if (host.generation === gen && !this.closing) void this.replace(host, new VigilError(ErrorCode.HostDied, `host ${host.id} returned early`));
      },
      (err: unknown) => {
        if (host.generation === gen && !this.closing) {
          void this.replace(host, new VigilError(ErrorCode.HostDied, `host ${host.id} died: ${toWire(err).message}`, { cause: err }));
        }
      },
    );
    const replayed = await this.replay(host, gen, this.d.gate.replayUntil());
    // Restored means applied, not just sent: until the replay is in actor state, reads of these
    // key groups would answer from an older past (or 404), so the host is not live (and the
    // node not ready) before then. Live events for it wait in its builder meanwhile (bounded).
    if (host.generation === gen) await ledger.whenApplied(host.id);
    if (host.generation !== gen) return; // died again while replaying: the newer launch owns it
    host.state = HostState.live;
    // Ordered after the replay: the host's state is restored, so its due timers may wake actors
    // (earlier, one could fire ahead of the replayed events that had re-armed it).
    if (init.ranges.length > 0) host.send({ t: 'replayed', ranges: init.ranges });
    ledger.caughtUp(host.id);
    if (cause) {
      const ms = ports.clock.now() - started;
      this.d.metrics.restarts.inc(1, { host: host.id });
      this.d.metrics.restoreSeconds.observe(ms / 1000);
      this.d.hooks.onHostRestarted?.({ hostId: host.id, generation: gen, cause, replayed, ms });
    }
    if (ledger.building(host.id) > 0) ledger.flush(host.id);
  }

  private async replace(host: HostSlot, cause: VigilError): Promise<void> {
    // Marked first: where replacements wait for their turn (several nodes: between two reads of
    // the tail, so the replay ends exactly where the tail is), nothing is fed to it meanwhile.
    host.state = HostState.restoring;
    await this.d.gate.serialize(() => {
      const old = host.port;
      host.port = null;
      old?.close();
      // Comlink calls waiting on the dead worker never settle; closing its port lets go of them.
      host.controlPort?.close();
      host.controlPort = null;
      return this.launch(host, cause);
    });
  }

  /** Feeds a (re)started host every logged event of its key groups past their checkpoints. */
  private async replay(host: HostSlot, gen: number, until: number): Promise<number> {
    const { ports, placement, ledger } = this.d;
    const kgs = placement.keyGroups[host.id]!;
    const cps = await ports.snapshotStore.checkpoints(kgs);
    const cp = new Float64Array(placement.keyGroupCount);
    let from = Infinity;
    kgs.forEach((kg, i) => {
      cp[kg] = cps[i]!;
      if (cps[i]! < from) from = cps[i]!;
    });
    if (!Number.isFinite(from)) from = 0;
    const filter: SplitFilter = { hostOfKg: placement.hostOfKg, owned: placement.owned, after: cp, until, only: host.id };
    const outs: (EventBatch | null)[] = new Array<EventBatch | null>(placement.hostCount).fill(null);
    let replayed = 0;
    let after = Math.max(from, 0);
    while (after < until) {
      const chunk = await ports.eventLog.read(after, 8192);
      // Replaced again meanwhile: the newer launch replays for itself.
      if (host.generation !== gen) return replayed;
      if (!chunk || chunk.n === 0) break;
      after = splitByHost(chunk, filter, outs);
      const out = outs[host.id];
      replayed += out ? out.n : 0;
      ledger.send(host.id, out ? sealBatch(out) : emptyBatch(0), after);
    }
    if (host.generation !== gen) return replayed;
    ledger.observeHead(after);
    // Tells the host how far the log went even when nothing was left to replay, so producers
    // waiting on events its checkpoint already covered are acked. (`until` is never past the
    // head: the tail only reads what the log has.)
    ledger.send(host.id, emptyBatch(0), Math.min(until, ledger.head));
    return replayed;
  }

  private onHostMessage(host: HostSlot, gen: number, msg: FromHost): void {
    if (host.generation !== gen) return;
    switch (msg.t) {
      case 'report':
        this.onReport(host, msg);
        break;
      case 'load':
        this.d.broker.load(host, msg);
        break;
      case 'released': {
        const w = this.releaseWaiters.get(msg.req);
        this.releaseWaiters.delete(msg.req);
        w?.(msg.actors);
        break;
      }
      case 'commit':
        this.d.broker.commit(host, gen, msg);
        break;
      case 'due':
        this.d.broker.loadDue(host, msg);
        break;
    }
  }

  private onReport(host: HostSlot, r: Extract<FromHost, { t: 'report' }>): void {
    const { metrics: m, ports, hooks } = this.d;
    const s: HostStats = r.stats;
    const label = { host: host.id };
    if (s.events) m.events.inc(s.events, label);
    if (s.activations) m.activations.inc(s.activations, label);
    if (s.passivations) m.passivations.inc(s.passivations, label);
    if (s.rejected) m.rejected.inc(s.rejected, label);
    m.active.set(s.active, label);
    m.parked.set(s.parked, label);
    if (r.alerts) {
      for (const a of r.alerts) m.alerts.inc(1, { level: a.level, state: a.state });
      void ports.alertSink.publish(r.alerts).catch(this.alertSinkFailed);
    }
    if (r.rollups) void ports.rollupSink.write(r.rollups).catch(this.rollupSinkFailed);
    if (r.messages) this.d.routeMessages(r.messages);
    if (r.failures) {
      for (const f of r.failures) {
        m.failures.inc(1, { kind: f.kind });
        // Rebuilt on arrival: the hook gets a VigilError (code, message, stack here), not the
        // plain object that crossed the thread.
        hooks.onActorFailed?.({ ...f, error: fromWire(f.error) });
      }
    }
    if (r.outcomes) this.d.ledger.outcomes(host.id, r.outcomes);
    this.d.ledger.applied(host.id, r.appliedSeq);
  }

  /**
   * Asks a host to apply what it has, passivate the actors of `ranges` (snapshot first), commit
   * and let them go; resolves with how many actors it passivated. On the data port, so it is
   * ordered after every event already sent.
   */
  release(host: HostSlot, ranges: KgRange[], epoch: number): Promise<number> {
    return new Promise((resolve) => {
      const req = this.nextReleaseReq++;
      this.releaseWaiters.set(req, resolve);
      host.port!.postMessage({ t: 'release', req, ranges, epoch } satisfies ToHost);
    });
  }

  /** Drains every host (each passivates its actors with a final snapshot), then stops them. */
  async close(): Promise<void> {
    const { clock } = this.d.ports;
    const drains = this.d.hosts.map(async (h) => {
      const ctl = h.control;
      if (!ctl) return;
      const timer = { cancel: (): void => undefined };
      const timeout = new Promise<void>((r) => (timer.cancel = clock.setTimeout(r, this.d.options.drainTimeoutMs)));
      // A drain that fails ends like one that times out: the host stops either way, and its
      // actors' last snapshots are what replay starts from on the next run (nothing lost).
      await Promise.race([ctl.drain().catch(() => undefined), timeout]);
      timer.cancel();
      ctl[Comlink.releaseProxy]();
      h.state = HostState.stopped;
    });
    await Promise.all(drains);
    await Promise.allSettled(this.d.hosts.map((h) => h.task));
    for (const h of this.d.hosts) {
      h.port?.close();
      h.controlPort?.close();
    }
    await this.pool.destroy();
  }
}

const SINK_LOG_EVERY_MS = 60_000;

/** A rejection handler for one sink: logs the first failure, then at most one line a minute with how many followed. */
function sinkFailureLog(what: string): (err: unknown) => void {
  let lastAt = -Infinity;
  let since = 0;
  return (err) => {
    since++;
    const now = Date.now();
    if (now - lastAt < SINK_LOG_EVERY_MS) return;
    console.error(`runtime: ${what} failed${since > 1 ? ` (${since} times since the last report)` : ''}: ${toWire(err).message}`);
    lastAt = now;
    since = 0;
  };
}
