/**
 * The tool node: one tool behind HTTP, in its own container. Routes as the original node had them, in its envelope
 * (`{request_id, message, output}`; errors `{request_id, message}`): `GET /tool_info`, `POST /execute_tool`,
 * `GET /health` (the manager's readiness probe) and `GET|POST /` (hello). Every route but `/` and `/health` needs
 * the node's token (`Authorization: Bearer`), which only the manager holds.
 */
import type { Server } from "bun";
import { bearerMatches } from "../../../core/http/token.ts";
import { isPlainObject } from "../../protocol/function-calling/parameters.ts";
import { ArgumentError, type PreparedTool } from "../../protocol/tool-call/prepared-tool.ts";

export interface NodeOptions {
  tool: PreparedTool;
  config: Record<string, unknown>;
  token: string;
  hostname: string;
  port: number;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const failure = (requestId: string, message: string, status: number) => json({ request_id: requestId, message }, status);

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function startToolNode(options: NodeOptions): { server: Server<undefined>; stop(): Promise<void> } {
  const { tool, config, token } = options;
  const shutdown = new AbortController();

  async function execute(request: Request): Promise<Response> {
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return failure("", `Failed to execute tool '${tool.name}': the body is not JSON`, 400);
    }
    if (!isPlainObject(body)) return failure("", `Failed to execute tool '${tool.name}': the body must be a JSON object`, 400);
    const requestId = typeof body.request_id === "string" ? body.request_id : crypto.randomUUID();
    let args: Record<string, unknown>;
    try {
      args = tool.arguments(body.params);
    } catch (error) {
      if (error instanceof ArgumentError) return failure(requestId, `Failed to execute tool '${tool.name}': ${error.message}`, 400);
      throw error;
    }
    const kwargs = isPlainObject(body.kwargs) ? body.kwargs : {};
    try {
      const output = await tool.tool.call(args, { config, kwargs, signal: shutdown.signal });
      return json({ request_id: requestId, message: "", output: output ?? null });
    } catch (error) {
      return failure(requestId, `Failed to execute tool '${tool.name}' with error: ${errorText(error)}`, 422);
    }
  }

  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    reusePort: false, // a second node on the port must fail, not share it
    idleTimeout: 0,
    async fetch(request) {
      // Bun passes the bare target (no scheme, no host) when the Host header is not a host name.
      const url = URL.parse(request.url);
      if (!url) return failure("", "the Host header is not a valid host name (expected host or host:port)", 400);
      const { pathname, searchParams } = url;
      const path = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
      if (path === "/health") return json({ status: "ok", tool: tool.name });
      if (path === "/") return json({ message: "Hello World" });
      if (!bearerMatches(request.headers.get("authorization"), token)) return failure("", "missing or invalid node token", 401);
      if (path === "/tool_info" && request.method === "GET") {
        return json({ request_id: searchParams.get("request_id") ?? crypto.randomUUID(), message: "", output: tool.info() });
      }
      if (path === "/execute_tool" && request.method === "POST") return execute(request);
      return failure("", `no route ${request.method} ${pathname}`, 404);
    },
    error(error) {
      return failure("", `Failed in tool '${tool.name}': ${errorText(error)}`, 500);
    },
  });
  return {
    server,
    async stop() {
      shutdown.abort(new Error("the tool node is shutting down"));
      await server.stop(true);
    },
  };
}
