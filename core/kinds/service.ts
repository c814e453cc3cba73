/**
 * The contract a `service` plugin provides: HTTP routes, mounted on the app the kernel builds for the service's port
 * (which already answers /health, /metrics and OpenAPI, checks the bearer token and shapes errors).
 */
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
  /** Shapes error bodies in the service's own envelope; the default is `{error:{message,type,field,request_id}}`. */
  errorBody?(error: { status: number; message: string; field?: string; requestId: string }): unknown;
  /** The HTTP status to send for an error of `status` (ROCK answers validation errors with 200 and "Failed"). */
  errorStatus?(status: number): number;
  /** Paths that need no token besides `/health` (e.g. a worker's own health route). */
  publicPaths?: string[];
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
