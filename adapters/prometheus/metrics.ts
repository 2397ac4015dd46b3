import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterHandle, GaugeHandle, HistogramHandle, Labels, Metrics } from '../../runtime/ports.js';

type Any = Counter<string> | Gauge<string> | Histogram<string>;

/**
 * The Metrics port on prom-client, one registry per node. prom-client throws when a name is
 * registered twice, while the port lets every component ask for its metric by name: handles are
 * cached by name, and asking again with another type is the error.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly byName = new Map<string, { type: string; metric: Any }>();

  constructor(opts: { defaultMetrics?: boolean; prefix?: string } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: opts.prefix ?? 'vigil_process_' });
  }

  private get<T extends Any>(name: string, type: string, make: () => T): T {
    const had = this.byName.get(name);
    if (had) {
      if (had.type !== type) throw new Error(`metric ${name} is a ${had.type}, not a ${type}`);
      return had.metric as T;
    }
    const metric = make();
    this.byName.set(name, { type, metric });
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): CounterHandle {
    const c = this.get(name, 'counter', () => new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] }));
    return { inc: (v = 1, labels?: Labels) => (labels ? c.inc(labels as Record<string, string | number>, v) : c.inc(v)) };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): GaugeHandle {
    const g = this.get(name, 'gauge', () => new Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] }));
    return { set: (v, labels?: Labels) => (labels ? g.set(labels as Record<string, string | number>, v) : g.set(v)) };
  }

  histogram(name: string, help: string, buckets?: readonly number[], labelNames: readonly string[] = []): HistogramHandle {
    const h = this.get(name, 'histogram', () => new Histogram({
      name, help, labelNames: [...labelNames], registers: [this.registry],
      ...(buckets ? { buckets: [...buckets] } : {}),
    }));
    return { observe: (v, labels?: Labels) => (labels ? h.observe(labels as Record<string, string | number>, v) : h.observe(v)) };
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
