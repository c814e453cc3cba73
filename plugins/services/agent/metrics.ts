/** The Agent's metrics (prefixed `rock_agent_`): workers per name, dispatches, failures, drops. */
import type { PluginMetrics } from "../../../core/metrics.ts";
import type { WorkerRegistry } from "./registry.ts";

export type FailureReason = "no_worker" | "busy" | "unreachable" | "worker_error" | "store_unavailable";

export function agentMetrics(metrics: PluginMetrics, registry: WorkerRegistry) {
  return {
    registered: metrics.gauge({
      name: "registered_workers",
      help: "Workers registered per name",
      labelNames: ["name"],
      collect() {
        this.reset();
        for (const name of registry.names()) this.set({ name }, registry.workers(name).length);
      },
    }),
    dispatches: metrics.counter({ name: "dispatches_total", help: "Chats sent to a worker", labelNames: ["name"] }),
    failures: metrics.counter({ name: "dispatch_failures_total", help: "Chats that did not reach a worker or got an error from it", labelNames: ["name", "reason"] }),
    dropped: metrics.counter({ name: "dropped_workers_total", help: "Workers dropped by the Agent", labelNames: ["name", "reason"] }),
  };
}

export type AgentMetrics = ReturnType<typeof agentMetrics>;
