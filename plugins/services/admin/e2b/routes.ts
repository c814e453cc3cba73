/**
 * E2B's API on the admin, beside ROCK's routes: one sandbox, two protocols, one record. What the official SDK (npm `e2b`
 * 2.51) sends, read from its dist:
 *
 * - Control plane at `apiUrl` (`E2B_API_URL`), every call with `X-API-KEY: <apiKey>` (the kernel takes it as the
 *   server token, see `tokenHeaders`): `POST /v2/sandboxes` {templateID, timeout (s), metadata, envVars, secure, …}
 *   answers {sandboxID, templateID, clientID, envdVersion, envdAccessToken, domain}; `POST /v2/sandboxes/{id}/connect`
 *   {timeout} answers the same (Sandbox.connect); `GET /sandboxes/{id}` (getInfo), `DELETE /sandboxes/{id}` (kill: a
 *   404 body with `code: 404` is `false`), `POST /sandboxes/{id}/timeout` {timeout}, `GET /v2/sandboxes?metadata=
 *   k%3Dv&state=running,paused&limit&nextToken` (list; the next page token in the `x-next-token` header). Errors are
 *   `{code, message}`; the SDK raises by status (401 AuthenticationError, 404 NotFoundError, 429, …).
 * - Data plane at `sandboxUrl` (`E2B_SANDBOX_URL`): every envd call to that one URL with `E2b-Sandbox-Id`,
 *   `E2b-Sandbox-Port: 49983` and `X-Access-Token: <envdAccessToken>`; served here under `/envd/` (data-plane.ts).
 *
 * A sandbox's E2B timeout is the admin's idle timeout (ROCK's `auto_clear_time`): every data-plane call slides it,
 * as every ROCK call does, where E2B's stays fixed until set again.
 */
import { t } from "elysia";
import type { ServiceApp } from "../../../../core/kinds/service.ts";
import { HttpError } from "../../../../core/errors.ts";
import * as E from "../../../protocol/e2b/schemas.ts";
import { ENVD_VERSION } from "../../../protocol/envd/version.ts";
import { isActive } from "../../../protocol/rock-admin/states.ts";
import { RockFailure } from "../envelope.ts";
import type { DataPlane } from "../data-plane.ts";
import type { SandboxLifecycle } from "../lifecycle.ts";
import type { RockletClient } from "../rocklet-client.ts";
import type { LiveSandboxes } from "../live-sandboxes.ts";
import { isPaused, type SandboxRecord, type SandboxRecords } from "../sandbox-records.ts";
import type { E2bRecords } from "./e2b-records.ts";

export interface E2bParts {
  lifecycle: SandboxLifecycle;
  dataPlane: DataPlane;
  rocklet: RockletClient;
  records: SandboxRecords;
  live: LiveSandboxes;
  e2b: E2bRecords;
  /** Template id → image. */
  templates: Record<string, string>;
}

/** E2B's default timeout when a create names none (its SDK sends 300 s itself). */
const DEFAULT_TIMEOUT_SECONDS = 300;
const CLIENT_ID = "rock";
const MiB = 1024 * 1024;

/** Whether `path` is one of E2B's routes (their errors are `{code, message}`, with their status). */
export function isE2bPath(path: string): boolean {
  return /^\/(v2\/)?sandboxes(\/|$)/.test(path) || path.startsWith("/envd/");
}

/** An envd RPC through the data plane (`/envd/process.Process/Start`): its errors must be Connect's. */
const envdRpc = /^\/envd\/[a-z]+\.[A-Za-z]+\/[A-Za-z]+$/;

/** Connect's error codes by HTTP status (the Connect protocol's own mapping, inverted where it is one-to-many). */
const CONNECT_CODES: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  409: "failed_precondition", // the data plane's only 409: the sandbox is paused
  413: "resource_exhausted",
  429: "resource_exhausted",
  501: "unimplemented",
  502: "unavailable",
  503: "unavailable",
  504: "deadline_exceeded",
};

/**
 * The body of an error on an E2B route: `{code: <HTTP status>, message}` on the control plane and envd's REST, and
 * Connect's `{code: "not_found", message}` on envd's RPCs, so that the SDK raises the matching error (a Connect client
 * reads a numeric code as "unimplemented").
 */
export function e2bErrorBody(e: { status: number; message: string; path: string }) {
  if (envdRpc.test(e.path)) return { code: CONNECT_CODES[e.status] ?? (e.status >= 500 ? "internal" : "unknown"), message: e.message };
  return { code: e.status, message: e.message };
}

