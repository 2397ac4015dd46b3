import { describe, expect, it } from 'vitest';
import { createProcedure, nextLevel, procedureSummary, riskOf, type ProcedureState } from '../../actors/procedure.js';
import { ActorDriver } from './driver.js';
import { cfg, T0, tel } from './fixtures.js';

const pc = cfg.procedure;
const procedure = () => new ActorDriver<ProcedureState>(createProcedure(cfg), 't1', 'pr1');
const summary = (d: ActorDriver<ProcedureState>) => procedureSummary('pr1', JSON.parse(d.snapshot()), T0);

describe('procedure actor', () => {
  it('scores composite risk from force, velocity, latency and errors as documented', () => {
    expect(riskOf(pc, 0, 0, 0, false)).toBe(0);
    expect(riskOf(pc, 60, 200, 300, true)).toBeCloseTo(100);
    expect(riskOf(pc, 30, 0, 0, false)).toBeCloseTo(100 * 0.35 * 0.5);
    expect(riskOf(pc, 1000, 0, 0, false)).toBeCloseTo(35); // each component saturates at 1
    expect(riskOf(pc, 0, 0, 0, true)).toBeCloseTo(25);
  });

  it('keeps events, avg_risk, max_risk, critical_count, errors and max force', () => {
    const d = procedure();
    d.event(T0, tel({ force_newtons: 10, velocity_mm_s: 20, latency_ms: 40 }));
    d.event(T0 + 10, tel({ force_newtons: 60, velocity_mm_s: 200, latency_ms: 300, error_code: 'E42' }));
    const r1 = riskOf(pc, 10, 20, 40, false);
    const s = summary(d);
    expect(s).toMatchObject({ events: 2, max_risk: 100, critical_count: 1, errors: 1, max_force_newtons: 60, error_codes: { E42: 1 } });
    expect(s.avg_risk as number).toBeCloseTo((r1 + 100) / 2);
  });

  it('fires high-force, high-latency and error triggers and resolves them when they clear', () => {
    const d = procedure();
    d.event(T0, tel({ force_newtons: 45 }));
    d.event(T0 + 10, tel({ latency_ms: 200 }));
    d.event(T0 + 20, tel({ error_code: 'ARM_STALL' }));
    const open = d.alerts.filter((a) => a.state === 'open').map((a) => [a.reason, a.level]);
    expect(open).toEqual(expect.arrayContaining([['high_force', 'high'], ['high_latency', 'medium'], ['device_error', 'high']]));
    expect(d.alerts.find((a) => a.reason === 'high_force' && a.state === 'resolved')).toBeDefined(); // second sample was 10 N
    d.event(T0 + 6000, tel({}));
    expect(d.alerts.filter((a) => a.reason === 'device_error').map((a) => a.state)).toEqual(['open', 'resolved']);
  });

  it('detects a force spike against the rolling baseline', () => {
    const d = procedure();
    for (let i = 0; i < 50; i++) d.event(T0 + i * 10, tel({ force_newtons: 10 + (i % 3) }));
    expect(d.state.spikes).toBe(0);
    d.event(T0 + 600, tel({ force_newtons: 30 }));
    expect(d.state.spikes).toBe(1);
    expect(d.alerts.at(-1)).toMatchObject({ reason: 'force_spike', state: 'open', level: 'medium', value: 30 });
  });

  it('does not flap when the smoothed risk hovers at a threshold', () => {
    let level = nextLevel(pc, 'low', 51);
    expect(level).toBe('high');
    const seen: string[] = [];
    for (const r of [49, 51, 48, 52, 46, 50.5, 47]) {
      level = nextLevel(pc, level, r);
      seen.push(level);
    }
    expect(new Set(seen)).toEqual(new Set(['high']));
    expect(nextLevel(pc, 'high', 44.9)).toBe('medium');
    expect(nextLevel(pc, 'critical', 10)).toBe('low');
    expect(nextLevel(pc, 'low', 80)).toBe('critical');
  });

  it('raises a risk alert per episode and changes its level in place', () => {
    const d = procedure();
    for (let i = 0; i < 30; i++) d.event(T0 + i * 10, tel({ force_newtons: 60, velocity_mm_s: 200, latency_ms: 100 }));
    const risk = d.alerts.filter((a) => a.reason === 'risk');
    expect(risk.length).toBeGreaterThan(0);
    expect(new Set(risk.map((a) => a.alertId)).size).toBe(1);
    expect(d.state.level).not.toBe('low');
  });

  it('reports p95 latency from the sketch within 1 %', () => {
    const d = procedure();
    const lat: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const l = 20 + ((i * 37) % 200);
      lat.push(l);
      d.event(T0 + i, tel({ latency_ms: l }));
    }
    lat.sort((a, b) => a - b);
    const exact = lat[Math.floor(0.95 * (lat.length - 1))]!;
    expect(Math.abs((summary(d).p95_latency_ms as number) - exact) / exact).toBeLessThanOrEqual(0.01);
  });

  it('sends its summary to its patient at most once per interval', () => {
    const d = procedure();
    for (let i = 0; i < 100; i++) d.event(T0 + i, tel({}));
    expect(d.sent).toHaveLength(0);
    d.advance(pc.notifyEveryMs);
    expect(d.sent).toEqual([{ kind: 'patient', id: 'p1', message: expect.objectContaining({ type: 'procedure.summary', procedure_id: 'pr1', events: 100 }) }]);
    d.advance(pc.notifyEveryMs * 5);
    expect(d.sent).toHaveLength(1);
  });

  it('round-trips its state through a snapshot', () => {
    const d = procedure();
    for (let i = 0; i < 500; i++) d.event(T0 + i * 5, tel({ latency_ms: i % 90, force_newtons: i % 50 }, `rt-${i}`));
    const before = summary(d);
    d.restore(d.snapshot());
    expect(summary(d)).toEqual(before);
    d.event(T0 + 100, tel({}, 'rt-3'));
    expect(d.duplicates).toBe(1);
  });
});
