import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Metric } from "prom-client";

/**
 * A registry that also exposes, for each label set of its counters and histograms, `<name>_created`: the unix time
 * (seconds, a float) at which the label set first appeared, as Python's prometheus_client does (a gauge family after
 * the metric's own, `_total` dropped from a counter's name, the value in Go's float notation).
 */
export class StampedRegistry extends Registry {
  private readonly stamps = new Map<Metric, Map<string, number>>();
  /** Metrics registered while this is false get no `_created` series (prometheus_client's process collector has none). */
  stamping = true;

  override registerMetric(metric: Metric): void {
    super.registerMetric(metric);
    if (this.stamping && (metric instanceof Counter || metric instanceof Histogram) && !this.stamps.has(metric)) this.stamps.set(metric, stampLabelSets(metric));
  }

  override removeSingleMetric(name: string): void {
    const metric = this.getSingleMetric(name);
    if (metric) this.stamps.delete(metric);
    super.removeSingleMetric(name);
  }

  override clear(): void {
    this.stamps.clear();
    super.clear();
  }

  // Not in prom-client's typings, but what its metrics() calls for each metric.
  async getMetricsAsString(metric: Metric): Promise<string> {
    const text: string = await (Registry.prototype as any).getMetricsAsString.call(this, metric);
    const stamps = this.stamps.get(metric);
    if (!stamps || stamps.size === 0) return text;
    const { name, help, hashMap } = metric as unknown as { name: string; help: string; hashMap: Record<string, { labels: Record<string, string | number> }> };
    const created = `${metric instanceof Counter ? name.replace(/_total$/, "") : name}_created`;
    const lines = [text, `# HELP ${created} ${escapeHelp(help)}`, `# TYPE ${created} gauge`];
    for (const [hash, seconds] of stamps) {
      const own = hashMap[hash]?.labels ?? {};
      const labels = Object.entries({ ...own, ...(this as unknown as { _defaultLabels: object })._defaultLabels, ...own }).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
      lines.push(`${created}${labels.length ? `{${labels.join(",")}}` : ""} ${goFloat(seconds)}`);
    }
    return lines.join("\n");
  }
}

/**
 * Records when each label set of a prom-client metric appears: its label sets live in `hashMap` (reassigned by
 * reset()), one key per label set, created on first use and deleted by remove().
 */
function stampLabelSets(metric: Metric): Map<string, number> {
  const stamps = new Map<string, number>();
  const holder = metric as unknown as { hashMap: Record<string, unknown> };
  const watch = (map: Record<string, unknown>) => {
    stamps.clear();
    const now = unixSeconds();
    for (const hash of Object.keys(map)) stamps.set(hash, now);
    return new Proxy(map, {
      set(target, hash, value) {
        if (typeof hash === "string" && !(hash in target)) stamps.set(hash, unixSeconds());
        target[hash as string] = value;
        return true;
      },
      deleteProperty(target, hash) {
        if (typeof hash === "string") stamps.delete(hash);
        return delete target[hash as string];
      },
    });
  };
  let current = watch(holder.hashMap ?? {});
  Object.defineProperty(holder, "hashMap", { configurable: true, enumerable: true, get: () => current, set: (map: Record<string, unknown>) => (current = watch(map)) });
  return stamps;
}

const unixSeconds = () => (performance.timeOrigin + performance.now()) / 1000;

/** prometheus_client's floatToGoString for a positive finite value: Python's repr, with an exponent past 6 digits. */
export function goFloat(value: number): string {
  let s = String(value);
  if (!/[.e]/.test(s)) s += ".0";
  const dot = s.indexOf(".");
  if (value > 0 && dot > 6 && !s.includes("e")) return `${`${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[.0]+$/, "")}e+${String(dot - 1).padStart(2, "0")}`;
  return s;
}

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/**
 * The kernel's registry: process metrics (no `_created`, as prometheus_client's process collector) and the metrics of
 * plugins without a port. Every server's `/metrics` shows it once, before the server's own registry.
 */
export function createRegistry(): StampedRegistry {
  const registry = new StampedRegistry();
  registry.stamping = false;
  collectDefaultMetrics({ register: registry });
  registry.stamping = true;
  // prom-client's gauges named *_total break Prometheus naming rules (promtool rejects them), so they are dropped.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
  return registry;
}

type Named<T> = Omit<T, "registers" | "name"> & { name: string };

/**
 * Metric constructors for one plugin: names get the plugin's prefix, and everything lands in the plugin's registry
 * (a service's own, served on its port only; the kernel's for a plugin without a port).
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
