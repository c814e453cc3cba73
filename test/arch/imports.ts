/**
 * The import map of the code base (README "Design > Where the code runs") as a graph of files, the rules it must
 * follow, and its cycles. Type-only imports count: they tie the files together as much as the map is concerned.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { kindFolders } from "../../core/plugin.ts";

export interface Import {
  /** Importing file, relative to the root. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Imported file, relative to the root. */
  to: string;
}

const sourceFile = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

function filesUnder(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".") || name === "node_modules") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) filesUnder(path, out);
    else if (sourceFile.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

function resolveFile(base: string): string | undefined {
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}.js`, join(base, "index.ts"), join(base, "index.js")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Every relative import (static, dynamic with a literal, `export … from`, `import type`) of the files under `tops`. */
export function importsUnder(root: string, tops: string[]): Import[] {
  const imports: Import[] = [];
  for (const file of tops.flatMap((top) => filesUnder(join(root, top)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue; // packages, node:, bun:
      const target = resolveFile(resolve(dirname(file), specifier));
      if (target) imports.push({ from: relative(root, file), specifier, to: relative(root, target) });
    }
  }
  return imports;
}

/** Where a file sits on the map: the kernel, one plugin's folder, programs, clients, protocol, shared, workers. */
export function placeOf(path: string): { area: string; folder?: string } {
  const [top, second, third] = path.split("/");
  if (top !== "plugins") return { area: top };
  if (second in kindFolders && third) return { area: "plugin", folder: `plugins/${second}/${third}/` };
  return { area: second };
}

const rules = {
  core: "core/ imports only core/: the kernel knows no plugin and no worker",
  otherPlugin: "a plugin never imports another plugin's folder: shared code goes to plugins/shared, instances are reached through ctx.use",
  plugin: "a plugin imports only core/, its own folder, plugins/protocol, plugins/shared and plugins/clients",
  programs: "programs import no plugin folder but plugins/tools (the tool node bundles the tools)",
  clients: "clients/ and protocol/ import neither plugin folders nor programs/",
};

/** The one rule of the map an import breaks, or undefined. */
export function brokenRule({ from, to }: Import): string | undefined {
  const source = placeOf(from);
  const target = placeOf(to);
  switch (source.area) {
    case "core":
      return target.area === "core" ? undefined : rules.core;
    case "plugin":
      if (target.area === "plugin") return target.folder === source.folder ? undefined : rules.otherPlugin;
      return ["core", "protocol", "shared", "clients"].includes(target.area) ? undefined : rules.plugin;
    case "programs":
      return target.area === "plugin" && !to.startsWith("plugins/tools/") ? rules.programs : undefined;
    case "clients":
    case "protocol":
      return target.area === "plugin" || target.area === "programs" ? rules.clients : undefined;
  }
  return undefined;
}

/** Each import that breaks a rule, as `file: import "specifier" (resolved path): rule`. */
export function mapProblems(imports: Import[]): string[] {
  return imports.flatMap((i) => {
    const rule = brokenRule(i);
    return rule ? [`${i.from}: import "${i.specifier}" (${i.to}): ${rule}`] : [];
  });
}

/**
 * One cycle per strongly connected group of files (Tarjan), written as the chain of imports that closes it:
 * `a.ts imports "./b.ts" -> b.ts imports "./a.ts" -> a.ts`.
 */
export function importCycles(imports: Import[]): string[] {
  const next = new Map<string, Import[]>();
  for (const i of imports) next.set(i.from, [...(next.get(i.from) ?? []), i]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const { to } of next.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(file, Math.min(low.get(file)!, index.get(to)!));
    }
    if (low.get(file) === index.get(file)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== file);
      const selfImport = (next.get(file) ?? []).some((i) => i.to === file);
      if (group.length > 1 || selfImport) groups.push(group);
    }
  };
  for (const file of [...new Set(imports.flatMap((i) => [i.from, i.to]))].sort()) if (!index.has(file)) visit(file);
  return groups.map((group) => chain(group.sort()[0], new Set(group), next));
}

/** A shortest way back from `start` to itself inside its group, breadth first. */
function chain(start: string, group: Set<string>, next: Map<string, Import[]>): string {
  const via = new Map<string, Import>(); // file -> the import it was first reached by
  const queue = [start];
  search: while (queue.length) {
    for (const i of next.get(queue.shift()!) ?? []) {
      if (!group.has(i.to) || via.has(i.to)) continue;
      via.set(i.to, i);
      if (i.to === start) break search;
      queue.push(i.to);
    }
  }
  const steps: Import[] = [];
  let at = start;
  do {
    const step = via.get(at)!;
    steps.unshift(step);
    at = step.from;
  } while (at !== start);
  return [...steps.map((s) => `${s.from} imports "${s.specifier}"`), start].join(" -> ");
}
