/**
 * OpenAPI tools (ModelScope agent §6.2 `/openapi_schema`, `/execute_openapi`): a tenant registers an OpenAPI spec
 * under a name and calls its operations, through the plugin's fetch, on hosts in `openapi_hosts` only. The original
 * answered a fixed demo spec and proxied any URL; here the spec is the tenant's own and the URL must be one of its
 * operations.
 */
import type { Database } from "bun:sqlite";
import type { TObject, TSchema } from "@sinclair/typebox";
import { t } from "elysia";
import { HttpError } from "../../../core/errors.ts";
import { hostAllowed } from "../../../core/permissions/fetch.ts";
import { registerSecret, type Logger } from "../../../core/log.ts";
import { isPlainObject } from "../../protocol/function-calling/parameters.ts";
import * as M from "../../protocol/tool-manager/schemas.ts";
import { success } from "./envelope.ts";
import { applyAuth, callUpstream, operationRequest, rawRequest, stringMap, UpstreamFailure, type UpstreamRequest } from "./openapi-call.ts";
import { OpenAPIRecords, type OpenAPIAuth, type OpenAPIRecord } from "./openapi-records.ts";
import { operationAt, readSpec, SpecError } from "./openapi-spec.ts";
import { mergeInput, optionalString, tenantId, type Context, type Method } from "./request-input.ts";
import type { TenantAuth } from "./tenant-auth.ts";

export const openapiRoutePaths = ["/openapi_schema", "/execute_openapi"];

export interface OpenAPIParts {
  records: OpenAPIRecords;
  /** Hosts OpenAPI operations may be called on (net entries: host, host:port, *.domain). */
  hosts: readonly string[];
  fetch: typeof fetch;
}

export function openAPIParts(db: Database, hosts: readonly string[], fetch: typeof globalThis.fetch, log: Logger): OpenAPIParts {
  const unreadable = (tenant: string, name: string, reason: string) => log.warn("a stored OpenAPI schema cannot be read; it is not served", { tenant, name, reason });
  return { records: new OpenAPIRecords(db, unreadable), hosts, fetch };
}

type Route = (methods: Method[], path: string, schema: TObject, output: TSchema, handler: (ctx: Context) => unknown) => void;

const NAME = new RegExp(M.OPENAPI_NAME_PATTERN);
const RAW_METHODS = new Set(["GET", "POST", "PUT", "DELETE"]);
/** What a header value may hold (printable ASCII): the key goes into one. */
const HEADER_VALUE = /^[\x20-\x7e]+$/;
export const MAX_SPEC_BYTES = 1024 ** 2;
export const MAX_SPECS_PER_TENANT = 100;

function openapiName(values: Record<string, unknown>): string {
  const name = values.openapi_name;
  if (typeof name !== "string" || name === "") throw new HttpError(400, "openapi_name is required", "openapi_name");
  if (!NAME.test(name)) throw new HttpError(400, "openapi_name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", "openapi_name");
  return name;
}

function jsonObject(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new HttpError(400, `${field} is not valid JSON`, field);
    }
  }
  if (!isPlainObject(parsed)) throw new HttpError(400, `${field} must be a JSON object`, field);
  return parsed;
}

function authOf(value: unknown): OpenAPIAuth | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value) || typeof value.apikey !== "string" || !HEADER_VALUE.test(value.apikey)) {
    throw new HttpError(400, "auth.apikey must be a non-empty string of printable ASCII", "auth.apikey");
  }
  if (value.apikey_type !== undefined && (typeof value.apikey_type !== "string" || !/^[A-Za-z0-9_-]*$/.test(value.apikey_type))) {
    throw new HttpError(400, "auth.apikey_type must be one word such as Bearer", "auth.apikey_type");
  }
  return { apikey: value.apikey, ...(value.apikey_type ? { apikey_type: value.apikey_type } : {}) };
}

