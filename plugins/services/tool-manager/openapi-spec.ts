/**
 * An OpenAPI 3.x document read into the operations a tenant may call as tools: each operation's method, URL
 * template on the spec's first server, parameters (path, query, header, cookie), JSON body properties and the
 * security schemes it names. Only local `$ref`s (`#/...`) are followed; a document that cannot be read this way is
 * refused with a message naming the place.
 */
import { isPlainObject } from "../../protocol/function-calling/parameters.ts";

export class SpecError extends Error {}

export type ParameterPlace = "path" | "query" | "header" | "cookie";

export interface OperationParameter {
  name: string;
  in: ParameterPlace | "body";
  required: boolean;
  description?: string;
  schema?: Record<string, unknown>;
}

export interface Operation {
  /** operationId, or `<path without special characters>_<method>` as the original names operations without one. */
  name: string;
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  /** The server URL followed by the path template, e.g. `http://h:1/v1/todos/{username}`. */
  url: string;
  description: string;
  parameters: OperationParameter[];
  /** Content type of the request body, when the operation has one. */
  bodyType?: string;
  /** Security schemes the operation (or the document) requires, resolved from components.securitySchemes. */
  security: SecurityScheme[];
}

export type SecurityScheme = { kind: "bearer" } | { kind: "header"; header: string };

const METHODS = ["get", "post", "put", "delete", "patch"] as const;
const PLACES = new Set(["path", "query", "header", "cookie"]);
const MAX_REF_DEPTH = 32;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The operations of `document`, keyed by name; throws SpecError naming what is wrong. */
export function readSpec(input: unknown): { server: URL; operations: Map<string, Operation> } {
  if (!isPlainObject(input)) throw new SpecError("schema must be a JSON object (an OpenAPI 3 or Swagger 2.0 document)");
  const document = input.swagger === "2.0" ? fromSwagger2(input) : input;
  const version = document.openapi;
  if (typeof version !== "string" || !/^3\./.test(version)) {
    throw new SpecError(`schema.openapi must be a 3.x version string, or schema.swagger "2.0" (got ${JSON.stringify(version ?? input.swagger ?? null)})`);
  }
  const servers = document.servers;
  const first = Array.isArray(servers) && isPlainObject(servers[0]) ? servers[0].url : undefined;
  if (typeof first !== "string" || !first) throw new SpecError("schema.servers[0].url is required: the operations are called there");
  let server: URL;
  try {
    server = new URL(first);
  } catch {
    throw new SpecError(`schema.servers[0].url is not an absolute URL: ${first}`);
  }
  if (server.protocol !== "http:" && server.protocol !== "https:") throw new SpecError(`schema.servers[0].url must be http or https (got ${server.protocol})`);
  if (server.username || server.password) throw new SpecError("schema.servers[0].url must not carry credentials");
  if (!isPlainObject(document.paths)) throw new SpecError("schema.paths must be an object");

  const resolve = (value: unknown, where: string, depth = 0): unknown => {
    if (!isPlainObject(value) || typeof value.$ref !== "string") return value;
    if (depth > MAX_REF_DEPTH) throw new SpecError(`${where}: $ref chain deeper than ${MAX_REF_DEPTH} (a cycle?)`);
    const ref = value.$ref;
    if (!ref.startsWith("#/")) throw new SpecError(`${where}: only local $refs (#/...) are read, not ${ref}`);
    let target: unknown = document;
    for (const part of ref.slice(2).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))) {
      target = isPlainObject(target) ? target[part] : undefined;
      if (target === undefined) throw new SpecError(`${where}: $ref ${ref} points at nothing`);
    }
    return resolve(target, where, depth + 1);
  };

  const schemes = isPlainObject(document.components) && isPlainObject(document.components.securitySchemes) ? document.components.securitySchemes : {};
  const securityOf = (requirements: unknown, where: string): SecurityScheme[] => {
    if (!Array.isArray(requirements)) return [];
    const out: SecurityScheme[] = [];
    for (const requirement of requirements) {
      if (!isPlainObject(requirement)) continue;
      for (const name of Object.keys(requirement)) {
        const scheme = resolve(schemes[name], `${where} security '${name}'`);
        if (isPlainObject(scheme) && scheme.type === "apiKey" && scheme.in === "header" && typeof scheme.name === "string" && HEADER_NAME.test(scheme.name)) out.push({ kind: "header", header: scheme.name });
        else if ((isPlainObject(scheme) && scheme.type === "http" && String(scheme.scheme).toLowerCase() === "bearer") || name === "BearerAuth") out.push({ kind: "bearer" });
      }
    }
    return out;
  };

  const description = isPlainObject(document.info) && typeof document.info.description === "string" ? document.info.description : "";
  const base = server.href.replace(/\/+$/, "");
  const operations = new Map<string, Operation>();
  for (const [path, item] of Object.entries(document.paths)) {
    const pathItem = resolve(item, `paths['${path}']`);
    if (!path.startsWith("/") || !isPlainObject(pathItem)) throw new SpecError(`paths['${path}'] must start with '/' and be an object`);
    const shared = Array.isArray(pathItem.parameters) ? pathItem.parameters : [];
    for (const method of METHODS) {
      const op = pathItem[method];
      if (op === undefined) continue;
      const where = `paths['${path}'].${method}`;
      if (!isPlainObject(op)) throw new SpecError(`${where} must be an object`);
      const name = typeof op.operationId === "string" && op.operationId ? op.operationId : `${path.slice(1).replace(/[^a-zA-Z0-9_-]/g, "")}_${method}`;
      if (operations.has(name)) throw new SpecError(`${where}: operation name '${name}' is used twice`);
      const parameters = new Map<string, OperationParameter>();
      for (const [i, raw] of [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])].entries()) {
        const p = resolve(raw, `${where}.parameters[${i}]`);
        if (!isPlainObject(p) || typeof p.name !== "string" || !p.name || typeof p.in !== "string" || !PLACES.has(p.in)) {
          throw new SpecError(`${where}.parameters[${i}] needs a name and an 'in' of path, query, header or cookie`);
        }
        if (p.in === "header" && !HEADER_NAME.test(p.name)) throw new SpecError(`${where}.parameters[${i}]: '${p.name}' is not a valid header name`);
        const schema = resolve(p.schema, `${where}.parameters[${i}].schema`);
        parameters.set(`${p.in}:${p.name}`, {
          name: p.name,
          in: p.in as ParameterPlace,
          required: p.in === "path" || p.required === true,
          ...(typeof p.description === "string" ? { description: p.description } : {}),
          ...(isPlainObject(schema) ? { schema } : {}),
        });
      }
      for (const template of path.matchAll(/\{([^}]+)\}/g)) {
        if (!parameters.has(`path:${template[1]}`)) throw new SpecError(`${where}: path parameter '${template[1]}' is not declared in parameters`);
      }
      let bodyType: string | undefined;
      const body = resolve(op.requestBody, `${where}.requestBody`);
      if (isPlainObject(body) && isPlainObject(body.content)) {
        const [type, media] = Object.entries(body.content)[0] ?? [];
        if (type) {
          bodyType = type;
          const schema = resolve(isPlainObject(media) ? media.schema : undefined, `${where}.requestBody.content['${type}'].schema`);
          const required = new Set(isPlainObject(schema) && Array.isArray(schema.required) ? schema.required : []);
          if (isPlainObject(schema) && isPlainObject(schema.properties)) {
            for (const [prop, rawProp] of Object.entries(schema.properties)) {
              const propSchema = resolve(rawProp, `${where}.requestBody property '${prop}'`);
              parameters.set(`body:${prop}`, {
                name: prop,
                in: "body",
                required: required.has(prop),
                ...(isPlainObject(propSchema) && typeof propSchema.description === "string" ? { description: propSchema.description } : {}),
                ...(isPlainObject(propSchema) ? { schema: propSchema } : {}),
              });
            }
          }
        }
      }
      operations.set(name, {
        name,
        method: method.toUpperCase() as Operation["method"],
        url: base + path,
        description: typeof op.summary === "string" && op.summary ? op.summary : typeof op.description === "string" ? op.description : description,
        parameters: [...parameters.values()],
        ...(bodyType ? { bodyType } : {}),
        security: securityOf(op.security ?? document.security, where),
      });
    }
  }
  if (operations.size === 0) throw new SpecError("schema.paths has no operation (get, post, put, delete or patch)");
  return { server, operations };
}

