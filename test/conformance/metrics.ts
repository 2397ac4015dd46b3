import { beforeEach, describe, expect, it } from 'vitest';
import type { Labels, Metrics } from '../../runtime/ports.js';

export interface MetricsHarness {
  metrics: Metrics;
  /**
   * The current value of one series in Prometheus terms: a counter's or gauge's value, and for
   * a histogram `${name}_count` and `${name}_sum`. `undefined` for a series never written.
   */
  read: (name: string, labels?: Labels) => Promise<number | undefined>;
}

/** The Metrics contract (runtime/ports.ts), run against every adapter; `make` gives a fresh registry. */
export function metricsConformance(name: string, make: () => MetricsHarness | Promise<MetricsHarness>): void {
  describe(`Metrics conformance: ${name}`, () => {
    let h: MetricsHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('a counter adds, by 1 by default', async () => {
      const c = h.metrics.counter('vigil_test_events_total', 'events');
      c.inc();
      c.inc(5);
      c.inc(0.5);
      expect(await h.read('vigil_test_events_total')).toBe(6.5);
    });

    it('empty labels address the unlabelled series', async () => {
      const c = h.metrics.counter('vigil_test_plain_total', 'plain');
      c.inc(1);
      c.inc(2, {});
      expect(await h.read('vigil_test_plain_total')).toBe(3);
      expect(await h.read('vigil_test_plain_total', {})).toBe(3);
    });

    it('a labelled counter keeps one series per label set, whatever the key order or value type', async () => {
      const c = h.metrics.counter('vigil_test_applied_total', 'applied', ['host', 'kind']);
      c.inc(2, { host: 0, kind: 'patient' });
      c.inc(3, { kind: 'patient', host: '0' });
      c.inc(1, { host: 1, kind: 'patient' });
      expect(await h.read('vigil_test_applied_total', { host: '0', kind: 'patient' })).toBe(5);
      expect(await h.read('vigil_test_applied_total', { host: 1, kind: 'patient' })).toBe(1);
      expect(await h.read('vigil_test_applied_total', { host: 2, kind: 'patient' })).toBeUndefined();
    });

    it('a gauge is set, not added', async () => {
      const g = h.metrics.gauge('vigil_test_active', 'active', ['host']);
      g.set(5, { host: 0 });
      g.set(2, { host: 0 });
      g.set(-1.5, { host: 1 });
      expect(await h.read('vigil_test_active', { host: 0 })).toBe(2);
      expect(await h.read('vigil_test_active', { host: 1 })).toBe(-1.5);
      const plain = h.metrics.gauge('vigil_test_retained', 'retained');
      plain.set(10);
      plain.set(0);
      expect(await h.read('vigil_test_retained')).toBe(0);
    });

    it('a histogram counts and sums its observations, per label set', async () => {
      const hist = h.metrics.histogram('vigil_test_latency_seconds', 'latency', [0.001, 0.01, 0.1, 1], ['host']);
      for (const v of [0.0005, 0.02, 0.3, 5]) hist.observe(v, { host: 0 });
      hist.observe(0.25, { host: 1 });
      expect(await h.read('vigil_test_latency_seconds_count', { host: 0 })).toBe(4);
      expect(await h.read('vigil_test_latency_seconds_sum', { host: 0 })).toBeCloseTo(5.3205, 9);
      expect(await h.read('vigil_test_latency_seconds_count', { host: 1 })).toBe(1);
      const plain = h.metrics.histogram('vigil_test_batch_events', 'batch size');
      plain.observe(100);
      plain.observe(28);
      expect(await h.read('vigil_test_batch_events_count')).toBe(2);
      expect(await h.read('vigil_test_batch_events_sum')).toBe(128);
    });

    it('registering a name again with the same type shares its series', async () => {
      // A second runtime in one process (tests, a restart) registers the same metrics again.
      const a = h.metrics.counter('vigil_test_shared_total', 'shared', ['host']);
      const b = h.metrics.counter('vigil_test_shared_total', 'shared', ['host']);
      a.inc(1, { host: 0 });
      b.inc(2, { host: 0 });
      expect(await h.read('vigil_test_shared_total', { host: 0 })).toBe(3);
    });

    it('registering one name as two types throws', () => {
      h.metrics.counter('vigil_test_clash', 'clash');
      expect(() => h.metrics.gauge('vigil_test_clash', 'clash')).toThrow();
      expect(() => h.metrics.histogram('vigil_test_clash', 'clash')).toThrow();
      h.metrics.gauge('vigil_test_clash_g', 'clash');
      expect(() => h.metrics.counter('vigil_test_clash_g', 'clash')).toThrow();
    });
  });
}
