/**
 * The Worker Framework's metrics, with its names, labels and buckets (every series has `app_name`). They live in
 * the worker's own registry; `/metrics` shows it together with the plugin host's registry (process metrics and
 * plugin metrics).
 */
import { Counter, Gauge, Histogram } from "prom-client";
import { StampedRegistry } from "../../core/metrics.ts";

export const frameworkVersion = "0.1.0";

const agcStates = ["uninitialized", "trying", "registered", "failed"] as const;
export type AgcState = (typeof agcStates)[number];
const layoutStates = ["idle", "busy"] as const;

const range = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

export class WorkerMetrics {
  readonly registry = new StampedRegistry(); // with *_created, as the original's prometheus_client
  readonly agcAttempts: Counter;
  readonly received: Counter;
  readonly accepted: Counter;
  readonly rejected: Counter;
  readonly layoutFailed: Counter;
  readonly processTime: Histogram;
  readonly outputLength: Histogram;
  readonly throughput: Histogram;
  private readonly registrationInfo: Gauge;
  private readonly agcState: Gauge;
  private readonly layoutState: Gauge;

  constructor(
    readonly appName: string,
    layout: { usesDefaultProcess: boolean; mainClass: string },
  ) {
    this.registry.setDefaultLabels({ app_name: appName });
    const registers = [this.registry];
    new Gauge({ name: "worker_framework_version_info", help: "Worker framework version", labelNames: ["version"], registers }).set({ version: frameworkVersion }, 1);
    this.registrationInfo = new Gauge({ name: "worker_agc_registration_info", help: "What was sent to the Agent", labelNames: ["llm_name", "public_endpoint"], registers });
    this.agcState = new Gauge({ name: "worker_agc_state", help: "Agent client state", labelNames: ["worker_agc_state"], registers });
    this.agcAttempts = new Counter({ name: "worker_agc_attempts_total", help: "Registration attempts", registers });
    this.received = new Counter({ name: "worker_api_received_requests_total", help: "Completion requests received", registers });
    this.accepted = new Counter({ name: "worker_api_accepted_requests_total", help: "Completion requests accepted", registers });
    this.rejected = new Counter({ name: "worker_api_rejected_requests_total", help: "Completion requests rejected (busy or bad input)", registers });
    new Gauge({ name: "worker_layout_config_info", help: "Layout configuration", labelNames: ["default_layout", "main_class"], registers }).set(
      { default_layout: layout.usesDefaultProcess ? "True" : "False", main_class: layout.mainClass },
      1,
    );
    this.layoutState = new Gauge({ name: "worker_layout_state", help: "Layout busy flag", labelNames: ["worker_layout_state"], registers });
    this.layoutFailed = new Counter({ name: "worker_layout_failed_total", help: "Exceptions during processing", registers });
    this.processTime = new Histogram({
      name: "worker_layout_process_time_seconds",
      help: "Seconds per request",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 30, 40, 50, 60],
      registers,
    });
    this.outputLength = new Histogram({
      name: "worker_layout_output_length_charters",
      help: "Output characters per request",
      buckets: [...range(10, 90, 10), ...range(100, 900, 100), ...range(1000, 2000, 100)],
      registers,
    });
    this.throughput = new Histogram({
      name: "worker_layout_output_throughput_charters_per_second",
      help: "Output characters per second",
      buckets: [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200],
      registers,
    });
    this.setAgcState("uninitialized");
    this.setBusy(false);
  }

  setRegistration(llmName: string, publicEndpoint: string) {
    this.registrationInfo.reset();
    this.registrationInfo.set({ llm_name: llmName, public_endpoint: publicEndpoint }, 1);
  }

  setAgcState(state: AgcState) {
    for (const s of agcStates) this.agcState.set({ worker_agc_state: s }, s === state ? 1 : 0);
  }

  setBusy(busy: boolean) {
    for (const s of layoutStates) this.layoutState.set({ worker_layout_state: s }, (s === "busy") === busy ? 1 : 0);
  }

  observeSuccess(seconds: number, characters: number) {
    this.processTime.observe(seconds);
    this.outputLength.observe(characters);
    if (seconds > 0) this.throughput.observe(characters / seconds);
  }
}
