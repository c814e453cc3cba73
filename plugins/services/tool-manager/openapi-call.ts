/**
 * Calls of registered OpenAPI operations: the request built from an operation and the tool's arguments (or taken as
 * the original's client built it: url, method, params, headers, data, cookies), sent through the plugin's fetch to
 * hosts in `openapi_hosts` only, at every redirect hop, and the JSON answer read back.
 */
import { HttpError } from "../../../core/errors.ts";
import { hostAllowed } from "../../../core/permissions/fetch.ts";
import { isPlainObject } from "../../protocol/function-calling/parameters.ts";
import type { OpenAPIAuth } from "./openapi-records.ts";
import type { Operation, SecurityScheme } from "./openapi-spec.ts";

export interface UpstreamRequest {
  url: URL;
  method: string;
  headers: Headers;
  body?: string;
}

/** The upstream failed or answered something that is not JSON; the route wraps it in the original's message. */
export class UpstreamFailure extends Error {}

const MAX_REDIRECTS = 5;
const MAX_ANSWER_BYTES = 10 * 1024 ** 2;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that may follow a redirect to another origin; credentials and the caller's own headers stay behind. */
const CROSS_ORIGIN_HEADERS = ["content-type", "accept"];

const text = (value: unknown): string => (typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value));

/** A string→string map from a JSON object field (`headers`, `cookies`); 400 naming the field otherwise. */
export function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null || value === "") return {};
  if (!isPlainObject(value)) throw new HttpError(400, `${field} must be a JSON object`, field);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, text(v)]));
}

/** Sets a header from the request or the tool's arguments; a name or value no HTTP header can carry is a 400 naming `field`. */
function setHeader(headers: Headers, name: string, value: string, field: string) {
  try {
    headers.set(name, value);
  } catch {
    throw new HttpError(400, `${field}: header '${name}' has a name or value that HTTP cannot carry (control characters, spaces in the name)`, field);
  }
}

function cookieHeader(cookies: Record<string, string>): string | undefined {
  const pairs = Object.entries(cookies).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return pairs.length ? pairs.join("; ") : undefined;
}

/** `{"a.b": 1}` → `{a: {b: 1}}`, as the original's `structure_json` does with `data`. */
function structured(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split(".");
    let at = out;
    for (const part of parts.slice(0, -1)) at = (isPlainObject(at[part]) ? at[part] : (at[part] = {})) as Record<string, unknown>;
    at[parts[parts.length - 1]] = value;
  }
  return out;
}

export function applyAuth(headers: Headers, security: SecurityScheme[], auth: OpenAPIAuth | undefined) {
  if (!auth) return;
  for (const scheme of security) {
    const name = scheme.kind === "bearer" ? "authorization" : scheme.header;
    if (headers.has(name)) continue;
    headers.set(name, scheme.kind === "bearer" ? `${auth.apikey_type || "Bearer"} ${auth.apikey}` : auth.apikey);
  }
}

/** The original client's `credentials` (`auth_type: "api_key"`, header, value, prefix) as a header. */
function applyCredentials(headers: Headers, credentials: unknown) {
  if (credentials === undefined || credentials === null) return;
  if (!isPlainObject(credentials)) throw new HttpError(400, "credentials must be a JSON object", "credentials");
  if (credentials.auth_type !== "api_key") throw new HttpError(400, "credentials.auth_type must be 'api_key'", "credentials.auth_type");
  const value = credentials.api_key_value;
  if (typeof value !== "string" || !value) throw new HttpError(400, "credentials.api_key_value must be a non-empty string", "credentials.api_key_value");
  const prefix = credentials.api_key_header_prefix;
  const header = typeof credentials.api_key_header === "string" && credentials.api_key_header ? credentials.api_key_header : "api_key";
  setHeader(headers, header, prefix === "basic" ? `Basic ${value}` : prefix === "bearer" ? `Bearer ${value}` : value, "credentials");
}

/**
 * The request of `op` with `args` (the tool's arguments): path parameters put into the URL, query, header and cookie
 * parameters where the spec puts them, the other declared properties as the JSON body. 400 names a missing one.
 */
