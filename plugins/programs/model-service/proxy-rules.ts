/**
 * Where proxy mode sends a model: `proxy_rules` maps a model name (or "default") to a base URL, or to
 * `{base_url, api_key | api_key_env}` when the service, not the agent, holds the key.
 */
import { SettingsError } from "./errors.ts";

export interface ProxyRule {
  baseUrl: string;
  /** Replaces the agent's Authorization header when set. */
  apiKey?: string;
}

/** ROCK's defaults, used when the config file has no proxy_rules. */
const ROCK_DEFAULT_RULES: Record<string, ProxyRule> = {
  "gpt-3.5-turbo": { baseUrl: "https://api.openai.com/v1" },
  default: { baseUrl: "https://api-inference.modelscope.cn/v1" },
};

export function parseProxyRules(value: unknown, where: string, env: Record<string, string | undefined>): Record<string, ProxyRule> {
  if (value === undefined || value === null) return { ...ROCK_DEFAULT_RULES };
  if (typeof value !== "object" || Array.isArray(value)) throw new SettingsError(`${where}: expected a mapping of model name to base URL`);
  const rules: Record<string, ProxyRule> = {};
  for (const [model, rule] of Object.entries(value as Record<string, unknown>)) {
    rules[model] = parseRule(rule, `${where}.${model}`, env);
  }
  return rules;
}

function parseRule(rule: unknown, where: string, env: Record<string, string | undefined>): ProxyRule {
  if (typeof rule === "string") return { baseUrl: checkedUrl(rule, where) };
  if (typeof rule !== "object" || rule === null || Array.isArray(rule)) throw new SettingsError(`${where}: expected a base URL or {base_url, api_key}`);
  const fields = rule as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !["base_url", "api_key", "api_key_env"].includes(k));
  if (unknown.length) throw new SettingsError(`${where}: unknown field ${unknown.join(", ")} (known: base_url, api_key, api_key_env)`);
  if (typeof fields.base_url !== "string") throw new SettingsError(`${where}.base_url: expected an http(s) URL`);
  let apiKey = typeof fields.api_key === "string" ? fields.api_key : undefined;
  if (typeof fields.api_key_env === "string") {
    apiKey = env[fields.api_key_env];
    if (!apiKey) throw new SettingsError(`${where}.api_key_env: environment variable ${fields.api_key_env} is not set`);
  }
  return { baseUrl: checkedUrl(fields.base_url, `${where}.base_url`), apiKey };
}

function checkedUrl(value: string, where: string): string {
  if (!/^https?:\/\/[^/]/.test(value)) throw new SettingsError(`${where}: expected an http(s) URL (got ${JSON.stringify(value)})`);
  return value.replace(/\/+$/, "");
}

export type Route = { rule: ProxyRule; url: string } | { error: string };

/** ROCK's order: proxy_base_url wins, then the model's rule, then "default". */
export function routeFor(model: unknown, baseUrl: string | undefined, rules: Record<string, ProxyRule>): Route {
  const rule = baseUrl ? { baseUrl: baseUrl.replace(/\/+$/, "") } : typeof model === "string" && model ? (rules[model] ?? rules.default) : undefined;
  if (!rule) {
    return {
      error: typeof model === "string" && model ? `no proxy rule for model '${model}' and no 'default' rule` : "Model name is required for routing.",
    };
  }
  return { rule, url: `${rule.baseUrl}/chat/completions` };
}
