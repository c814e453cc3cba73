/**
 * Where tools live: `<dir>/<folder>/tool.ts`, default-exporting a tool, next to the folder's `plugin.ts`. The node
 * binary bundles every tool found this way (plugins/tools, plus any extra directories given to the build).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const TOOL_MODULE = "tool.ts";

/** Absolute paths of the tool modules under `dirs`, in a stable order. Folders named lib, _x or .x are skipped. */
export function toolModules(dirs: string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (name === "lib" || name.startsWith("_") || name.startsWith(".")) continue;
      const module = join(dir, name, TOOL_MODULE);
      if (statSync(join(dir, name)).isDirectory() && existsSync(module)) out.push(module);
    }
  }
  return out;
}
