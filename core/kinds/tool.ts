/**
 * The contract a `tool` plugin provides: one function an agent may call. A tool runs in a process of its own (a tool
 * node, which the tool manager starts), so `call` must depend on nothing but its arguments and its context: no
 * kernel handles, no state shared with the server.
 */
import type { TObject } from "@sinclair/typebox";
import type { ShapeOf } from "./shape.ts";

/** One parameter in the original's list form (`BaseTool.parameters`). */
export interface ParameterItem {
  name: string;
  type?: string;
  description?: string;
  required?: boolean;
  enum?: unknown[];
  /** OpenAPI-style schema; its `type` is used when the item has none. */
  schema?: Record<string, unknown>;
}

/** What a tool's `call` receives besides its validated arguments. */
export interface ToolContext {
  /** The instance's `tool_cfg`, validated against the tool's `config` schema (defaults applied). */
  config: Record<string, any>;
  /** Extra keyword arguments of the call (the original's `**kwargs`), e.g. a user token. */
  kwargs: Record<string, unknown>;
  /** Aborted when the call is abandoned (the node shuts down). */
  signal: AbortSignal;
}

export interface Tool<P extends Record<string, any> = Record<string, any>> {
  /** The name agents call it by, e.g. `RenewInstance`. */
  name: string;
  description: string;
  /** The original's list form or a JSON Schema object; normalised to JSON Schema for validation. */
  parameters: ParameterItem[] | Record<string, unknown>;
  /**
   * Schema of the instance's `tool_cfg`. Fields marked `secret: true` (like plugin config) are masked in logs;
   * an instance whose `tool_cfg` does not match fails at start with the reason.
   */
  config?: TObject;
  /** Runs the tool. Arguments were parsed and checked against `parameters` first. Throw to report a failure. */
  call(params: P, context: ToolContext): unknown;
}

/** What a tool plugin's `setup` returns. */
export interface ToolPluginInstance {
  tool: Tool;
}

export const toolShape = {
  tool: { name: "string", description: "string", parameters: "object", call: "function" },
} satisfies ShapeOf<ToolPluginInstance>;

/** Identity function that gives a tool its types. */
export function defineTool<P extends Record<string, any>>(tool: Tool<P>): Tool<P> {
  return tool;
}
