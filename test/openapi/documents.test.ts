/**
 * Every kernel service's OpenAPI document (`/openapi.json`, token set) against the service's route table
 * (`RunningServer.routes`): each route is in the document, with a schema for what it reads (body, query or path
 * parameters, unless it reads nothing) and for each answer. No object in an answer's schema may be closed: Elysia trims
 * an answer to its schema before checking it, so a closed object would silently drop fields a client relies on (see
 * plugins/protocol/responses.ts). Every optional field of a request body accepts null, as in the originals' pydantic
 * models (core/http/lenient.ts), and a boolean query parameter is read as pydantic reads one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";

const TOKEN = `openapi-token-${crypto.randomUUID()}`;
const services = ["admin", "envhub", "assistant", "tool-manager", "agent"];
/** The kernel's own routes, hidden from every document. */
const kernelPaths = new Set(["/health", "/metrics", "/docs", "/openapi.json"]);
const allMethods = ["get", "post", "put", "delete", "patch", "head", "options", "trace"];
/**
 * Routes that read no input at all (greetings and the model list), or whose input is another protocol's (the E2B
 * data plane passes envd's Connect and REST calls through; spec/envd of e2b-dev/E2B describes them).
 */
const readsNothing = new Set(["admin GET /", "assistant GET /v1/models", "tool-manager ALL /", "admin ALL /envd/*"]);

type Schema = Record<string, any>;

let project: TempProject;
let kernel: Kernel;

