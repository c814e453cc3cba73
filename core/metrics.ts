import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from "prom-client";

/** One registry per kernel: every server's `/metrics` shows it (process metrics, HTTP metrics, plugin metrics). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's gauges named *_total break Prometheus naming rules (promtool rejects them), so they are dropped.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
  return registry;
}

type Named<T> = Omit<T, "registers" | "name"> & { name: string };

/**
 * Metric constructors for one plugin: names get the plugin's prefix, and everything lands in the kernel registry.
 * Asking twice for the same name returns the same metric (a plugin restarted in-process keeps its series).
 */
export class PluginMetrics {
  constructor(
    readonly registry: Registry,
    readonly prefix: string,
  ) {}

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(this.prefix + name) as T | undefined;
  }

  counter<L extends string>(config: Named<CounterConfiguration<L>>): Counter<L> {
    return this.existing<Counter<L>>(config.name) ?? new Counter({ ...config, name: this.prefix + config.name, registers: [this.registry] });
  }

  gauge<L extends string>(config: Named<GaugeConfiguration<L>>): Gauge<L> {
    return this.existing<Gauge<L>>(config.name) ?? new Gauge({ ...config, name: this.prefix + config.name, registers: [this.registry] });
  }

  histogram<L extends string>(config: Named<HistogramConfiguration<L>>): Histogram<L> {
    return this.existing<Histogram<L>>(config.name) ?? new Histogram({ ...config, name: this.prefix + config.name, registers: [this.registry] });
  }
}

/** `rock_` + the plugin name with characters Prometheus forbids turned into `_`. */
export function defaultMetricsPrefix(plugin: string): string {
  return `rock_${plugin.replace(/[^a-zA-Z0-9_]/g, "_")}_`;
}
