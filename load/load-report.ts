// The `vigil load` report: one JSON shape for every scenario (keys are always present, whatever
// the mix), read by the HTML renderer and the CI gate. `eventsPerSecond` and `latencyMs`
// {p50, p90, p99, max} have the same meaning and keys as in `vigil bench`'s per-run results.

export interface LatencyStats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface TimelinePoint {
  /** Seconds since the start of the schedule (bucket [t, t+1)). */
  t: number;
  /** Events put on the wire in this second. */
  sent: number;
  /** Events whose frame was acked in this second, and how the acks split them. */
  acked: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Frames that were due in this second but had to wait for credit (sent late, not dropped). */
  delayedFrames: number;
  /** Ack latency (from the intended send time) of the frames acked in this second; null when none. */
  latencyMs: { p50: number; p90: number; p99: number; max: number } | null;
}

export interface OracleActor {
  kind: 'patient' | 'procedure';
  id: string;
  /** Distinct valid, non-late events of this actor acked as accepted. */
  accepted: number;
  /** Their event ids: `${oracle.eventIdPrefix}${n}` for each n (complete when `oracle.eventIdsComplete`). */
  eventIds: number[];
}

/** The settings of a run, as the report records them (no token). LoadOptions extends this. */
export interface LoadRunSettings {
  url: string;
  tenant: string;
  rate: number;
  duration: number;
  connections: number;
  batch: number;
  patients: number;
  procedures: number;
  mix: { telemetry: number; vitals: number; biometric: number };
  late: number;
  duplicate: number;
  invalid: number;
  seed: number;
  lateByMs: number;
  drainSeconds: number;
}

export interface LoadReport {
  report: 'vigil load';
  version: 1;
  scenario: { name: string; description: string; file: string | null };
  options: LoadRunSettings;
  run: { id: string; startedAt: string; finishedAt: string; node: string; elapsedSeconds: number; drainTimedOut: boolean };
  frames: {
    planned: number;
    sent: number;
    acked: number;
    /** Due while the connection's credit was used up: queued and sent late (latency counts the wait). */
    delayed: number;
    /** Still queued when the drain deadline passed, or whose connection had closed. */
    unsent: number;
    /** Sent and never acked. */
    unacked: number;
    /** Acked with a frame-level rejection (index null): none of their events were taken. */
    rejected: number;
  };
  events: { sent: number; acked: number; accepted: number; duplicates: number; rejected: number };
  /** Acked events per second over the schedule's duration (bench's key). */
  eventsPerSecond: number;
  /** Events put on the wire per second (the offered load actually achieved). */
  sentPerSecond: number;
  /** Frame ack latency from the *intended* send time: a stalled server shows up here (bench's key). */
  latencyMs: LatencyStats;
  /** Frame ack latency from the actual send time: what a closed-loop client would report (hides stalls). */
  serviceLatencyMs: LatencyStats;
  /** How late frames went on the wire relative to the schedule. */
  sendLagMs: LatencyStats;
  rejected: { byCode: Record<string, number>; frameByCode: Record<string, number> };
  /** What the node should have answered, from what was sent. */
  expected: {
    sentByClass: { ok: number; duplicate: number; late: number; invalid: number };
    rejectedByCode: Record<string, number>;
    duplicates: number;
    /** Late or duplicate events asked for before any event was acked to base them on: sent as valid ones. */
    fallbacks: number;
  };
  /** Acks that disagreed with the expected outcome of an event (with up to 20 examples). */
  mismatches: { count: number; samples: string[] };
  connections: { opened: number; closes: { code: number; reason: string }[]; errors: string[] };
  timeline: TimelinePoint[];
  oracle: { eventIdPrefix: string; eventIdsComplete: boolean; actors: OracleActor[] };
  /** Faults injected on purpose (only by the CI gate's self-test). */
  faults: { type: string; actor: string; eventId: string }[];
}

/** Percentiles of `xs` (sorted in place), nearest-rank; zeros when empty. */
export function latencyStats(xs: number[] | Float64Array): LatencyStats {
  const n = xs.length;
  if (n === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  xs.sort((a, b) => a - b);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += xs[i]!;
  const q = (p: number): number => round3(xs[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!);
  return { count: n, mean: round3(sum / n), p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: round3(xs[n - 1]!) };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
