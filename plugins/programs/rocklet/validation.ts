import { HttpError } from "./errors.ts";

/**
 * Field readers for JSON request bodies with FastAPI's lax coercions (numeric strings, "true"/"false") and its 422
 * body: `{"detail": [{"type", "loc": ["body", field], "msg", "input"}]}`. Unknown fields are ignored, as pydantic does.
 */
export type Body = Record<string, unknown>;

export function invalid(field: string, type: string, message: string, input: unknown): HttpError {
  return new HttpError(422, { detail: [{ type, loc: ["body", field], msg: `${field}: ${message}`, input }] });
}

export function asBody(json: unknown): Body {
  if (json === null || json === undefined) return {};
  if (typeof json !== "object" || Array.isArray(json)) {
    throw new HttpError(422, {
      detail: [{ type: "model_attributes_type", loc: ["body"], msg: "body: Input should be a JSON object", input: json }],
    });
  }
  return json as Body;
}

export function requiredString(body: Body, field: string): string {
  if (!(field in body) || body[field] === undefined) throw invalid(field, "missing", "Field required", body);
  return stringValue(body, field);
}

export function optionalString(body: Body, field: string, fallback: string): string {
  return body[field] === undefined ? fallback : stringValue(body, field);
}

export function nullableString(body: Body, field: string): string | null {
  return body[field] === undefined || body[field] === null ? null : stringValue(body, field);
}

function stringValue(body: Body, field: string): string {
  const value = body[field];
  if (typeof value !== "string") throw invalid(field, "string_type", "Input should be a valid string", value);
  return value;
}

/** A number of seconds; `null` keeps its meaning ("no timeout"), a missing field takes `fallback`. */
export function nullableNumber(body: Body, field: string, fallback: number | null): number | null {
  const value = body[field];
  if (value === undefined) return fallback;
  if (value === null) return null;
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number)) {
    throw invalid(field, "float_parsing", "Input should be a valid number", value);
  }
  if (number < 0) throw invalid(field, "greater_than_equal", "Input should be greater than or equal to 0", value);
  return number;
}

export function optionalBoolean(body: Body, field: string, fallback: boolean): boolean {
  const value = body[field];
  if (value === undefined) return fallback;
  const parsed = parseBoolean(value);
  if (parsed === null) throw invalid(field, "bool_parsing", "Input should be a valid boolean", value);
  return parsed;
}

export function parseBoolean(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value !== "string") return null;
  const text = value.trim().toLowerCase();
  if (["true", "1", "yes", "on", "t", "y"].includes(text)) return true;
  if (["false", "0", "no", "off", "f", "n"].includes(text)) return false;
  return null;
}

export function stringList(body: Body, field: string): string[] {
  const value = body[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw invalid(field, "list_type", "Input should be a valid list of strings", value);
  }
  return value as string[];
}

export function nullableStringRecord(body: Body, field: string): Record<string, string> | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw invalid(field, "dict_type", "Input should be a valid dictionary", value);
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") throw invalid(`${field}.${key}`, "string_type", "Input should be a valid string", item);
  }
  return value as Record<string, string>;
}

export function literal<T extends string>(body: Body, field: string, allowed: readonly T[], fallback: T): T {
  const value = body[field];
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    const expected = allowed.map((item) => `'${item}'`).join(", ");
    throw invalid(field, "literal_error", `Input should be ${expected}`, value);
  }
  return value as T;
}
