/**
 * National Early Warning Score 2, as published in the RCP NEWS2 (2017) chart: Royal College of
 * Physicians, "National Early Warning Score (NEWS) 2: Standardising the assessment of acute-illness
 * severity in the NHS", updated report of a working party, London, December 2017 — Chart 1 (the
 * NEWS scoring system) for the bands and Chart 2 (thresholds and triggers) for the clinical risk.
 *
 * Pure and synchronous because it runs once per vital-signs event inside an actor handler; the only
 * allocations per call are the result, its components and (when something is absent) `missing`.
 *
 * Rounding rule for values between the chart's cells. The chart prints whole numbers for
 * respiration rate, SpO2, systolic BP and pulse, and one decimal for temperature, so a value such
 * as RR 20.5 falls in no printed cell. Every measurement is first rounded half up to the chart's
 * precision (integers; tenths of a °C) and the rounded value is banded. That reproduces what a
 * nurse writes on the paper chart, so an electronic score and a hand-scored chart of the same
 * observation agree, which is what audit and handover rely on. Consequences worth knowing:
 * RR 20.5 → 21 → 2, pulse 90.4 → 90 → 0, SBP 110.5 → 111 → 0, SpO2 95.5 → 96 → 0,
 * temperature 36.05 → 36.1 → 0 and 36.04 → 36.0 → 1. Because half goes up, a half-way value on a
 * falling-is-worse boundary (SBP 90.5, SpO2 91.5, temperature 35.05) lands in the milder band.
 */
import type { AlertLevelName } from '../runtime/ports.js';

export const Consciousness = { A: 'A', C: 'C', V: 'V', P: 'P', U: 'U' } as const;
export type Consciousness = (typeof Consciousness)[keyof typeof Consciousness];

export const News2Risk = { low: 'low', lowMedium: 'low-medium', medium: 'medium', high: 'high' } as const;
export type News2Risk = (typeof News2Risk)[keyof typeof News2Risk];

/**
 * RCP clinical risk → product alert level. The RCP has four bands and the product four levels, so
 * the map is one-to-one and order-preserving; `low-medium` (a single red 3) gets its own level
 * because the RCP asks for an urgent ward-based response to it, unlike an aggregate of 1–4.
 *   RCP low → 'low', low-medium → 'medium', medium → 'high', high → 'critical'.
 */
export const NEWS2_RISK_TO_LEVEL: Readonly<Record<News2Risk, AlertLevelName>> = Object.freeze({
  'low': 'low',
  'low-medium': 'medium',
  'medium': 'high',
  'high': 'critical',
});

export interface News2Inputs {
  respRate?: number;
  spo2?: number;
  /** Scale 2 only when a clinician has prescribed a 88–92% target (hypercapnic respiratory failure). */
  spo2Scale?: 1 | 2;
  onOxygen?: boolean;
  systolicBp?: number;
  heartRate?: number;
  /** 'C' means *new* confusion; chronic confusion must be sent as 'A' by whoever records it. */
  consciousness?: Consciousness;
  temperatureC?: number;
}

export interface News2Components {
  respRate: number | null;
  spo2: number | null;
  airOrOxygen: number | null;
  systolicBp: number | null;
  heartRate: number | null;
  consciousness: number | null;
  temperature: number | null;
}

export type News2Parameter = keyof News2Components;

export interface News2Result {
  /** Sum of the parameters that could be scored. */
  score: number;
  components: News2Components;
  /**
   * False when any of the seven parameters is missing. Clinically an incomplete NEWS2 is
   * provisional: the absent parameters can only raise the score, so `score` and `risk` are lower
   * bounds and must not be read as reassurance.
   */
  complete: boolean;
  missing: readonly News2Parameter[];
  anySingleThree: boolean;
  risk: News2Risk;
  level: AlertLevelName;
}

// Shared so a complete observation set (the common case) allocates no array.
const NONE: readonly News2Parameter[] = Object.freeze([]);

// One error type for every bad input keeps the caller's catch simple; the edge validates first,
// so reaching any of these means a bug upstream rather than a patient state.
function guard(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`NEWS2 ${name} must be a finite, non-negative number; got ${String(v)}`);
  }
}

// Inputs are non-negative, so floor(v + 0.5) is round-half-up; x.5 is exact in binary.
function toWhole(v: number): number {
  return Math.floor(v + 0.5);
}

// 36.05 is stored as 36.0499999…, yet v*10 is itself rounded to the nearest double and lands on
// exactly 360.5; that holds for every value with up to three decimals from 0 to 100 (checked
// exhaustively, and for 30.00–45.00 in the tests), so no epsilon is needed for half-up here.
function toTenths(v: number): number {
  return Math.floor(v * 10 + 0.5);
}

export function scoreRespRate(v: number): number {
  guard('respiration rate', v);
  const r = toWhole(v);
  if (r <= 8) return 3;
  if (r <= 11) return 1;
  if (r <= 20) return 0;
  if (r <= 24) return 2;
  return 3;
}

function guardSpo2(v: number): void {
  guard('SpO2', v);
  if (v > 100) throw new RangeError(`NEWS2 SpO2 is a percentage and cannot exceed 100; got ${v}`);
}

