import type { Database } from "bun:sqlite";
import { Type, type TObject } from "@sinclair/typebox";
import { isAbsolute, join, resolve } from "node:path";
import type { Registry } from "prom-client";
import { applyPluginEnv, loadConfig, rejectUnknownFields, secretValues, validate, type LoadedConfig } from "./config.ts";
import { buildContext } from "./context.ts";
import { discoverPlugins, type DiscoveredPlugin } from "./discover.ts";
import { ConfigError, PermissionDenied, PluginError, errorMessage } from "./errors.ts";
import { requestLimits } from "./http/limits.ts";
import { assertPortFree, startServer, type RunningServer } from "./http/server.ts";
import { configureLogging, createLogger, registerSecret, type Logger } from "./log.ts";
import { StampedRegistry, createRegistry } from "./metrics.ts";
import { missingKindMember, type KindInstances, type PluginKind } from "./kinds/index.ts";
import { Permissions } from "./permissions/schema.ts";
import type { PluginPlan } from "./plan.ts";
import type { PluginContext, PluginInstance } from "./plugin.ts";
import { createStore } from "./store/index.ts";
import type { Store } from "./store/store.ts";

export const projectRoot = resolve(import.meta.dir, "..");

export interface KernelOptions {
  /** Project root: `conf/` and `plugins/` are found here (default: this checkout). */
  root?: string;
  /** Config file; default `ROCK_CONFIG`, then `conf/rock.yml`. */
  configFile?: string;
  env?: Record<string, string | undefined>;
}

const ServiceListen = Type.Object({
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  host: Type.Optional(Type.String({ minLength: 1 })),
  token: Type.Optional(Type.String({ secret: true })),
});
const kernelKeys = ["enabled"];
const serviceKeys = ["port", "host", "token"];

function pick(section: Record<string, unknown>, keys: string[], keep: boolean) {
  return Object.fromEntries(Object.entries(section).filter(([k]) => keys.includes(k) === keep));
}

