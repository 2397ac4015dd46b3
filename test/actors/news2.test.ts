import { describe, expect, it } from 'vitest';
import {
  Consciousness,
  news2,
  NEWS2_RISK_TO_LEVEL,
  news2Risk,
  scoreAirOrOxygen,
  scoreConsciousness,
  scoreHeartRate,
  scoreRespRate,
  scoreSpo2Scale1,
  scoreSpo2Scale2,
  scoreSystolicBp,
  scoreTemperature,
  type News2Inputs,
} from '../../actors/news2.js';

// Expected values are read off the RCP NEWS2 (2017) chart, Chart 1, cell by cell; each pair sits
// either side of a printed boundary so a shifted comparison (< for ≤) fails here.

// A normal adult on air: every parameter scores 0, so each test can perturb just one.
const NORMAL: Required<News2Inputs> = {
  respRate: 16, spo2: 97, spo2Scale: 1, onOxygen: false, systolicBp: 120, heartRate: 70,
  consciousness: 'A', temperatureC: 37.0,
};

describe('respiration rate bands', () => {
  it.each([
    [0, 3], [8, 3], [9, 1], [11, 1], [12, 0], [20, 0], [21, 2], [24, 2], [25, 3], [60, 3],
  ])('RR %d → %d', (v, want) => {
    expect(scoreRespRate(v)).toBe(want);
  });
});

describe('SpO2 scale 1 bands (oxygen does not change the band)', () => {
  it.each([
    [50, 3], [91, 3], [92, 2], [93, 2], [94, 1], [95, 1], [96, 0], [100, 0],
  ])('SpO2 %d%% → %d', (v, want) => {
    expect(scoreSpo2Scale1(v)).toBe(want);
    expect(news2({ ...NORMAL, spo2: v, onOxygen: true }).components.spo2).toBe(want);
    expect(news2({ ...NORMAL, spo2: v, onOxygen: false }).components.spo2).toBe(want);
  });
});

describe('SpO2 scale 2 bands', () => {
  it.each([
    // [SpO2, on air, on oxygen]
    [70, 3, 3], [83, 3, 3], [84, 2, 2], [85, 2, 2], [86, 1, 1], [87, 1, 1],
    [88, 0, 0], [92, 0, 0],
    [93, 0, 1], [94, 0, 1], [95, 0, 2], [96, 0, 2], [97, 0, 3], [100, 0, 3],
  ])('SpO2 %d%% → %d on air, %d on oxygen', (v, air, oxygen) => {
    expect(scoreSpo2Scale2(v, false)).toBe(air);
    expect(scoreSpo2Scale2(v, true)).toBe(oxygen);
  });

  it('adds the oxygen score on top of the scale 2 score', () => {
    const r = news2({ ...NORMAL, spo2Scale: 2, spo2: 97, onOxygen: true });
    expect(r.components).toMatchObject({ spo2: 3, airOrOxygen: 2 });
    expect(r.score).toBe(5);
  });

  it('scores 93% on scale 2 as 0 on air but 1 on oxygen through news2()', () => {
    expect(news2({ ...NORMAL, spo2Scale: 2, spo2: 93, onOxygen: false }).components.spo2).toBe(0);
    expect(news2({ ...NORMAL, spo2Scale: 2, spo2: 93, onOxygen: true }).components.spo2).toBe(1);
  });

  it('88% scores 0 on scale 2 where scale 1 would give 3', () => {
    expect(news2({ ...NORMAL, spo2Scale: 2, spo2: 88 }).components.spo2).toBe(0);
    expect(news2({ ...NORMAL, spo2Scale: 1, spo2: 88 }).components.spo2).toBe(3);
  });

  it('defaults to scale 1 when no scale is given', () => {
    const { spo2Scale: _omit, ...rest } = NORMAL;
    expect(news2({ ...rest, spo2: 88 }).components.spo2).toBe(3);
  });
});

describe('air or oxygen', () => {
  it.each([[false, 0], [true, 2]] as const)('onOxygen=%s → %d', (onOxygen, want) => {
    expect(scoreAirOrOxygen(onOxygen)).toBe(want);
    const r = news2({ ...NORMAL, onOxygen });
    expect(r.components.airOrOxygen).toBe(want);
    expect(r.score).toBe(want);
  });
});

