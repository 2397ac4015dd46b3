// The patient actor: NEWS2 from the latest value of each vital sign by event time, window stats
// and trends per vital sign and biometric, physiological outlier flags, `signal_lost` when a
// monitored patient's vitals stop, and the risk summaries its procedures send it.
import { defineActor, type ActorContext, type ActorDefinition } from '../runtime/actor.js';
import type { AlertLevelName } from '../runtime/ports.js';
import { ALERT_ACTION, alertBookFromJSON, applyAlertAction, isShelveTimer, newAlertBook, raise, resolve, unshelve, type AlertActionEvent, type AlertBookState } from './alerts.js';
import { isoOrNull, news2View, openAlertsView, readingView, windowView } from './views.js';
import type { ClinicalConfig } from './config.js';
import { isMonitored, pushTime } from './cadence.js';
import type { ActorEvent } from './contracts/registry.js';
import { admit, decodeDedup, encodeDedup, expire, newDedup, type DedupState } from './dedup.js';
import {
  addToStore, backfilledBefore, backfillFromJSON, backfillToJSON, checkBackfill, commitBackfill, isBackfill, pruneBackfill, releasedLive, toStore,
  type BackfillJSON, type BackfillState,
} from './backfill.js';
import { dict, toDict } from './dict.js';
import { news2, type News2Components, type News2Inputs, type News2Risk } from './news2.js';
import { RollupEmitter } from './rollups.js';
import { addPoint, classify, newTrend, trendRecordFromJSON, trendRecordToJSON, type TrendJSON, type TrendState } from './trend.js';
import { conversion } from './units.js';
import { addValue, advance, latestStats, newSeries, seriesRecordFromJSON, seriesRecordToJSON, type SeriesJSON, type SeriesState } from './windows.js';

export const VITALS = ['heart_rate', 'resp_rate', 'spo2', 'systolic_bp', 'diastolic_bp', 'temperature_c'] as const;
const CONSCIOUSNESS = ['A', 'C', 'V', 'P', 'U'] as const;

/** What a procedure actor tells its patient (at most once per `notifyEveryMs`). */
export interface ProcedureSummaryMessage {
  type: 'procedure.summary';
  procedure_id: string;
  events: number;
  avg_risk: number;
  max_risk: number;
  p95_latency_ms: number;
  critical_count: number;
  errors: number;
  force_spikes: number;
  level: AlertLevelName;
  updated_at: number;
}

/** Records below keyed by series, biometric type or procedure id are null-prototype (dict.ts). */
export interface PatientState {
  /** Watermark: the newest event time seen. */
  wm: number;
  events: number;
  dd: DedupState;
  /** Latest value per parameter by event time: [eventTime, value]. Flags are numbers too. */
  latest: Record<string, [number, number]>;
  series: Record<string, SeriesState>;
  trends: Record<string, TrendState>;
  outliers: Record<string, { n: number; last: [number, number] }>;
  news2: { score: number; risk: News2Risk; level: AlertLevelName; complete: boolean; components: News2Components; missing: readonly string[] } | null;
  alerts: AlertBookState;
  procs: Record<string, ProcedureSummaryMessage>;
  /** Continuously monitored by the cadence rule (cadence.ts): only then can its signal be lost. */
  monitored: boolean;
  /**
   * The last biometric readings (newest last), for the live view. A blood pressure is one entry,
   * `v` systolic and `d` diastolic (snapshots from before `d` hold `<type>.systolic` entries alone).
   */
  recent: { t: number; type: string; v: number; unit: string; d?: number }[];
  /**
   * Event times of the last vitals readings, ascending, at most `monitoredMinReadings`. Not in
   * snapshots from before the rule (decoded as empty: the patient re-qualifies on its next readings).
   */
  vt: number[];
  /** Processing time the last vitals reading arrived (the silence is measured from it). */
  vp?: number;
  /** Back-fill (actors/backfill.ts): present once history was imported for this patient. */
  bf?: BackfillState | undefined;
}

