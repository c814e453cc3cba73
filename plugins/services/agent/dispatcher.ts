/**
 * `chat/completions` and `chat/abort`: finds the worker for a conversation (its `worker/schedule` reservation,
 * or the least loaded worker now), forwards the whole form and the Accept-Language header, and relays the text
 * stream. A worker that refuses connections is dropped and the next one tried; a worker's HTTP error comes back
 * as an error status, never as chat text (the original relayed error bodies as if the model had said them).
 */
import type { Logger } from "../../../core/log.ts";
import type { Balancer } from "./balancer.ts";
import { field, text, type Form } from "./form.ts";
import type { AgentMetrics } from "./metrics.ts";
import type { Registration, WorkerRegistry } from "./registry.ts";
import { relayStream } from "./relay.ts";

interface Streaming {
  name: string;
  historyId: string;
  userId: string;
  endpoint: string;
  /** The worker's token, for its abort route. */
  token?: string;
  abort: AbortController;
}

export interface DispatcherOptions {
  fetch: typeof fetch;
  /** Deadline for the worker's response head. */
  workerTimeoutMs: number;
  abortTimeoutMs: number;
}

const passedHeaders = ["accept-language"];

export class Dispatcher {
  private readonly streaming = new Map<number, Streaming>();
  private nextId = 0;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly balancer: Balancer,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {}

  private async drop(worker: Registration, why: string) {
    await this.registry.remove(worker.name, (e) => e === worker.endpoint);
    this.balancer.forget(worker.endpoint);
    this.metrics.dropped.inc({ name: worker.name, reason: "unreachable" });
    this.log.warn("dropped an unreachable worker", { name: worker.name, endpoint: worker.endpoint, error: why });
  }

  private body(form: Form): URLSearchParams {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) {
      if (value === undefined || value === null || value instanceof Blob) continue; // files are not relayed
      // A multipart form's JSON-looking fields (such as `input`) arrive parsed: relay them as the JSON text they were.
      params.append(key, typeof value === "object" ? JSON.stringify(value) : String(value));
    }
    return params;
  }

  async complete(form: Form, headers: Headers): Promise<Response> {
    const name = field(form, "name", true);
    const historyId = field(form, "history_id") ?? "";
    const userId = field(form, "user_id") ?? "";
    let endpoint: string | undefined;
    try {
      // Only a conversation with a history id can have been scheduled (worker/schedule requires one).
      if (historyId) endpoint = await this.balancer.claim(name, historyId, userId, this.registry.workers(name));
    } catch (error) {
      this.metrics.failures.inc({ name, reason: "store_unavailable" });
      throw error;
    }
    const forwardHeaders: Record<string, string> = {};
    for (const header of passedHeaders) {
      const value = headers.get(header);
      if (value) forwardHeaders[header] = value;
    }
    const body = this.body(form).toString();
    forwardHeaders["content-type"] = "application/x-www-form-urlencoded";

    for (let tries = 0; tries <= this.registry.workers(name).length; tries++) {
      if (!endpoint) {
        const workers = this.registry.workers(name);
        if (workers.length === 0) {
          this.metrics.failures.inc({ name, reason: "no_worker" });
          return text(`No worker is registered under the name '${name}'.`, 404);
        }
        try {
          endpoint = (await this.balancer.acquire(workers))?.endpoint;
        } catch (error) {
          // The store does not answer: the kernel's 503 "store unavailable", as the registration routes answer then.
          this.metrics.failures.inc({ name, reason: "store_unavailable" });
          throw error;
        }
        if (!endpoint) {
          this.metrics.failures.inc({ name, reason: "busy" });
          return text(`Every worker of '${name}' is busy; try again later.`, 503);
        }
      }
      const worker = this.registry.workers(name).find((w) => w.endpoint === endpoint) ?? { name, endpoint, slots: 1, registered_at: 0 };
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error("worker timeout")), this.options.workerTimeoutMs);
      let response: Response;
      try {
        const headers = worker.token ? { ...forwardHeaders, authorization: `Bearer ${worker.token}` } : forwardHeaders;
        response = await this.options.fetch(endpoint, { method: "POST", body, headers, signal: abort.signal });
      } catch (error) {
        clearTimeout(timer);
        this.balancer.release(endpoint);
        if (abort.signal.aborted) {
          this.metrics.failures.inc({ name, reason: "unreachable" });
          return text(`The worker for '${name}' did not answer in time.`, 504);
        }
        await this.drop(worker, (error as Error).message);
        this.metrics.failures.inc({ name, reason: "unreachable" });
        endpoint = undefined;
        continue;
      }
      clearTimeout(timer);
      if (!response.ok || !response.body) {
        this.balancer.release(endpoint);
        this.metrics.failures.inc({ name, reason: "worker_error" });
        const detail = (await response.text().catch(() => "")).slice(0, 500);
        const status = response.status >= 400 && response.status < 600 ? response.status : 502;
        return text(`The worker for '${name}' answered ${response.status}: ${detail}`, status);
      }
      this.metrics.dispatches.inc({ name });
      const id = this.nextId++;
      const claimed = endpoint;
      this.streaming.set(id, { name, historyId, userId, endpoint: claimed, token: worker.token, abort });
      const relayed = relayStream(response.body, abort, () => {
        this.streaming.delete(id);
        this.balancer.release(claimed);
      });
      return new Response(relayed, { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    this.metrics.failures.inc({ name, reason: "unreachable" });
    return text(`No worker of '${name}' could be reached.`, 502);
  }

  /** Stops the conversations in `historyIds` of `userId`: asks their workers to abort and frees reservations. */
  async abort(historyIds: Set<string>, userId: string): Promise<number> {
    let count = await this.balancer.cancelHistories(historyIds, userId);
    const targets = [...this.streaming.values()].filter((s) => historyIds.has(s.historyId) && s.userId === userId);
    await Promise.all(
      targets.map(async (stream) => {
        const url = new URL(`${stream.endpoint.replace(/\/$/, "")}/abort`);
        url.searchParams.set("history_id", stream.historyId);
        try {
          const headers = stream.token ? { authorization: `Bearer ${stream.token}` } : undefined;
          const response = await this.options.fetch(url, { headers, signal: AbortSignal.timeout(this.options.abortTimeoutMs) });
          await response.body?.cancel();
          if (!response.ok) throw new Error(`status ${response.status}`);
        } catch (error) {
          // A worker without an abort route: cut the relay, which closes the worker's connection.
          this.log.debug("worker abort failed; cutting the stream", { endpoint: stream.endpoint, error: (error as Error).message });
          stream.abort.abort(new Error("aborted"));
        }
        count++;
      }),
    );
    return count;
  }

  stop() {
    for (const stream of this.streaming.values()) stream.abort.abort(new Error("agent stopping"));
  }
}