beforeAll(async () => {
  project = tempProject("rock-openapi-");
  const yaml = `server:
  token: ${TOKEN}
docker:
  socket: ${join(project.root, "no-docker.sock")}
plugins:
  envhub: {port: 0}
  echo: {}
  assistant: {port: 0}
  local: {}
  local-operator: {}
  admin: {port: 0, reconcile_interval_ms: 600000}
  agent: {port: 0, health_interval_ms: 600000}
  tool-manager: {port: 0, admin_token: ${TOKEN}}
  renew-instance: {}
  calculator: {}
  code-interpreter: {}
  hmac-signer: {}
`;
  kernel = await Kernel.load({ root: repoRoot, configFile: project.config(yaml), env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
}, 60_000);

afterAll(async () => {
  await kernel?.stop();
  project?.remove();
});

const present = (schema: unknown) => typeof schema === "object" && schema !== null && Object.keys(schema).length > 0;

/** Where in `schema` an object lists its fields but admits no others. */
function closedObjects(schema: unknown, at: string, out: string[] = []): string[] {
  if (Array.isArray(schema)) schema.forEach((item, i) => closedObjects(item, `${at}[${i}]`, out));
  else if (typeof schema === "object" && schema !== null) {
    const node = schema as Schema;
    if (node.properties && (node.additionalProperties === undefined || node.additionalProperties === false)) out.push(at);
    for (const [key, value] of Object.entries(node)) closedObjects(value, `${at}.${key}`, out);
  }
  return out;
}

/** Keywords that constrain a value; a schema with none of them (`{}`, or only a description) takes anything. */
const constraining = ["type", "anyOf", "oneOf", "allOf", "enum", "const", "$ref", "properties", "items", "not"];
const admitsNull = (schema: Schema): boolean =>
  schema.type === "null" ||
  (Array.isArray(schema.type) && schema.type.includes("null")) ||
  (Array.isArray(schema.anyOf) && schema.anyOf.some(admitsNull)) ||
  !constraining.some((keyword) => keyword in schema);

/** Where in a request schema an optional field refuses null. */
function nullRefusingOptionals(schema: unknown, at: string, out: string[] = []): string[] {
  if (typeof schema !== "object" || schema === null) return out;
  const node = schema as Schema;
  const required = new Set<string>(node.required ?? []);
  for (const [name, property] of Object.entries<Schema>(node.properties ?? {})) {
    if (!required.has(name) && !admitsNull(property)) out.push(`${at}.${name}`);
    nullRefusingOptionals(property, `${at}.${name}`, out);
  }
  if (node.items) nullRefusingOptionals(node.items, `${at}[]`, out);
  for (const member of node.anyOf ?? []) nullRefusingOptionals(member, at, out);
  return out;
}

/** What is wrong with one operation of the document. */
function problems(service: string, method: string, path: string, operation: Schema | undefined): string[] {
  if (!operation) return ["not in the document"];
  const found: string[] = [];
  const parameters: Schema[] = operation.parameters ?? [];
  for (const parameter of parameters) if (!present(parameter.schema)) found.push(`parameter ${parameter.in}.${parameter.name} has no schema`);
  // A plain boolean in a query takes only true/false; lenientQuery reads True, 1, yes, on as pydantic does.
  for (const parameter of parameters) {
    const schema: Schema = parameter.schema ?? {};
    if (parameter.in === "query" && [schema, ...(schema.anyOf ?? [])].some((s: Schema) => s.type === "boolean" || (Array.isArray(s.type) && s.type.includes("boolean")))) {
      found.push(`query parameter ${parameter.name} is a plain boolean (declare the query with lenientQuery)`);
    }
  }
  for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
    if (!parameters.some((p) => p.in === "path" && p.name === name)) found.push(`path parameter ${name} is not declared`);
  }
  const body = operation.requestBody?.content as Record<string, Schema> | undefined;
  for (const [type, media] of Object.entries(body ?? {})) {
    if (!present(media.schema)) found.push(`request body ${type} has no schema`);
    for (const where of nullRefusingOptionals(media.schema, `request body ${type}`)) found.push(`${where} is optional but refuses null`);
  }
  const reads = (body && Object.keys(body).length > 0) || parameters.length > 0;
  const key = `${service} ${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`;
  if (!reads && !readsNothing.has(key) && !readsNothing.has(`${service} ALL ${path}`)) found.push("no request schema (body, query or path parameters)");
  if (method === "post" && !body && !parameters.some((p) => p.in === "path") && !readsNothing.has(`${service} ALL ${path}`)) found.push("a POST without a request body schema");
  const responses = (operation.responses ?? {}) as Record<string, Schema>;
  if (!Object.keys(responses).some((status) => /^2/.test(status))) found.push("no response schema for success");
  for (const [status, response] of Object.entries(responses)) {
    const content = (response.content ?? {}) as Record<string, Schema>;
    if (!Object.keys(content).length) found.push(`response ${status} has no content`);
    for (const [type, media] of Object.entries(content)) {
      if (!present(media.schema)) found.push(`response ${status} ${type} has no schema`);
      for (const where of closedObjects(media.schema, `response ${status} ${type}`)) found.push(`${where} is a closed object`);
    }
  }
  return found;
}

describe("every service's OpenAPI document lists every route with request and response schemas", () => {
  for (const service of services) {
    test(service, async () => {
      const server = kernel.server(service)!;
      const doc = await (await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
      const report: string[] = [];
      const routed = new Set<string>();
      for (const route of server.routes) {
        if (kernelPaths.has(route.path)) continue;
        const path = route.path.replace(/:([^/]+)/g, "{$1}");
        const methods = route.method === "ALL" ? allMethods : [route.method.toLowerCase()];
        for (const method of methods) {
          routed.add(`${method} ${path}`);
          for (const problem of problems(service, method, path, doc.paths?.[path]?.[method])) report.push(`${route.method} ${route.path}: ${problem}`);
        }
      }
      for (const [path, operations] of Object.entries<Schema>(doc.paths ?? {})) {
        for (const method of Object.keys(operations)) if (!routed.has(`${method} ${path}`)) report.push(`${method.toUpperCase()} ${path}: in the document but not a route`);
      }
      expect(routed.size).toBeGreaterThan(0);
      expect(report).toEqual([]);
    });
  }
});
