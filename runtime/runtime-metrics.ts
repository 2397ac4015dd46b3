// Every metric the main-thread runtime registers, in one place (docs/runbook.md explains each;
// test/deploy/runbook.test.ts checks that it does).
import type { CounterHandle, GaugeHandle, HistogramHandle, Metrics } from './ports.js';

export interface RuntimeMetrics {
  events: CounterHandle;
  activations: CounterHandle;
  passivations: CounterHandle;
  failures: CounterHandle;
  rejected: CounterHandle;
  restarts: CounterHandle;
  trimFailures: CounterHandle;
  fenced: CounterHandle;
  fencedCommits: CounterHandle;
  rescales: CounterHandle;
  rescalePause: HistogramHandle;
  commitSeconds: HistogramHandle;
  commitBytes: HistogramHandle;
  snapshotsWritten: CounterHandle;
  restoreSeconds: HistogramHandle;
  alerts: CounterHandle;
  active: GaugeHandle;
  parked: GaugeHandle;
  logEvents: GaugeHandle;
}

export function registerRuntimeMetrics(mt: Metrics): RuntimeMetrics {
  return {
    events: mt.counter('vigil_actor_events_total', 'Events applied to actor state', ['host']),
    activations: mt.counter('vigil_actor_activations_total', 'Actor activations', ['host']),
    passivations: mt.counter('vigil_actor_passivations_total', 'Actor passivations', ['host']),
    failures: mt.counter('vigil_actor_failures_total', 'Actors whose handler threw', ['kind']),
    rejected: mt.counter('vigil_actor_rejected_total', 'Events refused by a failed actor', ['host']),
    restarts: mt.counter('vigil_host_restarts_total', 'Shard hosts replaced after dying', ['host']),
    trimFailures: mt.counter('vigil_log_trim_failures_total', 'Event log trims that failed (retried at the next checkpoint)'),
    fenced: mt.counter('vigil_fenced_writes_total', 'Snapshots refused because their key group belongs to another host'),
    fencedCommits: mt.counter('vigil_fenced_commits_total', 'Commits the snapshot store refused because another node fenced their key groups (several nodes)'),
    rescales: mt.counter('vigil_rescales_total', 'Live shard rescales completed'),
    commitSeconds: mt.histogram('vigil_snapshot_commit_seconds', 'Snapshot commit (dirty actors + checkpoints) duration', [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]),
    commitBytes: mt.histogram('vigil_snapshot_commit_bytes', 'Encoded state written per snapshot commit', [1e3, 1e4, 1e5, 1e6, 1e7, 1e8]),
    snapshotsWritten: mt.counter('vigil_snapshots_written_total', 'Actor snapshots written'),
    restoreSeconds: mt.histogram('vigil_host_restore_seconds', 'From a host dying to its replacement restored and replayed', [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    alerts: mt.counter('vigil_alerts_total', 'Alert changes emitted by actors', ['level', 'state']),
    rescalePause: mt.histogram('vigil_rescale_pause_seconds', 'How long moving key groups held their events during a rescale', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
    active: mt.gauge('vigil_actors_active', 'Resident actors', ['host']),
    parked: mt.gauge('vigil_mailbox_parked', 'Messages parked in mailboxes of activating actors', ['host']),
    logEvents: mt.gauge('vigil_log_retained_events', 'Events kept in the log for replay'),
  };
}
