/** Command-line options of `rock sandbox`: parsed with node:util, bad input reported as a usage error (exit 2). */
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEFAULT_BASE_URL, type TransportOptions } from "../sdk/index.ts";

export class UsageError extends Error {}

/** Options every subcommand takes: where the admin is and how to authenticate. */
export const connectionOptions = {
  url: { type: "string" },
  "base-url": { type: "string" },
  token: { type: "string" },
  "auth-token": { type: "string" },
  "token-file": { type: "string" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

export function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...connectionOptions, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The token from a file (first line), so that it shows neither in the process listing nor in the shell's history. */
function tokenFromFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`--token-file ${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  const token = text.split("\n")[0].trim();
  if (!token) throw new UsageError(`--token-file ${path}: the file is empty`);
  return token;
}

export function transportOptions(values: { url?: string; "base-url"?: string; token?: string; "auth-token"?: string; "token-file"?: string }): TransportOptions {
  const flag = values.token ?? values["auth-token"];
  return {
    baseUrl: values.url ?? values["base-url"] ?? process.env.ROCK_BASE_URL ?? DEFAULT_BASE_URL,
    token: flag ?? (values["token-file"] ? tokenFromFile(values["token-file"]) : process.env.ROCK_API_TOKEN),
  };
}

export function numberOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number (got '${text}')`);
  return value;
}

/** `K=V` pairs of a repeated option, e.g. `--env A=1 --env B=2`. */
export function pairs(name: string, items: string[] | undefined): Record<string, string> | undefined {
  if (!items?.length) return undefined;
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${name} takes KEY=VALUE (got '${item}')`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected one ${what} (got ${positionals.length ? positionals.join(" ") : "none"})`);
  return positionals[0];
}
