import { Elysia } from "elysia";
import { Counter, Histogram, type Registry } from "prom-client";
import { HttpError, PermissionDenied, PortInUse, Unavailable, errorMessage, isAddressInUse } from "../errors.ts";
import { logEnabled, type Logger } from "../log.ts";
import type { HttpService } from "../kinds/service.ts";
import { apiDocs } from "./openapi.ts";
import { nullStripper } from "./lenient.ts";
import { boundedBody, defaultLimits, oversized, preparedDeeperThan, raiseTransportHeaderLimit, type RequestLimits, tooDeep } from "./limits.ts";
import { bearerMatches, sameSecret } from "./token.ts";

export interface ServerOptions {
  /** Service (plugin) name, used in logs, metrics and the OpenAPI title. */
  name: string;
  version: string;
  host: string;
  port: number;
  token?: string;
  /** This server's HTTP metrics and its service's own; `/metrics` serves it after `processRegistry`. */
  registry: Registry;
  /** Metrics of the whole process, served once on every port (absent: only `registry`). */
  processRegistry?: Registry;
  log: Logger;
  service: HttpService;
  limits?: RequestLimits;
  /** Why the service cannot serve now (e.g. its store is unreachable), or undefined; `/health` answers 503 then. */
  health?: () => Promise<string | undefined>;
}

export interface RunningServer {
  name: string;
  host: string;
  port: number;
  url: string;
  /** Every route the server answers, as `METHOD path` pairs (`path` as declared, e.g. with `:id`). */
  routes: { method: string; path: string }[];
  stop(): Promise<void>;
}

export interface ErrorShape {
  status: number;
  message: string;
  field?: string;
  requestId: string;
  /** The request's path, for services whose envelope depends on the route. */
  path: string;
}

const defaultErrorBody = (e: ErrorShape) => ({
  error: { message: e.message, type: e.status >= 500 ? "server_error" : "invalid_request_error", field: e.field ?? null, request_id: e.requestId },
});

