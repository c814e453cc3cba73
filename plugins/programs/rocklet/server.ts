import type { Server } from "bun";
import { TokenCheck, environmentWithoutSecrets } from "./auth.ts";
import { createEnvd } from "./envd/index.ts";
import { FORWARD_PORT_HEADER, forwardToPort } from "./envd/port-proxy.ts";
import { HttpError, RockletError, rockletExceptionBody } from "./errors.ts";
import {
  openPortforward,
  portforwardClose,
  portforwardData,
  type PortforwardData,
  portforwardDrain,
  portforwardMessage,
} from "./portforward.ts";
import { buildRoutes, type Route } from "./routes.ts";
import { SessionRegistry } from "./sessions.ts";
import { primeStatistics } from "./statistics.ts";
import { asBody } from "./validation.ts";

export interface RockletOptions {
  hostname: string;
  port: number;
  /** Required on every route except GET / and GET /is_alive; null only when started with --insecure. */
  token: string | null;
  /** Instead of `token`: the SHA-256 digest (hex) of the token to require. */
  tokenSha256?: string | null;
  maxUploadBytes: number;
  maxUnzipBytes: number;
  /** Deadline of routes that carry no timeout of their own. */
  requestTimeoutSeconds: number;
  commandMarginSeconds: number;
  idleTimeoutSeconds: number;
  maxOutputBytes: number;
  /** Bash sessions open at once; a create beyond it is refused (each session is a shell holding memory and a pid). */
  maxSessions: number;
  /** Largest file read_file returns (the answer is one JSON string, held in memory several times over). */
  maxReadBytes: number;
  bashPath: string;
  logError: (message: string) => void;
}

export const DEFAULT_OPTIONS: Omit<RockletOptions, "token" | "tokenSha256" | "logError" | "bashPath"> = {
  hostname: "0.0.0.0",
  port: 8000,
  maxUploadBytes: 1024 ** 3,
  maxUnzipBytes: 8 * 1024 ** 3,
  requestTimeoutSeconds: 600,
  commandMarginSeconds: 30,
  idleTimeoutSeconds: 120,
  maxOutputBytes: 64 * 1024 ** 2,
  maxSessions: 64,
  maxReadBytes: 16 * 1024 ** 2,
};

export interface RockletServer {
  readonly url: URL;
  readonly port: number;
  /** Every route, as `METHOD path`. */
  readonly routes: string[];
  stop(): Promise<void>;
}

const BAD_HOST = { detail: "the Host header is not a valid host name (expected host or host:port)" };
const NOT_AUTHENTICATED = {
  detail:
    "Not authenticated: send the rocklet token as 'Authorization: Bearer <token>', 'X-Rocklet-Token: <token>' or (envd's header) 'X-Access-Token: <token>'",
};

