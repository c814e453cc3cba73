/** ROCK's admin routes under `/apis/envs/sandbox/v1`, each answering in the envelope (HTTP 200 even when Failed). */
import { t } from "elysia";
import type { ServiceApp } from "../../../core/kinds/service.ts";
import { HttpError, Unavailable } from "../../../core/errors.ts";
import type { DataPlane } from "./data-plane.ts";
import { badRequest, failed, success } from "./envelope.ts";
import type { Envelope } from "../../protocol/rock-admin/results.ts";
import type { SandboxLifecycle, StartHeaders } from "./lifecycle.ts";
import type { LiveSandboxes } from "./live-sandboxes.ts";
import type { RockletClient } from "./rocklet-client.ts";
import { isPaused, type SandboxRecords } from "./sandbox-records.ts";
import * as R from "../../protocol/rock-admin/results.ts";
import * as S from "../../protocol/rock-admin/schemas.ts";
import { isActive } from "../../protocol/rock-admin/states.ts";
import { startResponse, statusResponse } from "./status.ts";
import type { Warmups } from "./warmups.ts";

export const prefix = "/apis/envs/sandbox/v1";
const MAX_PAGE_SIZE = 2000;

export interface AdminParts {
  lifecycle: SandboxLifecycle;
  dataPlane: DataPlane;
  records: SandboxRecords;
  live: LiveSandboxes;
  rocklet: RockletClient;
  warmups: Warmups;
}

/**
 * Runs a route body and wraps its result or its failure in the envelope. An unreachable store or engine is left to
 * the kernel, which answers 503 with the Failed envelope: the client should retry, which a 200 would not tell it; so
 * is an HttpError (an Idempotency-Key reused for another request: 422).
 */
async function enveloped<T>(routeMessage: string, body: () => T | Promise<T>): Promise<Envelope<T>> {
  try {
    return success(await body());
  } catch (error) {
    if (error instanceof Unavailable || error instanceof HttpError) throw error;
    return failed(routeMessage, error);
  }
}

function startHeaders(headers: Headers): StartHeaders {
  return {
    user_id: headers.get("x-user-id") || "default",
    experiment_id: headers.get("x-experiment-id") || "default",
    namespace: headers.get("x-namespace") || "default",
  };
}

/** E2B's and Stripe's header: a retried start with the same key gets the same sandbox. */
const idempotencyKey = (headers: Headers) => headers.get("idempotency-key") ?? undefined;

/** The fields of a live sandbox that list filters may match (never the rocklet's address or token). */
const filterable = new Set(Object.keys(S.ListFilters.properties));

