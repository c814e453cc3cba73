/** Turns a worker folder's layout file into a running layout process, validating every entry at start. */
import { Type, type TObject } from "@sinclair/typebox";
import { isAbsolute, relative, resolve } from "node:path";
import { validate } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";
import type { Kernel } from "../../core/kernel.ts";
import { FilterArgsError, type TextFilter } from "../../core/kinds/filter.ts";
import type { LayoutLlm, LayoutProcess, WorkerModule } from "./contract.ts";
import { readLayoutFile, type LayoutEntry } from "./layout-file.ts";
import { modelLlm } from "./model-llm.ts";
import { pipeline } from "./pipeline.ts";
import { startPluginHost } from "./plugin-host.ts";

export interface LoadedLayout {
  process: LayoutProcess;
  /** The name the layout gives itself, if any. */
  name?: string;
  /** True for the llm + filters pipeline, false for an override process. */
  usesDefaultProcess: boolean;
  /** The LLM's or the override's plugin or module name (metric `main_class`). */
  mainClass: string;
  /** The kernel hosting the plugins (its registry holds their metrics). */
  kernel: Kernel;
}

const noArgs = Type.Object({}, { additionalProperties: false });

async function createWithArgs<T>(shown: string, at: string, entry: LayoutEntry, schema: TObject | undefined, create: (args: any) => T | Promise<T>) {
  const args = validate(schema ?? noArgs, entry.args ?? {}, shown, `${at}.args`, new Map());
  try {
    return await create(args);
  } catch (error) {
    if (error instanceof FilterArgsError) throw new ConfigError(shown, `${at}.args.${error.field}`, error.message);
    throw new ConfigError(shown, at, `could not be created: ${(error as Error).message}`);
  }
}

async function importModule(folder: string, shown: string, at: string, entry: LayoutEntry, kind: WorkerModule["kind"]): Promise<WorkerModule> {
  const file = resolve(folder, entry.module!);
  const inside = relative(folder, file);
  if (inside.startsWith("..") || isAbsolute(inside)) throw new ConfigError(shown, `${at}.module`, "must be a file inside the worker's folder");
  let module: { default?: WorkerModule };
  try {
    module = await import(file);
  } catch (error) {
    throw new ConfigError(shown, `${at}.module`, `cannot load ${entry.module}: ${(error as Error).message}`);
  }
  const definition = module.default;
  if (!definition || typeof definition.create !== "function") {
    throw new ConfigError(shown, `${at}.module`, `${entry.module} must default-export defineWorkerModule({ kind, args, create })`);
  }
  if (definition.kind !== kind) throw new ConfigError(shown, `${at}.module`, `${entry.module} is a ${definition.kind} module; expected a ${kind} module`);
  return definition;
}

export async function loadLayout(folder: string, layoutPath: string, env: Record<string, string | undefined>): Promise<LoadedLayout> {
  const shown = relative(process.cwd(), layoutPath) || layoutPath;
  const layout = readLayoutFile(layoutPath, shown);
  const kernel = await startPluginHost(layout, shown, env);
  try {
    const fromEntry = async <T>(entry: LayoutEntry, at: string, kind: WorkerModule["kind"]): Promise<T> => {
      if (entry.module) {
        const module = await importModule(folder, shown, at, entry, kind);
        return createWithArgs<T>(shown, at, entry, module.args, (args) => module.create(args) as T | Promise<T>);
      }
      if (kind === "llm") return modelLlm(kernel.use(entry.plugin!, "model").client) as T;
      const instance = kernel.use(entry.plugin!, "filter");
      return createWithArgs<T>(shown, at, entry, instance.args, (args) => instance.create(args) as T);
    };

    const override = layout["override-process"];
    if (override) {
      return {
        process: await fromEntry<LayoutProcess>(override, "override-process", "process"),
        name: layout.name,
        usesDefaultProcess: false,
        mainClass: override.module!,
        kernel,
      };
    }
    const llm = await fromEntry<LayoutLlm>(layout.llm!, "llm", "llm");
    const ingress: TextFilter[] = [];
    for (const [i, entry] of layout["ingress-filters"].entries()) ingress.push(await fromEntry<TextFilter>(entry, `ingress-filters[${i}]`, "filter"));
    const egress: TextFilter[] = [];
    for (const [i, entry] of layout["egress-filters"].entries()) egress.push(await fromEntry<TextFilter>(entry, `egress-filters[${i}]`, "filter"));
    return {
      process: pipeline(llm, ingress, egress),
      name: layout.name,
      usesDefaultProcess: true,
      mainClass: layout.llm!.plugin ?? layout.llm!.module!,
      kernel,
    };
  } catch (error) {
    await kernel.stop("layout failed");
    throw error;
  }
}
