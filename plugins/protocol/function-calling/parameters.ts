/**
 * Tool definitions as clients send them: OpenAI `{type:"function", function:{name, description, parameters}}`,
 * where `parameters` is either a JSON Schema object or the original's list form
 * `[{name, type, description, required, enum?, schema?}]`. Both are accepted; the list form is converted to
 * JSON Schema the way modelscope-agent 0.7.1 did (`BaseTool._build_function`), and the parameters exactly as
 * sent are kept for the prompt so that it stays what the original showed the model.
 */
import type { ToolSpec } from "../../../core/kinds/model.ts";

export type JsonSchema = Record<string, unknown>;

export interface FunctionTool {
  name: string;
  /** "" when the client sent none. */
  description: string;
  /** JSON Schema of the arguments (list form converted; an absent `parameters` becomes an empty object schema). */
  parameters: JsonSchema;
  /** `parameters` as the client sent them; this is what the prompt shows. */
  promptParameters: unknown;
}

/** A tool definition (or `tool_choice`) that cannot be used; `field` is the JSON path of the offending value. */
export class ToolDefinitionError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field} ${problem}`);
    this.name = "ToolDefinitionError";
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validates `tools` from a request; null or absent means no tools. */
export function normaliseTools(tools: unknown): FunctionTool[] {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw new ToolDefinitionError("tools", "must be an array");
  const seen = new Map<string, number>();
  return tools.map((tool, index) => {
    const normalised = validateTool(tool, `tools[${index}]`);
    const earlier = seen.get(normalised.name);
    if (earlier !== undefined) {
      throw new ToolDefinitionError(`tools[${index}].function.name`, `duplicates tools[${earlier}] ("${normalised.name}")`);
    }
    seen.set(normalised.name, index);
    return normalised;
  });
}

export function validateTool(tool: unknown, field = "tool"): FunctionTool {
  if (!isPlainObject(tool)) throw new ToolDefinitionError(field, "must be an object");
  if (tool.type !== undefined && tool.type !== "function") {
    throw new ToolDefinitionError(`${field}.type`, 'must be "function"');
  }
  const fn = tool.function;
  if (fn === undefined || fn === null) throw new ToolDefinitionError(`${field}.function`, "is required");
  if (!isPlainObject(fn)) throw new ToolDefinitionError(`${field}.function`, "must be an object");

  const name = validateName(fn.name, `${field}.function.name`);
  if (fn.description !== undefined && fn.description !== null && typeof fn.description !== "string") {
    throw new ToolDefinitionError(`${field}.function.description`, "must be a string");
  }
  const parameters = normaliseParameters(fn.parameters, `${field}.function.parameters`);
  const sentParameters = fn.parameters === undefined || fn.parameters === null ? parameters : fn.parameters;
  return { name, description: fn.description ?? "", parameters, promptParameters: sentParameters };
}

/**
 * The name ends up on an `Action: <name>` line and in a comma-joined list, and replies are matched against it
 * after trimming, so line breaks, commas and surrounding whitespace would make it unmatchable.
 */
function validateName(name: unknown, field: string): string {
  if (name === undefined || name === null || name === "") throw new ToolDefinitionError(field, "is required");
  if (typeof name !== "string") throw new ToolDefinitionError(field, "must be a string");
  if (/[\r\n,]/.test(name)) throw new ToolDefinitionError(field, "must not contain line breaks or commas");
  if (name.trim() !== name) throw new ToolDefinitionError(field, "must not start or end with whitespace");
  return name;
}

/** JSON Schema for `parameters` given in either form; absent means "no arguments". */
export function normaliseParameters(parameters: unknown, field = "parameters"): JsonSchema {
  if (parameters === undefined || parameters === null) return { type: "object", properties: {} };
  if (Array.isArray(parameters)) return listToSchema(parameters, field);
  if (!isPlainObject(parameters)) {
    throw new ToolDefinitionError(field, "must be a JSON Schema object or a list of parameters");
  }
  checkObjectSchema(parameters, field);
  return parameters;
}

function checkObjectSchema(schema: Record<string, unknown>, field: string): void {
  if (schema.type !== undefined && schema.type !== "object") {
    throw new ToolDefinitionError(`${field}.type`, 'must be "object" (arguments are a JSON object)');
  }
  if (schema.properties !== undefined && !isPlainObject(schema.properties)) {
    throw new ToolDefinitionError(`${field}.properties`, "must be an object");
  }
  const required = schema.required;
  if (required !== undefined && !(Array.isArray(required) && required.every((item) => typeof item === "string"))) {
    throw new ToolDefinitionError(`${field}.required`, "must be an array of strings");
  }
}

function listToSchema(list: unknown[], field: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  list.forEach((item, index) => {
    const at = `${field}[${index}]`;
    if (!isPlainObject(item)) throw new ToolDefinitionError(at, "must be an object");
    const name = item.name;
    if (typeof name !== "string" || name === "") throw new ToolDefinitionError(`${at}.name`, "must be a non-empty string");
    if (Object.hasOwn(properties, name)) throw new ToolDefinitionError(`${at}.name`, `duplicates parameter "${name}"`);
    properties[name] = listItemToProperty(item, at);
    if (item.required) required.push(name);
  });
  return { type: "object", properties, required };
}

/** `type` comes from the item, else from its OpenAPI-style `schema`; other `schema` keywords are kept. */
function listItemToProperty(item: Record<string, unknown>, at: string): JsonSchema {
  if (item.schema !== undefined && !isPlainObject(item.schema)) {
    throw new ToolDefinitionError(`${at}.schema`, "must be an object");
  }
  if (item.type !== undefined && typeof item.type !== "string") {
    throw new ToolDefinitionError(`${at}.type`, "must be a string");
  }
  if (item.description !== undefined && typeof item.description !== "string") {
    throw new ToolDefinitionError(`${at}.description`, "must be a string");
  }
  const schema = (item.schema ?? {}) as Record<string, unknown>;
  const property: JsonSchema = {};
  const type = item.type ?? schema.type;
  if (type !== undefined) property.type = type;
  if (item.description !== undefined) property.description = item.description;
  if (Array.isArray(item.enum) && item.enum.length > 0) property.enum = item.enum;
  for (const [keyword, value] of Object.entries(schema)) {
    if (!Object.hasOwn(property, keyword)) property[keyword] = value;
  }
  return property;
}

/** The tool as a native tool definition, for upstreams that do function calling themselves. */
export function toToolSpec(tool: FunctionTool): ToolSpec {
  return { type: "function", function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}
