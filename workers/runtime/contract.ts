/**
 * What a layout is made of, as the worker runtime sees it: an LLM that yields text deltas, filters around it
 * (core/kinds/filter.ts), or one process that replaces the whole pipeline. Modules in a worker's own folder
 * implement these directly; model and filter plugins are adapted to them.
 */
import type { TObject } from "@sinclair/typebox";
import type { ChatRecord, TextFilter } from "../../core/kinds/filter.ts";

export interface LayoutLlm {
  complete(records: ChatRecord[], signal: AbortSignal): AsyncIterable<string>;
}

export interface LayoutProcess {
  process(history: ChatRecord[], signal: AbortSignal): AsyncIterable<string>;
}

interface ModuleOf<K extends string, T> {
  kind: K;
  /** Schema of the entry's `args` (defaults applied); none means no args are accepted. */
  args?: TObject;
  create(args: any): T | Promise<T>;
}

/** The default export of a module a layout names with `module:` (a file in the worker's folder). */
export type WorkerModule = ModuleOf<"llm", LayoutLlm> | ModuleOf<"filter", TextFilter> | ModuleOf<"process", LayoutProcess>;

export function defineWorkerModule<M extends WorkerModule>(module: M): M {
  return module;
}
