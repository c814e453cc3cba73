/**
 * The contract a `tool` plugin provides: one function an agent may call. A tool runs inside a tool node (its own
 * container, started by the tool manager), so `call` must depend on nothing but its arguments and its context: no
 * kernel handles, no state shared with the server.
 */
import type { TObject } from "@sinclair/typebox";

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
  /** The name agents call it by, e.g. `RenewInstance`; also the first half of its container's name. */
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
  [member: string]: unknown;
}

/** Identity function that gives a tool its types. */
export function defineTool<P extends Record<string, any>>(tool: Tool<P>): Tool<P> {
  return tool;
}

export function isToolPluginInstance(value: unknown): value is ToolPluginInstance {
  const tool = (value as ToolPluginInstance | undefined)?.tool;
  return !!tool && typeof tool.name === "string" && typeof tool.call === "function";
}

/** Tool names become container names (`<tool>_<tenant>`), so they are limited to what Docker accepts. */
export const TOOL_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
