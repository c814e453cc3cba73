import type { DiscoveredPlugin } from "./discover.ts";
import type { Permissions } from "./permissions/schema.ts";
import type { PluginDefinition } from "./plugin.ts";

/** A discovered plugin with everything the kernel derived from its config. */
export interface PluginPlan {
  discovered: DiscoveredPlugin;
  definition: PluginDefinition<any, any>;
  enabled: boolean;
  config: Record<string, unknown>;
  permissions: Permissions;
  dependencies: string[];
  listen?: { host: string; port: number; token?: string };
}
