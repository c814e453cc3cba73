import { Type, type Static, type TObject, type TSchema } from "@sinclair/typebox";
import { Value, ValuePointer } from "@sinclair/typebox/value";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./errors.ts";

export const KernelConfig = Type.Object(
  {
    data_dir: Type.String({ default: "./data", minLength: 1, description: "Durable records and plugin data" }),
    plugin_dirs: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Extra drop-in plugin directories" }),
    server: Type.Object(
      {
        host: Type.String({ default: "127.0.0.1", minLength: 1, description: "Address every service binds to" }),
        token: Type.Optional(Type.String({ secret: true, description: "Bearer token required on every non-health route" })),
        shutdown_timeout_ms: Type.Integer({ default: 10000, minimum: 100 }),
        max_body_bytes: Type.Integer({ default: 128 * 1024 ** 2, minimum: 1024, description: "Largest request body; larger ones get 413" }),
        max_header_bytes: Type.Integer({ default: 16 * 1024, minimum: 1024, description: "Largest request line plus headers; larger ones get 414/431" }),
        max_json_depth: Type.Integer({ default: 128, minimum: 2, description: "Deepest nesting of arrays and objects in a request body; deeper ones get 400" }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union([Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")], { default: "info" }),
        format: Type.Union([Type.Literal("text"), Type.Literal("json")], { default: "text" }),
      },
      { default: {}, additionalProperties: false },
    ),
    store: Type.Object(
      {
        type: Type.Union([Type.Literal("memory"), Type.Literal("redis")], { default: "memory" }),
        url: Type.Optional(Type.String({ pattern: "^rediss?://", description: "redis://[user:password@]host:port[/db]" })),
        key_prefix: Type.String({ default: "" }),
        timeout_ms: Type.Integer({
          default: 1500,
          minimum: 10,
          description: "Longest wait for Redis on any request path; past it (or at once while Redis is down) the call fails with 503 'store unavailable'",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    docker: Type.Object(
      { socket: Type.String({ default: "/var/run/docker.sock", minLength: 1 }) },
      { default: {}, additionalProperties: false },
    ),
    plugins: Type.Record(Type.String({ pattern: "^[a-z][a-z0-9-]*$" }), Type.Object({ enabled: Type.Optional(Type.Boolean()) }), { default: {} }),
  },
  { additionalProperties: false },
);
export type KernelConfig = Static<typeof KernelConfig>;

export interface LoadedConfig {
  /** Where the config came from, as shown in errors. */
  file: string;
  kernel: KernelConfig;
  /** The raw section of every plugin named in the file or the environment. */
  plugins: Record<string, Record<string, unknown>>;
  /** Config paths set from environment variables, so that errors can name the variable instead of the file. */
  origins: Map<string, string>;
}

/** Environment variables that override config paths (documented in the README). */
export const envOverrides: { variable: string; path: string[]; parse?: (v: string) => unknown }[] = [
  { variable: "ROCK_DATA_DIR", path: ["data_dir"] },
  { variable: "ROCK_HOST", path: ["server", "host"] },
  { variable: "ROCK_API_TOKEN", path: ["server", "token"] },
  { variable: "ROCK_LOG_LEVEL", path: ["log", "level"] },
  { variable: "ROCK_LOG_FORMAT", path: ["log", "format"] },
  { variable: "ROCK_REDIS_URL", path: ["store", "url"] },
  { variable: "ROCK_STORE", path: ["store", "type"] },
  { variable: "ROCK_STORE_TIMEOUT_MS", path: ["store", "timeout_ms"] },
  { variable: "ROCK_DOCKER_SOCKET", path: ["docker", "socket"] },
  { variable: "DOCKER_HOST", path: ["docker", "socket"], parse: (v) => v.replace(/^unix:\/\//, "") },
  { variable: "ROCK_PLUGIN_DIRS", path: ["plugin_dirs"], parse: (v) => v.split(":").filter(Boolean) },
];

/** Per-plugin variables: ROCK_<NAME>_PORT, _HOST, _TOKEN, _ENABLED with the name upper-cased and `-` as `_`. */
const pluginFields = ["PORT", "HOST", "TOKEN", "ENABLED"] as const;

export function parseBoolean(value: string): boolean | string {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  return value; // left as text so validation reports it
}

function setPath(target: Record<string, any>, path: string[], value: unknown) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key];
  }
  node[path[path.length - 1]] = value;
}

export function envVarForPlugin(plugin: string, field: (typeof pluginFields)[number]): string {
  return `ROCK_${plugin.toUpperCase().replace(/-/g, "_")}_${field}`;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text && text.length > 60 ? text.slice(0, 57) + "..." : String(text);
}

/** Validates `value` against `schema` (after applying defaults) and throws a ConfigError naming the first bad field. */
export function validate<S extends TSchema>(schema: S, value: unknown, file: string, base: string, origins: Map<string, string>): Static<S> {
  const withDefaults = Value.Default(schema, Value.Clone(value ?? {}));
  const converted = Value.Convert(schema, withDefaults);
  const error = Value.Errors(schema, converted).First();
  if (error) {
    const field = [base, ...error.path.split("/").filter(Boolean)].filter(Boolean).join(".");
    const origin = origins.get(field);
    const got = ValuePointer.Get(converted as any, error.path);
    const shown = (error.schema as { secret?: boolean }).secret ? "a value that is not shown: the field is secret" : describe(got);
    const expected =
      error.schema.type === "object" && error.message.startsWith("Unexpected property")
        ? "unknown field"
        : `${error.message.replace(/^Expected/, "expected")} (got ${shown})`;
    throw new ConfigError(origin ? `environment variable ${origin}` : file, field, expected);
  }
  return converted as Static<S>;
}

/** The string values of `value` whose schema (at any depth: objects, records, arrays, unions) is marked `secret`. */
export function secretValues(schema: TSchema, value: unknown): string[] {
  const s = schema as Record<string, any>;
  if (s.secret === true) return typeof value === "string" ? [value] : [];
  const out: string[] = [];
  for (const branch of [...(s.anyOf ?? []), ...(s.allOf ?? [])]) out.push(...secretValues(branch, value));
  if (Array.isArray(value)) {
    if (s.items && typeof s.items === "object") for (const item of value) out.push(...secretValues(s.items, item));
  } else if (value && typeof value === "object") {
    const patterns = Object.entries<TSchema>(s.patternProperties ?? {}).map(([p, inner]) => [new RegExp(p), inner] as const);
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const property: TSchema | undefined = s.properties?.[key] ?? patterns.find(([p]) => p.test(key))?.[1] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
      if (property) out.push(...secretValues(property, inner));
    }
  }
  return out;
}

/** Unknown keys in a plugin's section are typos more often than not: refuse them. */
export function rejectUnknownFields(schema: TObject, value: Record<string, unknown>, file: string, base: string, allowed: string[] = []) {
  if (schema.additionalProperties !== undefined) return;
  for (const key of Object.keys(value)) {
    if (!(key in schema.properties) && !allowed.includes(key)) {
      throw new ConfigError(file, `${base}.${key}`, `unknown field (known: ${[...Object.keys(schema.properties), ...allowed].join(", ") || "none"})`);
    }
  }
}

/**
 * Reads the config file (`ROCK_CONFIG`, else `conf/rock.yml`; embedded defaults when neither exists),
 * applies environment overrides and validates the kernel's sections. Plugin sections are validated by the kernel
 * once it knows each plugin's schema.
 */
export function loadConfig(options: { root: string; file?: string; env?: Record<string, string | undefined> }): LoadedConfig {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.ROCK_CONFIG;
  const path = explicit ? (isAbsolute(explicit) ? explicit : resolve(options.root, explicit)) : resolve(options.root, "conf/rock.yml");
  const shown = relative(options.root, path).startsWith("..") ? path : relative(options.root, path);
  let raw: Record<string, any> = {};
  let file = shown;
  if (existsSync(path)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(path, "utf8"));
    } catch (error) {
      throw new ConfigError(shown, "", `not valid YAML: ${(error as Error).message.split("\n")[0]}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== "object" || Array.isArray(parsed))) {
      throw new ConfigError(shown, "", "expected a mapping of sections at the top level");
    }
    raw = (parsed as Record<string, any>) ?? {};
  } else if (explicit) {
    throw new ConfigError(shown, "", "file not found");
  } else {
    file = "(embedded defaults)";
  }

  const origins = new Map<string, string>();
  for (const { variable, path: fieldPath, parse } of envOverrides) {
    const value = env[variable];
    if (value === undefined || value === "") continue;
    setPath(raw, fieldPath, parse ? parse(value) : value);
    origins.set(fieldPath.join("."), variable);
  }
  if (env.ROCK_REDIS_URL && !env.ROCK_STORE) setPath(raw, ["store", "type"], "redis");
  if (raw.plugins !== undefined && (typeof raw.plugins !== "object" || raw.plugins === null || Array.isArray(raw.plugins))) {
    throw new ConfigError(file, "plugins", `expected a mapping of plugin name to settings (got ${describe(raw.plugins)})`);
  }
  raw.plugins ??= {};
  for (const [name, section] of Object.entries(raw.plugins)) {
    if (section === null || section === true) raw.plugins[name] = { enabled: true };
    else if (section === false) raw.plugins[name] = { enabled: false };
  }

  const kernel = validate(KernelConfig, raw, file, "", origins);
  if (kernel.store.type === "redis" && !kernel.store.url) {
    throw new ConfigError(file, "store.url", "required when store.type is redis (or set ROCK_REDIS_URL)");
  }
  return { file, kernel, plugins: kernel.plugins as Record<string, Record<string, unknown>>, origins };
}

/**
 * Applies ROCK_<NAME>_PORT/_HOST/_TOKEN/_ENABLED to the plugin sections of the plugins that exist, and each
 * plugin's own `configEnv` variables to the sections that are present.
 */
export function applyPluginEnv(
  config: LoadedConfig,
  plugins: { name: string; configEnv?: Record<string, string> }[],
  env: Record<string, string | undefined> = process.env,
) {
  for (const { name, configEnv } of plugins) {
    for (const field of pluginFields) {
      const variable = envVarForPlugin(name, field);
      const value = env[variable];
      if (value === undefined || value === "") continue;
      const key = field.toLowerCase();
      const section = (config.plugins[name] ??= {});
      section[key] = field === "ENABLED" ? parseBoolean(value) : value;
      config.origins.set(`plugins.${name}.${key}`, variable);
    }
    for (const [variable, key] of Object.entries(configEnv ?? {})) {
      const value = env[variable];
      if (value === undefined || value === "" || !config.plugins[name]) continue;
      config.plugins[name][key] = value;
      config.origins.set(`plugins.${name}.${key}`, variable);
    }
  }
}
