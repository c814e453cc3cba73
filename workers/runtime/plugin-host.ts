/**
 * Model and filter plugins for a worker come from the kernel, exactly as for `bun run rock`: a Kernel is loaded
 * from a config generated from the layout (the LLM entry's `args` are its plugin section), so discovery, manifest
 * checks, config validation, permissions and the scoped `ctx` are the kernel's own. Errors are rewritten to point
 * at the layout file instead of the generated config.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { discoverPlugins } from "../../core/discover.ts";
import { ConfigError } from "../../core/errors.ts";
import { Kernel, projectRoot } from "../../core/kernel.ts";
import type { PluginKind } from "../../core/kinds/index.ts";
import type { LayoutFile, PlacedEntry } from "./layout-file.ts";

/** Kernel settings a worker takes from its environment; other ROCK_* variables belong to `bun run rock`. */
const passedRockVariables = new Set(["ROCK_LOG_LEVEL", "ROCK_LOG_FORMAT", "ROCK_DATA_DIR"]);

function workerEnv(env: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("ROCK_") || passedRockVariables.has(k)));
}

/** Every plugin entry of the layout, with the kind it must be. */
export function pluginEntries(layout: LayoutFile): (PlacedEntry & { kind: PluginKind })[] {
  const out: (PlacedEntry & { kind: PluginKind })[] = [];
  if (layout.llm?.plugin) out.push({ entry: layout.llm, at: "llm", kind: "model" });
  for (const side of ["ingress-filters", "egress-filters"] as const) {
    layout[side].forEach((entry, i) => entry.plugin && out.push({ entry, at: `${side}[${i}]`, kind: "filter" }));
  }
  return out;
}

function relocate(error: ConfigError, shown: string, atOf: Map<string, string>): ConfigError {
  const m = /^plugins\.([a-z0-9-]+)(?:\.(.*))?$/.exec(error.field);
  const at = m && atOf.get(m[1]);
  if (!m || !at) return new ConfigError(shown, error.field, error.expected);
  if (error.expected.startsWith("unknown plugin")) return new ConfigError(shown, `${at}.plugin`, error.expected);
  return new ConfigError(shown, [`${at}.args`, m[2]].filter(Boolean).join("."), error.expected);
}

export async function startPluginHost(layout: LayoutFile, shown: string, env: Record<string, string | undefined>): Promise<Kernel> {
  const entries = pluginEntries(layout);
  const sections: Record<string, Record<string, unknown>> = {};
  const atOf = new Map<string, string>();
  for (const { entry, at, kind } of entries) {
    const name = entry.plugin!;
    if (!atOf.has(name)) atOf.set(name, at);
    // Filter args are per entry (validated by the filter); only the model's args are its plugin config.
    sections[name] = kind === "model" ? (entry.args ?? {}) : (sections[name] ?? {});
  }
  // Kinds first: a filter entry naming a model plugin would otherwise fail on that plugin's config instead.
  const kinds = new Map((await discoverPlugins([join(projectRoot, "plugins")], projectRoot)).map((d) => [d.definition.name, d.definition.kind]));
  for (const { entry, at, kind } of entries) {
    const actual = kinds.get(entry.plugin!);
    if (actual && actual !== kind) throw new ConfigError(shown, `${at}.plugin`, `'${entry.plugin}' is a ${actual} plugin; expected a ${kind} plugin`);
  }
  const dir = mkdtempSync(join(tmpdir(), "rock-worker-"));
  let kernel: Kernel;
  try {
    const file = join(dir, "rock.yml");
    writeFileSync(file, stringify({ data_dir: join(projectRoot, "data"), plugins: sections }));
    kernel = await Kernel.load({ configFile: file, env: workerEnv(env) });
  } catch (error) {
    throw error instanceof ConfigError ? relocate(error, shown, atOf) : error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await kernel.start();
  return kernel;
}
