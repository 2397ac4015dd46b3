// The composition root: configuration picks an adapter for every port, here and nowhere else.
import { clinicalActorsModule, clinicalFrameDecoderModule } from '../../actors/index.js';
import { runtimeAlertActions } from './alert-actions.js';
import type { IngestNotes } from '../../actors/frame-decoder.js';
import { loadTenantConfigDir, registryFromConfig } from '../../actors/contracts/load.js';
import { ContractRegistry } from '../../actors/contracts/registry.js';
import { IngestService, type IngestMetrics } from '../../actors/ingest.js';
import { systemClock } from '../../runtime/clock.js';
import { ActorRuntime, type RuntimePorts } from '../../runtime/runtime.js';
import { MemoryEventLog, MemoryRollupSink, MemorySnapshotStore } from '../memory/index.js';
import { PrometheusMetrics } from '../prometheus/metrics.js';
import { startServer, type RunningServer } from '../uws/server.js';
import { AlertHub } from '../http/alert-hub.js';
import { randomToken, TokenBook } from '../http/auth.js';
import { checkStoreUrls, ConfigError, type NodeConfig } from './config.js';
import { JetStreamEventLog } from '../nats/event-log.js';
import { RedisSnapshotStore } from '../redis/snapshot-store.js';
import { RedisReadModel } from '../redis/read-model.js';
import { MemoryReadModel } from '../memory/index.js';
import { connect, type NatsConnection } from 'nats';
import { followClusterAlerts, NatsAlertSink, NatsDeadLetters, NatsIngestFeed } from '../nats/feeds.js';
import type { EventLog, SnapshotStore } from '../../runtime/ports.js';
import { liveReads, PatientDirectory } from '../http/reads.js';
import { CodeCounts, createOpsApi, FailedActorLog, FreshnessTracker, OpsHistory, RecentAlertLog } from '../http/ops.js';
import { FanoutAlertSink, startAnalytics } from './analytics.js';
import { analyticsReads } from './analytics-reads.js';
import { createDlqApi } from './dlq.js';
import type { AuditRow } from '../http/audit.js';
import type { AlertSink } from '../../runtime/ports.js';
import type { EventBatch } from '../../runtime/batch.js';
import { ClusterCoordinator } from '../../runtime/cluster.js';
import { keyGroupOf } from '../../runtime/keygroups.js';
import type { AcceptedEvents, RuntimeEvent } from '../../runtime/runtime.js';
import { JetStreamLeaseStore } from '../nats/leases.js';
import { forwardActorRead } from '../http/forward.js';

/** The events of a batch read from the log, as the directory notes them. */
function tailEvents(b: EventBatch, kinds: readonly string[]): RuntimeEvent[] {
  const out: RuntimeEvent[] = new Array<RuntimeEvent>(b.n);
  for (let i = 0; i < b.n; i++) out[i] = { tenant: b.tenant[i]!, kind: kinds[b.kind[i]!]!, id: b.id[i]!, time: b.time[i]!, body: b.body[i] };
  return out;
}

export interface VigilNode {
  readonly port: number;
  readonly url: string;
  readonly runtime: ActorRuntime;
  readonly metrics: PrometheusMetrics;
  readonly alerts: AlertHub;
  /** Tokens generated at start (only when not configured): printed once, never stored. */
  readonly generatedTokens: { demo?: string; admin?: string };
  close(): Promise<void>;
}

export interface NodeOptions {
  log?: (line: string) => void;
}

