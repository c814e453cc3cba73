/**
 * The admin service (port 8080): ROCK's sandbox API under `/apis/envs/sandbox/v1` in ROCK's envelope. Sandboxes are
 * placed by an operator plugin (config `operator`); data-plane calls go straight to each sandbox's rocklet with a
 * random per-sandbox token that never leaves the server.
 */
import { Type } from "@sinclair/typebox";
import type { Operator } from "../../../core/kinds/operator.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { DataPlane } from "./data-plane.ts";
import { envelopeErrorBody, envelopeErrorStatus } from "./envelope.ts";
import { SandboxLifecycle } from "./lifecycle.ts";
import { LiveSandboxes } from "./live-sandboxes.ts";
import { Maintenance } from "./maintenance.ts";
import { parseMemory } from "./resources.ts";
import { RockletClient } from "./rocklet-client.ts";
import { mountAdminRoutes } from "./routes.ts";
import { SandboxRecords } from "./sandbox-records.ts";

const Config = Type.Object({
  operator: Type.String({ default: "local-operator", minLength: 1, description: "The operator plugin that places sandboxes" }),
  max_cpus: Type.Number({ default: 16, exclusiveMinimum: 0, description: "Largest `cpus` a start may ask for" }),
  max_memory: Type.String({ default: "64g", pattern: "^\\s*\\d+(\\.\\d+)?\\s*[bkmgtBKMGT]?i?[bB]?\\s*$", description: "Largest `memory` a start may ask for" }),
  pids_limit: Type.Integer({ default: 4096, minimum: 16, description: "Process limit of each sandbox" }),
  auto_clear_time_minutes: Type.Number({ default: 30, exclusiveMinimum: 0, description: "Idle timeout when a start request sets none" }),
  start_timeout_seconds: Type.Number({ default: 85, exclusiveMinimum: 0, description: "How long a start waits for the rocklet to answer" }),
  idle_scan_interval_ms: Type.Integer({ default: 60_000, minimum: 10, description: "How often expired sandboxes are looked for" }),
  reconcile_interval_ms: Type.Integer({ default: 30_000, minimum: 10, description: "How often records and the runtime are reconciled" }),
  rocklet_hosts: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Hosts of remote rocklets, besides loopback" }),
});

export default definePlugin({
  name: "admin",
  kind: "service",
  version: "0.1.0",
  description: "ROCK sandbox admin API: start/stop/restart/delete sandboxes, commands, sessions and files (ROCK compatible)",
  defaultPort: 8080,
  config: Config,
  dependencies: (config) => [config.operator],
  permissions: (config) => ({ store: "sandbox", database: true, net: ["127.0.0.1", "localhost", ...config.rocklet_hosts] }),
  setup(ctx) {
    const operator = ctx.use<{ operator?: Operator }>(ctx.config.operator).operator;
    if (!operator) throw new Error(`plugin '${ctx.config.operator}' is not an operator plugin`);
    const maxMemoryBytes = parseMemory(ctx.config.max_memory);
    if (maxMemoryBytes === null) throw new Error(`max_memory '${ctx.config.max_memory}' is not a size such as 64g`);

    const records = new SandboxRecords(ctx.db());
    const live = new LiveSandboxes(ctx.store);
    const rocklet = new RockletClient(ctx.fetch);
    const lifecycle = new SandboxLifecycle(operator, records, live, rocklet, {
      maxCpus: ctx.config.max_cpus,
      maxMemoryBytes,
      pidsLimit: ctx.config.pids_limit,
      defaultAutoClearMinutes: ctx.config.auto_clear_time_minutes,
      startTimeoutMs: ctx.config.start_timeout_seconds * 1000,
    }, ctx.log);
    const dataPlane = new DataPlane(live, records, rocklet);
    const maintenance = new Maintenance(operator, lifecycle, live, records, ctx.log);
    const timers: (() => void)[] = [];

    return {
      lifecycle,
      maintenance,
      async start() {
        await maintenance.reconcile();
        timers.push(maintenance.every(ctx.config.idle_scan_interval_ms, "idle scan", () => maintenance.stopExpired()));
        timers.push(maintenance.every(ctx.config.reconcile_interval_ms, "reconcile", () => maintenance.reconcile()));
      },
      stop() {
        for (const clear of timers.splice(0)) clear();
      },
      http: {
        title: "ROCK admin",
        errorBody: envelopeErrorBody,
        errorStatus: envelopeErrorStatus,
        mount: (app) => mountAdminRoutes(app.get("/", () => ({ message: "hello, ROCK!" })), { lifecycle, dataPlane, records, live, rocklet }),
      },
    };
  },
});