export function scoreSpo2Scale1(v: number): number {
  guardSpo2(v);
  const r = toWhole(v);
  if (r <= 91) return 3;
  if (r <= 93) return 2;
  if (r <= 95) return 1;
  return 0;
}

/**
 * Scale 2 scores high saturations on oxygen because over-oxygenating a hypercapnic patient is
 * itself dangerous; on air anything ≥ 88 scores 0.
 */
export function scoreSpo2Scale2(v: number, onOxygen: boolean): number {
  guardSpo2(v);
  const r = toWhole(v);
  if (r <= 83) return 3;
  if (r <= 85) return 2;
  if (r <= 87) return 1;
  if (r <= 92 || !onOxygen) return 0;
  if (r <= 94) return 1;
  if (r <= 96) return 2;
  return 3;
}

export function scoreAirOrOxygen(onOxygen: boolean): number {
  if (typeof onOxygen !== 'boolean') throw new RangeError(`NEWS2 onOxygen must be a boolean; got ${String(onOxygen)}`);
  return onOxygen ? 2 : 0;
}

export function scoreSystolicBp(v: number): number {
  guard('systolic BP', v);
  const r = toWhole(v);
  if (r <= 90) return 3;
  if (r <= 100) return 2;
  if (r <= 110) return 1;
  if (r <= 219) return 0;
  return 3;
}

export function scoreHeartRate(v: number): number {
  guard('pulse', v);
  const r = toWhole(v);
  if (r <= 40) return 3;
  if (r <= 50) return 1;
  if (r <= 90) return 0;
  if (r <= 110) return 1;
  if (r <= 130) return 2;
  return 3;
}

export function scoreConsciousness(c: Consciousness): number {
  switch (c) {
    case 'A': return 0;
    case 'C': case 'V': case 'P': case 'U': return 3;
    default: throw new RangeError(`NEWS2 consciousness must be one of A, C, V, P, U; got ${String(c)}`);
  }
}

export function scoreTemperature(v: number): number {
  guard('temperature', v);
  // Banded in integer tenths so the comparisons below are exact.
  const t = toTenths(v);
  if (t <= 350) return 3;
  if (t <= 360) return 1;
  if (t <= 380) return 0;
  if (t <= 390) return 1;
  return 2;
}

/**
 * Chart 2 precedence: an aggregate of 5 or more outranks a red score, so a single 3 only lifts the
 * risk when the aggregate is still 0–4.
 */
export function news2Risk(score: number, anySingleThree: boolean): News2Risk {
  if (score >= 7) return 'high';
  if (score >= 5) return 'medium';
  if (anySingleThree) return 'low-medium';
  return 'low';
}

// JSON carries absent fields as null as often as it omits them; both mean "not measured".
function present<T>(v: T | null | undefined): v is T {
  return v !== undefined && v !== null;
}

export function news2(inputs: News2Inputs): News2Result {
  const scale = inputs.spo2Scale ?? 1;
  if (scale !== 1 && scale !== 2) throw new RangeError(`NEWS2 spo2Scale must be 1 or 2; got ${String(scale)}`);
  const oxygenKnown = present(inputs.onOxygen);

  const respRate = present(inputs.respRate) ? scoreRespRate(inputs.respRate) : null;
  const airOrOxygen = oxygenKnown ? scoreAirOrOxygen(inputs.onOxygen as boolean) : null;
  let spo2: number | null = null;
  if (present(inputs.spo2)) {
    if (scale === 1) spo2 = scoreSpo2Scale1(inputs.spo2);
    else if (oxygenKnown) spo2 = scoreSpo2Scale2(inputs.spo2, inputs.onOxygen as boolean);
    else {
      // Scale 2 at ≥ 93% scores 0 on air but 1–3 on oxygen. Guessing either way would misstate the
      // score by up to 3, so the reading is left unscored (and reported missing) until the oxygen
      // status arrives. Below 93% the band does not depend on it.
      const s = scoreSpo2Scale2(inputs.spo2, false);
      spo2 = toWhole(inputs.spo2) <= 92 ? s : null;
    }
  }
  const systolicBp = present(inputs.systolicBp) ? scoreSystolicBp(inputs.systolicBp) : null;
  const heartRate = present(inputs.heartRate) ? scoreHeartRate(inputs.heartRate) : null;
  const consciousness = present(inputs.consciousness) ? scoreConsciousness(inputs.consciousness) : null;
  const temperature = present(inputs.temperatureC) ? scoreTemperature(inputs.temperatureC) : null;

  const components: News2Components = { respRate, spo2, airOrOxygen, systolicBp, heartRate, consciousness, temperature };

  let score = 0;
  let anySingleThree = false;
  let missing: News2Parameter[] | null = null;
  for (const key in components) {
    const k = key as News2Parameter;
    const s = components[k];
    if (s === null) (missing ??= []).push(k);
    else {
      score += s;
      if (s === 3) anySingleThree = true;
    }
  }

  const risk = news2Risk(score, anySingleThree);
  return {
    score,
    components,
    complete: missing === null,
    missing: missing ?? NONE,
    anySingleThree,
    risk,
    level: NEWS2_RISK_TO_LEVEL[risk],
  };
}