/**
 * A Swagger 2.0 document seen as OpenAPI 3, as the original's client converted it: the server from `host` and
 * `basePath`, a `body` parameter as the JSON request body, `definitions` and `securityDefinitions` as components
 * (kept under their old names too, so that `#/definitions/...` references still resolve).
 */
function fromSwagger2(doc: Record<string, unknown>): Record<string, unknown> {
  if (typeof doc.host !== "string" || !doc.host) throw new SpecError("schema.host is required in a Swagger 2.0 document: the operations are called there");
  const scheme = Array.isArray(doc.schemes) && typeof doc.schemes[0] === "string" ? doc.schemes[0] : "https";
  const paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries(isPlainObject(doc.paths) ? doc.paths : {})) {
    if (!isPlainObject(item)) {
      paths[path] = item;
      continue;
    }
    const converted: Record<string, unknown> = { ...item };
    for (const method of METHODS) {
      const op = item[method];
      if (!isPlainObject(op) || !Array.isArray(op.parameters)) continue;
      const body = op.parameters.find((p) => isPlainObject(p) && p.in === "body") as Record<string, unknown> | undefined;
      converted[method] = {
        ...op,
        parameters: op.parameters.filter((p) => p !== body),
        ...(body ? { requestBody: { content: { "application/json": { schema: body.schema ?? {} } } } } : {}),
      };
    }
    paths[path] = converted;
  }
  return {
    ...doc,
    openapi: "3.0.0",
    servers: [{ url: `${scheme}://${doc.host}${typeof doc.basePath === "string" ? doc.basePath : ""}` }],
    paths,
    components: { schemas: doc.definitions ?? {}, securitySchemes: doc.securityDefinitions ?? {} },
  };
}

/** The operation whose method and URL template match `url` (the original's raw call form), if any. */
export function operationAt(operations: Iterable<Operation>, method: string, url: URL): Operation | undefined {
  const target = `${url.origin}${url.pathname}`.replace(/\/+$/, "");
  for (const op of operations) {
    if (op.method !== method) continue;
    const pattern = op.url
      .replace(/\/+$/, "")
      .split(/\{[^}]+\}/)
      .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("[^/]+");
    if (new RegExp(`^${pattern}$`).test(target)) return op;
  }
  return undefined;
}
