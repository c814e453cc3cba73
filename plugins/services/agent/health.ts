/**
 * Liveness of registered workers: every round re-reads the registry from the store, then asks each worker's
 * `GET /health`; a worker that fails `failures` rounds in a row is dropped (the original had no such check and
 * only dropped a worker when a chat to it failed to connect).
 */
import type { Logger } from "../../../core/log.ts";
import type { Balancer } from "./balancer.ts";
import type { AgentMetrics } from "./metrics.ts";
import type { WorkerRegistry } from "./registry.ts";

export interface HealthOptions {
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  fetch: typeof fetch;
}

export function healthUrl(endpoint: string): string {
  return new URL("/health", endpoint).toString();
}

export class HealthChecker {
  private readonly failed = new Map<string, number>();
  private timer?: Timer;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly balancer: Balancer,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly options: HealthOptions,
  ) {}

  private async alive(endpoint: string): Promise<boolean> {
    try {
      const response = await this.options.fetch(healthUrl(endpoint), { signal: AbortSignal.timeout(this.options.timeoutMs) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  /** One round; exposed for tests and for the first check at start-up. */
  async round(): Promise<void> {
    try {
      await this.registry.refresh();
    } catch (error) {
      this.log.warn("cannot read the registry from the store", { error: (error as Error).message });
      return;
    }
    await Promise.all(
      this.registry.all().map(async ({ name, endpoint }) => {
        const key = `${name}\n${endpoint}`;
        if (await this.alive(endpoint)) {
          this.failed.delete(key);
          return;
        }
        const count = (this.failed.get(key) ?? 0) + 1;
        this.failed.set(key, count);
        if (count < this.options.failures) return;
        this.failed.delete(key);
        await this.registry.remove(name, (e) => e === endpoint);
        this.balancer.forget(endpoint);
        this.metrics.dropped.inc({ name, reason: "health" });
        this.log.warn("dropped a worker that fails its health check", { name, endpoint, failures: count });
      }),
    );
  }

  start() {
    const tick = async () => {
      this.running = this.round();
      await this.running;
      if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
