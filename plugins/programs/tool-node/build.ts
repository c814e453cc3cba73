#!/usr/bin/env bun
/**
 * Compiles the tool node into one self-contained executable, like the rocklet, with every tool bundled:
 *   bun plugins/programs/tool-node/build.ts [--outfile dist/tool-node] [--tools-dir DIR]... [--target bun-linux-x64-musl]
 * The entry is generated: it imports each `<tools dir>/<folder>/tool.ts` and hands them to `runToolNode`.
 */
import { join, resolve } from "node:path";
import { compileProgram, REPO_ROOT, reportBuilt } from "../compile.ts";
import { toolModules } from "./tool-sources.ts";

const ENTRY = "rock-tool-node:entry";

export interface ToolNodeBuildOptions {
  outfile?: string;
  /** Directories of tool folders besides plugins/tools. */
  toolDirs?: string[];
  target?: string;
}

function entrySource(modules: string[]): string {
  const imports = modules.map((file, i) => `import tool${i} from ${JSON.stringify(file)};`);
  const list = modules.map((_, i) => `tool${i}`).join(", ");
  return `import { runToolNode } from ${JSON.stringify(join(import.meta.dir, "main.ts"))};\n${imports.join("\n")}\nawait runToolNode([${list}]);\n`;
}

export function buildToolNode(options: ToolNodeBuildOptions = {}): Promise<string> {
  const modules = toolModules([join(REPO_ROOT, "plugins", "tools"), ...(options.toolDirs ?? []).map((d) => resolve(d))]);
  const source = entrySource(modules);
  const entry: Bun.BunPlugin = {
    name: "tool-node-entry",
    setup(build) {
      build.onResolve({ filter: /^rock-tool-node:entry$/ }, (args) => ({ path: args.path, namespace: "tool-node-entry" }));
      build.onLoad({ filter: /.*/, namespace: "tool-node-entry" }, () => ({ contents: source, loader: "ts" }));
    },
  };
  return compileProgram("tool-node", ENTRY, { outfile: options.outfile, target: options.target }, [entry]);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valuesOf = (flag: string) => args.flatMap((arg, i) => (arg === flag && args[i + 1] ? [args[i + 1]] : []));
  const outfile = await buildToolNode({ outfile: valuesOf("--outfile")[0], toolDirs: valuesOf("--tools-dir"), target: valuesOf("--target")[0] });
  await reportBuilt(outfile);
}