/** The state as summaries read it: live, or as decoded from a snapshot. */
export type PatientView = Omit<PatientState, 'dd' | 'series' | 'trends'> & {
  series: Record<string, SeriesState | SeriesJSON>;
  trends: Record<string, TrendState | TrendJSON>;
};

export function newPatient(): PatientState {
  return {
    wm: -Infinity, events: 0, dd: newDedup(), latest: dict(), series: dict(), trends: dict(), outliers: dict(),
    news2: null, alerts: newAlertBook(), procs: dict(), monitored: false, recent: [], vt: [],
  };
}

/** Keeps the newest value by event time; equal times keep the larger value, so order never matters. */
function setLatest(s: PatientState, k: string, t: number, v: number): void {
  const cur = s.latest[k];
  if (cur === undefined || t > cur[0] || (t === cur[0] && v > cur[1])) s.latest[k] = [t, v];
}

export function createPatient(cfg: ClinicalConfig): ActorDefinition<PatientState, ActorEvent | AlertActionEvent, ProcedureSummaryMessage> {
  const pc = cfg.patient;
  const emitter = new RollupEmitter();
  const trendCfg = { points: pc.trendPoints, volatileCv: pc.volatileCv, changeRatio: pc.changeRatio };
  // Looked up by series name, which producers choose ("constructor" must find no bounds).
  const outlierBounds = new Map(Object.entries(cfg.outliers));
  const bfLimits = { horizonMs: pc.backfillHorizonMs, dedupCapacity: pc.backfillDedupCapacity, latenessMs: pc.latenessMs };
  /** The event being handled is history (an import): analytics and rollups only (backfill.ts). */
  let backfilling = false;

  /** A series of `e` whose released live window time `t` would fall in (refused), or null. */
  function releasedSeries(s: PatientState, e: ActorEvent, t: number): string | null {
    const p = e.p;
    const hit = (name: string) => releasedLive(s.bf, name, s.series[name], t, s.wm, pc.latenessMs);
    if (e.h === 'vitals') {
      for (const k of VITALS) if (typeof p[k] === 'number' && hit(k)) return k;
      return null;
    }
    if (e.h === 'biometric') {
      const type = String(p.biometric_type);
      if (typeof p.systolic === 'number' && typeof p.diastolic === 'number') {
        return hit(`${type}.systolic`) ? `${type}.systolic` : hit(`${type}.diastolic`) ? `${type}.diastolic` : null;
      }
      return typeof p.value === 'number' && hit(type) ? type : null;
    }
    for (const k in p) if (typeof p[k] === 'number' && Number.isFinite(p[k]) && hit(`${e.type}:${k}`)) return `${e.type}:${k}`;
    return null;
  }

  /** The gate of a back-filled event: horizon, duplicates, released live windows. */
  function admitBackfill(s: PatientState, e: ActorEvent, ctx: ActorContext): boolean {
    if (!checkBackfill(s, e.id, ctx, bfLimits)) return false;
    const t = ctx.eventTime;
    const released = releasedSeries(s, e, t);
    if (released !== null) {
      ctx.reject('too_late', `the ${new Date(t - (t % 60_000)).toISOString()} minute of ${released} for ${ctx.kind} ${ctx.id} had live readings and was closed more than the allowed lateness (${pc.latenessMs / 1000} s) ago; back-fill cannot merge into it`);
      return false;
    }
    commitBackfill(s, e.id, t, bfLimits);
    return true;
  }

  /** `v` in the unit of the series' bounds; `checked` false for a biometric in an unknown unit (units.ts). */
  function record(s: PatientState, name: string, t: number, v: number, ctx: ActorContext, checked = true): void {
    let w = s.series[name];
    if (w === undefined) {
      if (Object.keys(s.series).length >= pc.maxSeries + VITALS.length + 8) return; // bounded state
      w = s.series[name] = newSeries();
      s.trends[name] = newTrend(trendCfg.points);
    }
    emitter.ctx = ctx;
    const grown = toStore(s.bf, name, backfilling, w, t)
      ? addToStore(s.bf!, name, w, t, v, s.wm, pc.latenessMs, emitter.emit)
      : addValue(w, 0, name, t, v, s.wm, emitter.emit);
    if (grown !== w) s.series[name] = grown;
    const tr = s.trends[name]!;
    const grownTr = addPoint(tr, t, v, trendCfg.points);
    if (grownTr !== tr) s.trends[name] = grownTr;
    const b = outlierBounds.get(name);
    if (b !== undefined && checked && (v < b[0] || v > b[1])) {
      const o = (s.outliers[name] ??= { n: 0, last: [t, v] });
      o.n++;
      if (t > o.last[0] || (t === o.last[0] && v > o.last[1])) o.last = [t, v];
    }
  }

  function updateNews2(s: PatientState, ctx: ActorContext, t: number): void {
    const L = s.latest;
    const inputs: News2Inputs = {};
    if (L.resp_rate) inputs.respRate = L.resp_rate[1];
    if (L.spo2) inputs.spo2 = L.spo2[1];
    if (L.spo2_scale) inputs.spo2Scale = L.spo2_scale[1] === 2 ? 2 : 1;
    if (L.on_oxygen) inputs.onOxygen = L.on_oxygen[1] === 1;
    if (L.systolic_bp) inputs.systolicBp = L.systolic_bp[1];
    if (L.heart_rate) inputs.heartRate = L.heart_rate[1];
    if (L.consciousness) inputs.consciousness = CONSCIOUSNESS[L.consciousness[1]]!;
    if (L.temperature_c) inputs.temperatureC = L.temperature_c[1];
    const r = news2(inputs);
    s.news2 = { score: r.score, risk: r.risk, level: r.level, complete: r.complete, components: r.components, missing: r.missing };
    // History never opens or resolves a live alert (it changes the score only when it is newer).
    if (backfilling) return;
    if (r.level === 'low') resolve(s.alerts, ctx, 'news2', r.score, t);
    else raise(s.alerts, ctx, 'news2', r.level, r.score, t);
  }

  return defineActor<PatientState, ActorEvent | AlertActionEvent, ProcedureSummaryMessage>({
    kind: 'patient',
    initialState: () => newPatient(),
    onEvent(s, e, ctx) {
      if (e.h === ALERT_ACTION) {
        applyAlertAction(s.alerts, ctx, e);
        return s;
      }
      backfilling = isBackfill(e);
      if (backfilling) {
        if (!admitBackfill(s, e, ctx)) return s;
      } else if (backfilledBefore(s, e.id)) {
        ctx.duplicate();
        return s;
      } else if (!admit(s, e.id, ctx, pc.latenessMs, pc.dedupCapacity)) return s;
      const t = ctx.eventTime;
      s.events++;
      const p = e.p;
      switch (e.h) {
        case 'vitals': {
          for (const k of VITALS) {
            const v = p[k];
            if (typeof v === 'number') {
              setLatest(s, k, t, v);
              record(s, k, t, v, ctx);
            }
          }
          if (typeof p.on_oxygen === 'boolean') setLatest(s, 'on_oxygen', t, p.on_oxygen ? 1 : 0);
          if (typeof p.consciousness === 'string') setLatest(s, 'consciousness', t, CONSCIOUSNESS.indexOf(p.consciousness as 'A'));
          if (typeof p.spo2_scale === 'number') setLatest(s, 'spo2_scale', t, p.spo2_scale);
          updateNews2(s, ctx, t);
          if (backfilling) break; // history: no cadence, timer or signal_lost
          const now = ctx.now();
          s.vp = now;
          pushTime(s.vt, t, pc.monitoredMinReadings);
          s.monitored = isMonitored(s.vt, pc.monitoredMinReadings, pc.monitoredMaxIntervalMs, pc.signalLostMs);
          // Re-armed in place on every vitals event: one wheel entry per patient, moved later.
          if (s.monitored) ctx.setTimer('signal_lost', now + pc.signalLostMs, 'processing');
          else ctx.cancelTimer('signal_lost');
          resolve(s.alerts, ctx, 'signal_lost', 0, t);
          break;
        }
        case 'biometric': {
          const type = String(p.biometric_type);
          const unit = String(p.unit);
          // Series, trends, bounds, latest and rollups in the type's canonical unit; the reading as
          // sent in `recent`. An unknown unit (only from before the contract check): as sent, unchecked.
          const c = conversion(type, unit);
          const f = c === undefined ? 1 : c[0];
          const o = c === undefined ? 0 : c[1];
          if (typeof p.systolic === 'number' && typeof p.diastolic === 'number') {
            const sys = p.systolic * f + o;
            const dia = p.diastolic * f + o;
            record(s, `${type}.systolic`, t, sys, ctx, c !== undefined);
            record(s, `${type}.diastolic`, t, dia, ctx, c !== undefined);
            setLatest(s, `${type}.systolic`, t, sys);
            setLatest(s, `${type}.diastolic`, t, dia);
            pushRecent(s, t, type, p.systolic, unit, p.diastolic);
          } else if (typeof p.value === 'number') {
            const v = p.value * f + o;
            record(s, type, t, v, ctx, c !== undefined);
            setLatest(s, type, t, v);
            pushRecent(s, t, type, p.value, unit);
          }
          break;
        }
        default: {
          // Tenant-defined types: every numeric field is a series named type:field.
          for (const k in p) {
            const v = p[k];
            if (typeof v === 'number' && Number.isFinite(v)) {
              record(s, `${e.type}:${k}`, t, v, ctx);
              setLatest(s, `${e.type}:${k}`, t, v);
            }
          }
        }
      }
      emitter.ctx = ctx;
      for (const name in s.series) advance(s.series[name]!, 0, name, s.wm, pc.latenessMs, emitter.emit);
      expire(s, s.wm - pc.latenessMs);
      if (s.bf !== undefined && !backfilling) pruneBackfill(s, bfLimits);
      return s;
    },
    onTimer(s, name, ctx) {
      if (isShelveTimer(name)) {
        unshelve(s.alerts, ctx, name);
        return s;
      }
      if (name === 'signal_lost' && s.monitored) {
        // AlertRecord has no field for the last reading: the record carries the time it fired
        // and the silence in seconds; the open alert in state also keeps the last reading's time.
        const now = ctx.now();
        const silenceS = (now - (s.vp ?? now - pc.signalLostMs)) / 1000;
        raise(s.alerts, ctx, 'signal_lost', 'high', silenceS, now, s.vt.length > 0 ? s.vt[s.vt.length - 1] : undefined);
      }
      return s;
    },
    onMessage(s, m) {
      if (m.type !== 'procedure.summary') return s;
      const prev = s.procs[m.procedure_id];
      if (prev && prev.updated_at > m.updated_at) return s; // an older summary overtaken by a newer one
      s.procs[m.procedure_id] = m;
      const ids = Object.keys(s.procs);
      if (ids.length > pc.maxProcedures) {
        ids.sort((a, b) => s.procs[a]!.updated_at - s.procs[b]!.updated_at);
        for (const id of ids.slice(0, ids.length - pc.maxProcedures)) delete s.procs[id];
      }
      return s;
    },
    // Same JSON as when series and trends were plain arrays: snapshots stay readable both ways.
    // An empty ring is left out: a snapshot from before the cadence rule re-encodes unchanged.
    encode: (s) => JSON.stringify({
      ...s, dd: encodeDedup(s.dd), series: seriesRecordToJSON(s.series), trends: trendRecordToJSON(s.trends), vt: s.vt.length > 0 ? s.vt : undefined,
      bf: s.bf === undefined ? undefined : backfillToJSON(s.bf),
    }),
    decode: (data) => {
      const raw = JSON.parse(data) as Omit<PatientState, 'dd' | 'wm' | 'series' | 'trends' | 'bf'> & {
        dd: string; wm: number | null; series: Record<string, SeriesJSON>; trends: Record<string, TrendJSON>; vt?: number[]; bf?: BackfillJSON;
      };
      return {
        ...raw,
        wm: raw.wm ?? -Infinity,
        dd: decodeDedup(raw.dd),
        latest: toDict(raw.latest),
        series: seriesRecordFromJSON(raw.series),
        trends: trendRecordFromJSON(raw.trends),
        outliers: toDict(raw.outliers),
        alerts: alertBookFromJSON(raw.alerts),
        procs: toDict(raw.procs),
        vt: raw.vt ?? [],
        bf: raw.bf === undefined ? undefined : backfillFromJSON(raw.bf),
      };
    },
  });
}

