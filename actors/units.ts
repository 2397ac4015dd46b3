// Biometric units (SPEC §5): a biometric type with a unit table below has one canonical unit (the
// first entry of its table: glucose mg/dL, weight kg, blood pressure mmHg, temperature °C, rates
// per minute, SpO2 %). The contract stage refuses a reading whose unit the table does not know
// (`invalid_unit`, registry.ts), and the patient actor converts every reading to the canonical
// unit before its series, trends, window stats, outlier bounds (config `outliers`, which are in
// canonical units) and rollups; `recent_biometrics` and analytics' raw events keep the reading as
// sent. A biometric type without a table (a deployment's own type) is used as sent.
//
// An unknown unit can still reach an actor from before the contract check (an event already in
// the log, a snapshot): it is recorded as sent with no outlier check, as the old code did; a
// false alarm from a unit mix-up is worse than a missed flag.

/** value in canonical unit = value * factor + offset */
export type Conv = readonly [factor: number, offset: number];

const ID: Conv = [1, 0];
const GLUCOSE_MGDL_PER_MMOLL = 18.016;
const LB_IN_KG = 0.45359237;
const MMHG_PER_KPA = 7.500_616_83;
const F_TO_C: Conv = [5 / 9, (-32 * 5) / 9];

// Keys are units trimmed and lower-cased; the first key of a table is its canonical unit.
const TEMPERATURE: Record<string, Conv> = { '°c': ID, c: ID, degc: ID, celsius: ID, '°f': F_TO_C, f: F_TO_C, degf: F_TO_C, fahrenheit: F_TO_C };
const PER_MINUTE: Record<string, Conv> = { '/min': ID, '1/min': ID, 'min-1': ID };
const TABLES: Record<string, Record<string, Conv>> = {
  glucose: { 'mg/dl': ID, 'mmol/l': [GLUCOSE_MGDL_PER_MMOLL, 0] },
  weight: { kg: ID, kgs: ID, kilogram: ID, kilograms: ID, lb: [LB_IN_KG, 0], lbs: [LB_IN_KG, 0], pound: [LB_IN_KG, 0], pounds: [LB_IN_KG, 0], g: [0.001, 0] },
  blood_pressure: { mmhg: ID, 'mm hg': ID, kpa: [MMHG_PER_KPA, 0] },
  temperature: TEMPERATURE,
  temperature_c: TEMPERATURE,
  heart_rate: { bpm: ID, ...PER_MINUTE, 'beats/min': ID },
  resp_rate: { ...PER_MINUTE, 'breaths/min': ID, bpm: ID, rpm: ID },
  spo2: { '%': ID, percent: ID },
};

/** Canonical spellings for messages and docs (the keys above are lower-cased). */
const DISPLAY: Record<string, string> = { 'mg/dl': 'mg/dL', 'mmol/l': 'mmol/L', mmhg: 'mmHg', 'mm hg': 'mm Hg', kpa: 'kPa', c: 'C', '°c': '°C', f: 'F', '°f': '°F', degc: 'degC', degf: 'degF' };

// Exact spellings as producers send them, resolved once: the data path looks a unit up without
// lower-casing it (no string per event) unless it is spelled some other way.
const EXACT = new Map<string, Map<string, Conv>>();
const ACCEPTED = new Map<string, string>();
const CANONICAL = new Map<string, string>();
for (const [type, t] of Object.entries(TABLES)) {
  const m = new Map<string, Conv>();
  for (const [u, c] of Object.entries(t)) {
    m.set(u, c);
    m.set(u.toUpperCase(), c);
    if (DISPLAY[u] !== undefined) m.set(DISPLAY[u], c);
  }
  EXACT.set(type, m);
  const names = Object.keys(t).map((u) => DISPLAY[u] ?? u);
  ACCEPTED.set(type, names.join(', '));
  CANONICAL.set(type, names[0]!);
}

/** True when `type` has a unit table (its readings must come in one of its units). */
export function hasUnits(type: string): boolean {
  return EXACT.has(type);
}

/** The canonical unit of `type` (as spelled in messages and docs), or undefined without a table. */
export function canonicalUnit(type: string): string | undefined {
  return CANONICAL.get(type);
}

/**
 * How `unit` converts to `type`'s canonical unit: the identity for a type without a table,
 * undefined for a unit the type's table does not know. The usual spellings are one map lookup.
 */
export function conversion(type: string, unit: string): Conv | undefined {
  const m = EXACT.get(type);
  if (m === undefined) return ID;
  return m.get(unit) ?? m.get(unit.trim().toLowerCase());
}

/**
 * `v` (in `unit`) in the canonical unit of biometric `type`; `v` itself for a type without a
 * table; NaN for a unit the type's table does not know.
 */
export function toCanonical(type: string, unit: string, v: number): number {
  const c = conversion(type, unit);
  return c === undefined ? NaN : v * c[0] + c[1];
}

/**
 * The contract check: null when a reading of `type` in `unit` is acceptable (a known unit, or a
 * type without a table, or a type that is not a string: the schema has its say on that), else
 * the rejection message naming the type, the unit and the accepted units.
 */
export function unitProblem(type: unknown, unit: unknown): string | null {
  if (typeof type !== 'string') return null;
  const m = EXACT.get(type);
  if (m === undefined) return null;
  if (typeof unit === 'string' && (m.get(unit) ?? m.get(unit.trim().toLowerCase())) !== undefined) return null;
  const accepted = ACCEPTED.get(type)!;
  return typeof unit === 'string'
    ? `payload.unit ${JSON.stringify(unit)} is not a unit of ${type} (accepted, case-insensitive: ${accepted})`
    : `payload.unit is required for ${type} (accepted, case-insensitive: ${accepted})`;
}