export async function startNode(config: NodeConfig, opts: NodeOptions = {}): Promise<VigilNode> {
  const log = opts.log ?? ((l: string) => console.log(l));
  checkStoreUrls(config);
  if (Boolean(config.natsUrl) !== Boolean(config.redisUrl)) {
    // Durable state is the log and the snapshots together: either alone loses data on a crash.
    throw new ConfigError('durable mode needs both VIGIL_NATS_URL and VIGIL_REDIS_URL');
  }
  const clustered = config.nodeId !== undefined;
  if (clustered && !config.natsUrl) throw new ConfigError('VIGIL_NODE_ID (several nodes) needs durable mode: set VIGIL_NATS_URL and VIGIL_REDIS_URL');
  // Nodes forward reads to each other with the admin token, so they must share one.
  if (clustered && !config.adminToken) throw new ConfigError('VIGIL_NODE_ID (several nodes) needs VIGIL_ADMIN_TOKEN, the same on every node');
  const metrics = new PrometheusMetrics();
  const tokens = new TokenBook();
  const generated: { demo?: string; admin?: string } = {};

  let registry: ContractRegistry;
  const tenants = new Set<string>();
  if (config.configDir) {
    const loaded = await loadTenantConfigDir(config.configDir);
    registry = registryFromConfig(loaded);
    for (const t of Object.keys(loaded.tenants)) tenants.add(t);
    for (const [tenant, t] of Object.entries(loaded.tenants)) for (const tok of t.tokens) tokens.addTenantToken(tenant, tok);
    log(`tenants: ${Object.keys(loaded.tenants).join(', ')} (from ${config.configDir})`);
  } else {
    registry = new ContractRegistry();
    tenants.add('demo');
    const demo = config.demoToken ?? (generated.demo = randomToken());
    tokens.addTenantToken('demo', demo);
  }
  if (config.demoToken && config.configDir) tokens.addTenantToken('demo', config.demoToken);
  tokens.addAdminToken(config.adminToken ?? (generated.admin = randomToken()));
  // Ops page: newest event time per tenant (configured tenants listed before their first event).
  const freshness = new FreshnessTracker();
  for (const t of tenants) freshness.expect(t);
  // Ops page: actors whose handler threw, and rejected events (dead letters) by code.
  const opsFailed = new FailedActorLog();
  const opsDeadLetters = new CodeCounts();

  const durable = Boolean(config.natsUrl && config.redisUrl);
  // In durable mode NATS is also a way in (partner feeds) and out (alerts, dead letters).
  const nc: NatsConnection | null = durable
    ? await connect({ servers: config.natsUrl!, name: `vigil-${config.cluster}-feeds`, maxReconnectAttempts: -1 })
    : null;
  // The hub forwards every batch downstream: the ops page's all-tenant log sees each, then NATS.
  const analytics = config.analytics === 'off' ? null : await startAnalytics(config, metrics, log);
  const downstream: AlertSink[] = [];
  if (nc) downstream.push(new NatsAlertSink(nc, config.cluster));
  if (analytics) downstream.push(analytics.alerts);
  const opsAlerts = new RecentAlertLog(200, downstream.length === 0 ? null : downstream.length === 1 ? downstream[0]! : new FanoutAlertSink(downstream));
  // Patient directory and open/recent alerts: in Redis beside the snapshots in durable mode, so
  // they survive restarts and every node of a cluster serves the same lists.
  const readModel = durable
    ? new RedisReadModel({ client: config.redisUrl!, prefix: `vigil:{${config.cluster}}:` })
    : new MemoryReadModel();
  let readModelFailures = 0;
  let readModelLoggedAt = -Infinity;
  const readModelFailed = (err: Error): void => {
    readModelFailures++;
    // At most one line per 10 s while the store is down: the writes are retried.
    if (Date.now() - readModelLoggedAt < 10_000) return;
    readModelLoggedAt = Date.now();
    log(`read model: ${readModelFailures} write(s) failed so far; latest: ${err.message}`);
  };
  // Several nodes: the owner of an actor applies its alerts to the shared index and sends what
  // was new out (NATS, analytics); the feed this node serves is fed back from NATS with every
  // node's alerts, and its reads come from the shared index.
  const alertWriter = clustered ? new AlertHub(opsAlerts, { index: readModel, onError: readModelFailed }) : null;
  const alerts = clustered
    ? new AlertHub(null, { index: readModel, writes: false })
    : new AlertHub(opsAlerts, { index: readModel, onError: readModelFailed });
  const alertFollow = clustered ? followClusterAlerts(nc!, config.cluster, alerts) : null;
  const deadLetters = nc ? new NatsDeadLetters(nc, config.cluster) : null;
  let eventLog: EventLog;
  let snapshotStore: SnapshotStore;
  if (durable) {
    eventLog = await JetStreamEventLog.open({ servers: config.natsUrl!, stream: `VIGIL_${config.cluster}`, subjectPrefix: `vigil.${config.cluster}.events` });
    snapshotStore = new RedisSnapshotStore({ client: config.redisUrl!, prefix: `vigil:{${config.cluster}}:` });
    log(`durable mode: JetStream stream VIGIL_${config.cluster} at ${config.natsUrl}, snapshots in Redis at ${config.redisUrl}`);
  } else {
    eventLog = new MemoryEventLog();
    snapshotStore = new MemorySnapshotStore();
  }
  const ports: RuntimePorts = {
    eventLog,
    snapshotStore,
    rollupSink: analytics ? analytics.rollups : new MemoryRollupSink(),
    alertSink: alertWriter ?? alerts,
    clock: systemClock,
    metrics,
  };
  // Several nodes: the coordinator is created once the node listens (it publishes its URL), but
  // the runtime asks it from the start; until then, and without one, these answer "alone".
  let coordinator: ClusterCoordinator | null = null;
  const directory = new PatientDirectory(readModel, readModelFailed);
  const runtime = await ActorRuntime.start(
    {
      actorModules: [clinicalActorsModule()],
      actorConfig: config.clinical,
      shards: config.shards,
      hosts: Math.min(config.hosts, config.shards),
      keyGroups: config.keyGroups,
      ownership: clustered ? 'leased' : 'all',
    },
    ports,
    {
      onActorFailed: (f) => {
        opsFailed.note(f);
        log(`actor failed: ${f.kind} ${f.tenant}/${f.id}: ${f.error.message}`);
      },
      onIngestNotes: (n) => {
        const notes = n as IngestNotes;
        directory.addAll(notes.patients);
        freshness.noteNewest(notes.newest);
      },
      ...(analytics ? { onAccepted: (a: AcceptedEvents) => analytics.accepted(runtime.kinds, a) } : {}),
      onHostRestarted: (i) => log(`shard host ${i.hostId} replaced (generation ${i.generation}) after: ${i.cause.message}; replayed ${i.replayed} events in ${i.ms} ms`),
      ...(clustered
        ? {
            canDeliver: () => coordinator?.canDeliver() ?? false,
            onFenced: (kgs: number[]) => coordinator?.onFenced(kgs),
            onTailError: (e: Error) => log(`cluster: ${e.message}`),
            // Every node reads the whole log, so every node's patient list is the cluster's.
            onTail: (b: EventBatch) => directory.note(tailEvents(b, runtime.kinds)),
          }
        : {}),
    },
  );

  try {
    await runtime.startFrames({
      workers: config.ingestWorkers,
      decoderModule: clinicalFrameDecoderModule(),
      decoderConfig: { configDir: config.configDir, maxFrameEvents: config.maxBatchEvents, maxEventDepth: config.maxEventDepth, maxEventKeys: config.maxEventKeys },
      maxFrameEvents: config.maxBatchEvents,
    });
  } catch (err) {
    await runtime.close();
    throw err;
  }

  // Readiness: durable ports are probed every second (cheap reads with their own deadlines);
  // while one fails, /readyz answers 503 with the reason, so a balancer stops sending here.
  const health = { reasons: [] as string[] };
  const upGauge = metrics.gauge('vigil_port_up', 'Whether each outside dependency answered its last probe', ['port']);
  let probing = false;
  const probe = async (): Promise<void> => {
    if (probing) return;
    probing = true;
    const reasons: string[] = [];
    const check = async (name: string, f: () => Promise<unknown>) => {
      try {
        await f();
        upGauge.set(1, { port: name });
      } catch (err) {
        upGauge.set(0, { port: name });
        reasons.push(`${name}: ${(err as Error).message}`);
      }
    };
    await Promise.all([check('event_log', () => eventLog.head()), check('snapshot_store', () => snapshotStore.checkpoints([0]))]);
    health.reasons = reasons;
    probing = false;
  };
  // The first probe runs before the node listens, so /readyz never says ready unprobed.
  if (durable) await probe();
  const probeTimer = durable ? setInterval(() => void probe(), 1000) : null;
  probeTimer?.unref();
  // Freshness per tenant for Prometheus: seconds since the newest event time each tenant sent.
  const freshnessGauge = metrics.gauge('vigil_freshness_seconds', 'Now minus the newest event time seen, per tenant', ['tenant']);
  const freshnessTimer = setInterval(() => {
    const now = Date.now();
    for (const [tenant, newest] of Object.entries(freshness.snapshot())) if (newest !== null) freshnessGauge.set(Math.max(0, now - newest) / 1000, { tenant });
  }, 1000);
  freshnessTimer.unref();

  const frames = metrics.counter('vigil_ingest_frames_total', 'Frames and HTTP batches received');
  const events = metrics.counter('vigil_ingest_events_total', 'Events received');
  const bytes = metrics.counter('vigil_ingest_bytes_total', 'Payload bytes received');
  const rejections = metrics.counter('vigil_ingest_rejected_total', 'Events rejected, by code', ['code']);
  const accepted = metrics.counter('vigil_ingest_accepted_total', 'Events accepted and applied');
  const dups = metrics.counter('vigil_dedup_hits_total', 'Events dropped as duplicates of an applied event id');
  const ackLatency = metrics.histogram('vigil_ingest_ack_latency_seconds', 'From frame received to ack sent',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  let eventsAccepted = 0; // monotonic, for the ops page's events/s
  const ingestMetrics: IngestMetrics = {
    onFrame: (n, b) => {
      frames.inc();
      events.inc(n);
      bytes.inc(b);
    },
    onRejected: (code) => {
      rejections.inc(1, { code });
      opsDeadLetters.note(code);
    },
    onAccepted: (n, d) => {
      eventsAccepted += n;
      if (n) accepted.inc(n);
      if (d) dups.inc(d);
    },
  };
  // Ops page: the last 15 minutes in 10-second samples (events/s, ack p99, dead letters).
  const opsHistory = new OpsHistory({ eventsTotal: () => eventsAccepted, deadLetters: opsDeadLetters });
  opsHistory.start();
  const dlqCount = metrics.counter('vigil_dlq_events_total', 'Rejected events sent to the dead-letter subject');
  const ingest = new IngestService(registry, runtime, systemClock, ingestMetrics, (evs, source) => {
    directory.note(evs);
    freshness.note(evs);
    analytics?.archive(evs, source);
  },
    deadLetters || analytics ? (letters) => {
      dlqCount.inc(letters.length);
      deadLetters?.publish(letters);
      analytics?.deadLetters(letters);
    } : undefined);
  const feed = nc ? new NatsIngestFeed(nc, config.cluster, ingest, (t) => tenants.has(t)) : null;

  let server: RunningServer;
  try {
    server = await startServer({
      host: config.host,
      port: config.port,
      log,
      maxFrameBytes: config.maxFrameBytes,
      maxBatchEvents: config.maxBatchEvents,
      credit: config.credit,
      idleTimeoutSec: config.idleTimeoutSec,
      ingest,
      tokens,
      alerts,
      alertActions: runtimeAlertActions(runtime, config.clinical, clustered),
      reads: liveReads(runtime, directory, () => Date.now(), clustered ? {
        forward: (kind, tenant, id) => {
          const owner = coordinator?.ownerOf(keyGroupOf(tenant, kind, id, runtime.options.keyGroups)) ?? null;
          return forwardActorRead(owner, kind, tenant, id, config.adminToken!);
        },
        status: () => coordinator?.status() ?? null,
      } : undefined),
      metricsText: async () => ({ contentType: metrics.contentType, text: await metrics.text() }),
      ready: () => {
        const restoring = runtime.restoring();
        let reasons = restoring.length > 0 ? [...health.reasons, `restoring shard hosts ${restoring.join(', ')}`] : health.reasons;
        if (clustered && coordinator === null) reasons = [...reasons, `joining cluster ${config.cluster}`];
        return { ready: reasons.length === 0, reasons };
      },
      onAckLatency: (ms) => {
        ackLatency.observe(ms / 1000);
        opsHistory.noteAck(ms);
      },
      ...(analytics ? { analytics: analyticsReads(analytics.store), audit: (r: AuditRow) => analytics.audit(r) } : {}),
      ...(analytics ? {
        dlq: createDlqApi({
          store: analytics.store, ingest, maxBatchEvents: config.maxBatchEvents, maxFrameBytes: config.maxFrameBytes, audit: (r: AuditRow) => analytics.audit(r),
        }),
      } : {}),
      ops: createOpsApi({
        runtime,
        // From the alert index (Redis when durable): survives restarts and, with several nodes,
        // lists every node's alerts.
        recentAlerts: (limit) => alerts.recentAll(limit),
        eventsTotal: () => eventsAccepted,
        freshness: () => freshness.snapshot(),
        openAlerts: () => alerts.openCounts(),
        history: opsHistory,
        failedActors: opsFailed,
        deadLetters: opsDeadLetters,
      }),
    });
  } catch (err) {
    await runtime.close();
    throw err;
  }
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${server.port}`;
  let leases: JetStreamLeaseStore | null = null;
  if (clustered) {
    try {
      leases = await JetStreamLeaseStore.open({ nc: nc!, bucket: `VIGIL_${config.cluster}_leases`, ttlMs: config.leaseMs });
      coordinator = await ClusterCoordinator.start(
        runtime,
        { leases, eventLog, snapshotStore, clock: systemClock, metrics },
        { nodeId: config.nodeId!, url: config.advertiseUrl ?? url, slots: config.clusterSlots },
        log,
      );
      log(`cluster ${config.cluster}: node ${config.nodeId} joined (${coordinator.status().members.length} members, ${coordinator.status().owned.length} of ${config.clusterSlots} slots here)`);
    } catch (err) {
      server.close();
      await runtime.close();
      await leases?.close();
      throw err;
    }
  }
  return {
    port: server.port,
    url,
    runtime,
    metrics,
    alerts,
    generatedTokens: generated,
    async close() {
      if (probeTimer) clearInterval(probeTimer);
      clearInterval(freshnessTimer);
      opsHistory.stop();
      // A graceful leave hands the slots over before the hosts stop.
      await coordinator?.close();
      server.close();
      await runtime.close();
      await leases?.close();
      alertFollow?.unsubscribe();
      await alerts.close();
      await alertWriter?.close();
      await directory.flushed();
      await readModel.close();
      await feed?.close();
      await nc?.drain();
      await eventLog.close();
      await snapshotStore.close();
      await analytics?.close();
    },
  };
}
