/**
 * Checks tool arguments against the JSON Schema their parameters normalise to. Covers the keywords tool schemas use
 * (type, properties, required, enum, items, additionalProperties, numeric and length bounds); unknown keywords are
 * ignored, as JSON Schema says. A number sent for a string parameter is accepted as its text: the original never
 * checked types, and its own README example sends `"instance_id": 123` for a string.
 */
import { isPlainObject, type JsonSchema } from "../function-calling/parameters.ts";

export class ArgumentError extends Error {
  constructor(
    /** Path of the offending argument, e.g. `period` or `items[2]`. */
    readonly field: string,
    problem: string,
  ) {
    super(`${field ? `${field}: ` : ""}${problem}`);
    this.name = "ArgumentError";
  }
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

const join = (base: string, key: string | number) => (typeof key === "number" ? `${base}[${key}]` : base ? `${base}.${key}` : key);

/** Returns the value, with numbers given for string parameters turned into strings; throws ArgumentError. */
export function checkValue(schema: JsonSchema, value: unknown, field = ""): unknown {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? (schema.type as string[]) : [String(schema.type)];
  if (types.length && !types.some((t) => matchesType(value, t))) {
    if (types.includes("string") && (typeof value === "number" || typeof value === "boolean")) value = String(value);
    else throw new ArgumentError(field, `expected ${types.join(" or ")}, got ${typeOf(value)}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => option === value)) {
    throw new ArgumentError(field, `must be one of ${schema.enum.map((o) => JSON.stringify(o)).join(", ")}`);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength) throw new ArgumentError(field, `must be at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) throw new ArgumentError(field, `must be at most ${schema.maxLength} characters`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) throw new ArgumentError(field, `must be >= ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) throw new ArgumentError(field, `must be <= ${schema.maximum}`);
  }
  if (Array.isArray(value) && isPlainObject(schema.items)) {
    return value.map((item, index) => checkValue(schema.items as JsonSchema, item, join(field, index)));
  }
  if (isPlainObject(value)) return checkObject(schema, value, field);
  return value;
}

function checkObject(schema: JsonSchema, value: Record<string, unknown>, field: string): Record<string, unknown> {
  const properties = isPlainObject(schema.properties) ? (schema.properties as Record<string, JsonSchema>) : {};
  for (const name of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
    if (value[name] === undefined || value[name] === null) throw new ArgumentError(join(field, name), "is required");
  }
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    const property = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (property && isPlainObject(property)) out[name] = item === null && !(schema.required as string[] | undefined)?.includes(name) ? item : checkValue(property, item, join(field, name));
    else if (schema.additionalProperties === false) throw new ArgumentError(join(field, name), "is not a parameter of this tool");
    else out[name] = item;
  }
  return out;
}
