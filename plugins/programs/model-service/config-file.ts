/** The optional config file (`--config-file`): YAML or JSON, ROCK's field names plus ours. Unknown fields are errors. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { SettingsError } from "./errors.ts";

export interface ConfigFile {
  path: string;
  values: Record<string, unknown>;
}

const KNOWN_FIELDS = [
  // ROCK's ModelServiceConfig
  "host",
  "port",
  "proxy_base_url",
  "proxy_rules",
  "retryable_status_codes",
  "request_timeout",
  "recording_file",
  "replay_file",
  "traj_file",
  "replay_traj_file",
  // ours
  "type",
  "log_file",
  "pid_file",
  "polling_interval_seconds",
  "agent_check_interval_seconds",
  "max_retries",
  "retry_base_delay_ms",
  "retry_max_delay_ms",
];

export function readConfigFile(path: string): ConfigFile {
  const full = resolve(path);
  let parsed: unknown;
  try {
    parsed = Bun.YAML.parse(readFileSync(full, "utf8"));
  } catch (error) {
    throw new SettingsError(`cannot read config file ${full}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return { path: full, values: {} };
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new SettingsError(`${full}: expected a mapping of settings`);
  const values = parsed as Record<string, unknown>;
  const unknown = Object.keys(values).filter((key) => !KNOWN_FIELDS.includes(key));
  if (unknown.length) throw new SettingsError(`${full}: unknown field ${unknown.join(", ")} (known: ${KNOWN_FIELDS.join(", ")})`);
  return { path: full, values };
}