/** Dependencies before dependents; ties keep discovery order. A cycle is a config error. */
function orderByDependencies(plans: PluginPlan[], file: string): PluginPlan[] {
  const byName = new Map(plans.map((p) => [p.definition.name, p]));
  const ordered: PluginPlan[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (plan: PluginPlan, chain: string[]) => {
    const name = plan.definition.name;
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new ConfigError(file, `plugins.${name}`, `dependency cycle: ${[...chain, name].join(" -> ")}`);
    state.set(name, "visiting");
    for (const dep of plan.dependencies) visit(byName.get(dep)!, [...chain, name]);
    state.set(name, "done");
    ordered.push(plan);
  };
  for (const plan of plans) visit(plan, []);
  return ordered;
}

const article = (word: string) => `${/^[aeiou]/.test(word) ? "an" : "a"} ${word}`;

/** Refuses an instance that lacks a member its kind provides, naming the plugin and the member. */
function checkInstance(plugin: string, kind: PluginKind, instance: PluginInstance) {
  const missing = missingKindMember(kind, instance);
  if (missing) throw new PluginError(plugin, `${article(kind)} plugin provides ${missing.member} (${article(missing.expected)}), but setup returned ${missing.found} for it`);
  for (const hook of ["start", "stop"]) {
    const value = instance[hook];
    if (value !== undefined && typeof value !== "function") throw new PluginError(plugin, `setup returned ${hook} as ${article(typeof value)}; it must be a function or absent`);
  }
}

export class Kernel {
  readonly log: Logger;
  /** Process metrics and the metrics of plugins without a port; each service's own are in `serviceRegistry(name)`. */
  readonly registry: Registry;
  private readonly serviceRegistries = new Map<string, Registry>();
  readonly servers: RunningServer[] = [];
  private readonly instances = new Map<string, PluginInstance>();
  private readonly databases: Database[] = [];
  private readonly shutdown = new AbortController();
  private store?: Store;
  private started = false;
  private stopping?: Promise<void>;

  private constructor(
    readonly root: string,
    readonly config: LoadedConfig,
    readonly plugins: PluginPlan[],
    readonly dataDir: string,
    private readonly env: Record<string, string | undefined>,
  ) {
    this.log = createLogger({ plugin: "kernel" });
    this.registry = createRegistry();
  }

  /** Reads config, discovers plugins, validates every enabled plugin's config. Sets nothing up yet. */
  static async load(options: KernelOptions = {}): Promise<Kernel> {
    const root = options.root ?? projectRoot;
    const env = options.env ?? process.env;
    const config = loadConfig({ root, file: options.configFile, env });
    configureLogging({ level: config.kernel.log.level, format: config.kernel.log.format });
    registerSecret(config.kernel.server.token);
    registerSecret(config.kernel.store.url ? new URL(config.kernel.store.url).password : undefined);

    const dirs = [join(root, "plugins"), ...config.kernel.plugin_dirs.map((d) => (isAbsolute(d) ? d : resolve(root, d)))];
    const discovered = await discoverPlugins(dirs, root);
    const known = new Map(discovered.map((d) => [d.definition.name, d]));
    applyPluginEnv(config, discovered.map((d) => ({ name: d.definition.name, configEnv: d.definition.configEnv })), env);

    for (const name of Object.keys(config.plugins)) {
      if (!known.has(name)) {
        throw new ConfigError(config.file, `plugins.${name}`, `unknown plugin '${name}' (discovered: ${[...known.keys()].sort().join(", ") || "none"})`);
      }
    }
    const dataDir = resolve(root, config.kernel.data_dir);
    const plans = discovered.map((d) => Kernel.plan(d, config, root, dataDir));
    const enabled = new Set(plans.filter((p) => p.enabled).map((p) => p.definition.name));
    for (const plan of plans.filter((p) => p.enabled)) {
      for (const dep of plan.dependencies) {
        if (!known.has(dep)) throw new ConfigError(config.file, `plugins.${plan.definition.name}`, `depends on unknown plugin '${dep}'`);
        if (!enabled.has(dep)) throw new ConfigError(config.file, `plugins.${plan.definition.name}`, `depends on plugin '${dep}', which is not enabled`);
      }
    }
    const ports = new Map<number, string>();
    for (const plan of plans) {
      if (!plan.enabled || !plan.listen || plan.listen.port === 0) continue;
      const other = ports.get(plan.listen.port);
      if (other) throw new ConfigError(config.file, `plugins.${plan.definition.name}.port`, `port ${plan.listen.port} is already used by '${other}'`);
      ports.set(plan.listen.port, plan.definition.name);
    }
    const ordered = orderByDependencies(plans.filter((p) => p.enabled), config.file);
    return new Kernel(root, config, [...ordered, ...plans.filter((p) => !p.enabled)], dataDir, env);
  }

  private static plan(discovered: DiscoveredPlugin, config: LoadedConfig, root: string, dataDir: string): PluginPlan {
    const definition = discovered.definition;
    const name = definition.name;
    const section = { ...(config.plugins[name] ?? {}) } as Record<string, unknown>;
    const enabled = config.plugins[name] !== undefined && section.enabled !== false;
    const isService = definition.kind === "service";
    const base = `plugins.${name}`;
    const schema: TObject = definition.config ?? Type.Object({});
    const own = pick(section, isService ? [...kernelKeys, ...serviceKeys] : kernelKeys, false);
    if (enabled) rejectUnknownFields(schema, own, config.file, base, isService ? [...kernelKeys, ...serviceKeys] : kernelKeys);
    let pluginConfig: Record<string, unknown>;
    try {
      pluginConfig = validate(schema, own, config.file, base, config.origins) as Record<string, unknown>;
    } catch (error) {
      if (enabled) throw error;
      pluginConfig = own; // a disabled plugin's config is listed, not used
    }
    for (const secret of secretValues(schema, pluginConfig)) registerSecret(secret);

    let listen: PluginPlan["listen"];
    if (isService) {
      const l = validate(ServiceListen, pick(section, serviceKeys, true), config.file, base, config.origins);
      const port = l.port ?? definition.defaultPort;
      if (enabled && port === undefined) throw new ConfigError(config.file, `${base}.port`, "required: this service has no default port");
      listen = { host: l.host ?? config.kernel.server.host, port: port ?? 0, token: l.token ?? config.kernel.server.token };
      registerSecret(listen.token);
    }

    const paths = { root, data: dataDir, pluginDir: discovered.dir };
    let permissions: Permissions = {};
    let dependencies: string[] = [];
    try {
      permissions = typeof definition.permissions === "function" ? definition.permissions(pluginConfig, paths) : (definition.permissions ?? {});
      dependencies = typeof definition.dependencies === "function" ? definition.dependencies(pluginConfig) : (definition.dependencies ?? []);
    } catch (error) {
      if (enabled) throw new PluginError(name, `computing permissions: ${errorMessage(error)}`);
    }
    if (enabled) {
      const problem = validate(Permissions, permissions, `${discovered.file}`, "permissions", new Map());
      permissions = problem;
    }
    return { discovered, definition, enabled, config: pluginConfig, permissions, dependencies, listen };
  }

  /** Sets up every enabled plugin in dependency order, runs their start hooks, then opens the services' ports. */
  async start(): Promise<void> {
    if (this.started) throw new Error("kernel already started");
    this.started = true;
    // Before any plugin runs: a second instance shares the first one's data dir, and its plugins would reconcile (or,
    // stopping again, stop) the first one's sandboxes.
    for (const plan of this.enabledPlugins()) if (plan.listen) assertPortFree(plan.definition.name, plan.listen.host, plan.listen.port);
    const storeConfig = this.config.kernel.store;
    this.store = await createStore(
      storeConfig.type === "redis" ? { type: "redis", url: storeConfig.url!, keyPrefix: storeConfig.key_prefix, timeoutMs: storeConfig.timeout_ms } : { type: "memory" },
    );
    try {
      for (const plan of this.enabledPlugins()) {
        const name = plan.definition.name;
        const ctx = this.contextFor(plan);
        let instance: PluginInstance;
        try {
          instance = (await plan.definition.setup(ctx)) ?? {};
        } catch (error) {
          if (error instanceof PermissionDenied || (error instanceof PluginError && error.plugin === name)) throw error;
          throw new PluginError(name, `setup failed: ${errorMessage(error)}`, { cause: error });
        }
        checkInstance(name, plan.definition.kind, instance);
        this.instances.set(name, instance);
      }
      for (const plan of this.enabledPlugins()) {
        const name = plan.definition.name;
        try {
          await this.instances.get(name)?.start?.();
        } catch (error) {
          if (error instanceof PermissionDenied) throw error;
          throw new PluginError(name, `start failed: ${errorMessage(error)}`, { cause: error });
        }
      }
      for (const plan of this.enabledPlugins()) {
        if (!plan.listen) continue;
        const { http } = this.use(plan.definition.name, "service");
        this.servers.push(
          await startServer({
            name: plan.definition.name,
            version: plan.definition.version,
            ...plan.listen,
            registry: this.serviceRegistry(plan.definition.name),
            processRegistry: this.registry,
            log: createLogger({ plugin: plan.definition.name }),
            service: http,
            limits: requestLimits(this.config.kernel.server),
            health: plan.permissions.store ? () => this.storeProblem() : undefined,
          }),
        );
      }
    } catch (error) {
      await this.stop("start-up failed");
      throw error;
    }
  }

  /** Closes the servers, then runs stop hooks in reverse order; everything within `server.shutdown_timeout_ms`. */
  stop(reason = "stop"): Promise<void> {
    this.stopping ??= this.stopAll(reason);
    return this.stopping;
  }

  private async stopAll(reason: string) {
    const deadline = Date.now() + this.config.kernel.server.shutdown_timeout_ms;
    const bounded = async (what: string, work: () => unknown) => {
      const left = Math.max(0, deadline - Date.now());
      let timer: Timer | undefined;
      const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left)));
      try {
        const outcome = await Promise.race([Promise.resolve().then(work), timeout]);
        if (outcome === "timeout") this.log.warn(`${what} did not finish in time`);
      } catch (error) {
        this.log.error(`${what} failed`, { error: errorMessage(error) });
      } finally {
        clearTimeout(timer);
      }
    };
    this.log.info("stopping", { reason });
    this.shutdown.abort(new Error(`kernel ${reason}`));
    await Promise.all(this.servers.map((s) => bounded(`closing ${s.name} server`, () => s.stop())));
    this.servers.length = 0;
    for (const plan of [...this.enabledPlugins()].reverse()) {
      const instance = this.instances.get(plan.definition.name);
      if (instance?.stop) await bounded(`stopping ${plan.definition.name}`, () => instance.stop!());
    }
    this.instances.clear();
    for (const db of this.databases.splice(0)) db.close();
    await bounded("closing the store", () => this.store?.close());
  }

  /** Why the store cannot be used now (its error), or undefined while it answers. */
  private storeProblem(): Promise<string | undefined> {
    return this.store!.ping().then(
      () => undefined,
      (error: unknown) => errorMessage(error),
    );
  }

  enabledPlugins(): PluginPlan[] {
    return this.plugins.filter((p) => p.enabled);
  }

  instance<T = PluginInstance>(name: string): T | undefined {
    return this.instances.get(name) as T | undefined;
  }

  /** The instance of the set-up plugin `name`, which must be of `kind`; `by` names the plugin that asks, for errors. */
  use<K extends PluginKind>(name: string, kind: K, by?: string): KindInstances[K] {
    const plan = this.enabledPlugins().find((p) => p.definition.name === name);
    const instance = this.instances.get(name);
    if (!plan || !instance) throw new PluginError(by ?? name, by ? `uses '${name}', which is not set up` : "is not set up");
    const actual = plan.definition.kind;
    if (actual !== kind) {
      if (by) throw new PluginError(by, `uses '${name}' as ${article(kind)} plugin, but '${name}' is ${article(actual)} plugin`);
      throw new PluginError(name, `is ${article(actual)} plugin, not ${article(kind)} plugin`);
    }
    return instance as unknown as KindInstances[K];
  }

  server(name: string): RunningServer | undefined {
    return this.servers.find((s) => s.name === name);
  }

  /** The metrics a service's port serves besides the process's: its HTTP metrics and its plugin's own. */
  serviceRegistry(name: string): Registry {
    let registry = this.serviceRegistries.get(name);
    if (!registry) this.serviceRegistries.set(name, (registry = new StampedRegistry()));
    return registry;
  }

  private contextFor(plan: PluginPlan): PluginContext<any> {
    return buildContext(plan, {
      root: this.root,
      dataDir: this.dataDir,
      env: this.env,
      registry: plan.listen ? this.serviceRegistry(plan.definition.name) : this.registry,
      signal: this.shutdown.signal,
      dockerSocket: this.config.kernel.docker.socket,
      store: this.store!,
      onDatabase: (db) => this.databases.push(db),
      use: (name, kind, by) => this.use(name, kind, by),
      enabledPlugins: () => this.enabledPlugins(),
    });
  }
}
