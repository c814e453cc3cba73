import type { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { openDatabase } from "./db.ts";
import { PermissionDenied } from "./errors.ts";
import { createLogger, registerSecret } from "./log.ts";
import { PluginMetrics, defaultMetricsPrefix } from "./metrics.ts";
import { ScopedDocker } from "./permissions/docker.ts";
import { scopedEnv } from "./permissions/env.ts";
import { checkHost, scopedFetch } from "./permissions/fetch.ts";
import { scopedFs } from "./permissions/fs.ts";
import { scopedRun } from "./permissions/run.ts";
import type { KindInstances, PluginKind } from "./kinds/index.ts";
import type { PluginPlan } from "./plan.ts";
import type { PluginContext } from "./plugin.ts";
import type { Store } from "./store/store.ts";

/** What the kernel lends to the contexts it builds. */
export interface ContextSources {
  root: string;
  dataDir: string;
  env: Record<string, string | undefined>;
  registry: Registry;
  signal: AbortSignal;
  dockerSocket: string;
  store: Store;
  /** Called with each database a plugin opens, so that the kernel closes it at shutdown. */
  onDatabase(db: Database): void;
  /** The instance of `name`, checked to be of `kind`; `by` is the plugin asking. */
  use<K extends PluginKind>(name: string, kind: K, by: string): KindInstances[K];
  enabledPlugins(): PluginPlan[];
}

const secretishEnv = /KEY|TOKEN|SECRET|PASSWORD/i;

/** A plugin's `ctx`: every capability in it is built from the plugin's declared permissions, nothing else. */
export function buildContext(plan: PluginPlan, from: ContextSources): PluginContext<any> {
  const { definition, permissions } = plan;
  const name = definition.name;
  const pluginData = join(from.dataDir, "plugins", name);
  mkdirSync(pluginData, { recursive: true });
  const env = scopedEnv(name, permissions.env ?? [], from.env);
  for (const [variable, value] of Object.entries(env.all())) if (secretishEnv.test(variable)) registerSecret(value);
  const net = permissions.net ?? [];
  let docker: ScopedDocker | undefined;
  let db: Database | undefined;
  const deps = new Set(plan.dependencies);
  return {
    name,
    kind: definition.kind,
    config: plan.config,
    paths: { root: from.root, data: from.dataDir, pluginData, pluginDir: plan.discovered.dir },
    permissions,
    log: createLogger({ plugin: name }),
    metrics: new PluginMetrics(from.registry, definition.metricsPrefix ?? defaultMetricsPrefix(name)),
    signal: from.signal,
    fetch: scopedFetch(name, net),
    checkHost: (url) => checkHost(name, net, url),
    env,
    fs: scopedFs(name, from.root, { read: permissions.read ?? [], write: [...(permissions.write ?? []), pluginData] }),
    run: scopedRun(name, from.root, permissions.run ?? [], env.all()),
    docker: () => {
      if (!permissions.docker) throw new PermissionDenied(name, "docker", "declare docker: true in permissions");
      return (docker ??= new ScopedDocker(name, { socket: from.dockerSocket }));
    },
    store: permissions.store ? from.store.namespace(`${permissions.store}:`) : deniedStore(name),
    db: () => {
      if (!permissions.database) throw new PermissionDenied(name, "database", "declare database: true in permissions");
      if (!db) from.onDatabase((db = openDatabase(join(from.dataDir, `${name}.sqlite`))));
      return db;
    },
    use: (dep, kind) => {
      if (!deps.has(dep)) throw new PermissionDenied(name, `use:${dep}`, `add '${dep}' to the plugin's dependencies`);
      return from.use(dep, kind, name);
    },
    pluginsOfKind: (kind: PluginKind) => from.enabledPlugins().filter((p) => p.definition.kind === kind).map((p) => p.definition.name),
  };
}

/** What a plugin without a `store` permission gets: every call is refused. */
function deniedStore(plugin: string): Store {
  return new Proxy({} as Store, {
    get: (_target, method) => () => {
      throw new PermissionDenied(plugin, "store", `declare store: "<namespace>" in permissions to use ${String(method)}`);
    },
  });
}
