/**
 * The admin service (port 8080): ROCK's sandbox API under `/apis/envs/sandbox/v1` in ROCK's envelope. Sandboxes are
 * placed by an operator plugin (config `operator`); data-plane calls go straight to each sandbox's rocklet with a
 * random per-sandbox token that never leaves the server.
 */
import { hostname } from "node:os";
import { Type } from "@sinclair/typebox";
import { definePlugin } from "../../../core/plugin.ts";
import { DataPlane } from "./data-plane.ts";
import { mountEnvdProxy, presentsAccessToken, serveSandboxHost } from "./e2b/data-plane.ts";
import { E2bRecords } from "./e2b/e2b-records.ts";
import { e2bErrorBody, isE2bPath, mountE2bRoutes } from "./e2b/routes.ts";
import { envelopeErrorBody, envelopeErrorStatus } from "./envelope.ts";
import { SandboxLifecycle } from "./lifecycle.ts";
import { LiveSandboxes } from "./live-sandboxes.ts";
import { Maintenance } from "./maintenance.ts";
import { formatMemory, hostLimits, parseMemory } from "./resources.ts";
import { RockletClient } from "./rocklet-client.ts";
import { mountAdminRoutes } from "./routes.ts";
import { SandboxRecords } from "./sandbox-records.ts";
import { Warmups } from "./warmups.ts";
import { Lease } from "./lease.ts";
import { AdminPresence } from "./admins.ts";

const MEMORY_PATTERN = "^\\s*\\d+(\\.\\d+)?\\s*[bkmgtBKMGT]?i?[bB]?\\s*$";

