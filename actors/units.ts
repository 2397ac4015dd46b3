// Biometric units: a reading is compared with its physiological bounds (config `outliers`, which
// are in the canonical unit below) only after conversion to that unit. The reading itself is kept
// as sent. A unit this table does not know for a type that has a table gets no outlier check: a
// false alarm from a unit mix-up is worse than a missed flag (contracts still accept any unit).
// A biometric type without a table (a deployment's own type) is checked as sent, as before.

/** value in canonical unit = value * factor + offset */
type Conv = readonly [factor: number, offset: number];

const ID: Conv = [1, 0];
const GLUCOSE_MGDL_PER_MMOLL = 18.016;
const LB_IN_KG = 0.45359237;
const MMHG_PER_KPA = 7.500_616_83;

// Keys are units trimmed and lower-cased.
const TABLES: Record<string, Record<string, Conv>> = {
  glucose: { 'mg/dl': ID, 'mmol/l': [GLUCOSE_MGDL_PER_MMOLL, 0] },
  weight: { kg: ID, kgs: ID, kilogram: ID, kilograms: ID, lb: [LB_IN_KG, 0], lbs: [LB_IN_KG, 0], pound: [LB_IN_KG, 0], pounds: [LB_IN_KG, 0], g: [0.001, 0] },
  blood_pressure: { mmhg: ID, 'mm hg': ID, kpa: [MMHG_PER_KPA, 0] },
  temperature_c: { c: ID, '°c': ID, degc: ID, celsius: ID, f: [5 / 9, -32 * 5 / 9], '°f': [5 / 9, -32 * 5 / 9], degf: [5 / 9, -32 * 5 / 9], fahrenheit: [5 / 9, -32 * 5 / 9] },
  heart_rate: { bpm: ID, '/min': ID, 'beats/min': ID, '1/min': ID },
  resp_rate: { bpm: ID, '/min': ID, 'breaths/min': ID, rpm: ID, '1/min': ID },
  spo2: { '%': ID, percent: ID },
};

// Exact spellings as producers send them, resolved once: the data path looks a unit up without
// lower-casing it (no string per event) unless it is spelled some other way.
const EXACT = new Map<string, Map<string, Conv>>();
for (const [type, t] of Object.entries(TABLES)) {
  const m = new Map<string, Conv>();
  for (const [u, c] of Object.entries(t)) {
    m.set(u, c);
    m.set(u.toUpperCase(), c);
  }
  for (const [u, c] of [['mg/dL', t['mg/dl']], ['mmol/L', t['mmol/l']], ['mmHg', t.mmhg], ['kPa', t.kpa], ['°C', t['°c']], ['°F', t['°f']]] as const) {
    if (c !== undefined) m.set(u, c);
  }
  EXACT.set(type, m);
}

/** True when `type` has a unit table, so an unknown unit means "do not check". */
export function hasUnits(type: string): boolean {
  return EXACT.has(type);
}

/**
 * `v` (in `unit`) in the canonical unit of biometric `type`'s bounds; `v` itself for a type
 * without a table; NaN for a unit the type's table does not know (NaN fails every bounds test).
 */
export function toCanonical(type: string, unit: string, v: number): number {
  const m = EXACT.get(type);
  if (m === undefined) return v;
  const c = m.get(unit) ?? m.get(unit.trim().toLowerCase());
  return c === undefined ? NaN : v * c[0] + c[1];
}
