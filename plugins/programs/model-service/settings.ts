/**
 * The service's settings, from (strongest first) command-line flags, the environment variables ROCK documents,
 * a YAML/JSON config file with ROCK's field names, and the defaults. Every bad value names where it came from.
 */
import { dirname, join, resolve } from "node:path";
import { readConfigFile, type ConfigFile } from "./config-file.ts";
import { SettingsError } from "./errors.ts";
import { parseProxyRules, type ProxyRule } from "./proxy-rules.ts";

export type ServiceType = "local" | "proxy";

export interface ProxySettings {
  /** When set, every model goes here (ROCK's proxy_base_url). */
  baseUrl?: string;
  rules: Record<string, ProxyRule>;
  retryableStatusCodes: number[];
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  recordingFile?: string;
  replayFile?: string;
}

export interface ServiceSettings {
  type: ServiceType;
  host: string;
  port: number;
  logFile: string;
  /** Local mode: ROCK's LLMTraj.jsonl, one {request, response} line per answered call. */
  trajFile: string;
  /** ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE=true: append; otherwise each call overwrites the file, as ROCK does. */
  trajAppend: boolean;
  pidFile: string;
  pollIntervalMs: number;
  /** Undefined: wait for the trainer (local) or the upstream (proxy) without limit. */
  requestTimeoutMs?: number;
  agentCheckIntervalMs: number;
  proxy: ProxySettings;
}

export type Flags = Record<string, string | undefined>;

export const DEFAULT_DATA_DIR = "/data/logs";
const PROXY_DEFAULT_TIMEOUT_SECONDS = 120;

/** One setting's value and where it came from, for error messages. */
interface Found {
  value: unknown;
  from: string;
}

export function resolveSettings(flags: Flags, env: Record<string, string | undefined> = process.env): ServiceSettings {
  const file: ConfigFile | undefined = flags["config-file"] ? readConfigFile(flags["config-file"]) : undefined;
  const pick = (flag: string, envName: string | undefined, key: string): Found | undefined => {
    if (flags[flag] !== undefined) return { value: flags[flag], from: `--${flag}` };
    if (envName && env[envName] !== undefined && env[envName] !== "") return { value: env[envName], from: `environment variable ${envName}` };
    if (file && file.values[key] !== undefined) return { value: file.values[key], from: `${file.path}: ${key}` };
    return undefined;
  };

  const type = oneOf(pick("type", undefined, "type"), ["local", "proxy"], "local") as ServiceType;
  const dataDir = env.ROCK_MODEL_SERVICE_DATA_DIR || DEFAULT_DATA_DIR;
  const logFile = resolve(text(pick("log-file", "LOG_FILE", "log_file")) ?? join(dataDir, "LLMService.log"));
  const timeoutSeconds = optionalSeconds(pick("request-timeout", "REQUEST_TIMEOUT", "request_timeout"));
  const recordingFile = text(pick("recording-file", undefined, "recording_file") ?? pick("recording-file", undefined, "traj_file"));
  const replayFile = text(pick("replay-file", undefined, "replay_file") ?? pick("traj-file", undefined, "replay_traj_file"));
  if (recordingFile && replayFile) throw new SettingsError("recording and replay are mutually exclusive: set only one of recording_file and replay_file");

  return {
    type,
    host: text(pick("host", "SERVICE_HOST", "host")) ?? "0.0.0.0",
    port: integer(pick("port", "SERVICE_PORT", "port"), 0, 65535) ?? 8080,
    logFile,
    trajFile: resolve(env.TRAJ_FILE || join(dirname(logFile), "LLMTraj.jsonl")),
    trajAppend: (env.ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE ?? "false").toLowerCase() === "true",
    pidFile: resolve(text(pick("pid-file", "MODEL_SERVICE_PID_FILE", "pid_file")) ?? join(dirname(logFile), "model-service.pid")),
    pollIntervalMs: Math.round(1000 * (positiveSeconds(pick("polling-interval", "POLLING_INTERVAL_SECONDS", "polling_interval_seconds")) ?? 0.1)),
    requestTimeoutMs:
      timeoutSeconds === "unlimited" ? undefined : timeoutSeconds !== undefined ? timeoutSeconds * 1000 : type === "proxy" ? PROXY_DEFAULT_TIMEOUT_SECONDS * 1000 : undefined,
    agentCheckIntervalMs: Math.round(1000 * (positiveSeconds(pick("agent-check-interval", undefined, "agent_check_interval_seconds")) ?? 0.5)),
    proxy: {
      baseUrl: url(pick("proxy-base-url", undefined, "proxy_base_url")),
      rules: parseProxyRules(file?.values.proxy_rules, file ? `${file.path}: proxy_rules` : "proxy_rules", env),
      retryableStatusCodes: statusCodes(pick("retryable-status-codes", undefined, "retryable_status_codes")),
      maxRetries: integer(pick("max-retries", undefined, "max_retries"), 0, 20) ?? 5,
      retryBaseDelayMs: integer(pick("retry-base-delay-ms", undefined, "retry_base_delay_ms"), 0, 600_000) ?? 1000,
      retryMaxDelayMs: integer(pick("retry-max-delay-ms", undefined, "retry_max_delay_ms"), 0, 600_000) ?? 30_000,
      recordingFile: recordingFile && resolve(recordingFile),
      replayFile: replayFile && resolve(replayFile),
    },
  };
}

function fail(found: Found, expected: string): never {
  throw new SettingsError(`${found.from}: expected ${expected} (got ${JSON.stringify(found.value)})`);
}

function text(found: Found | undefined): string | undefined {
  if (!found) return undefined;
  if (typeof found.value !== "string" && typeof found.value !== "number") fail(found, "a string");
  return String(found.value);
}

function oneOf(found: Found | undefined, choices: string[], fallback: string): string {
  const value = text(found) ?? fallback;
  if (!choices.includes(value)) fail(found!, choices.join(" or "));
  return value;
}

function integer(found: Found | undefined, min: number, max: number): number | undefined {
  if (!found) return undefined;
  const value = Number(found.value);
  if (found.value === "" || !Number.isInteger(value) || value < min || value > max) fail(found, `an integer from ${min} to ${max}`);
  return value;
}

function positiveSeconds(found: Found | undefined): number | undefined {
  if (!found) return undefined;
  const value = Number(found.value);
  if (found.value === "" || !Number.isFinite(value) || value <= 0) fail(found, "a positive number of seconds");
  return value;
}

/** A positive number of seconds, or "none"/"unlimited"/0 for no limit (ROCK's `REQUEST_TIMEOUT = None`). */
function optionalSeconds(found: Found | undefined): number | "unlimited" | undefined {
  if (!found) return undefined;
  if (found.value === null || ["none", "unlimited", "0"].includes(String(found.value).toLowerCase())) return "unlimited";
  return positiveSeconds(found);
}

function url(found: Found | undefined): string | undefined {
  const value = text(found);
  if (value === undefined) return undefined;
  if (!/^https?:\/\/[^/]/.test(value)) fail(found!, "an http(s) URL");
  return value;
}

/** Only 429 and 5xx may be retried: any other 4xx means the request itself is wrong and would fail again. */
function statusCodes(found: Found | undefined): number[] {
  if (!found) return [429, 500, 502, 503, 504];
  const list = Array.isArray(found.value) ? found.value : String(found.value).split(",");
  const codes = list.map((c) => Number(String(c).trim()));
  if (codes.some((c) => !Number.isInteger(c) || (c !== 429 && (c < 500 || c > 599)))) fail(found, "status codes among 429 and 500-599");
  return codes;
}
