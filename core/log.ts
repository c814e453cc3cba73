/**
 * Structured logging to stderr: `text` lines for people, `json` lines for collectors.
 * Every registered secret is replaced by `***` in every line, whoever logs it.
 */
import { errorMessage } from "./errors.ts";
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines carry these fields too. */
  child(fields: LogFields): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secrets = new Set<string>();

const settings: { level: LogLevel; format: "text" | "json"; write: (line: string) => void } = {
  level: (process.env.ROCK_LOG_LEVEL as LogLevel) in order ? (process.env.ROCK_LOG_LEVEL as LogLevel) : "info",
  format: process.env.ROCK_LOG_FORMAT === "json" ? "json" : "text",
  write: (line) => void process.stderr.write(line + "\n"),
};

export function configureLogging(options: { level?: LogLevel; format?: "text" | "json"; write?: (line: string) => void }) {
  if (options.level) settings.level = options.level;
  if (options.format) settings.format = options.format;
  if (options.write) settings.write = options.write;
}

/** Whether lines of `level` are written now (to skip building fields nobody will see on hot paths). */
export function logEnabled(level: LogLevel): boolean {
  return order[level] >= order[settings.level];
}

/**
 * Never print this value. Short values are ignored: masking "a" would garble every line. The value is also masked
 * as JSON writes it inside a string, once and twice escaped (a quote or backslash in it would otherwise show).
 */
export function registerSecret(value: string | undefined | null) {
  if (!value || value.length < 4) return;
  const once = JSON.stringify(value).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  for (const form of [twice, once, value]) secrets.add(form);
}

export function redact(text: string): string {
  for (const secret of secrets) if (text.includes(secret)) text = text.split(secret).join("***");
  return text;
}

function render(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /^[\w./:@-]*$/.test(value) && value !== "" ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function emit(level: LogLevel, base: LogFields, message: string, fields?: LogFields) {
  if (order[level] < order[settings.level]) return;
  const all = { ...base, ...fields };
  let line: string;
  if (settings.format === "json") {
    const record: LogFields = { time: new Date().toISOString(), level, msg: message };
    for (const [k, v] of Object.entries(all)) record[k] = v instanceof Error ? v.message : v;
    line = JSON.stringify(record);
  } else {
    const scope = all.plugin ? `[${all.plugin}] ` : "";
    const rest = Object.entries(all)
      .filter(([k, v]) => k !== "plugin" && v !== undefined)
      .map(([k, v]) => `${k}=${render(v)}`)
      .join(" ");
    line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${scope}${message}${rest ? " " + rest : ""}`;
  }
  settings.write(redact(line));
}

export function createLogger(base: LogFields = {}): Logger {
  return {
    debug: (m, f) => emit("debug", base, m, f),
    info: (m, f) => emit("info", base, m, f),
    warn: (m, f) => emit("warn", base, m, f),
    error: (m, f) => emit("error", base, m, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  };
}

/**
 * What a plugin or a layout module throws outside any request would be printed by Bun as it is, secrets included:
 * log it (masked) and exit 1, as Bun would.
 */
export function logUncaughtErrors(log: Logger): void {
  const fatal = (what: string) => (error: unknown) => {
    log.error(what, { error: errorMessage(error) });
    process.exit(1);
  };
  process.on("uncaughtException", fatal("uncaught exception"));
  process.on("unhandledRejection", fatal("unhandled promise rejection"));
}
