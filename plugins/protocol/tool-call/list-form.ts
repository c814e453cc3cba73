/**
 * A tool's parameters in the two shapes `/tool_info` answers. The original's ToolServiceProxy reads only its list
 * form: BaseTool iterates `parameters` and reads each item's `name`, `type` (else `schema.type`), `description`,
 * `enum` and `required` (a JSON Schema object there is iterated as its keys and fails with a TypeError). Newer
 * clients ask for JSON Schema (`parameters_format=json_schema`).
 */
import type { ParameterItem } from "../../../core/kinds/tool.ts";
import { isPlainObject, normaliseParameters, type JsonSchema } from "../function-calling/parameters.ts";

export const parameterFormats = ["list", "json_schema"] as const;
export type ParameterFormat = (typeof parameterFormats)[number];

/** The declared parameters (list form or JSON Schema) in `format`. */
export function parametersIn(format: ParameterFormat, declared: unknown): ParameterItem[] | JsonSchema {
  if (format === "json_schema") return normaliseParameters(declared);
  return Array.isArray(declared) ? (declared as ParameterItem[]) : listForm(normaliseParameters(declared));
}

/**
 * One item per top-level property, with every key the original reads (`type` and `description` always, which its
 * converter indexes without a default). What a nested object or array holds, and other keywords, go to the item's
 * OpenAPI-style `schema`, which the original ignores once `type` is there and which our list reader turns back into
 * the same JSON Schema.
 */
export function listForm(schema: JsonSchema): ParameterItem[] {
  const properties = isPlainObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(properties).map(([name, value]) => {
    const property = isPlainObject(value) ? value : {};
    const { type: _type, description, enum: values, ...rest } = property;
    const item: ParameterItem = { name, type: typeOf(property), description: typeof description === "string" ? description : "", required: required.has(name) };
    if (Array.isArray(values) && values.length > 0) item.enum = values;
    if (Object.keys(rest).length > 0) item.schema = rest;
    return item;
  });
}

/** A single type name: the declared one (the first that is not "null" of a list), else what the keywords imply. */
function typeOf(property: Record<string, unknown>): string {
  const type = property.type;
  if (typeof type === "string") return type;
  if (Array.isArray(type)) return type.find((t) => typeof t === "string" && t !== "null") ?? "null";
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    const members = property[key];
    if (Array.isArray(members)) {
      for (const member of members) if (isPlainObject(member) && member.type !== "null" && member.type !== undefined) return typeOf(member);
    }
  }
  if (property.properties !== undefined) return "object";
  if (property.items !== undefined) return "array";
  if (Array.isArray(property.enum) && property.enum.length > 0) {
    const first = property.enum[0];
    return typeof first === "number" ? "number" : typeof first === "boolean" ? "boolean" : "string";
  }
  return "string";
}