const Config = Type.Object({
  operator: Type.String({ default: "local-operator", minLength: 1, description: "The operator plugin that places sandboxes" }),
  max_cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "Largest `cpus` a start may ask for (default: the host's cores)" })),
  max_memory: Type.Optional(Type.String({ pattern: MEMORY_PATTERN, description: "Largest `memory` a start may ask for (default: half the host's memory)" })),
  default_cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "`cpus` of a start that names none (default: 2, at most half the host's cores)" })),
  default_memory: Type.Optional(Type.String({ pattern: MEMORY_PATTERN, description: "`memory` of a start that names none (default: 8g, at most a quarter of the host's memory)" })),
  pids_limit: Type.Integer({ default: 1024, minimum: 16, description: "Process (and thread) limit of each sandbox: a fork bomb stops there" }),
  auto_clear_time_minutes: Type.Number({ default: 30, exclusiveMinimum: 0, description: "Idle timeout when a start request sets none" }),
  start_timeout_seconds: Type.Number({ default: 85, exclusiveMinimum: 0, description: "How long a start waits for the rocklet to answer" }),
  idle_scan_interval_ms: Type.Integer({ default: 60_000, minimum: 10, description: "How often expired sandboxes are looked for" }),
  reconcile_interval_ms: Type.Integer({ default: 30_000, minimum: 10, description: "How often records and the runtime are reconciled" }),
  admin_id: Type.Optional(Type.String({ minLength: 1, description: "Names this admin among those sharing a store (default: host name and data dir); each needs its own" })),
  record_retention_days: Type.Number({ default: 7, exclusiveMinimum: 0, description: "How long the record of a stopped or deleted sandbox is kept (in the store and in the admin's copy)" }),
  maintenance_lease_ms: Type.Integer({
    default: 15_000,
    minimum: 100,
    description: "Admins sharing a store run the idle scan and the reconciler only while they hold this lease; a dead holder's lapses after it",
  }),
  rocklet_hosts: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Hosts of remote rocklets, besides loopback (an IPv4 block such as Docker's bridge subnet allowed)" }),
  e2b_templates: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
    default: { base: "python:3.11" },
    description: "E2B API: the image each templateID starts",
  }),
  e2b_domain: Type.Optional(
    Type.String({
      pattern: "^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$",
      description: "E2B API: serve sandbox hosts {port}-{sandboxId}.<this domain> (wildcard DNS, TLS in front), as the SDK's `domain`",
    }),
  ),
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
    const { operator } = ctx.use(ctx.config.operator, "operator");
    const host = hostLimits();
    const memory = (field: "max_memory" | "default_memory", fallback: number) => {
      const text = ctx.config[field];
      if (text === undefined) return fallback;
      const bytes = parseMemory(text);
      if (bytes === null) throw new Error(`${field} '${text}' is not a size such as 64g`);
      return bytes;
    };
    const maxCpus = ctx.config.max_cpus ?? host.maxCpus;
    const maxMemoryBytes = memory("max_memory", host.maxMemoryBytes);
    // A derived default never exceeds a configured maximum; a configured one must not.
    const defaultCpus = ctx.config.default_cpus ?? Math.min(host.defaultCpus, maxCpus);
    const defaultMemoryBytes = memory("default_memory", Math.min(host.defaultMemoryBytes, maxMemoryBytes));
    if (defaultCpus > maxCpus) throw new Error(`default_cpus ${defaultCpus} exceeds max_cpus ${maxCpus}`);
    if (defaultMemoryBytes > maxMemoryBytes) throw new Error(`default_memory ${formatMemory(defaultMemoryBytes)} exceeds max_memory ${formatMemory(maxMemoryBytes)}`);

    const adminId = ctx.config.admin_id ?? `${hostname()}:${ctx.paths.data}`;
    const records = new SandboxRecords(ctx.db(), ctx.store, { adminId, retentionMs: ctx.config.record_retention_days * 24 * 3600 * 1000 });
    const admins = new AdminPresence(adminId, ctx.store, ctx.config.maintenance_lease_ms);
    const live = new LiveSandboxes(ctx.store);
    const rocklet = new RockletClient(ctx.fetch);
    const lifecycle = new SandboxLifecycle(operator, records, live, rocklet, {
      maxCpus,
      maxMemoryBytes,
      defaultCpus,
      defaultMemoryBytes,
      pidsLimit: ctx.config.pids_limit,
      defaultAutoClearMinutes: ctx.config.auto_clear_time_minutes,
      startTimeoutMs: ctx.config.start_timeout_seconds * 1000,
    }, ctx.log, admins);
    const dataPlane = new DataPlane((id, known) => lifecycle.liveOrRebuilt(id, known), live, rocklet);
    const e2b = new E2bRecords(records);
    const maintenance = new Maintenance(operator, lifecycle, live, records, ctx.log, ctx.config.maintenance_lease_ms);
    const warmups = new Warmups(operator, ctx.log);
    const lease = new Lease(adminId, ctx.store, "maintenance-lease", ctx.config.maintenance_lease_ms);
    /** This admin alive for the others, its records in the store (again, when the store lost them), its late writes. */
    const upkeep = async () => {
      await admins.renew();
      await records.seedIfLost();
      await lifecycle.resync();
    };
    const timers: (() => Promise<void>)[] = [];

    return {
      lifecycle,
      maintenance,
      live,
      lease,
      records,
      async start() {
        // A store that does not answer yet: the next renewal does it.
        await upkeep().catch((error) => ctx.log.warn("the admin's records were not checked against the store; retried at the next lease renewal", { error: String(error) }));
        if (await lease.acquire()) await maintenance.reconcile();
        // Renewed three times per time to live: a holder that lives keeps it through a slow renewal or two.
        timers.push(maintenance.every(Math.max(1, Math.floor(ctx.config.maintenance_lease_ms / 3)), "maintenance lease", async () => {
          await lease.acquire();
          await upkeep();
        }));
        timers.push(maintenance.every(ctx.config.idle_scan_interval_ms, "idle scan", async () => lease.held && maintenance.stopExpired()));
        timers.push(maintenance.every(ctx.config.reconcile_interval_ms, "reconcile", async () => lease.held && maintenance.reconcile()));
      },
      async stop() {
        await Promise.all(timers.splice(0).map((clear) => clear()));
        await lease.release();
        await warmups.shutdown();
        await lifecycle.shutdown();
        // Its starts in flight are resolved by the lease holder at once, not when this key expires.
        await admins.leave().catch(() => undefined);
      },
      http: {
        title: "ROCK admin",
        // E2B's routes answer errors as {code, message} with their status; ROCK's in its envelope.
        errorBody: (e) => (isE2bPath(e.path) ? e2bErrorBody(e) : envelopeErrorBody(e)),
        errorStatus: (status, path) => (isE2bPath(path) ? status : envelopeErrorStatus(status)),
        tokenHeaders: ["X-API-Key"],
        authenticate: (request, path) => presentsAccessToken(e2b, request, path, ctx.config.e2b_domain),
        serveByHost: (request, server) => serveSandboxHost(request, server, { e2b, records, dataPlane, resume: (id) => lifecycle.unpause(id), fetch: ctx.fetch, domain: ctx.config.e2b_domain }),
        mount: (app) => {
          mountAdminRoutes(app, { lifecycle, dataPlane, records, live, rocklet, warmups });
          mountE2bRoutes(app, { lifecycle, dataPlane, rocklet, records, live, e2b, templates: ctx.config.e2b_templates });
          return mountEnvdProxy(app, { e2b, records, dataPlane, resume: (id) => lifecycle.unpause(id), fetch: ctx.fetch, domain: ctx.config.e2b_domain });
        },
      },
    };
  },
});