export function operationRequest(op: Operation, args: Record<string, unknown>, extra: { headers: Record<string, string>; credentials?: unknown; auth?: OpenAPIAuth }): UpstreamRequest {
  let path = op.url;
  const query = new URLSearchParams();
  const headers = new Headers();
  applyAuth(headers, op.security, extra.auth);
  for (const [k, v] of Object.entries(extra.headers)) setHeader(headers, k, v, "headers");
  applyCredentials(headers, extra.credentials);
  const cookies: Record<string, string> = {};
  const body: Record<string, unknown> = {};
  for (const p of op.parameters) {
    const value = args[p.name] ?? (p.schema?.default as unknown);
    if (value === undefined || value === null) {
      if (p.required) throw new HttpError(400, `missing required parameter '${p.name}' (in ${p.in}) of operation '${op.name}'`, p.name);
      continue;
    }
    if (p.in === "path") {
      const segment = text(value);
      // URLs resolve "." and ".." (also as %2e) to other paths of the server, outside the operation.
      if (segment === "." || segment === "..") throw new HttpError(400, `path parameter '${p.name}' of operation '${op.name}' may not be '${segment}'`, p.name);
      path = path.split(`{${p.name}}`).join(encodeURIComponent(segment));
    }
    else if (p.in === "query") for (const item of Array.isArray(value) ? value : [value]) query.append(p.name, text(item));
    else if (p.in === "header") setHeader(headers, p.name, text(value), p.name);
    else if (p.in === "cookie") cookies[p.name] = text(value);
    else body[p.name] = value;
  }
  const url = new URL(path);
  for (const [k, v] of query) url.searchParams.append(k, v);
  const cookie = cookieHeader(cookies);
  if (cookie) headers.set("cookie", cookie);
  const sendsBody = op.bodyType !== undefined && op.method !== "GET";
  if (sendsBody) headers.set("content-type", op.bodyType!.includes("json") ? op.bodyType! : "application/json");
  return { url, method: op.method, headers, ...(sendsBody ? { body: JSON.stringify(body) } : {}) };
}

/** The original's call: GET sends `params` as the query; POST, PUT and DELETE send `data` (dotted keys nested) as JSON. */
export function rawRequest(url: URL, method: string, input: { params: Record<string, unknown>; headers: Record<string, string>; data: Record<string, unknown>; cookies: Record<string, string> }): UpstreamRequest {
  const headers = new Headers();
  for (const [k, v] of Object.entries(input.headers)) setHeader(headers, k, v, "headers");
  const cookie = cookieHeader(input.cookies);
  if (cookie) headers.set("cookie", cookie);
  const target = new URL(url);
  if (method === "GET") {
    for (const [k, v] of Object.entries(input.params)) for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined && item !== null) target.searchParams.append(k, text(item));
    return { url: target, method, headers };
  }
  headers.set("content-type", "application/json");
  return { url: target, method, headers, body: JSON.stringify(Object.keys(input.data).length ? structured(input.data) : {}) };
}

async function readCapped(response: Response): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > MAX_ANSWER_BYTES) throw new UpstreamFailure(`the answer is ${declared} bytes, more than ${MAX_ANSWER_BYTES}`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) throw new UpstreamFailure(`the answer is more than ${MAX_ANSWER_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Sends `request` through `fetch` (the plugin's, which refuses undeclared hosts), following redirects here so that
 * every hop must also be in `allowed` (the OpenAPI hosts, narrower than the plugin's permission); the JSON answer.
 */
export async function callUpstream(fetch: typeof globalThis.fetch, allowed: readonly string[], request: UpstreamRequest, timeoutMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs);
  let { url, method, body } = request;
  const headers = new Headers(request.headers);
  try {
    for (let hop = 0; ; hop++) {
      if (!hostAllowed(allowed, url)) throw new UpstreamFailure(`host ${url.host} is not in the tool manager's openapi_hosts${hop ? " (reached by a redirect)" : ""}`);
      const response = await fetch(url, { method, headers, body, redirect: "manual", signal });
      const location = response.headers.get("location");
      if (REDIRECTS.has(response.status) && location !== null) {
        await response.body?.cancel().catch(() => {});
        if (hop >= MAX_REDIRECTS) throw new UpstreamFailure(`more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, url);
        if (next.protocol !== "http:" && next.protocol !== "https:") throw new UpstreamFailure(`redirect to a ${next.protocol} URL`);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
          if (method !== "HEAD") method = "GET";
          body = undefined;
          headers.delete("content-type");
        }
        if (next.origin !== url.origin) for (const name of [...headers.keys()]) if (!CROSS_ORIGIN_HEADERS.includes(name)) headers.delete(name);
        url = next;
        continue;
      }
      const answer = await readCapped(response);
      if (!response.ok) throw new UpstreamFailure(`${response.status} ${response.statusText || "Error"} for url: ${url.origin}${url.pathname}: ${answer.slice(0, 300)}`);
      try {
        return JSON.parse(answer);
      } catch {
        throw new UpstreamFailure(`the answer of ${url.origin}${url.pathname} is not JSON: ${answer.slice(0, 200)}`);
      }
    }
  } catch (error) {
    if (error instanceof UpstreamFailure) throw error;
    if (signal.aborted) throw new UpstreamFailure(`no answer from ${url.host} within ${timeoutMs} ms`);
    const message = error instanceof Error ? error.message.split(". For more information")[0] : String(error);
    throw new UpstreamFailure(`${url.host}: ${message}`);
  }
}
