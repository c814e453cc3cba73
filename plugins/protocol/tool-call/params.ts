/**
 * A call's `params` as clients send them: a JSON string (the original's wire form) or an object. The original
 * retried a string with raw line breaks escaped, so that a model's multi-line code argument still parsed; so do we.
 */
import { isPlainObject } from "../function-calling/parameters.ts";
import { ArgumentError } from "./schema-check.ts";

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    try {
      return JSON.parse(text.replace(/\r/g, "\\r").replace(/\n/g, "\\n"));
    } catch {
      throw new ArgumentError("params", `are not valid JSON (${(first as Error).message})`);
    }
  }
}

/** The arguments object; throws ArgumentError for empty, non-JSON or non-object params. */
export function parseParams(params: unknown): Record<string, unknown> {
  if (params === undefined || params === null || (typeof params === "string" && params.trim() === "")) {
    throw new ArgumentError("params", "are empty");
  }
  const value = typeof params === "string" ? parseJson(params) : params;
  if (!isPlainObject(value)) throw new ArgumentError("params", `must be a JSON object (got ${Array.isArray(value) ? "an array" : typeof value})`);
  return value;
}
