/**
 * The contract a `service` plugin provides: HTTP routes, mounted on the app the kernel builds for the service's port
 * (which already answers /health, /metrics and OpenAPI, checks the bearer token and shapes errors).
 */
import type { Server } from "bun";
import type { Elysia } from "elysia";
import type { ShapeOf } from "./shape.ts";

/**
 * The app a service's routes are mounted on, typed as the kernel builds it (core/http/server.ts): no decorators and
 * no derived context, so a route handler sees exactly what its schemas declare (`body`, `query`, `params`). The
 * routes added so far are not tracked (`any`): no client is generated from this type, and helpers may take an app
 * that already has some routes.
 */
export type ServiceApp = Elysia<"", Elysia["~Singleton"], Elysia["~Definitions"], Elysia["~Metadata"], any, Elysia["~Ephemeral"], Elysia["~Volatile"]>;

export interface HttpService {
  /** Mounts the service's routes on the app the kernel built (health, metrics, auth and errors are the kernel's). */
  mount(app: ServiceApp): unknown;
  /**
   * Shapes error bodies in the service's own envelope; the default is `{error:{message,type,field,request_id}}`.
   * `path` is the request's path, for a service that speaks two protocols (the admin: ROCK's and E2B's).
   */
  errorBody?(error: { status: number; message: string; field?: string; requestId: string; path: string }): unknown;
  /** The HTTP status to send for an error of `status` (ROCK answers validation errors with 200 and "Failed"). */
  errorStatus?(status: number, path: string): number;
  /** Paths that need no token besides `/health` (e.g. a worker's own health route). */
  publicPaths?: string[];
  /** Headers besides `Authorization: Bearer` that may carry the server's token (E2B's SDK sends `X-API-Key`). */
  tokenHeaders?: string[];
  /**
   * Credentials of the service's own, asked when the server's token is missing or wrong: true lets the request reach
   * its route (E2B's per-sandbox access token on the data plane). The route must still check what it relies on:
   * without a server token configured, the kernel asks nothing.
   */
  authenticate?(request: Request, path: string): boolean | Promise<boolean>;
  /**
   * Serves a request by its Host before any route is matched (E2B's `{port}-{sandboxId}.{domain}` sandbox hosts);
   * undefined leaves it to the routes. Runs after the token check (see `authenticate`) and the size limits.
   */
  serveByHost?(request: Request, server: Server<unknown> | null): Promise<Response> | undefined;
  /**
   * The body of `/health` (default: `{status, service}`, and `reason` while degraded), for an original whose clients
   * compare it exactly.
   */
  healthBody?(health: { status: "ok" | "degraded"; service: string; reason?: string }): unknown;
  /** Title for the OpenAPI document. */
  title?: string;
}

/** What a service plugin's `setup` returns. */
export interface ServicePluginInstance {
  http: HttpService;
}

export const serviceShape = { http: { mount: "function" } } satisfies ShapeOf<ServicePluginInstance>;
