import { Value } from "@sinclair/typebox/value";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { PluginError } from "./errors.ts";
import { Manifest, kindFolders, type PluginDefinition } from "./plugin.ts";

export interface DiscoveredPlugin {
  definition: PluginDefinition<any, any>;
  /** The plugin's folder. */
  dir: string;
  /** The module file that default-exports the definition. */
  file: string;
}

const entryFiles = ["plugin.ts", "plugin.js", "index.ts", "index.js"];

function entryOf(dir: string): string | undefined {
  return entryFiles.map((f) => join(dir, f)).find((f) => existsSync(f));
}

function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !name.startsWith(".") && !name.startsWith("_"))
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isDirectory())
    .sort();
}

/**
 * Plugin folders under `root`: `<root>/<kind folder>/<name>/plugin.ts` (kind folders are `deployments`, `models`, …),
 * or directly `<root>/<name>/plugin.ts` for a drop-in directory holding a few plugins of any kind.
 */
function candidates(root: string): { dir: string; kindFolder?: string }[] {
  const out: { dir: string; kindFolder?: string }[] = [];
  for (const dir of subdirs(root)) {
    const folder = dir.slice(root.length + 1);
    if (folder in kindFolders) for (const plugin of subdirs(dir)) out.push({ dir: plugin, kindFolder: folder });
    else if (entryOf(dir)) out.push({ dir });
  }
  return out;
}

/** Imports every plugin folder and checks its manifest. Duplicate names and bad manifests fail with the path. */
export async function discoverPlugins(roots: string[], projectRoot: string): Promise<DiscoveredPlugin[]> {
  const found = new Map<string, DiscoveredPlugin>();
  for (const root of roots) {
    for (const { dir, kindFolder } of candidates(root)) {
      const file = entryOf(dir);
      const where = relative(projectRoot, dir) || dir;
      if (!file) continue;
      let module: any;
      try {
        module = await import(file);
      } catch (error) {
        throw new PluginError(where, `cannot load ${relative(projectRoot, file)}: ${(error as Error).message}`, { cause: error });
      }
      const definition = module.default as PluginDefinition<any, any>;
      if (!definition || typeof definition !== "object") throw new PluginError(where, "the module has no default export of a plugin definition");
      const problem = Value.Errors(Manifest, definition).First();
      if (problem) throw new PluginError(definition.name ?? where, `${where}: manifest field '${problem.path.slice(1) || "(root)"}': ${problem.message}`);
      if (typeof definition.setup !== "function") throw new PluginError(definition.name, `${where}: manifest field 'setup': expected a function`);
      if (kindFolder && kindFolders[kindFolder] !== definition.kind) {
        throw new PluginError(definition.name, `${where}: declares kind '${definition.kind}' but sits in '${kindFolder}/'`);
      }
      const previous = found.get(definition.name);
      if (previous) throw new PluginError(definition.name, `defined twice: ${relative(projectRoot, previous.dir)} and ${where}`);
      found.set(definition.name, { definition, dir, file });
    }
  }
  return [...found.values()];
}