describe('systolic blood pressure bands', () => {
  it.each([
    [40, 3], [90, 3], [91, 2], [100, 2], [101, 1], [110, 1], [111, 0], [219, 0], [220, 3], [260, 3],
  ])('SBP %d → %d', (v, want) => {
    expect(scoreSystolicBp(v)).toBe(want);
  });
});

describe('pulse bands', () => {
  it.each([
    [20, 3], [40, 3], [41, 1], [50, 1], [51, 0], [90, 0], [91, 1], [110, 1], [111, 2], [130, 2], [131, 3], [200, 3],
  ])('pulse %d → %d', (v, want) => {
    expect(scoreHeartRate(v)).toBe(want);
  });
});

describe('consciousness (ACVPU)', () => {
  it.each([
    ['A', 0], ['C', 3], ['V', 3], ['P', 3], ['U', 3],
  ] as const)('%s → %d', (c, want) => {
    expect(scoreConsciousness(c)).toBe(want);
    expect(scoreConsciousness(Consciousness[c])).toBe(want);
  });
});

describe('temperature bands', () => {
  it.each([
    [30.0, 3], [35.0, 3], [35.1, 1], [36.0, 1], [36.1, 0], [38.0, 0], [38.1, 1], [39.0, 1], [39.1, 2], [42.0, 2],
  ])('%d °C → %d', (v, want) => {
    expect(scoreTemperature(v)).toBe(want);
  });
});

describe('values between printed cells: round half up to the chart precision, then band', () => {
  it.each([
    ['RR', 20.4, 0, scoreRespRate], ['RR', 20.5, 2, scoreRespRate],
    ['RR', 8.4, 3, scoreRespRate], ['RR', 8.5, 1, scoreRespRate],
    ['pulse', 90.4, 0, scoreHeartRate], ['pulse', 90.5, 1, scoreHeartRate],
    ['pulse', 40.5, 1, scoreHeartRate], ['pulse', 130.49, 2, scoreHeartRate],
    ['SBP', 110.4, 1, scoreSystolicBp], ['SBP', 110.5, 0, scoreSystolicBp],
    ['SBP', 90.5, 2, scoreSystolicBp], ['SBP', 219.5, 3, scoreSystolicBp],
    ['SpO2 scale 1', 95.4, 1, scoreSpo2Scale1], ['SpO2 scale 1', 95.5, 0, scoreSpo2Scale1],
    ['SpO2 scale 1', 91.5, 2, scoreSpo2Scale1],
    ['temperature', 36.04, 1, scoreTemperature], ['temperature', 36.05, 0, scoreTemperature],
    ['temperature', 35.04, 3, scoreTemperature], ['temperature', 35.05, 1, scoreTemperature],
    ['temperature', 38.04, 0, scoreTemperature], ['temperature', 38.05, 1, scoreTemperature],
    ['temperature', 39.04, 1, scoreTemperature], ['temperature', 39.05, 2, scoreTemperature],
  ] as const)('%s %s → %s', (_name, v, want, fn) => {
    expect(fn(v)).toBe(want);
  });

  it('bands every hundredth from 30.00 to 45.00 °C as its decimal half-up tenth, despite binary floats', () => {
    const bandTenths = (t: number) => (t <= 350 ? 3 : t <= 360 ? 1 : t <= 380 ? 0 : t <= 390 ? 1 : 2);
    for (let hundredths = 3000; hundredths <= 4500; hundredths++) {
      const v = Number((hundredths / 100).toFixed(2));
      expect(scoreTemperature(v), `${v} °C`).toBe(bandTenths(Math.floor((hundredths + 5) / 10)));
    }
  });

  it('rounds SpO2 before the scale 2 oxygen split', () => {
    expect(scoreSpo2Scale2(92.4, true)).toBe(0);
    expect(scoreSpo2Scale2(92.5, true)).toBe(1);
    expect(scoreSpo2Scale2(92.5, false)).toBe(0);
  });
});

