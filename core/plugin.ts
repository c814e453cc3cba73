import { Type, type Static, type TObject, type TSchema } from "@sinclair/typebox";
import type { Database } from "bun:sqlite";
import { pluginKinds, type KindInstances, type PluginKind } from "./kinds/index.ts";
import type { Logger } from "./log.ts";
import type { PluginMetrics } from "./metrics.ts";
import type { ScopedDocker } from "./permissions/docker.ts";
import type { ScopedEnv } from "./permissions/env.ts";
import type { ScopedFs } from "./permissions/fs.ts";
import type { ScopedRun } from "./permissions/run.ts";
import type { Permissions } from "./permissions/schema.ts";
import type { Store } from "./store/store.ts";

/** Folder under a plugin directory that holds plugins of each kind. */
export const kindFolders: Record<string, PluginKind> = {
  deployments: "deployment",
  operators: "operator",
  models: "model",
  tools: "tool",
  filters: "filter",
  services: "service",
};

export interface KernelPaths {
  /** Project root (where conf/ and plugins/ are). */
  root: string;
  /** The kernel's data directory. */
  data: string;
  /** This plugin's own data directory (always readable and writable by it). */
  pluginData: string;
  /** This plugin's folder. */
  pluginDir: string;
}

/** What a plugin's `setup` receives: its validated config and handles built from its permissions only. */
export interface PluginContext<C = unknown> {
  readonly name: string;
  readonly kind: PluginKind;
  readonly config: C;
  readonly paths: KernelPaths;
  readonly permissions: Permissions;
  readonly log: Logger;
  readonly metrics: PluginMetrics;
  /** Aborted when the kernel begins to shut down. */
  readonly signal: AbortSignal;
  readonly fetch: typeof fetch;
  /** Throws unless `url`'s host is in permissions.net (for WebSocket or socket clients). */
  checkHost(url: string | URL): void;
  readonly env: ScopedEnv;
  readonly fs: ScopedFs;
  readonly run: ScopedRun;
  /** The Docker client (permission `docker`). */
  docker(): ScopedDocker;
  /** The hot-state store, namespaced to permissions.store. */
  readonly store: Store;
  /** This plugin's SQLite database (permission `database`). */
  db(): Database;
  /** The instance of a plugin named in `dependencies`, which must be of `kind` (checked: an error names both plugins). */
  use<K extends PluginKind>(name: string, kind: K): KindInstances[K];
  /** Enabled plugins of a kind, by name (for choosing a backend by config). */
  pluginsOfKind(kind: PluginKind): string[];
}

/** Hooks any instance may have: `start` after every plugin is set up, `stop` at shutdown (in reverse order). */
export interface PluginHooks {
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/**
 * What `setup` returns for a plugin of kind `K`: the members its kind provides (core/kinds/), the hooks, and whatever
 * else the plugin keeps there (tests reach it through `kernel.instance`).
 */
export type PluginInstance<K extends PluginKind = PluginKind> = KindInstances[K] & PluginHooks & { [member: string]: unknown };

export interface PluginDefinition<K extends PluginKind = PluginKind, S extends TObject = TObject> {
  name: string;
  /** Selects what `setup` must return: a plugin returning another shape does not compile, nor pass the kernel's check. */
  kind: K;
  version: string;
  description?: string;
  /** TypeBox schema of the plugin's config section; defaults in it are applied. */
  config?: S;
  /** Default port when the plugin is a service. */
  defaultPort?: number;
  /** Permissions, fixed or computed from the validated config (e.g. the host of a configured base URL). */
  permissions?: Permissions | ((config: Static<S>, paths: Omit<KernelPaths, "pluginData">) => Permissions);
  /** Plugins that must be set up first; their instances are reachable through `ctx.use`. */
  dependencies?: string[] | ((config: Static<S>) => string[]);
  /** Environment variables that set config fields, e.g. `{ MODEL_SERVER: "model_server" }` (the file's value loses). */
  configEnv?: Record<string, string>;
  /** Prefix for this plugin's metric names (default `rock_<name>_`). */
  metricsPrefix?: string;
  setup(ctx: PluginContext<Static<S>>): PluginInstance<K> | Promise<PluginInstance<K>>;
}

/** Identity function that gives a plugin definition its types: `kind` selects the instance `setup` must return. */
export function definePlugin<K extends PluginKind, S extends TObject = TObject>(definition: PluginDefinition<K, S>): PluginDefinition<K, S> {
  return definition;
}

/** The manifest fields the kernel checks before it trusts a plugin module. */
export const Manifest = Type.Object({
  name: Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }),
  kind: Type.Union(pluginKinds.map((k) => Type.Literal(k))),
  version: Type.String({ pattern: "^\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]+)?$" }),
  description: Type.Optional(Type.String()),
  defaultPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  metricsPrefix: Type.Optional(Type.String({ pattern: "^[a-zA-Z_][a-zA-Z0-9_]*$" })),
});
export type Manifest = Static<typeof Manifest>;

export type AnySchema = TSchema;
