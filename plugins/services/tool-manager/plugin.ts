/**
 * The tool manager (port 31511): runs each (tool, tenant) pair's tool in its own container, a tool node, and proxies
 * calls to it, with the original's routes and envelope. Instances are recorded in SQLite and reconciled with the
 * containers at start-up; ports come from 31513 up, rebuilt from the records. Tenants have tokens.
 */
import { Type } from "@sinclair/typebox";
import { registerSecret } from "../../../core/log.ts";
import { definePlugin } from "../../../core/plugin.ts";
import { fromRoot } from "../../shared/deployment/rocklet-files.ts";
import { TOOL_NODE_BINARY_DEFAULT, TOOL_NODE_BUILD_HINT } from "../../shared/tool-node-files.ts";
import { PreparedTool } from "../../protocol/tool-call/prepared-tool.ts";
import { TENANT_PATTERN } from "../../protocol/tool-manager/schemas.ts";
import { envelopeErrorBody } from "./envelope.ts";
import { InstanceRecords } from "./instance-records.ts";
import { ToolInstances } from "./instances.ts";
import { NodeClient } from "./node-client.ts";
import { PortAllocator } from "./port-allocator.ts";
import { openAPIParts } from "./openapi-routes.ts";
import { mountToolManagerRoutes, routePaths } from "./routes.ts";
import { parseTenantTokens, TenantAuth } from "./tenant-auth.ts";

const TENANT_TOKENS_ENV = "TOOL_MANAGER_TENANT_TOKENS";

const Config = Type.Object({
  tools: Type.Array(Type.String({ minLength: 1 }), {
    default: ["renew-instance", "calculator", "code-interpreter", "hmac-signer"],
    description: "Tool plugins offered (each must be enabled)",
  }),
  node_binary: Type.String({ default: TOOL_NODE_BINARY_DEFAULT, description: "Compiled tool node (relative to the project root); the engine must see the same path" }),
  image: Type.String({ default: "debian:bookworm-slim", minLength: 1, description: "Default image of tool containers (glibc; a create may name another)" }),
  pull: Type.Union([Type.Literal("never"), Type.Literal("missing"), Type.Literal("always")], { default: "missing" }),
  port_start: Type.Integer({ default: 31513, minimum: 1024, maximum: 65535, description: "First host port of tool nodes" }),
  port_end: Type.Integer({ default: 32512, minimum: 1024, maximum: 65535, description: "Last host port of tool nodes" }),
  cpus: Type.Number({ default: 0.5, exclusiveMinimum: 0 }),
  memory_mb: Type.Integer({ default: 256, minimum: 32 }),
  pids_limit: Type.Integer({ default: 128, minimum: 16 }),
  user: Type.String({ default: "65534:65534", description: "User the node runs as (default nobody)" }),
  network_mode: Type.String({ default: "bridge", minLength: 1 }),
  start_timeout_ms: Type.Integer({ default: 30_000, minimum: 100, description: "How long a node may take to answer its health check" }),
  execute_timeout_ms: Type.Integer({ default: 30_000, minimum: 10, description: "Deadline of a call to a node" }),
  reconcile_interval_ms: Type.Integer({ default: 30_000, minimum: 10, description: "How often records and containers are reconciled (a node that died is recorded failed, with why)" }),
  tenants: Type.Record(Type.String({ pattern: TENANT_PATTERN }), Type.String({ minLength: 8 }), {
    default: {},
    description: `Tenant → token (also from ${TENANT_TOKENS_ENV}=tenant:token,…)`,
  }),
  openapi_hosts: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: "Hosts OpenAPI tools may call (host, host:port or *.domain); a spec whose server is elsewhere is refused. A loopback entry lets tenants reach local services",
  }),
  admin_token: Type.Optional(Type.String({ minLength: 8, secret: true, description: "A token that may act on every tenant" })),
});

export default definePlugin({
  name: "tool-manager",
  kind: "service",
  version: "0.1.0",
  description: "ModelScope tool manager: one container per (tool, tenant), routes and envelope of the original, tenant tokens",
  defaultPort: 31511,
  config: Config,
  dependencies: (config) => config.tools,
  permissions: (config, paths) => ({
    docker: true,
    database: true,
    net: ["127.0.0.1", ...config.openapi_hosts],
    read: [fromRoot(paths.root, config.node_binary)],
    env: [TENANT_TOKENS_ENV],
  }),
  setup(ctx) {
    const config = ctx.config;
    if (config.port_end < config.port_start) throw new Error(`port_end (${config.port_end}) is below port_start (${config.port_start})`);
    const catalog = new Map<string, PreparedTool>();
    for (const plugin of config.tools) {
      const { tool } = ctx.use(plugin, "tool");
      catalog.set(tool.name, new PreparedTool(tool));
    }
    const envTokens = ctx.env.get(TENANT_TOKENS_ENV);
    const tenants = { ...config.tenants, ...(envTokens ? parseTenantTokens(envTokens) : {}) };
    for (const token of Object.values(tenants)) registerSecret(token);
    const auth = new TenantAuth(tenants, config.admin_token);
    if (auth.tenantCount === 0 && !config.admin_token) ctx.log.warn(`no tenants configured (tenants or ${TENANT_TOKENS_ENV}): every request will be refused`);

    const nodeBinary = fromRoot(ctx.paths.root, config.node_binary);
    const docker = ctx.docker();
    const records = new InstanceRecords(ctx.db());
    const client = new NodeClient(ctx.fetch);
    const openapi = openAPIParts(ctx.db(), config.openapi_hosts, ctx.fetch, ctx.log);
    const instances = new ToolInstances(
      docker,
      records,
      new PortAllocator(records, config.port_start, config.port_end),
      client,
      {
        defaultImage: config.image,
        pull: config.pull,
        startTimeoutMs: config.start_timeout_ms,
        container: { nodeBinary, networkMode: config.network_mode, cpus: config.cpus, memoryBytes: config.memory_mb * 1024 ** 2, pidsLimit: config.pids_limit, user: config.user },
        assertNodeBinary: async () => {
          const stat = await ctx.fs.stat(nodeBinary).catch(() => null);
          if (!stat?.isFile()) throw new Error(`tool node binary not found at ${nodeBinary}: ${TOOL_NODE_BUILD_HINT}`);
        },
      },
      ctx.log,
    );

    // Without a reachable engine the service still answers (health, tools, errors naming Docker); records are left as
    // they are until a later pass can compare them with the containers.
    const reconcile = () => instances.reconcile().catch((error) => ctx.log.warn("tool containers were not reconciled", { error: String(error?.message ?? error) }));
    let pass: Promise<void> | null = null;
    let timer: ReturnType<typeof setInterval> | undefined;

    return {
      instances,
      async start() {
        await reconcile();
        timer = setInterval(() => {
          pass ??= reconcile().finally(() => (pass = null));
        }, config.reconcile_interval_ms);
      },
      async stop() {
        clearInterval(timer);
        await pass;
        await instances.stop();
      },
      http: {
        title: "Tool manager (ModelScope agent tool service)",
        errorBody: envelopeErrorBody,
        // Tenant tokens are checked by the routes themselves; the service-wide token would shadow them.
        publicPaths: ["/", ...routePaths.flatMap((p) => [p, `${p}/`])],
        mount: (app) => mountToolManagerRoutes(app, { instances, catalog, auth, client, executeTimeoutMs: config.execute_timeout_ms, openapi }),
      },
    };
  },
});