describe('clinical risk (Chart 2) and alert level', () => {
  it.each([
    // [aggregate, any single 3, RCP risk, product level]
    [0, false, 'low', 'low'],
    [4, false, 'low', 'low'],
    [3, true, 'low-medium', 'medium'],
    [4, true, 'low-medium', 'medium'],
    [5, false, 'medium', 'high'],
    [5, true, 'medium', 'high'],
    [6, false, 'medium', 'high'],
    [6, true, 'medium', 'high'],
    [7, false, 'high', 'critical'],
    [7, true, 'high', 'critical'],
    [20, true, 'high', 'critical'],
  ] as const)('aggregate %d, single 3 = %s → %s / %s', (score, three, risk, level) => {
    expect(news2Risk(score, three)).toBe(risk);
    expect(NEWS2_RISK_TO_LEVEL[risk]).toBe(level);
  });

  it.each([
    // Whole patients landing on each aggregate boundary, none of them with a red 3.
    [0, NORMAL],
    [4, { ...NORMAL, respRate: 21, heartRate: 111 }], // 2 + 2
    [5, { ...NORMAL, respRate: 21, heartRate: 111, temperatureC: 38.5 }], // 2 + 2 + 1
    [6, { ...NORMAL, respRate: 21, heartRate: 111, onOxygen: true }], // 2 + 2 + 2
    [7, { ...NORMAL, respRate: 21, heartRate: 111, onOxygen: true, temperatureC: 38.5 }], // 2 + 2 + 2 + 1
  ] as const)('a patient scoring %d without a red score', (want, inputs) => {
    const r = news2(inputs);
    expect(r.score).toBe(want);
    expect(r.anySingleThree).toBe(false);
    expect(r.complete).toBe(true);
    expect(r.risk).toBe(news2Risk(want, false));
  });

  it('a single 3 with aggregate 3 is low-medium', () => {
    const r = news2({ ...NORMAL, consciousness: 'C' });
    expect(r).toMatchObject({ score: 3, anySingleThree: true, risk: 'low-medium', level: 'medium' });
  });

  it('aggregate 4 made of 1s and 2s (no 3) stays low', () => {
    const r = news2({ ...NORMAL, respRate: 10, spo2: 93, temperatureC: 38.5 }); // 1 + 2 + 1
    expect(r.score).toBe(4);
    expect(r).toMatchObject({ anySingleThree: false, risk: 'low', level: 'low' });
  });

  it('a red 3 from scale 2 over-oxygenation counts as a single 3', () => {
    const r = news2({ ...NORMAL, spo2Scale: 2, spo2: 97, onOxygen: true });
    // 3 + 2 = 5 → medium outranks low-medium
    expect(r).toMatchObject({ score: 5, anySingleThree: true, risk: 'medium', level: 'high' });
  });
});

describe('worked patients (hand-scored from Chart 1)', () => {
  it('deteriorating patient on oxygen: RR 24, SpO2 94, O2, SBP 105, pulse 118, new confusion, 38.6 °C', () => {
    const r = news2({
      respRate: 24, spo2: 94, spo2Scale: 1, onOxygen: true, systolicBp: 105, heartRate: 118,
      consciousness: 'C', temperatureC: 38.6,
    });
    expect(r.components).toEqual({
      respRate: 2, spo2: 1, airOrOxygen: 2, systolicBp: 1, heartRate: 2, consciousness: 3, temperature: 1,
    });
    expect(r).toMatchObject({ score: 12, complete: true, missing: [], anySingleThree: true, risk: 'high', level: 'critical' });
  });

  it('COPD patient on scale 2, on air: RR 22, SpO2 89, SBP 132, pulse 96, alert, 37.4 °C', () => {
    const r = news2({
      respRate: 22, spo2: 89, spo2Scale: 2, onOxygen: false, systolicBp: 132, heartRate: 96,
      consciousness: 'A', temperatureC: 37.4,
    });
    expect(r.components).toEqual({
      respRate: 2, spo2: 0, airOrOxygen: 0, systolicBp: 0, heartRate: 1, consciousness: 0, temperature: 0,
    });
    expect(r).toMatchObject({ score: 3, risk: 'low', level: 'low' });
  });

  it('NHS ED FHIR IG example "Carol Test": RR 21, SpO2 93, air, SBP 120, pulse 95, alert, 37.5 °C', () => {
    // SynaneticsLtd/emergency-department-ig records a total of 6 for these vitals because it scores
    // 37.5 °C as 1; Chart 1 puts 36.1–38.0 at 0, so the chart total is 5.
    const r = news2({
      respRate: 21, spo2: 93, spo2Scale: 1, onOxygen: false, systolicBp: 120, heartRate: 95,
      consciousness: 'A', temperatureC: 37.5,
    });
    expect(r.components).toEqual({
      respRate: 2, spo2: 2, airOrOxygen: 0, systolicBp: 0, heartRate: 1, consciousness: 0, temperature: 0,
    });
    expect(r).toMatchObject({ score: 5, risk: 'medium', level: 'high' });
  });
});

