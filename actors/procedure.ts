// The procedure actor: composite risk from robotic-surgery telemetry, triggers, force spikes,
// p95 latency, and an alert level with hysteresis. It tells its patient how it is going.
//
// Composite risk of one sample, 0..100 (weights and scales in ClinicalConfig.procedure):
//   risk = 100 * ( w.force    * min(1, force_newtons / forceCriticalN)
//                + w.velocity * min(1, velocity_mm_s / velocityCriticalMmS)
//                + w.latency  * min(1, latency_ms    / latencyCriticalMs)
//                + w.error    * (error_code present ? 1 : 0) ) / (sum of weights)
// A sample with risk >= levels[2] (critical threshold) counts in `critical_count`.
// The procedure's level follows an exponentially smoothed risk (alpha `riskAlpha`): it rises
// as soon as the smoothed risk reaches a threshold and falls only once it is `hysteresis`
// points below it, so a value hovering at a threshold does not flap.
// Triggers: `high_force` (force >= forceHighN, high), `high_latency` (latency >= latencyHighMs,
// medium), `device_error` (an error_code, high), `force_spike` (force above the rolling
// baseline mean + spikeK sd and 1.5x the mean, medium); each resolves when its condition clears
// (with the same hysteresis margin, relative, for force and latency).
import { defineActor, type ActorDefinition } from '../runtime/actor.js';
import type { AlertLevelName } from '../runtime/ports.js';
import { ALERT_ACTION, alertBookFromJSON, applyAlertAction, isShelveTimer, levelRank, newAlertBook, raise, resolve, unshelve, type AlertActionEvent, type AlertBookState } from './alerts.js';
import { isoOrNull, openAlertsView, windowView } from './views.js';
import type { ClinicalConfig } from './config.js';
import type { ActorEvent } from './contracts/registry.js';
import { admit, decodeDedup, encodeDedup, expire, newDedup, type DedupState } from './dedup.js';
import { dict, toDict } from './dict.js';
import type { ProcedureSummaryMessage } from './patient.js';
import { RollupEmitter } from './rollups.js';
import { QuantileSketch, type SketchJSON } from './sketch.js';
import { addValue, advance, latestStats, newSeries, seriesFromJSON, seriesToJSON, type SeriesJSON, type SeriesState } from './windows.js';

const LEVELS: readonly AlertLevelName[] = ['low', 'medium', 'high', 'critical'];
const SERIES = ['force_newtons', 'velocity_mm_s', 'latency_ms', 'risk'] as const;
// Their places in the one buffer that holds all four (see windows.ts).
const FORCE = 0;
const VELOCITY = 1;
const LATENCY = 2;
const RISK = 3;

export interface ProcedureState {
  wm: number;
  dd: DedupState;
  patient: string | null;
  events: number;
  sumRisk: number;
  maxRisk: number;
  critical: number;
  errors: number;
  /** Counts by producer-chosen name: null-prototype records (dict.ts). */
  errorCodes: Record<string, number>;
  steps: Record<string, number>;
  arms: Record<string, number>;
  maxForce: number;
  latency: QuantileSketch;
  /** The SERIES, in that order, in one buffer; snapshots hold them as a record by name. */
  series: SeriesState;
  smoothed: number;
  level: AlertLevelName;
  /** Force baseline: exponentially weighted mean and variance, and samples seen. */
  base: { n: number; mean: number; v: number };
  spikes: number;
  alerts: AlertBookState;
  lastErrorAt: number;
  notifyArmed: boolean;
}

export function newProcedure(): ProcedureState {
  const series = newSeries(SERIES.length);
  return {
    wm: -Infinity, dd: newDedup(), patient: null, events: 0, sumRisk: 0, maxRisk: 0, critical: 0, errors: 0,
    errorCodes: dict(), steps: dict(), arms: dict(), maxForce: 0, latency: new QuantileSketch(), series,
    smoothed: 0, level: 'low', base: { n: 0, mean: 0, v: 0 }, spikes: 0, alerts: newAlertBook(),
    lastErrorAt: -Infinity, notifyArmed: false,
  };
}

const BOUNDED_KEYS = 64;
function bump(m: Record<string, number>, k: string): void {
  if (m[k] !== undefined) m[k]++;
  else if (Object.keys(m).length < BOUNDED_KEYS) m[k] = 1;
  else m['(other)'] = (m['(other)'] ?? 0) + 1;
}