export function mountOpenAPIRoutes(route: Route, parts: OpenAPIParts & { auth: TenantAuth; executeTimeoutMs: number; requestIdOf: (ctx: Context) => string }) {
  const { records, hosts, auth } = parts;

  function target(ctx: Context) {
    const caller = auth.caller(ctx.request.headers);
    const values = mergeInput(ctx.query, ctx.body);
    const name = openapiName(values);
    const tenant = tenantId(values, caller.tenant);
    auth.allow(caller, tenant);
    return { values, name, tenant };
  }

  function registered(tenant: string, name: string): OpenAPIRecord {
    const record = records.get(tenant, name);
    if (!record) throw new HttpError(404, `OpenAPI schema not found: tenant '${tenant}' has no schema '${name}' (register it with /openapi_schema and a schema)`);
    return record;
  }

  route(["post"], "/openapi_schema", M.OpenAPISchemaInput, t.Record(t.String(), t.Unknown(), { description: "The OpenAPI document" }), (ctx) => {
    const { values, name, tenant } = target(ctx);
    const requestId = parts.requestIdOf(ctx);
    if (values.schema === undefined || values.schema === null || values.schema === "") return success(requestId, registered(tenant, name).schema);
    const schema = jsonObject(values.schema, "schema");
    const size = Buffer.byteLength(JSON.stringify(schema));
    if (size > MAX_SPEC_BYTES) throw new HttpError(400, `schema is ${size} bytes, more than the limit of ${MAX_SPEC_BYTES}`, "schema");
    if (!records.get(tenant, name) && records.ofTenant(tenant).length >= MAX_SPECS_PER_TENANT) {
      throw new HttpError(400, `tenant '${tenant}' already has ${MAX_SPECS_PER_TENANT} OpenAPI schemas, the most it may register`, "openapi_name");
    }
    let read: ReturnType<typeof readSpec>;
    try {
      read = readSpec(schema);
    } catch (error) {
      if (error instanceof SpecError) throw new HttpError(400, `invalid OpenAPI schema: ${error.message}`, "schema");
      throw error;
    }
    if (!hostAllowed(hosts, read.server)) {
      throw new HttpError(
        400,
        `schema.servers[0].url: host ${read.server.host} is not allowed for OpenAPI tools (the tool manager's openapi_hosts: ${hosts.join(", ") || "none"})`,
        "schema",
      );
    }
    const key = authOf(values.auth);
    if (key) registerSecret(key.apikey);
    records.put({ tenant_id: tenant, name, schema, ...(key ? { auth: key } : {}), ...read });
    return success(requestId, schema);
  });

  route(["post"], "/execute_openapi", M.ExecuteOpenAPI, t.Unknown({ description: "The operation's JSON answer" }), async (ctx) => {
    const { values, name, tenant } = target(ctx);
    const record = registered(tenant, name);
    const requestId = parts.requestIdOf(ctx);
    const headers = stringMap(values.headers, "headers");
    const operation = optionalString(values, "operation");
    let request: UpstreamRequest;
    if (operation) {
      const op = record.operations.get(operation);
      if (!op) throw new HttpError(400, `unknown operation '${operation}' of openapi '${name}' (operations: ${[...record.operations.keys()].slice(0, 20).join(", ")}${record.operations.size > 20 ? ", …" : ""})`, "operation");
      request = operationRequest(op, jsonObject(values.params, "params"), { headers, credentials: values.credentials, auth: record.auth });
    } else {
      const rawUrl = optionalString(values, "url");
      if (!rawUrl) throw new HttpError(400, "operation (or the original's url and method) is required", "operation");
      let url: URL;
      try {
        url = new URL(rawUrl);
      } catch {
        throw new HttpError(400, `url is not an absolute URL: ${rawUrl}`, "url");
      }
      const method = (optionalString(values, "method") ?? "GET").toUpperCase();
      if (!RAW_METHODS.has(method)) throw new HttpError(400, `Unsupported HTTP method: ${method}`, "method");
      const op = operationAt(record.operations.values(), method, url);
      if (!op) throw new HttpError(400, `${method} ${url.origin}${url.pathname} is not an operation of openapi '${name}'`, "url");
      if (values.params === "") throw new HttpError(400, `The params of openapi ${name} is empty.`, "params");
      request = rawRequest(url, method, { params: jsonObject(values.params, "params"), headers, data: jsonObject(values.data, "data"), cookies: stringMap(values.cookies, "cookies") });
      applyAuth(request.headers, op.security, record.auth);
    }
    try {
      return success(requestId, await callUpstream(parts.fetch, hosts, request, parts.executeTimeoutMs));
    } catch (error) {
      if (error instanceof UpstreamFailure) throw new HttpError(400, `Failed to execute openapi for ${name}, with error: ${error.message}`);
      throw error;
    }
  });
}