describe('missing parameters', () => {
  it('an empty observation set scores 0 with all seven missing', () => {
    const r = news2({});
    expect(r.score).toBe(0);
    expect(r.complete).toBe(false);
    expect(r.missing).toEqual(['respRate', 'spo2', 'airOrOxygen', 'systolicBp', 'heartRate', 'consciousness', 'temperature']);
    expect(Object.values(r.components).every((c) => c === null)).toBe(true);
    expect(r.risk).toBe('low');
  });

  it('a missing parameter is null, not 0, and the score sums only what is present', () => {
    const { temperatureC: _t, heartRate: _h, ...rest } = NORMAL;
    const r = news2({ ...rest, respRate: 25 });
    expect(r.components.temperature).toBeNull();
    expect(r.components.heartRate).toBeNull();
    expect(r.missing).toEqual(['heartRate', 'temperature']);
    expect(r).toMatchObject({ score: 3, complete: false, anySingleThree: true, risk: 'low-medium' });
  });

  it('treats null fields (as JSON delivers them) like omitted ones', () => {
    const r = news2({ ...NORMAL, systolicBp: null as unknown as number });
    expect(r.components.systolicBp).toBeNull();
    expect(r.missing).toEqual(['systolicBp']);
  });

  it('scale 2 at ≥ 93% without oxygen status leaves SpO2 unscored rather than guessing', () => {
    const { onOxygen: _o, ...rest } = NORMAL;
    const r = news2({ ...rest, spo2Scale: 2, spo2: 95 });
    expect(r.components.spo2).toBeNull();
    expect(r.components.airOrOxygen).toBeNull();
    expect(r.missing).toEqual(['spo2', 'airOrOxygen']);
  });

  it('scale 2 below 93% is scored even without oxygen status, since the band does not depend on it', () => {
    const { onOxygen: _o, ...rest } = NORMAL;
    const r = news2({ ...rest, spo2Scale: 2, spo2: 85 });
    expect(r.components.spo2).toBe(2);
    expect(r.missing).toEqual(['airOrOxygen']);
  });

  it('a complete set reports complete and no missing parameters', () => {
    const r = news2(NORMAL);
    expect(r).toMatchObject({ score: 0, complete: true, missing: [], anySingleThree: false, risk: 'low', level: 'low' });
  });
});

describe('input guard', () => {
  it.each([
    ['respRate', Number.NaN], ['respRate', -1], ['spo2', Number.POSITIVE_INFINITY], ['spo2', 101],
    ['systolicBp', -0.5], ['heartRate', Number.NaN], ['temperatureC', Number.NEGATIVE_INFINITY],
  ] as const)('%s = %d throws RangeError', (field, v) => {
    expect(() => news2({ ...NORMAL, [field]: v })).toThrow(RangeError);
  });

  it('rejects a non-number, an unknown consciousness code, a bad scale and a non-boolean oxygen flag', () => {
    expect(() => news2({ ...NORMAL, heartRate: '80' as unknown as number })).toThrow(RangeError);
    expect(() => news2({ ...NORMAL, consciousness: 'X' as unknown as 'A' })).toThrow(RangeError);
    expect(() => news2({ ...NORMAL, spo2Scale: 3 as unknown as 1 })).toThrow(RangeError);
    expect(() => news2({ ...NORMAL, onOxygen: 'yes' as unknown as boolean })).toThrow(RangeError);
  });

  it('accepts 0 (a valid reading of e.g. an apnoeic respiration rate)', () => {
    expect(scoreRespRate(0)).toBe(3);
  });
});
