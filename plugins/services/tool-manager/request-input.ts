/**
 * Route inputs as either form sends them: the README's JSON bodies and the original code's query parameters
 * (`check_tool_service_status`, `remove_tool` and `tools` took a query). Both are merged, the body winning.
 */
import { HttpError } from "../../../core/errors.ts";
import { isPlainObject } from "../../protocol/function-calling/parameters.ts";
import { TENANT_PATTERN } from "../../protocol/tool-manager/schemas.ts";

const TENANT = new RegExp(TENANT_PATTERN);

/** What a route handler reads of Elysia's context. */
export type Context = { query: Record<string, unknown>; body: unknown; request: Request; set: { headers: Record<string, unknown> } };
export type Method = "get" | "post";

export function mergeInput(query: Record<string, unknown> | undefined, body: unknown): Record<string, unknown> {
  return { ...(query ?? {}), ...(isPlainObject(body) ? body : {}) };
}

export function toolName(values: Record<string, unknown>): string {
  const name = values.tool_name;
  if (typeof name !== "string" || name.trim() === "") throw new HttpError(400, "tool_name is required", "tool_name");
  return name.trim();
}

/** The tenant asked for; the caller's own when none is given (`default` for the admin token). */
export function tenantId(values: Record<string, unknown>, callerTenant: string | undefined): string {
  const tenant = values.tenant_id;
  if (tenant === undefined || tenant === null || tenant === "") return callerTenant ?? "default";
  if (typeof tenant !== "string" || !TENANT.test(tenant)) {
    throw new HttpError(400, "tenant_id must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", "tenant_id");
  }
  return tenant;
}

export function objectField(values: Record<string, unknown>, field: string): Record<string, unknown> {
  const value = values[field];
  if (value === undefined || value === null || value === "") return {};
  if (typeof value === "string") {
    // Query strings carry objects as JSON text.
    try {
      const parsed = JSON.parse(value);
      if (isPlainObject(parsed)) return parsed;
    } catch {
      // reported below
    }
  }
  if (!isPlainObject(value)) throw new HttpError(400, `${field} must be a JSON object`, field);
  return value;
}

export function optionalString(values: Record<string, unknown>, field: string): string | undefined {
  const value = values[field];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new HttpError(400, `${field} must be a string`, field);
  return value;
}
