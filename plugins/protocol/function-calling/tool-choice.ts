/**
 * `tool_choice` decides which tools reach the prompt and whether the model is told it must call one.
 * The original ignored "none" and rejected the object form; here "none" renders no tools and the object
 * form renders only the named tool with the original's "you must use" wording.
 */
import { type FunctionTool, isPlainObject, ToolDefinitionError } from "./parameters.ts";

export type ToolChoice = "auto" | "none" | "required" | { type: "function"; function: { name: string } };

export interface ResolvedToolChoice {
  /** The tools to render, in request order; the parser accepts calls to these only. */
  tools: FunctionTool[];
  /** True for "required" and for a named function. */
  mustCall: boolean;
}

/** Strings other than "none" and "required" behave like "auto", as in the original. */
export function resolveToolChoice(choice: unknown, tools: readonly FunctionTool[]): ResolvedToolChoice {
  if (choice === undefined || choice === null) return { tools: [...tools], mustCall: false };
  if (typeof choice === "string") {
    if (choice === "none") return { tools: [], mustCall: false };
    return { tools: [...tools], mustCall: choice === "required" };
  }
  if (!isPlainObject(choice)) throw new ToolDefinitionError("tool_choice", "must be a string or an object");
  if (choice.type !== undefined && choice.type !== "function") {
    throw new ToolDefinitionError("tool_choice.type", 'must be "function"');
  }
  const fn = choice.function;
  if (!isPlainObject(fn) || typeof fn.name !== "string" || fn.name === "") {
    throw new ToolDefinitionError("tool_choice.function.name", "must be a non-empty string");
  }
  const named = tools.find((tool) => tool.name === fn.name);
  if (!named) throw new ToolDefinitionError("tool_choice.function.name", `names "${fn.name}", which is not in tools`);
  return { tools: [named], mustCall: true };
}
