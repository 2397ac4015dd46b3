import type { CounterHandle, GaugeHandle, HistogramHandle, Labels, Metrics } from '../../runtime/ports.js';

// An empty label set is the unlabelled series, as in Prometheus.
const key = (name: string, labels?: Labels) =>
  labels && Object.keys(labels).length > 0
    ? `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`
    : name;

/** Records values in maps; what tests read, and the embedded default before Prometheus is wired. */
export class MemoryMetrics implements Metrics {
  readonly values = new Map<string, number>();
  readonly observations = new Map<string, number[]>();
  private readonly names = new Map<string, string>();

  private register(name: string, type: string): void {
    const had = this.names.get(name);
    if (had && had !== type) throw new Error(`metric ${name} registered as ${had} and ${type}`);
    this.names.set(name, type);
  }
  counter(name: string, _help: string): CounterHandle {
    this.register(name, 'counter');
    return { inc: (v = 1, labels) => this.values.set(key(name, labels), (this.values.get(key(name, labels)) ?? 0) + v) };
  }
  gauge(name: string, _help: string): GaugeHandle {
    this.register(name, 'gauge');
    return { set: (v, labels) => void this.values.set(key(name, labels), v) };
  }
  histogram(name: string, _help: string): HistogramHandle {
    this.register(name, 'histogram');
    return {
      observe: (v, labels) => {
        const k = key(name, labels);
        const arr = this.observations.get(k) ?? [];
        if (arr.length < 100_000) arr.push(v);
        this.observations.set(k, arr);
      },
    };
  }
  /** One counter or gauge series; `undefined` if never written. */
  value(name: string, labels?: Labels): number | undefined {
    return this.values.get(key(name, labels));
  }
  /** One histogram series' observations (the first 100k); `undefined` if never observed. */
  observed(name: string, labels?: Labels): readonly number[] | undefined {
    return this.observations.get(key(name, labels));
  }
  /** Sum of a metric over all its label sets. */
  total(name: string): number {
    let t = 0;
    for (const [k, v] of this.values) if (k === name || k.startsWith(`${name}{`)) t += v;
    return t;
  }
}
