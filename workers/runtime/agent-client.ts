/**
 * Registration with the Agent: form `name`, `endpoint` to `worker/register`, `Success`/`Failed` replies.
 * Retries with exponential backoff and jitter. Both Agents (ours and the original Kuwa kernel) answer a registration
 * of a name and endpoint they already hold with a 200 `Failed` and change nothing, so that reply means "registered"
 * (e.g. a restart on the same port), and the periodic check is the same registration: `Failed` while the Agent
 * knows us, `Success` when it had forgotten us and now knows us again. (`worker/list` cannot tell: the original
 * answers every name and no endpoint.)
 * With a token-protected Agent every call carries `AGENT_TOKEN`, and the registration carries the worker's own token
 * (form field `token`) for the Agent's calls back; a 401 is final, not retried.
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
  /** Sent as `Authorization: Bearer` on every call to the Agent. */
  agentToken?: string;
  /** The worker's own token, sent with the registration for the Agent's calls to this worker. */
  workerToken?: string;
}

/** `known`: a 200 `Failed` to a registration, the Agent's answer for a name and endpoint it already holds. */
type Reply = "Success" | "known" | "Failed" | "unauthorized" | "error";

export class AgentClient {
  private timer?: Timer;
  private stopped = false;
  private wake?: () => void;

  private readonly headers: Record<string, string>;
  /** Why the Agent refused our token, once it has. */
  private refusal?: string;

  constructor(private readonly options: AgentClientOptions) {
    options.metrics.setRegistration(options.name, options.publicEndpoint);
    this.headers = options.agentToken ? { authorization: `Bearer ${options.agentToken}` } : {};
  }

  private unauthorized(path: string, detail: string): "unauthorized" {
    const setting = this.options.agentToken ? "AGENT_TOKEN does not match the Agent's token" : "AGENT_TOKEN is not set";
    this.refusal =
      `the Agent at ${this.options.agentEndpoint} answered 401 to ${path.replace("./", "")} (${detail.slice(0, 200)}): ${setting}; ` +
      "set AGENT_TOKEN to the Agent's token (its plugins.agent.token / ROCK_AGENT_TOKEN, else server.token / ROCK_API_TOKEN)";
    return "unauthorized";
  }

  private url(path: string) {
    return new URL(path, this.options.agentEndpoint);
  }

  private async post(path: string, extra: Record<string, string> = {}): Promise<Reply> {
    try {
      const form = new URLSearchParams({ name: this.options.name, endpoint: this.options.publicEndpoint, slots: String(this.options.slots) });
      for (const [key, value] of Object.entries(extra)) form.set(key, value);
      const response = await fetch(this.url(path), { method: "POST", body: form, headers: this.headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
      const text = (await response.text()).trim();
      if (response.status === 401) return this.unauthorized(path, text);
      // Unlike the original, a 404 or 500 page is not a success.
      if (!response.ok) return "Failed";
      return text === "Failed" ? "known" : "Success";
    } catch (error) {
      this.options.log.debug(`agent ${path} failed`, { error: (error as Error).message });
      return "error";
    }
  }

  private registration(): Promise<Reply> {
    return this.post("./worker/register", this.options.workerToken ? { token: this.options.workerToken } : {});
  }

  private async attempt(): Promise<boolean> {
    this.options.metrics.agcAttempts.inc();
    const reply = await this.registration();
    return reply === "Success" || reply === "known";
  }

  /** Why registration cannot succeed by retrying (the Agent refused the token); undefined otherwise. */
  get refused(): string | undefined {
    return this.refusal;
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
      if (this.refusal) break;
      if (n < retryCount) await this.sleep(retryBaseMs * 2 ** n + Math.random() * retryBaseMs);
    }
    metrics.setAgcState("failed");
    if (this.refusal) log.error(`registration refused: ${this.refusal}`);
    else log.warn("registration failed", { agent: this.options.agentEndpoint, attempts: retryCount + 1 });
    return false;
  }

  /** Registers again every `checkIntervalMs`: a no-op while the Agent knows us, a registration when it has forgotten us. */
  watch() {
    if (!this.options.checkIntervalMs) return;
    const check = async () => {
      if (this.stopped) return;
      const reply = await this.registration();
      if (this.stopped) return;
      // Only a check that registers (or fails to) is an attempt.
      if (reply !== "known") this.options.metrics.agcAttempts.inc();
      this.options.metrics.setAgcState(reply === "Success" || reply === "known" ? "registered" : "trying");
      if (reply === "Success") this.options.log.info("registered again (the agent had forgotten this worker)");
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
    if (reply === "unauthorized") this.options.log.warn(`unregister refused: ${this.refusal}`);
    else if (reply !== "Success") this.options.log.warn(reply === "error" ? "unregister failed: agent unreachable" : "unregister refused by the agent");
    else this.options.log.info("unregistered from the agent");
    this.options.metrics.setAgcState("uninitialized");
    return reply === "Success";
  }
}
