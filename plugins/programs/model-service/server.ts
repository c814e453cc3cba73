/**
 * The model service's HTTP server (ROCK's "LLM Service"): GET /health in both modes; local mode adds
 * POST /v1/chat/completions over the log file and POST /v1/agent/watch, proxy mode POST /v1/chat/completions upstream.
 */
import { errorReply, json } from "./http-replies.ts";
import { LocalBridge } from "./local-bridge.ts";
import { ProxyForwarder } from "./proxy-forwarder.ts";
import type { ServiceLog } from "./service-log.ts";
import type { ServiceSettings } from "./settings.ts";

export interface RunningService {
  url: string;
  port: number;
  /** Local mode only: ends the session as an exited agent would. */
  endSession(): void;
  /** Answers waiting calls with 503, then closes the listener. */
  stop(): Promise<void>;
}

type Handler = (request: Request) => Promise<Response>;

export function startModelService(settings: ServiceSettings, log: ServiceLog): RunningService {
  const local = settings.type === "local" ? new LocalBridge(settings, log) : undefined;
  const proxy = settings.type === "proxy" ? new ProxyForwarder(settings, log) : undefined;
  local?.start();
  const routes: Record<string, Handler | undefined> = {
    "GET /health": async () => json({ status: "healthy", pid: process.pid, type: settings.type }),
    "POST /v1/chat/completions": local ? (r) => local.chat(r) : (r) => proxy!.chat(r),
    "POST /v1/agent/watch": local && ((r) => local.watchAgent(r)),
  };

  const server = Bun.serve({
    hostname: settings.host,
    port: settings.port,
    reusePort: false, // a second service on the port must fail, not share it
    // A call may wait for the trainer for minutes; Bun's default would close the idle connection after 10 s.
    idleTimeout: 0,
    async fetch(request) {
      // Bun passes the bare target (no scheme, no host) when the Host header is not a host name.
      const url = URL.parse(request.url);
      if (!url) return errorReply(400, "the Host header is not a valid host name (expected host or host:port)", "invalid_request_error");
      const path = url.pathname.replace(/\/+$/, "") || "/";
      const handler = routes[`${request.method} ${path}`];
      if (!handler) return errorReply(404, `no route ${request.method} ${path} in ${settings.type} mode`, "not_found");
      try {
        return await handler(request);
      } catch (error) {
        log("unhandled error", { path, error: (error as Error).stack ?? String(error) });
        return json({ error: { message: String((error as Error).message ?? error), type: "internal_error", code: "internal_error" } }, 500);
      }
    },
  });
  log("listening", { url: server.url.href, type: settings.type, log_file: settings.logFile });

  return {
    url: server.url.href.replace(/\/$/, ""),
    port: server.port!,
    endSession: () => local?.endSession(),
    async stop() {
      local?.close();
      await server.stop();
    },
  };
}
