/**
 * Registration with the Agent: form `name`, `endpoint` to `worker/register`, `Success`/`Failed` replies.
 * Retries with exponential backoff and jitter; a `Failed` reply counts as registered when the Agent already lists
 * our endpoint (e.g. a restart on the same port). A periodic check re-registers when the Agent has forgotten us.
 */
import type { Logger } from "../../core/log.ts";
import type { WorkerMetrics } from "./metrics.ts";

export interface AgentClientOptions {
  /** Ends in `/` (…/v1.0/). */
  agentEndpoint: string;
  name: string;
  publicEndpoint: string;
  /** Streams the worker takes at once, sent as the extra form field `slots` (the original Agent ignores it). */
  slots: number;
  retryCount: number;
  retryBaseMs: number;
  checkIntervalMs: number;
  metrics: WorkerMetrics;
  log: Logger;
  /** Per-request deadline. */
  timeoutMs?: number;
}

type Reply = "Success" | "Failed" | "error";

export class AgentClient {
  private timer?: Timer;
  private stopped = false;
  private wake?: () => void;

  constructor(private readonly options: AgentClientOptions) {
    options.metrics.setRegistration(options.name, options.publicEndpoint);
  }

  private url(path: string) {
    return new URL(path, this.options.agentEndpoint);
  }

  private async post(path: string): Promise<Reply> {
    try {
      const response = await fetch(this.url(path), {
        method: "POST",
        body: new URLSearchParams({ name: this.options.name, endpoint: this.options.publicEndpoint, slots: String(this.options.slots) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      const text = (await response.text()).trim();
      // Unlike the original, a 404 or 500 page is not a success.
      return response.ok && text !== "Failed" ? "Success" : "Failed";
    } catch (error) {
      this.options.log.debug(`agent ${path} failed`, { error: (error as Error).message });
      return "error";
    }
  }

  /** True when the Agent lists our endpoint under our name (`worker/list?name=`). */
  private async listed(): Promise<boolean> {
    try {
      const url = this.url("./worker/list");
      url.searchParams.set("name", this.options.name);
      const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
      if (!response.ok) return false;
      const list = (await response.json()) as unknown;
      return Array.isArray(list) && list.includes(this.options.publicEndpoint);
    } catch {
      return false;
    }
  }

  private async attempt(): Promise<boolean> {
    this.options.metrics.agcAttempts.inc();
    const reply = await this.post("./worker/register");
    return reply === "Success" || (reply === "Failed" && (await this.listed()));
  }

  private sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Registers, retrying `retryCount` times (base·2ⁿ plus up to one base of jitter between tries). */
  async register(): Promise<boolean> {
    const { metrics, log, retryCount, retryBaseMs } = this.options;
    for (let n = 0; n <= retryCount && !this.stopped; n++) {
      metrics.setAgcState("trying");
      if (await this.attempt()) {
        metrics.setAgcState("registered");
        log.info("registered with the agent", { agent: this.options.agentEndpoint, name: this.options.name, endpoint: this.options.publicEndpoint });
        return true;
      }
      if (n < retryCount) await this.sleep(retryBaseMs * 2 ** n + Math.random() * retryBaseMs);
    }
    metrics.setAgcState("failed");
    log.warn("registration failed", { agent: this.options.agentEndpoint, attempts: retryCount + 1 });
    return false;
  }

  /** Checks every `checkIntervalMs` that the Agent still lists us, and registers again when it does not. */
  watch() {
    if (!this.options.checkIntervalMs) return;
    const check = async () => {
      if (this.stopped) return;
      if (!(await this.listed()) && !this.stopped) {
        const ok = await this.attempt();
        this.options.metrics.setAgcState(ok ? "registered" : "trying");
        if (ok) this.options.log.info("registered again (the agent had forgotten this worker)");
      }
      if (!this.stopped) this.timer = setTimeout(check, this.options.checkIntervalMs);
    };
    this.timer = setTimeout(check, this.options.checkIntervalMs);
  }

  /** Stops retries and checks, then unregisters once (never retried, as in the original). */
  async unregister(): Promise<boolean> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    const reply = await this.post("./worker/unregister");
    if (reply !== "Success") this.options.log.warn(reply === "Failed" ? "unregister refused by the agent" : "unregister failed: agent unreachable");
    else this.options.log.info("unregistered from the agent");
    this.options.metrics.setAgcState("uninitialized");
    return reply === "Success";
  }
}