export function mountE2bRoutes(app: ServiceApp, parts: E2bParts) {
  const { lifecycle, dataPlane, rocklet, records, live, e2b, templates } = parts;

  /** The record of an active sandbox, or E2B's 404. */
  const active = async (sandboxID: string): Promise<SandboxRecord> => {
    const record = await records.get(sandboxID);
    if (!record || !isActive(record.state)) throw new HttpError(404, `sandbox '${sandboxID}' not found`);
    return record;
  };

  const listed = async (record: SandboxRecord): Promise<E.ListedSandbox> => {
    const extra = record.e2b;
    const expires = await live.expiresAt(record.sandbox_id);
    return {
      templateID: extra?.template_id ?? record.spec.image,
      sandboxID: record.sandbox_id,
      clientID: CLIENT_ID,
      startedAt: record.start_time ?? record.create_time,
      endAt: new Date((expires ?? 0) * 1000).toISOString(),
      cpuCount: record.spec.cpus,
      memoryMB: Math.round(record.spec.memoryBytes / MiB),
      diskSizeMB: 0,
      metadata: extra?.metadata ?? {},
      state: isPaused(record) ? "paused" : "running",
      envdVersion: ENVD_VERSION,
    };
  };

  const connected = async (record: SandboxRecord): Promise<E.Sandbox> => {
    // A sandbox started through ROCK's routes gets its access token when an E2B client first connects.
    const extra = (await e2b.get(record.sandbox_id)) ?? (await e2b.put(record, record.spec.image, {}, {}));
    return {
      templateID: extra.template_id,
      sandboxID: record.sandbox_id,
      clientID: CLIENT_ID,
      envdVersion: ENVD_VERSION,
      envdAccessToken: extra.access_token,
      domain: null,
    };
  };

  const createSandbox = async ({ body, set, request }: { body: E.NewSandbox; set: { status?: number | string }; request: Request }) => {
    const image = Object.hasOwn(templates, body.templateID) ? templates[body.templateID] : undefined;
    if (image === undefined) {
      throw new HttpError(404, `template '${body.templateID}' not found (templates: ${Object.keys(templates).join(", ") || "none configured"})`, "templateID");
    }
    const lifecycleOptions = { on_timeout: body.autoPause === true ? "pause" : "kill", auto_resume: body.autoResume?.enabled === true } as const;
    // Accepted where nothing can pause, the sandbox would be killed at its timeout where the client expects it kept.
    if (lifecycleOptions.on_timeout === "pause" && !lifecycle.canPause()) {
      throw new HttpError(400, "autoPause: this deployment cannot pause sandboxes (the docker deployment can): it would be killed at its timeout", "autoPause");
    }
    const timeout = body.timeout ?? DEFAULT_TIMEOUT_SECONDS;
    const started = await rockFailureAsHttp(() =>
      lifecycle.start(
        { image, auto_clear_time_minutes: Math.max(timeout, 1) / 60 },
        { user_id: "default", experiment_id: "default", namespace: "default" },
        request.headers.get("idempotency-key") ?? undefined,
        body.envVars ?? {},
      ),
    );
    const record = await rockFailureAsHttp(() => started.running);
    // A create repeated with its Idempotency-Key gets the same sandbox and keeps its token.
    if (!(await e2b.get(record.sandbox_id))) await e2b.put(record, body.templateID, body.metadata ?? {}, body.envVars ?? {}, lifecycleOptions);
    set.status = 201;
    return connected(record);
  };
  // Connecting resumes a paused sandbox, as E2B's does.
  const connectSandbox = async ({ params, body }: { params: { sandboxID: string }; body: { timeout?: number } }) => {
    const record = await active(params.sandboxID);
    if (isPaused(record)) await rockFailureAsHttp(() => lifecycle.unpause(record.sandbox_id));
    if (body.timeout !== undefined) await live.touch(record.sandbox_id, Math.max(body.timeout, 1) / 60);
    return connected(record);
  };
  const createSchemas = { body: E.NewSandbox, response: { 201: E.Sandbox } };
  const connectSchemas = { params: E.SandboxParams, body: E.ConnectBody, response: { 200: E.Sandbox } };

  // The JS SDK creates and connects under /v2, the Python SDK without it.
  return app
    .post("/v2/sandboxes", createSandbox, createSchemas)
    .post("/sandboxes", createSandbox, createSchemas)
    .post("/v2/sandboxes/:sandboxID/connect", connectSandbox, connectSchemas)
    .post("/sandboxes/:sandboxID/connect", connectSandbox, connectSchemas)
    .post(
      "/sandboxes/:sandboxID/pause",
      async ({ params }) => {
        await active(params.sandboxID);
        if (!(await rockFailureAsHttp(() => lifecycle.pause(params.sandboxID)))) throw new HttpError(409, `sandbox '${params.sandboxID}' is already paused`);
        return new Response(null, { status: 204 });
      },
      { params: E.SandboxParams, body: E.PauseBody, response: { 204: E.NoContent } },
    )
    .post(
      "/sandboxes/:sandboxID/resume",
      async ({ params, body, set }) => {
        const record = await active(params.sandboxID);
        if (!(await rockFailureAsHttp(() => lifecycle.unpause(params.sandboxID)))) throw new HttpError(409, `sandbox '${params.sandboxID}' is not paused`);
        if (body.timeout !== undefined) await live.touch(record.sandbox_id, Math.max(body.timeout, 1) / 60);
        set.status = 201;
        return connected(record);
      },
      { params: E.SandboxParams, body: E.ConnectBody, response: { 201: E.Sandbox } },
    )
    .get(
      "/sandboxes/:sandboxID",
      async ({ params }) => {
        const record = await active(params.sandboxID);
        const extra = record.e2b;
        return { ...(await listed(record)), domain: null, lifecycle: { onTimeout: extra?.on_timeout ?? "kill", autoResume: extra?.auto_resume ?? false } };
      },
      { params: E.SandboxParams, response: { 200: E.SandboxDetail } },
    )
    .delete(
      "/sandboxes/:sandboxID",
      async ({ params }) => {
        await active(params.sandboxID);
        await rockFailureAsHttp(() => lifecycle.stop(params.sandboxID));
        return new Response(null, { status: 204 });
      },
      { params: E.SandboxParams, response: { 204: E.NoContent } },
    )
    .post(
      "/sandboxes/:sandboxID/timeout",
      async ({ params, body }) => {
        await active(params.sandboxID);
        await live.touch(params.sandboxID, Math.max(body.timeout, 1) / 60);
        return new Response(null, { status: 204 });
      },
      { params: E.SandboxParams, body: E.TimeoutBody, response: { 204: E.NoContent } },
    )
    .get(
      "/sandboxes/:sandboxID/metrics",
      async ({ params }) => {
        await active(params.sandboxID);
        // One current sample from the sandbox's envd (E2B keeps a history; we keep none).
        const m = await rockFailureAsHttp(async () => rocklet.getJson(await dataPlane.target(params.sandboxID), "/metrics"));
        const at = new Date(m.ts * 1000);
        return [
          {
            timestamp: at.toISOString(),
            timestampUnix: m.ts,
            cpuCount: m.cpu_count,
            cpuUsedPct: m.cpu_used_pct,
            memUsed: m.mem_used,
            memTotal: m.mem_total,
            memCache: m.mem_cache,
            diskUsed: m.disk_used,
            diskTotal: m.disk_total,
          },
        ];
      },
      { params: E.SandboxParams, query: E.MetricsQuery, response: { 200: t.Array(E.SandboxMetric) } },
    )
    .get(
      "/v2/sandboxes",
      async ({ query, set }) => {
        const wanted = parseMetadataFilter(query.metadata);
        const states = (query.state ?? "running,paused").split(",").map((s) => s.trim());
        for (const state of states) {
          if (state !== "running" && state !== "paused") throw new HttpError(400, `state: '${state}' is not a state (running, paused)`, "state");
        }
        const offset = query.nextToken === undefined ? 0 : Number(query.nextToken);
        if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, `nextToken: '${query.nextToken}' is not a token this server gave`, "nextToken");
        const limit = query.limit ?? 100;
        const matching: E.ListedSandbox[] = [];
        for (const record of await records.active()) {
          const item = await listed(record);
          if (!states.includes(item.state)) continue;
          if (query.template !== undefined && item.templateID !== query.template) continue;
          if (!Object.entries(wanted).every(([key, value]) => item.metadata[key] === value)) continue;
          matching.push(item);
        }
        if (offset + limit < matching.length) set.headers["x-next-token"] = String(offset + limit);
        return matching.slice(offset, offset + limit);
      },
      { query: E.ListQuery, response: { 200: t.Array(E.ListedSandbox) } },
    );
}

/** `metadata=k1%3Dv1%26k2%3Dv2` (the SDK URL-encodes the pairs, then the whole). */
function parseMetadataFilter(text: string | undefined): Record<string, string> {
  if (!text) return {};
  const wanted: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) wanted[key] = value;
  return wanted;
}

/** The lifecycle's ROCK failures as E2B statuses: the client's fault 400, ours 500; anything else as it is. */
async function rockFailureAsHttp<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RockFailure) throw new HttpError(error.code === 4000 ? 400 : 500, error.message);
    throw error;
  }
}