/** The HTTP metrics of one server, with label children cached per route so the hot path does no label hashing. */
function httpMetrics(registry: Registry, server: string) {
  const requests =
    (registry.getSingleMetric("rock_http_requests_total") as Counter<string>) ??
    new Counter({ name: "rock_http_requests_total", help: "HTTP requests served", labelNames: ["server", "method", "route", "status"], registers: [registry] });
  const duration =
    (registry.getSingleMetric("rock_http_request_duration_seconds") as Histogram<string>) ??
    new Histogram({
      name: "rock_http_request_duration_seconds",
      help: "Time to produce the response head",
      labelNames: ["server", "method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
  const children = new Map<string, { count: () => void; observe: (seconds: number) => void }>();
  return (method: string, route: string, status: number) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      const counter = requests.labels({ server, method, route, status: String(status) });
      const histogram = duration.labels({ server, method, route });
      child = { count: () => counter.inc(), observe: (seconds) => histogram.observe(seconds) };
      if (children.size < 10_000) children.set(key, child);
    }
    return child;
  };
}

/** Turns whatever a route threw into a status, a client-safe message and the field at fault (and, for the log, `logged`). */
export function classify(code: unknown, error: any): { status: number; message: string; field?: string; internal: boolean; logged?: string } {
  if (error instanceof HttpError) return { status: error.status, message: error.message, field: error.field, internal: false };
  switch (code) {
    case "VALIDATION": {
      const first = innermost(error.all?.[0] ?? {});
      const field = String(first.path ?? "").replace(/^\//, "").replace(/\//g, ".") || (error.type === "body" ? "body" : error.type);
      // Elysia's summary quotes the value it found, which may be the whole (large) body.
      const summary = clip(String(first.summary ?? first.message ?? "invalid value"), 300);
      // The route's own answer broke its response schema: the server's fault, logged with the field, never sent.
      if (error.type === "response") return { status: 500, message: "internal server error", internal: true, logged: `the answer does not match the route's response schema: ${field}: ${summary}` };
      return { status: 400, message: `invalid ${error.type ?? "request"}: ${field ? `${field}: ` : ""}${summary}`, field, internal: false };
    }
    case "PARSE":
      // A body stream that failed on purpose (too large) arrives wrapped in Elysia's ParseError.
      if (error?.cause instanceof HttpError) return { status: error.cause.status, message: error.cause.message, field: error.cause.field, internal: false };
      return { status: 400, message: "request body could not be parsed (malformed JSON or form data)", internal: false };
    case "NOT_FOUND":
      return { status: 404, message: "no such route", internal: false };
    case "INVALID_COOKIE_SIGNATURE":
      return { status: 400, message: "invalid cookie signature", internal: false };
  }
  if (error instanceof PermissionDenied) return { status: 500, message: "the server is not permitted to do this (see its log)", internal: true };
  if (error instanceof Unavailable) return { status: 503, message: error.message, internal: false };
  if (typeof error?.status === "number" && error.status >= 400 && error.status < 500 && typeof error.message === "string") {
    return { status: error.status, message: error.message, internal: false };
  }
  return { status: 500, message: "internal server error", internal: true };
}

/**
 * `/health` of a service that depends on something outside the process: `{"status":"ok"}` while it answers, else 503
 * `{"status":"degraded","reason":…}`, so that a load balancer stops sending requests that could only fail.
 */
function healthRoute(service: string, health: (() => Promise<string | undefined>) | undefined, body: NonNullable<HttpService["healthBody"]>) {
  const ok = body({ status: "ok", service });
  if (!health) return () => ok;
  return async ({ set }: { set: { status?: number | string } }) => {
    const reason = await health();
    if (reason === undefined) return ok;
    set.status = 503;
    return body({ status: "degraded", service, reason });
  };
}

const defaultHealthBody: NonNullable<HttpService["healthBody"]> = (health) => health;

/** Throws PortInUse when another socket holds `host:port` (port 0 is always free). */
export function assertPortFree(service: string, host: string, port: number): void {
  if (port === 0) return;
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
  } catch (error) {
    if (isAddressInUse(error)) throw new PortInUse(service, host, port);
    throw error;
  }
}

/**
 * TypeBox reports a value that matches no member of a union (`t.Nullable(...)` is one) as a whole; the member error
 * that reached deepest into the value usually names what the client got wrong (`tool_calls.0.function.name`).
 */
function innermost(error: any, depth = 0): any {
  if (!Array.isArray(error.errors) || depth > 8) return error;
  let best = error;
  for (const member of error.errors) {
    let seen = 0;
    for (const sub of member) {
      const candidate = innermost(sub, depth + 1);
      if (segments(candidate.path) > segments(best.path)) best = candidate;
      if (++seen >= 16) break;
    }
  }
  return best;
}

/** The path of the request target as the router sees it (empty when the Host made the URL unusable). */
function pathOf(request: Request): string {
  return URL.parse(request.url)?.pathname ?? "";
}

function sameSecretHeader(value: string | null, token: string): boolean {
  return value !== null && sameSecret(value.trim(), token);
}

const segments = (path: unknown) => String(path ?? "").split("/").length;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/**
 * One HTTP server for one service plugin: request ids, access log, optional bearer token, `/health`, `/metrics`,
 * OpenAPI at `/docs` (`/openapi.json`), JSON errors without stack traces, then the service's own routes.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { name, service, log, registry, token } = options;
  const metricsFor = httpMetrics(registry, name);
  const errorBody = service.errorBody ?? defaultErrorBody;
  const publicPaths = new Set(["/health", ...(service.publicPaths ?? [])]);
  const started = new WeakMap<Request, { id: string; at: number }>();
  const requestIdOf = (request: Request) => started.get(request)?.id ?? "unknown";
  const limits = options.limits ?? defaultLimits;
  raiseTransportHeaderLimit(limits);
  /** Requests whose bearer token onRequest accepted; a matched route checks it again (see onBeforeHandle below). */
  const authorized = new WeakSet<Request>();
  /** `METHOD route` → the null stripper of the route's lenient body schema (filled once the routes are mounted). */
  const stripNulls = new Map<string, (body: unknown) => void>();
  // An answer from onRequest skips onAfterResponse; counted here so that probing and token guessing show in /metrics.
  const refused = (method: string, status: number) => metricsFor(method, "refused", status).count();
  const tokenHeaders = service.tokenHeaders ?? [];
  const tokenHint = ["Authorization: Bearer <token>", ...tokenHeaders.map((name) => `${name}: <token>`)].join(" or ");
  const unauthorized = (set: { status?: unknown; headers: Record<string, unknown> }, request: Request) => {
    set.status = 401;
    set.headers["www-authenticate"] = "Bearer";
    return errorBody({ status: 401, message: `missing or invalid bearer token (${tokenHint})`, requestId: requestIdOf(request), path: pathOf(request) });
  };
  const presentsToken = (request: Request, path: string): boolean | Promise<boolean> =>
    bearerMatches(request.headers.get("authorization"), token!) ||
    tokenHeaders.some((name) => sameSecretHeader(request.headers.get(name), token!)) ||
    (service.authenticate?.(request, path) ?? false);

  // standardHostname: false makes Elysia find the path after "http://" instead of skipping 11 characters, which with
  // a Host of 1-3 characters lands inside the path or the query (`Host: x` + `/health?/apis/...` routed to `/apis/...`).
  // normalize "typebox": Elysia's default cleaner (exact-mirror) runs before validation and turned a string sent for a
  // nullable record into {"0": …, "1": …}, which then passed, at a cost of seconds for a large string.
  const app = new Elysia({ name: `rock-${name}`, normalize: "typebox", handler: { standardHostname: false } });
  if (token) {
    // Defence in depth, before any route is added so that it guards all of them: whatever path onRequest saw, a
    // matched route runs only when it is public or the token was accepted (Bun's own router, which Elysia fills with
    // the routes, parses the request target independently of Elysia).
    app.onBeforeHandle({ as: "global" }, ({ request, route, set }) => {
      if (!authorized.has(request) && !publicPaths.has(route)) return unauthorized(set, request);
    });
  }
  app
    .use(apiDocs({ title: service.title ?? `${name} API`, version: options.version, path: "/docs", specPath: "/openapi.json", exclude: ["/metrics", "/health"] }))
    .onRequest(({ request, set }) => {
      const id = request.headers.get("x-request-id")?.slice(0, 128) || crypto.randomUUID();
      started.set(request, { id, at: performance.now() });
      set.headers["x-request-id"] = id;
      // Bun builds the URL as "http://" + Host + target, or hands over the bare target when the Host header is not a
      // host name (empty, or with "/", "@", "#"); Elysia would then route on a slice of the target.
      const url = request.url;
      const start = url.startsWith("http://") ? url.indexOf("/", 7) : -1;
      if (start === -1) {
        refused(request.method, 400);
        set.status = 400;
        return errorBody({ status: 400, message: "the Host header is not a valid host name (expected host or host:port)", field: "host", requestId: id, path: "" });
      }
      if (!token) return;
      // Exactly the path Elysia's router matches (standardHostname: false), so that the decision is about the route.
      const query = url.indexOf("?", start + 1);
      const path = query === -1 ? url.slice(start) : url.slice(start, query);
      const decide = (presented: boolean) => {
        if (presented) authorized.add(request);
        else if (!publicPaths.has(path)) {
          refused(request.method, 401);
          return unauthorized(set, request);
        }
      };
      // A service's own credentials may be looked up in the store (E2B's access tokens): only those wait.
      const presented = presentsToken(request, path);
      return presented instanceof Promise ? presented.then(decide) : decide(presented);
    })
    .onRequest((context) => {
      const { request, set } = context;
      const problem = oversized(request, limits);
      if (problem) {
        set.status = service.errorStatus?.(problem.status, pathOf(request)) ?? problem.status;
        set.headers["content-type"] = "application/json";
        set.headers.connection = "close";
        return errorBody({ status: problem.status, message: problem.message, field: problem.field, requestId: requestIdOf(request), path: pathOf(request) });
      }
      // A body without a declared length (chunked) is counted as it is read.
      if (!request.headers.has("content-length") && request.body) {
        const counted = new Request(request, { body: boundedBody(request.body, limits.maxBodyBytes), signal: request.signal, duplex: "half" } as RequestInit);
        started.set(counted, started.get(request)!);
        if (authorized.has(request)) authorized.add(counted);
        context.request = counted;
      }
    })
    .onRequest(({ request, server }) => service.serveByHost?.(request, server))
    .onTransform(({ body, query, request, route }) => {
      if (preparedDeeperThan(body, limits.maxJsonDepth)) throw tooDeep(limits.maxJsonDepth);
      preparedDeeperThan(query, 1);
      // Before validation: an optional field sent as null is absent, for the schema and for the handler.
      if (body !== null && typeof body === "object") stripNulls.get(`${request.method} ${route}`)?.(body);
    })
    .onError(({ code, error, request, set }) => {
      const { status, message, field, internal, logged } = classify(code, error);
      const requestId = requestIdOf(request);
      // A public path asked with a method it has no route for: no hint that other routes exist without the token.
      if (code === "NOT_FOUND" && token && !authorized.has(request)) return unauthorized(set, request);
      const path = pathOf(request);
      if (internal) log.error("request failed", { request_id: requestId, path, error: logged ?? errorMessage(error) });
      set.status = service.errorStatus?.(status, path) ?? status;
      set.headers["content-type"] = "application/json";
      return errorBody({ status, message, field, requestId, path });
    })
    .onAfterResponse(({ request, set, route }) => {
      const begin = started.get(request);
      const status = typeof set.status === "number" ? set.status : 200;
      const metrics = metricsFor(request.method, route || "unmatched", status);
      metrics.count();
      if (begin) {
        const seconds = (performance.now() - begin.at) / 1000;
        metrics.observe(seconds);
        if (logEnabled("debug")) {
          log.debug("request", { request_id: begin.id, method: request.method, path: new URL(request.url).pathname, status, ms: +(seconds * 1000).toFixed(2) });
        }
      }
    })
    .get("/health", healthRoute(name, options.health, service.healthBody ?? defaultHealthBody), { detail: { hide: true } })
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = registry.contentType;
        const texts = await Promise.all([options.processRegistry, registry].map((r) => r?.metrics() ?? ""));
        return texts.filter((text) => text.trim()).join("\n") || "\n";
      },
      { detail: { hide: true } },
    );

  await service.mount(app);
  for (const route of app.routes) {
    const strip = nullStripper((route.hooks as { body?: unknown } | undefined)?.body);
    if (strip) stripNulls.set(`${route.method} ${route.path}`, strip);
  }
  try {
    // Elysia asks Bun for SO_REUSEPORT, with which a second instance on the same port starts and takes half the
    // connections. Bun's own body limit answers with an empty 413: ours (in onRequest) answers first, in the
    // service's shape.
    app.listen({ hostname: options.host, port: options.port, reusePort: false, maxRequestBodySize: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (isAddressInUse(error)) throw new PortInUse(name, options.host, options.port);
    throw error;
  }
  const port = app.server!.port!;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  log.info("listening", { url });
  return {
    name,
    host: options.host,
    port,
    url,
    routes: app.routes.map((r) => ({ method: r.method, path: r.path })),
    async stop() {
      await app.stop(true);
    },
  };
}
