/**
 * The worker's environment settings (names from the Worker Framework, plus a few of ours). Booleans parse as
 * words (`IGNORE_AGENT=false` is false, unlike the original's `bool("False")`), numbers must be numbers, and a
 * bad value stops the worker with the variable's name.
 */
import { randomBytes } from "node:crypto";
import { parseBoolean } from "../../core/config.ts";

export interface WorkerSettings {
  /** Agent base URL, always ending in `/` (…/v1.0/). */
  agentEndpoint: string;
  /** Registration name; undefined = the layout's `name`, else the folder's name. */
  name?: string;
  publicAddress: string;
  /** 0 = a free port. */
  port: number;
  host: string;
  /** POST path of the completion route. */
  endpoint: string;
  ignoreAgent: boolean;
  retryCount: number;
  retryBaseMs: number;
  /** How often the worker checks that the Agent still knows it (0 = never). */
  checkIntervalMs: number;
  concurrentLimit: number;
  /** Layout file; undefined = `<folder>/layout.yaml`. */
  layoutConfig?: string;
  debug: boolean;
  /** Bearer token the worker sends to the Agent (the Agent's own token). */
  agentToken?: string;
  /**
   * Bearer token the worker requires on every route but /health; sent to the Agent with the registration so that
   * the Agent can call it. Default: a random one when `agentToken` is set (the deployment is token-protected).
   */
  workerToken?: string;
}

export class SettingsError extends Error {
  constructor(variable: string, expected: string, got: string) {
    super(`environment variable ${variable}: expected ${expected} (got ${JSON.stringify(got)})`);
    this.name = "SettingsError";
  }
}

const loopback = new Set(["localhost", "127.0.0.1", "::1"]);

export function readSettings(env: Record<string, string | undefined>): WorkerSettings {
  const text = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const bool = (name: string, fallback: boolean) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = parseBoolean(raw);
    if (typeof value !== "boolean") throw new SettingsError(name, "true/false, 1/0, yes/no or on/off", raw);
    return value;
  };
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) throw new SettingsError(name, `an integer from ${min} to ${max}`, raw);
    return value;
  };

  const agentToken = text("AGENT_TOKEN")?.trim() || undefined;
  const agentEndpoint = text("AGENT_ENDPOINT") ?? "http://localhost:9000/v1.0/";
  try {
    if (!/^https?:$/.test(new URL(agentEndpoint).protocol)) throw new Error();
  } catch {
    throw new SettingsError("AGENT_ENDPOINT", "an http(s) URL such as http://agent:9000/v1.0/", agentEndpoint);
  }
  const endpoint = text("ENDPOINT") ?? "/v1/completion";
  if (!/^\/[\w\-./]*$/.test(endpoint)) throw new SettingsError("ENDPOINT", "a path such as /v1/completion", endpoint);
  const publicAddress = text("PUBLIC_ADDRESS") ?? "localhost";
  // The original needs the trailing slash or drops the last path segment when joining; we add it. A bare origin
  // (http://agent:9000) can only mean the Agent's API root, so it gets the /v1.0/ prefix the Agent serves.
  const agentUrl = new URL(agentEndpoint.endsWith("/") ? agentEndpoint : `${agentEndpoint}/`);
  if (agentUrl.pathname === "/") agentUrl.pathname = "/v1.0/";
  return {
    agentEndpoint: agentUrl.toString(),
    name: text("LLM_NAME"),
    publicAddress,
    port: int("PORT", 0, 0, 65535),
    // A worker published as localhost only needs loopback; otherwise the Agent reaches it from elsewhere.
    host: text("HOST") ?? (loopback.has(publicAddress) ? "127.0.0.1" : "0.0.0.0"),
    endpoint,
    ignoreAgent: bool("IGNORE_AGENT", false),
    retryCount: int("RETRY_COUNT", 5, 0, 100),
    retryBaseMs: int("RETRY_BASE_MS", 1000, 1),
    checkIntervalMs: int("CHECK_INTERVAL_MS", 30_000, 0),
    concurrentLimit: int("CONCURRENT_LIMIT", 1, 1, 10_000),
    layoutConfig: text("LAYOUT_CONFIG"),
    debug: bool("DEBUG", false),
    agentToken,
    workerToken: text("WORKER_TOKEN")?.trim() || (agentToken ? randomBytes(24).toString("base64url") : undefined),
  };
}