export function mountAdminRoutes(app: ServiceApp, parts: AdminParts) {
  const { lifecycle, dataPlane, records, live, rocklet, warmups } = parts;

  async function status(sandbox_id: string, includeAll: boolean) {
    let record = await records.get(sandbox_id);
    // A sandbox that failed stays visible, so that whoever polls it learns why it stopped.
    if (!record || (!includeAll && !isActive(record.state) && !record.failure_reason)) throw badRequest(`Sandbox ${sandbox_id} not found`);
    let alive = false;
    const located = isActive(record.state) ? await lifecycle.liveOrRebuilt(sandbox_id, record) : null;
    const info = located?.info ?? null;
    // Not live: the record may just have been marked failed, with why.
    if (!info) record = located?.record ?? record;
    // A paused sandbox's rocklet is frozen: it is not alive now, and asking it would only wait out the probe's timeout.
    if (info?.rockletUrl && !isPaused(record)) {
      alive = await rocklet.isAlive(info);
      if (alive && record.state === "pending" && !lifecycle.starting.has(sandbox_id)) record = await lifecycle.markRunning(sandbox_id);
      if (!alive && record.state === "running") {
        const failed = await lifecycle.failIfDead(sandbox_id);
        if (failed) return statusResponse(failed, false, null);
      }
      await live.touch(sandbox_id);
    }
    return statusResponse(record, alive, info ? await live.expiresAt(sandbox_id) : null);
  }

  return app.get("/", () => ({ message: "hello, ROCK!" }), { response: R.Hello }).group(prefix, (group) =>
    group
      .post("/start", ({ body, request }) =>
        enveloped("start sandbox failed", async () => {
          const started = await lifecycle.start(body, startHeaders(request.headers), idempotencyKey(request.headers));
          return startResponse(await started.running);
        }), { body: S.StartRequest, response: R.answers(R.StartResult) })
      .post("/start_async", ({ body, request }) =>
        enveloped("start sandbox failed", async () => {
          // The start finishes in the background: running when the rocklet answers, undone when it never does.
          const started = await lifecycle.start(body, startHeaders(request.headers), idempotencyKey(request.headers));
          return startResponse(await started.placed);
        }), { body: S.StartRequest, response: R.answers(R.StartResult) })
      .get("/is_alive", ({ query }) => enveloped("get sandbox is alive failed", () => dataPlane.isAlive(query.sandbox_id)), { query: S.IdOnly, response: R.answers(R.IsAlive) })
      .get("/get_sandbox_statistics", ({ query }) => enveloped("get sandbox statistics failed", () => dataPlane.statistics(query.sandbox_id)), { query: S.IdOnly, response: R.answers(R.Statistics) })
      .get("/get_status", ({ query }) => enveloped("get sandbox status failed", () => status(query.sandbox_id, query.include_all_states === true)), { query: S.StatusQuery, response: R.answers(R.SandboxStatus) })
      .post("/execute", ({ body }) => enveloped("execute command failed", () => dataPlane.execute(body)), { body: S.Command, response: R.answers(R.CommandResponse) })
      .post("/create_session", ({ body }) => enveloped("create session failed", () => dataPlane.createSession(body)), { body: S.CreateSession, response: R.answers(R.SessionCreated) })
      .post("/run_in_session", ({ body }) => enveloped("run in session failed", () => dataPlane.runInSession(body)), { body: S.BashAction, response: R.answers(R.Observation) })
      .post("/close_session", ({ body }) => enveloped("close session failed", () => dataPlane.closeSession(body)), { body: S.CloseSession, response: R.answers(R.SessionClosed) })
      .post("/read_file", ({ body }) => enveloped("read file failed", () => dataPlane.readFile(body)), { body: S.ReadFile, response: R.answers(R.FileContent) })
      .post("/write_file", ({ body }) => enveloped("write file failed", () => dataPlane.writeFile(body)), { body: S.WriteFile, response: R.answers(R.Written) })
      .post("/upload", ({ body }) => enveloped("upload file failed", () => dataPlane.upload(body.sandbox_id, body.file, body.target_path)), { body: S.Upload, response: R.answers(R.Uploaded) })
      .post("/warmup/tasks", async ({ body }) => {
        const answer = await enveloped("warmup failed", () => warmups.start(body.image.trim()));
        return answer.status === "Success" ? success(null, "warmup task started") : answer;
      }, { body: S.Warmup, response: R.answers(t.Null()) })
      .post("/stop", ({ body }) =>
        enveloped("stop sandbox failed", async () => {
          await lifecycle.stop(body.sandbox_id);
          return `${body.sandbox_id} stopped`;
        }), { body: S.IdOnly, response: R.answers(t.String()) })
      .post("/delete", ({ body }) =>
        enveloped("delete sandbox failed", async () => {
          await lifecycle.delete(body.sandbox_id);
          return `${body.sandbox_id} deleted`;
        }), { body: S.IdOnly, response: R.answers(t.String()) })
      .post("/restart", ({ body }) => enveloped("restart sandbox failed", async () => startResponse(await lifecycle.restart(body.sandbox_id))), { body: S.IdOnly, response: R.answers(R.StartResult) })
      .post("/sandboxes/:sandbox_id/restart", ({ params }) => enveloped("restart sandbox failed", async () => startResponse(await lifecycle.restart(params.sandbox_id))), { params: S.RestartParams, response: R.answers(R.StartResult) })
      // No object storage is configured, so there are no credentials to hand out: ROCK answers null then, and its
      // SDKs upload through the admin instead.
      .get("/get_token", () => enveloped("get oss sts token failed", () => null), { query: S.TokenQuery, response: R.answers(t.Null()) })
      .post("/sandboxes/batch", ({ body }) =>
        enveloped("batch get sandbox status failed", async () => {
          const statuses = [];
          for (const id of new Set<string>(body.sandbox_ids)) {
            const record = await records.get(id);
            if (!record || !isActive(record.state)) continue;
            statuses.push(statusResponse(record, record.state === "running", await live.expiresAt(id)));
          }
          return { statuses };
        }), { body: S.BatchStatus, response: R.answers(R.BatchStatuses) })
      .get("/sandboxes", ({ query }) =>
        enveloped("list sandboxes failed", async () => {
          const { page: pageText, page_size: sizeText, ...filters } = query as Record<string, string>;
          const page = pageText === undefined ? 1 : Number(pageText);
          const pageSize = sizeText === undefined ? 500 : Number(sizeText);
          if (!Number.isInteger(page) || page < 1) throw badRequest(`page must be a positive integer (got ${pageText})`);
          if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw badRequest(`page_size must be an integer from 1 to ${MAX_PAGE_SIZE} (got ${sizeText})`);
          for (const key of Object.keys(filters)) if (!filterable.has(key)) throw badRequest(`cannot filter on '${key}' (filters: ${[...filterable].join(", ")})`);
          const matching = (await records.listed()).filter((s) => Object.entries(filters).every(([k, v]) => String((s as unknown as Record<string, unknown>)[k]) === v));
          const slice = matching.slice((page - 1) * pageSize, page * pageSize);
          const items = await Promise.all(slice.map(async ({ record }) => statusResponse(record, record.state === "running", await live.expiresAt(record.sandbox_id))));
          return { items, total: matching.length, has_more: page * pageSize < matching.length };
        }), { query: S.ListQuery, response: R.answers(R.SandboxList) }),
  );
}