/** The newest 20 readings by event time (not arrival), so a late reading lands in its place. */
function pushRecent(s: PatientState, t: number, type: string, v: number, unit: string, d?: number): void {
  const r = s.recent;
  const before = (x: { t: number; type: string; v: number }) => x.t < t || (x.t === t && (x.type < type || (x.type === type && x.v <= v)));
  let i = r.length;
  while (i > 0 && !before(r[i - 1]!)) i--;
  if (r.length >= 20 && i === 0) return;
  r.splice(i, 0, d === undefined ? { t, type, v, unit } : { t, type, v, unit, d });
  if (r.length > 20) r.shift();
}

/** GET /v1/patients/{id}/risk-summary, from the actor's state (its snapshot form, or live). */
export function patientSummary(id: string, s: PatientView, now: number): Record<string, unknown> {
  const procs = Object.values(s.procs);
  const events = procs.reduce((n, p) => n + p.events, 0);
  const latest: Record<string, number | boolean | string> = {};
  for (const k of VITALS) if (s.latest[k]) latest[k] = s.latest[k]![1];
  if (s.latest.on_oxygen) latest.on_oxygen = s.latest.on_oxygen[1] === 1;
  if (s.latest.consciousness) latest.consciousness = CONSCIOUSNESS[s.latest.consciousness[1]] ?? 'A';
  const windows = dict<unknown>();
  const trends = dict<unknown>();
  for (const [name, series] of Object.entries(s.series)) {
    windows[name] = windowView(latestStats(series));
    trends[name] = classify(s.trends[name]!).trend;
  }
  const wm = s.wm ?? -Infinity;
  return {
    patient_id: id,
    news2: news2View(s.news2),
    latest_vitals: latest,
    window_stats: windows,
    trends,
    outliers: s.outliers,
    procedures: procs.map(({ type: _type, ...p }) => ({ ...p, updated_at: isoOrNull(p.updated_at) })),
    avg_risk: events > 0 ? procs.reduce((n, p) => n + p.avg_risk * p.events, 0) / events : null,
    // The worst procedure's p95: per-procedure sketches stay with the procedures.
    p95_latency_ms: procs.length > 0 ? Math.max(...procs.map((p) => p.p95_latency_ms)) : null,
    critical_count: procs.reduce((n, p) => n + p.critical_count, 0),
    open_alerts: openAlertsView(s.alerts),
    recent_biometrics: s.recent.map(readingView),
    events: s.events,
    updated_at: isoOrNull(wm),
    freshness_ms: Number.isFinite(wm) ? Math.max(0, now - wm) : null,
  };
}

export function patientTrends(s: PatientView): Record<string, ReturnType<typeof classify>> {
  const out = dict<ReturnType<typeof classify>>();
  for (const name of Object.keys(s.trends)) out[name] = classify(s.trends[name]!);
  return out;
}
