/**
 * Wraps a model client factory as a `model` plugin: the key comes from config or a declared env var,
 * and the only host the plugin may reach is the one its base URL names.
 */
import { Type, type TObject } from "@sinclair/typebox";
import type { ModelClient } from "../../core/kinds/model.ts";
import { definePlugin, type PluginDefinition } from "../../core/plugin.ts";
import type { ClientDeps } from "../protocol/model-http/deps.ts";

export interface ModelPluginSpec {
  name: string;
  version: string;
  description: string;
  /** The client's config schema (from `plugins/models/<vendor>/config.ts`). */
  schema: TObject;
  /** Config field holding the upstream base URL (absent for offline models). */
  urlField?: string;
  /** Default for `url` when the config leaves it out (the schema default). */
  defaultUrl?: string;
  /** Env var read for the key when the config has none. */
  keyEnv?: string;
  create(config: any, deps: ClientDeps): ModelClient;
}

function withKeySettings(spec: ModelPluginSpec): TObject {
  if (!spec.keyEnv) return spec.schema;
  const properties = { ...spec.schema.properties };
  properties.api_key = Type.Optional(Type.String({ minLength: 1, secret: true, description: `API key; default: $${spec.keyEnv}` }));
  properties.api_key_env = Type.String({ default: spec.keyEnv, pattern: "^[A-Za-z_][A-Za-z0-9_]*$", description: "Env var read for the key" });
  return Type.Object(properties, { additionalProperties: false });
}

export function modelPlugin(spec: ModelPluginSpec): PluginDefinition<"model"> {
  return definePlugin({
    name: spec.name,
    kind: "model",
    version: spec.version,
    description: spec.description,
    config: withKeySettings(spec),
    permissions: (config: any) => ({
      net: spec.urlField ? [new URL(config[spec.urlField] ?? spec.defaultUrl).host] : [],
      env: spec.keyEnv ? [config.api_key_env ?? spec.keyEnv] : [],
    }),
    setup(ctx) {
      const { api_key_env, ...config } = ctx.config as Record<string, any>;
      if (spec.keyEnv && !config.api_key) {
        const fromEnv = ctx.env.get(api_key_env ?? spec.keyEnv);
        if (fromEnv) config.api_key = fromEnv;
      }
      const client = spec.create(config, { fetch: ctx.fetch, name: ctx.name, log: (m, f) => ctx.log.warn(m, f) });
      return { client };
    },
  });
}