export function startRocklet(options: RockletOptions): RockletServer {
  primeStatistics();
  const sessions = new SessionRegistry({
    bashPath: options.bashPath,
    maxOutputChars: options.maxOutputBytes,
    maxSessions: options.maxSessions,
    inheritedEnv: environmentWithoutSecrets,
  });
  const routes = buildRoutes({
    sessions,
    bashPath: options.bashPath,
    maxOutputBytes: options.maxOutputBytes,
    maxReadBytes: options.maxReadBytes,
    upload: { maxUploadBytes: options.maxUploadBytes, maxUnzipBytes: options.maxUnzipBytes },
    commandMarginSeconds: options.commandMarginSeconds,
  });
  const envd = createEnvd({
    home: process.env.HOME || "/",
    baseEnv: environmentWithoutSecrets,
    maxUploadBytes: options.maxUploadBytes,
    maxQueuedBytes: options.maxOutputBytes,
  });
  const tokenCheck =
    options.token !== null ? new TokenCheck(options.token) : options.tokenSha256 ? new TokenCheck(options.tokenSha256, "sha256") : null;
  const authorized = (request: Request) => tokenCheck === null || tokenCheck.accepts(request.headers);

  const server: Server<PortforwardData> = Bun.serve<PortforwardData>({
    hostname: options.hostname,
    port: options.port,
    reusePort: false, // a second rocklet on the port must fail, not share it
    idleTimeout: Math.min(255, options.idleTimeoutSeconds),
    // The upload route enforces its own (smaller, exact) limit and answers 413 itself.
    maxRequestBodySize: options.maxUploadBytes + 16 * 1024 ** 2,
    async fetch(request, server) {
      // Bun passes the bare target (no scheme, no host) when the Host header is not a host name.
      const url = URL.parse(request.url);
      if (!url) return json(400, BAD_HOST);
      if (url.pathname === "/portforward") {
        if (!authorized(request)) return json(401, NOT_AUTHENTICATED);
        if (server.upgrade(request, { data: portforwardData(url) })) return undefined;
        return json(400, { detail: "/portforward expects a WebSocket upgrade" });
      }
      if (request.headers.has(FORWARD_PORT_HEADER)) {
        if (!authorized(request)) return json(401, NOT_AUTHENTICATED);
        server.timeout(request, 0);
        return forwardToPort(request, url, server.port ?? options.port);
      }
      const envdRoute = envd.routes.get(`${request.method} ${url.pathname}`);
      if (envdRoute) {
        if (!envdRoute.public && !authorized(request)) return json(401, NOT_AUTHENTICATED);
        // Streams (process output, watches) last as long as they last; keepalive events keep proxies awake.
        server.timeout(request, 0);
        return envdRoute.run(request, url);
      }
      const route = routes.get(`${request.method} ${url.pathname}`);
      // Unknown routes too answer 401 without the token, so that the routes cannot be listed by probing.
      if (!(route && "public" in route && route.public) && !authorized(request)) return json(401, NOT_AUTHENTICATED);
      if (!route) return json(routeExists(routes, url.pathname) ? 405 : 404, notFoundBody(routes, url.pathname));
      // Long commands must not be cut by the connection idle timer; each route has its own deadline instead.
      server.timeout(request, 0);
      try {
        return json(200, await dispatch(route, request, options.requestTimeoutSeconds));
      } catch (error) {
        return errorResponse(error, options.logError);
      }
    },
    websocket: {
      idleTimeout: 300,
      maxPayloadLength: 16 * 1024 ** 2,
      perMessageDeflate: false,
      open: (ws) => void openPortforward(ws),
      message: portforwardMessage,
      drain: portforwardDrain,
      close: portforwardClose,
    },
  });

  return {
    url: server.url,
    port: server.port ?? options.port,
    routes: [...routes.keys(), "GET /portforward", ...envd.routes.keys()],
    async stop() {
      envd.close();
      await sessions.closeAll();
      await server.stop(true);
    },
  };
}

async function dispatch(route: Route, request: Request, defaultSeconds: number): Promise<unknown> {
  switch (route.input) {
    case "none":
      return withDeadline(defaultSeconds, async () => route.run());
    case "request":
      return withDeadline(defaultSeconds, () => route.run(request));
    case "json": {
      const body = asBody(await readJson(request));
      const seconds = route.deadlineSeconds ? route.deadlineSeconds(body) : defaultSeconds;
      return withDeadline(seconds, () => route.run(body));
    }
  }
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(422, {
      detail: [{ type: "json_invalid", loc: ["body"], msg: `body: JSON decode error: ${(error as Error).message}`, input: {} }],
    });
  }
}

function withDeadline<T>(seconds: number | null, work: () => Promise<T>): Promise<T> {
  if (seconds === null) return work();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new HttpError(504, { detail: `Request processing timed out after ${seconds} seconds.` }));
    }, seconds * 1000);
  });
  return Promise.race([work(), expired]).finally(() => clearTimeout(timer));
}

function errorResponse(error: unknown, logError: (message: string) => void): Response {
  if (error instanceof HttpError) return json(error.status, error.body);
  if (error instanceof RockletError) return json(511, rockletExceptionBody(error));
  logError(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  const message = error instanceof Error ? error.message : String(error);
  return json(511, rockletExceptionBody(new RockletError(message, "builtins.RuntimeError")));
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status, headers: status === 401 ? { "www-authenticate": "Bearer" } : undefined });
}

function routeExists(routes: Map<string, Route>, path: string): boolean {
  for (const key of routes.keys()) if (key.endsWith(` ${path}`)) return true;
  return false;
}

function notFoundBody(routes: Map<string, Route>, path: string) {
  return { detail: routeExists(routes, path) ? "Method Not Allowed" : "Not Found" };
}
