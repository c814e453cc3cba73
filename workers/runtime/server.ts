/**
 * The worker's HTTP API, compatible with the Worker Framework: POST <endpoint> (form `input`) streams text/plain;
 * GET /health → 204; GET /metrics; GET|POST <endpoint>/abort stops the streams in progress (all of them, or the
 * one whose form carried `history_id`). Past `concurrentLimit` streams the answer is the original's 503.
 * With a `token`, every route but /health requires `Authorization: Bearer <token>` (the Agent sends it).
 * Built on Bun.serve directly: a worker has four routes and sits on the hot path of every chat.
 */
import type { Registry } from "prom-client";
import { bearerMatches } from "../../core/http/token.ts";
import type { Logger } from "../../core/log.ts";
import { completionStream } from "./completion-stream.ts";
import type { LayoutProcess } from "./contract.ts";
import { isInputProblem, parseHistory } from "./history.ts";
import type { WorkerMetrics } from "./metrics.ts";

export interface WorkerServerOptions {
  host: string;
  port: number;
  endpoint: string;
  concurrentLimit: number;
  process: LayoutProcess;
  metrics: WorkerMetrics;
  /** Registries shown by /metrics besides the worker's own. */
  extraRegistries: Registry[];
  log: Logger;
  /** Bearer token required on every route but /health. */
  token?: string;
}

export interface WorkerServer {
  port: number;
  url: string;
  /** Streams in progress. */
  inFlight(): number;
  abort(historyId?: string): number;
  stop(): Promise<void>;
}

const json = (status: number, body: unknown) => Response.json(body, { status });

export function startWorkerServer(options: WorkerServerOptions): WorkerServer {
  const { endpoint, metrics, log } = options;
  const abortPath = `${endpoint.replace(/\/$/, "")}/abort`;
  const running = new Map<number, { abort: AbortController; historyId?: string }>();
  let claimed = 0;
  let nextId = 0;
  const release = () => {
    claimed--;
    metrics.setBusy(claimed > 0);
  };
  const metricsText = async () => {
    // Concatenated rather than Registry.merge()d: merging drops the worker registry's default `app_name` label.
    const texts = await Promise.all([metrics.registry, ...options.extraRegistries].map((r) => r.metrics()));
    return new Response(texts.join("\n"), { headers: { "content-type": metrics.registry.contentType } });
  };

  const abort = (historyId?: string) => {
    let count = 0;
    for (const stream of running.values()) {
      if (historyId !== undefined && stream.historyId !== historyId) continue;
      stream.abort.abort(new Error("aborted"));
      count++;
    }
    return count;
  };

  async function complete(request: Request): Promise<Response> {
    metrics.received.inc();
    // Checked before the body is read, as the original does, so a busy worker answers at once.
    if (claimed >= options.concurrentLimit) {
      metrics.rejected.inc();
      return json(503, { message: "Processing another request" });
    }
    claimed++;
    metrics.setBusy(true);
    let form: Awaited<ReturnType<Request["formData"]>>;
    try {
      form = await request.formData();
    } catch {
      release();
      metrics.rejected.inc();
      return json(400, { message: "Bad request", field: "input", detail: "expected a form body (application/x-www-form-urlencoded or multipart/form-data)" });
    }
    const history = parseHistory(form.get("input"));
    if (isInputProblem(history)) {
      release();
      metrics.rejected.inc();
      return json(400, history);
    }
    metrics.accepted.inc();
    const id = nextId++;
    const historyId = form.get("history_id");
    const controller = new AbortController();
    running.set(id, { abort: controller, historyId: typeof historyId === "string" ? historyId : undefined });
    const body = completionStream({
      process: options.process,
      history,
      abort: controller,
      metrics,
      log,
      done: () => {
        running.delete(id);
        release();
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  }

  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    reusePort: false, // a second worker on the port must fail, not share it
    idleTimeout: 0, // a long generation may pause longer than Bun's default 10 s between chunks
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const method = request.method;
      if (options.token && !(path === "/health" && method === "GET") && !bearerMatches(request.headers.get("authorization"), options.token)) {
        return Response.json({ message: "Unauthorized", detail: "missing or invalid bearer token (the worker's WORKER_TOKEN)" }, { status: 401, headers: { "www-authenticate": "Bearer" } });
      }
      if (path === endpoint) return method === "POST" ? complete(request) : json(405, { message: "Method not allowed", detail: "use POST" });
      if (path === abortPath && (method === "GET" || method === "POST")) {
        const query = new URL(request.url).searchParams.get("history_id");
        const form = method === "POST" ? await request.formData().catch(() => undefined) : undefined;
        const historyId = query ?? (form?.get("history_id") as string | null) ?? undefined;
        return json(200, { msg: abort(historyId) > 0 ? "Aborted" : "No process to abort" });
      }
      if (path === "/health" && method === "GET") return new Response(null, { status: 204 });
      if (path === "/metrics" && method === "GET") return metricsText();
      return json(404, { message: "Not found", detail: `no route ${method} ${path}` });
    },
  });
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    port: server.port!,
    url: `http://${host}:${server.port}`,
    inFlight: () => running.size,
    abort,
    async stop() {
      abort();
      await server.stop(true);
    },
  };
}