export function riskOf(cfg: ClinicalConfig['procedure'], force: number, velocity: number, latency: number, error: boolean): number {
  const w = cfg.weights;
  const total = w.force + w.velocity + w.latency + w.error;
  const r =
    w.force * Math.min(1, force / cfg.forceCriticalN) +
    w.velocity * Math.min(1, velocity / cfg.velocityCriticalMmS) +
    w.latency * Math.min(1, latency / cfg.latencyCriticalMs) +
    w.error * (error ? 1 : 0);
  return total > 0 ? (100 * r) / total : 0;
}

/** Next level of a smoothed risk, with hysteresis on the way down. */
export function nextLevel(cfg: ClinicalConfig['procedure'], current: AlertLevelName, smoothed: number): AlertLevelName {
  let up = 0;
  for (let i = 0; i < 3; i++) if (smoothed >= cfg.levels[i]!) up = i + 1;
  const cur = levelRank(current) - 1;
  if (up >= cur) return LEVELS[up]!;
  // Falling: step down only past each threshold minus the margin.
  let lvl = cur;
  while (lvl > 0 && smoothed < cfg.levels[lvl - 1]! - cfg.hysteresis) lvl--;
  return LEVELS[lvl]!;
}

export function createProcedure(cfg: ClinicalConfig): ActorDefinition<ProcedureState, ActorEvent | AlertActionEvent> {
  const pc = cfg.procedure;
  const emitter = new RollupEmitter();
  return defineActor<ProcedureState, ActorEvent | AlertActionEvent>({
    kind: 'procedure',
    initialState: () => newProcedure(),
    onEvent(s, e, ctx) {
      if (e.h === ALERT_ACTION) {
        applyAlertAction(s.alerts, ctx, e);
        return s;
      }
      if (!admit(s, e.id, ctx, pc.latenessMs, pc.dedupCapacity)) return s;
      const t = ctx.eventTime;
      const p = e.p;
      const force = p.force_newtons as number;
      const velocity = p.velocity_mm_s as number;
      const latency = p.latency_ms as number;
      const errorCode = typeof p.error_code === 'string' && p.error_code.length > 0 ? p.error_code : null;
      s.patient ??= p.patient_id as string;
      const risk = riskOf(pc, force, velocity, latency, errorCode !== null);
      s.events++;
      s.sumRisk += risk;
      if (risk > s.maxRisk) s.maxRisk = risk;
      if (risk >= pc.levels[2]) s.critical++;
      if (force > s.maxForce) s.maxForce = force;
      s.latency.add(latency);
      bump(s.steps, String(p.step));
      bump(s.arms, String(p.robot_arm));
      emitter.ctx = ctx;
      let w = s.series;
      w = addValue(w, FORCE, 'force_newtons', t, force, s.wm, emitter.emit);
      w = addValue(w, VELOCITY, 'velocity_mm_s', t, velocity, s.wm, emitter.emit);
      w = addValue(w, LATENCY, 'latency_ms', t, latency, s.wm, emitter.emit);
      w = addValue(w, RISK, 'risk', t, risk, s.wm, emitter.emit);
      s.series = w;
      for (let k = 0; k < SERIES.length; k++) advance(w, k, SERIES[k]!, s.wm, pc.latenessMs, emitter.emit);

      // Triggers.
      if (force >= pc.forceHighN) raise(s.alerts, ctx, 'high_force', 'high', force, t);
      else if (force < pc.forceHighN * (1 - pc.hysteresis / 100)) resolve(s.alerts, ctx, 'high_force', force, t);
      if (latency >= pc.latencyHighMs) raise(s.alerts, ctx, 'high_latency', 'medium', latency, t);
      else if (latency < pc.latencyHighMs * (1 - pc.hysteresis / 100)) resolve(s.alerts, ctx, 'high_latency', latency, t);
      if (errorCode !== null) {
        s.errors++;
        bump(s.errorCodes, errorCode);
        s.lastErrorAt = Math.max(s.lastErrorAt, t);
        raise(s.alerts, ctx, 'device_error', 'high', 1, t);
      } else if (t - s.lastErrorAt >= 5000) {
        resolve(s.alerts, ctx, 'device_error', 0, t);
      }

      // Force spike against the rolling baseline, then fold the sample into the baseline.
      const b = s.base;
      const sd = Math.sqrt(b.v);
      if (b.n >= pc.spikeMinSamples && force > b.mean + pc.spikeK * sd && force > 1.5 * b.mean) {
        s.spikes++;
        raise(s.alerts, ctx, 'force_spike', 'medium', force, t);
      } else if (b.n >= pc.spikeMinSamples && force <= b.mean + sd) {
        resolve(s.alerts, ctx, 'force_spike', force, t);
      }
      const a = b.n === 0 ? 1 : pc.baselineAlpha;
      const d = force - b.mean;
      b.mean += a * d;
      b.v = (1 - a) * (b.v + a * d * d);
      b.n++;

      // Level with hysteresis.
      s.smoothed = s.events === 1 ? risk : s.smoothed + pc.riskAlpha * (risk - s.smoothed);
      const lvl = nextLevel(pc, s.level, s.smoothed);
      if (lvl !== s.level) {
        s.level = lvl;
        if (lvl === 'low') resolve(s.alerts, ctx, 'risk', s.smoothed, t);
        else raise(s.alerts, ctx, 'risk', lvl, s.smoothed, t);
      }

      expire(s, s.wm - pc.latenessMs);
      if (!s.notifyArmed && s.patient !== null) {
        s.notifyArmed = true;
        ctx.setTimer('notify', ctx.now() + pc.notifyEveryMs, 'processing');
      }
      return s;
    },
    onTimer(s, name, ctx) {
      if (isShelveTimer(name)) {
        unshelve(s.alerts, ctx, name);
        return s;
      }
      if (name !== 'notify' || s.patient === null) return s;
      s.notifyArmed = false;
      const msg: ProcedureSummaryMessage = {
        type: 'procedure.summary',
        procedure_id: ctx.id,
        events: s.events,
        avg_risk: s.events > 0 ? s.sumRisk / s.events : 0,
        max_risk: s.maxRisk,
        p95_latency_ms: s.latency.count > 0 ? s.latency.quantile(0.95) : 0,
        critical_count: s.critical,
        errors: s.errors,
        force_spikes: s.spikes,
        level: s.level,
        updated_at: s.wm,
      };
      ctx.send('patient', s.patient, msg);
      return s;
    },
    // Same JSON as when series were plain arrays: snapshots stay readable both ways.
    encode: (s) => JSON.stringify({ ...s, dd: encodeDedup(s.dd), series: seriesRecord(s.series) }),
    decode: (data) => {
      const raw = JSON.parse(data) as Omit<ProcedureState, 'dd' | 'latency' | 'wm' | 'lastErrorAt' | 'series'> & {
        dd: string; latency: SketchJSON; wm: number | null; lastErrorAt: number | null; series: Record<string, SeriesJSON>;
      };
      return {
        ...raw,
        wm: raw.wm ?? -Infinity,
        lastErrorAt: raw.lastErrorAt ?? -Infinity,
        dd: decodeDedup(raw.dd),
        errorCodes: toDict(raw.errorCodes),
        steps: toDict(raw.steps),
        arms: toDict(raw.arms),
        alerts: alertBookFromJSON(raw.alerts),
        latency: QuantileSketch.fromJSON(raw.latency),
        series: seriesFromJSON(...SERIES.map((k) => raw.series[k] ?? { m: [], hr: [] })),
      };
    },
  });
}

function seriesRecord(w: SeriesState): Record<string, SeriesJSON> {
  const out: Record<string, SeriesJSON> = {};
  for (let k = 0; k < SERIES.length; k++) out[SERIES[k]!] = seriesToJSON(w, k);
  return out;
}

type EncodedProcedure = Omit<ProcedureState, 'dd' | 'latency' | 'series'> & { latency: SketchJSON; series: Record<string, SeriesJSON> | SeriesState };

/** GET /v1/procedures/{id}/risk-summary, from the actor's snapshot form. */
export function procedureSummary(id: string, s: EncodedProcedure, now: number): Record<string, unknown> {
  const sketch = QuantileSketch.fromJSON(s.latency);
  const wm = s.wm ?? -Infinity;
  const windows: Record<string, unknown> = {};
  const series = s.series instanceof Float64Array ? seriesRecord(s.series) : s.series;
  for (const [name, w] of Object.entries(series)) windows[name] = windowView(latestStats(w));
  return {
    procedure_id: id,
    patient_id: s.patient,
    events: s.events,
    avg_risk: s.events > 0 ? s.sumRisk / s.events : null,
    max_risk: s.maxRisk,
    p95_latency_ms: sketch.count > 0 ? sketch.quantile(0.95) : null,
    max_force_newtons: s.maxForce,
    critical_count: s.critical,
    force_spikes: s.spikes,
    errors: s.errors,
    error_codes: s.errorCodes,
    steps: s.steps,
    level: s.level,
    smoothed_risk: s.smoothed,
    open_alerts: openAlertsView(s.alerts),
    window_stats: windows,
    updated_at: isoOrNull(wm),
    freshness_ms: Number.isFinite(wm) ? Math.max(0, now - wm) : null,
  };
}
