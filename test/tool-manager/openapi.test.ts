/**
 * OpenAPI tools of the tool manager: a tenant registers a spec whose server is a real loopback HTTP server and calls
 * its operations (the operation form and the original client's url form); hosts outside `openapi_hosts` are refused
 * at registration and at every redirect, and receive nothing.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { bootManager, portRange, tenants, type BootedManager } from "./support.ts";

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Headers;
  body: any;
}

function recordingServer(hostname: string, answer: (seen: Seen, port: number) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    hostname,
    port: 0,
    async fetch(request): Promise<Response> {
      const url = new URL(request.url);
      const text = await request.text();
      const entry = { method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: request.headers, body: text ? JSON.parse(text) : undefined };
      seen.push(entry);
      return answer(entry, server.port as number);
    },
  });
  return { seen, host: `${hostname}:${server.port}`, stop: () => server.stop(true) };
}

// Two servers OpenAPI tools may not reach: another loopback address, and a port of the node host 127.0.0.1.
const elsewhere = recordingServer("127.0.0.3", () => Response.json({ reached: "elsewhere" }));
const nodeHostPort = recordingServer("127.0.0.1", () => Response.json({ reached: "node host" }));
// A second allowed host, that the upstream hands some calls to.
const partner = recordingServer("127.0.0.4", (seen) => Response.json({ landed: seen.path, method: seen.method }));
// Not on 127.0.0.1 (which the plugin may reach for its nodes), so that a call also needs openapi_hosts in `net`.
const upstream = recordingServer("127.0.0.2", (seen) => {
  if (seen.path === "/v1/away") return new Response(null, { status: 302, headers: { location: `http://${elsewhere.host}/x` } });
  if (seen.path === "/v1/sideways") return new Response(null, { status: 307, headers: { location: `http://${nodeHostPort.host}/x` } });
  if (seen.path === "/v1/handoff") return new Response(null, { status: 307, headers: { location: `http://${partner.host}/landed` } });
  if (seen.path === "/v1/submit") return new Response(null, { status: 303, headers: { location: "/v1/receipt" } });
  if (seen.path === "/v1/hang") return Bun.sleep(3000).then(() => Response.json({ late: true }));
  if (seen.path === "/v1/broken") return new Response("database on fire", { status: 500 });
  if (seen.path === "/v1/text") return new Response("plain words");
  return Response.json({ method: seen.method, path: seen.path, query: seen.query, body: seen.body ?? null });
});

const todoSpec = (server: string) => ({
  openapi: "3.0.1",
  info: { title: "TODO Plugin", description: "Manage a TODO list.", version: "v1" },
  servers: [{ url: `http://${server}/v1` }],
  components: {
    securitySchemes: { BearerAuth: { type: "http", scheme: "bearer" } },
    schemas: { Todo: { type: "object", required: ["todo"], properties: { todo: { type: "string", description: "The todo" }, priority: { type: "integer" } } } },
    parameters: { User: { in: "path", name: "username", required: true, schema: { type: "string" } } },
  },
  paths: {
    "/todos/{username}": {
      get: {
        operationId: "getTodos",
        summary: "Get the list of todos",
        security: [{ BearerAuth: [] }],
        parameters: [{ $ref: "#/components/parameters/User" }, { in: "query", name: "limit", schema: { type: "integer" } }, { in: "header", name: "X-Trace", schema: { type: "string" } }],
      },
      post: {
        operationId: "addTodo",
        parameters: [{ $ref: "#/components/parameters/User" }],
        requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/Todo" } } } },
      },
    },
    "/away": { get: { operationId: "away" } },
    "/sideways": { get: { operationId: "sideways" } },
    "/handoff": { get: { operationId: "handoff", security: [{ BearerAuth: [] }] } },
    "/submit": { post: { operationId: "submit", requestBody: { content: { "application/json": { schema: { type: "object", properties: { n: { type: "integer" } } } } } } } },
    "/broken": { get: { operationId: "broken" } },
    "/hang": { get: { operationId: "hang" } },
    "/text": { get: { operationId: "text" } },
  },
});

/** An allowed host:port where nothing listens. */
const closedHost = (() => {
  const probe = Bun.serve({ hostname: "127.0.0.2", port: 0, fetch: () => new Response() });
  const host = `127.0.0.2:${probe.port}`;
  probe.stop(true);
  return host;
})();

let manager: BootedManager;
const register = (body: Record<string, unknown>, token = tenants.alpha) => manager.call("/openapi_schema", { body, token });
const execute = (body: Record<string, unknown>, token = tenants.alpha) => manager.call("/execute_openapi", { body: { openapi_name: "todo", ...body }, token });

beforeAll(async () => {
  manager = await bootManager({ ports: portRange(), executeTimeoutMs: 1000, managerExtra: `    openapi_hosts: ["${upstream.host}", "${partner.host}", "${closedHost}"]\n` });
  const registered = await register({ openapi_name: "todo", schema: todoSpec(upstream.host), auth: { apikey: "todo-key-0123456789" } });
  expect(registered.status).toBe(200);
});

afterAll(async () => {
  await manager?.close();
  manager?.project.remove();
  for (const server of [upstream, partner, elsewhere, nodeHostPort]) server.stop();
});

describe("OpenAPI tools of the tool manager (loopback upstream)", () => {
  test("a registered spec is answered back to its tenant only, without its key", async () => {
    const again = await register({ openapi_name: "todo" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ request_id: expect.any(String), message: "", output: todoSpec(upstream.host) });
    expect(JSON.stringify(again.body)).not.toContain("todo-key-0123456789");
    const beta = await register({ openapi_name: "todo" }, tenants.beta);
    expect(beta.status).toBe(404);
    expect(beta.body.message).toContain("tenant 'beta' has no schema 'todo'");
    expect((await register({ openapi_name: "todo", tenant_id: "alpha" }, tenants.beta)).status).toBe(403);
    expect((await execute({ tenant_id: "alpha", operation: "getTodos", params: { username: "x" } }, tenants.beta)).status).toBe(403);
    expect((await manager.call("/execute_openapi", { body: { openapi_name: "todo", operation: "getTodos" }, token: null })).status).toBe(401);
  });

  test("an operation's path, query and header parameters go where the spec puts them, with the registered key", async () => {
    const before = upstream.seen.length;
    const reply = await execute({ operation: "getTodos", params: { username: "ann lee", limit: 2, "X-Trace": "t-1" } });
    expect(reply).toEqual({
      status: 200,
      body: { request_id: expect.any(String), message: "", output: { method: "GET", path: "/v1/todos/ann%20lee", query: { limit: "2" }, body: null } },
    });
    const seen = upstream.seen[before];
    expect(seen.headers.get("authorization")).toBe("Bearer todo-key-0123456789");
    expect(seen.headers.get("x-trace")).toBe("t-1");
    // JSON text params, as an agent's Action input arrives; the caller's own Authorization wins over the stored key.
    await execute({ operation: "getTodos", params: '{"username": "bo"}', headers: { Authorization: "Bearer caller-key" } });
    expect(upstream.seen.at(-1)!.headers.get("authorization")).toBe("Bearer caller-key");
  });

  test("a body operation sends its declared properties as JSON; credentials as the original client sent them", async () => {
    const reply = await execute({ operation: "addTodo", params: { username: "ann", todo: "milk", priority: 1, stray: true }, credentials: { auth_type: "api_key", api_key_header: "X-Api-Key", api_key_value: "k-1" } });
    expect(reply.status).toBe(200);
    expect(reply.body.output).toEqual({ method: "POST", path: "/v1/todos/ann", query: {}, body: { todo: "milk", priority: 1 } });
    expect(upstream.seen.at(-1)!.headers.get("x-api-key")).toBe("k-1");
    expect(upstream.seen.at(-1)!.headers.get("content-type")).toBe("application/json");
  });

  test("the original client's url form: GET params as the query, POST data (dotted keys nested) as the body", async () => {
    const get = await execute({ url: `http://${upstream.host}/v1/todos/ann`, method: "GET", params: '{"limit": 3}', headers: { Authorization: "Bearer from-client" } });
    expect(get.body.output).toEqual({ method: "GET", path: "/v1/todos/ann", query: { limit: "3" }, body: null });
    expect(upstream.seen.at(-1)!.headers.get("authorization")).toBe("Bearer from-client");
    const post = await execute({ url: `http://${upstream.host}/v1/todos/ann`, method: "post", params: {}, data: { todo: "eggs", "meta.tag": "x" }, cookies: { sid: "s 1" } });
    expect(post.body.output).toEqual({ method: "POST", path: "/v1/todos/ann", query: {}, body: { todo: "eggs", meta: { tag: "x" } } });
    expect(upstream.seen.at(-1)!.headers.get("cookie")).toBe("sid=s%201");
  });

  test("bad input gets a 400 naming the operation, the parameter or the field, and calls nothing", async () => {
    const before = upstream.seen.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ operation: "deleteEverything", params: {} }, "unknown operation 'deleteEverything' of openapi 'todo' (operations: getTodos, addTodo, away, sideways, handoff, submit, broken, hang, text)"],
      [{ operation: "getTodos", params: { limit: 1 } }, "missing required parameter 'username' (in path) of operation 'getTodos'"],
      [{ operation: "addTodo", params: { username: "ann" } }, "missing required parameter 'todo' (in body) of operation 'addTodo'"],
      [{ operation: "getTodos", params: "{not json" }, "params is not valid JSON"],
      [{ operation: "getTodos", params: { username: "a" }, headers: "x" }, "headers must be a JSON object"],
      [{ url: `http://${upstream.host}/v1/admin`, method: "GET", params: {} }, `GET http://${upstream.host}/v1/admin is not an operation of openapi 'todo'`],
      [{ url: `http://${elsewhere.host}/v1/todos/ann`, method: "GET", params: {} }, `is not an operation of openapi 'todo'`],
      [{ url: `http://${upstream.host}/v1/todos/ann`, method: "PATCH", params: {} }, "Unsupported HTTP method: PATCH"],
      [{ url: `http://${upstream.host}/v1/todos/ann`, method: "GET", params: "" }, "The params of openapi todo is empty."],
      [{}, "operation (or the original's url and method) is required"],
      [{ operation: "getTodos", params: { username: ".." } }, "path parameter 'username' of operation 'getTodos' may not be '..'"],
      [{ operation: "getTodos", params: { username: "a", "X-Trace": "t\r\nX-Injected: 1" } }, "X-Trace: header 'X-Trace' has a name or value that HTTP cannot carry"],
      [{ operation: "getTodos", params: { username: "a" }, headers: { "X-A": "1\n2" } }, "headers: header 'X-A' has a name or value that HTTP cannot carry"],
      [{ url: `http://${upstream.host}/v1/todos/ann`, params: {}, headers: { "bad name": "1" } }, "headers: header 'bad name' has a name or value"],
      [{ openapi_name: "nope", operation: "getTodos" }, "OpenAPI schema not found"],
    ];
    for (const [body, message] of cases) {
      const reply = await execute(body);
      expect([reply.status, reply.body.message]).toEqual([body.openapi_name === "nope" ? 404 : 400, expect.stringContaining(message)]);
      expect(reply.body.output).toBeUndefined();
    }
    expect(upstream.seen.length).toBe(before);
  });

  test("an upstream failure or a non-JSON answer is the original's 400 envelope", async () => {
    const broken = await execute({ operation: "broken" });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toStartWith("Failed to execute openapi for todo, with error: 500");
    expect(broken.body.message).toContain("database on fire");
    const started = Date.now();
    const hung = await execute({ operation: "hang" });
    expect([hung.status, hung.body.message]).toEqual([400, `Failed to execute openapi for todo, with error: no answer from ${upstream.host} within 1000 ms`]);
    expect(Date.now() - started).toBeLessThan(2500);
    expect((await register({ openapi_name: "closed", schema: todoSpec(closedHost) })).status).toBe(200);
    const refused = await execute({ openapi_name: "closed", operation: "getTodos", params: { username: "a" } });
    expect([refused.status, refused.body.message]).toEqual([400, expect.stringMatching(new RegExp(`^Failed to execute openapi for closed, with error: ${closedHost.replace(/\./g, "\\.")}: `))]);
    const text = await execute({ operation: "text" });
    expect([text.status, text.body.message]).toEqual([400, expect.stringContaining("is not JSON: plain words")]);
  });

  test("a redirect to a host outside openapi_hosts is refused, and that host receives nothing", async () => {
    const away = await execute({ operation: "away" });
    expect(away.status).toBe(400);
    expect(away.body.message).toContain(`host ${elsewhere.host} is not in the tool manager's openapi_hosts (reached by a redirect)`);
    // 127.0.0.1 is in the plugin's net permission (its tool nodes), yet not a host OpenAPI tools may call.
    const sideways = await execute({ operation: "sideways" });
    expect(sideways.status).toBe(400);
    expect(sideways.body.message).toContain(`host ${nodeHostPort.host} is not in the tool manager's openapi_hosts`);
    expect(elsewhere.seen).toEqual([]);
    expect(nodeHostPort.seen).toEqual([]);
  });

  test("a redirect to another allowed host carries no credentials; a 303 after a POST is a GET without the body", async () => {
    const handoff = await execute({ operation: "handoff", headers: { "X-Api-Key": "k-2" }, credentials: { auth_type: "api_key", api_key_value: "k-3" } });
    expect(handoff.body.output).toEqual({ landed: "/landed", method: "GET" });
    expect(upstream.seen.at(-1)!.headers.get("authorization")).toBe("Bearer todo-key-0123456789");
    const landed = partner.seen.at(-1)!.headers;
    expect([landed.get("authorization"), landed.get("x-api-key"), landed.get("api_key")]).toEqual([null, null, null]);
    const submitted = await execute({ operation: "submit", params: { n: 1 } });
    expect(upstream.seen.at(-2)!.body).toEqual({ n: 1 });
    expect(submitted.body.output).toEqual({ method: "GET", path: "/v1/receipt", query: {}, body: null });
  });

  test("a spec whose server is not allowed is refused at registration naming the host; nothing is stored", async () => {
    for (const host of [elsewhere.host, nodeHostPort.host]) {
      const reply = await register({ openapi_name: "elsewhere", schema: todoSpec(host) });
      expect(reply.status).toBe(400);
      expect(reply.body.message).toContain(`host ${host} is not allowed for OpenAPI tools (the tool manager's openapi_hosts: ${upstream.host}, ${partner.host}, ${closedHost})`);
    }
    expect((await register({ openapi_name: "elsewhere" })).status).toBe(404);
    expect(elsewhere.seen).toEqual([]);
    expect(nodeHostPort.seen).toEqual([]);
  });

  test("invalid specs get a 400 naming what is wrong", async () => {
    const spec = todoSpec(upstream.host);
    const cases: [unknown, string][] = [
      ["{oops", "schema is not valid JSON"],
      [[1], "schema must be a JSON object"],
      [{ ...spec, openapi: undefined }, 'schema.openapi must be a 3.x version string, or schema.swagger "2.0" (got null)'],
      [{ swagger: "2.0", paths: spec.paths }, "schema.host is required in a Swagger 2.0 document"],
      [{ ...spec, servers: [] }, "schema.servers[0].url is required"],
      [{ ...spec, servers: [{ url: "/relative" }] }, "schema.servers[0].url is not an absolute URL"],
      [{ ...spec, servers: [{ url: "file:///etc/passwd" }] }, "schema.servers[0].url must be http or https"],
      [{ ...spec, paths: { "/a": { get: { parameters: [{ $ref: "#/components/parameters/Nope" }] } } } }, "paths['/a'].get.parameters[0]: $ref #/components/parameters/Nope points at nothing"],
      [{ ...spec, paths: { "/a": { get: { parameters: [{ $ref: "http://evil/x.json" }] } } } }, "only local $refs"],
      [{ ...spec, paths: { "/a/{id}": { get: {} } } }, "paths['/a/{id}'].get: path parameter 'id' is not declared"],
      [{ ...spec, paths: { "/a": { get: { parameters: [{ name: "q", in: "body" }] } } } }, "paths['/a'].get.parameters[0] needs a name and an 'in' of path, query, header or cookie"],
      [{ ...spec, paths: {} }, "schema.paths has no operation"],
    ];
    for (const [schema, message] of cases) {
      const reply = await register({ openapi_name: "broken-spec", schema });
      expect([reply.status, reply.body.message]).toEqual([400, expect.stringContaining(message)]);
    }
    const badHeader = { ...spec, paths: { "/a": { get: { parameters: [{ name: "X Bad", in: "header" }] } } } };
    expect((await register({ openapi_name: "broken-spec", schema: badHeader })).body.message).toContain("'X Bad' is not a valid header name");
    const badKey = await register({ openapi_name: "broken-spec", schema: spec, auth: { apikey: "k\r\nX-Injected: 1" } });
    expect([badKey.status, badKey.body.message]).toEqual([400, "auth.apikey must be a non-empty string of printable ASCII"]);
    const huge = await register({ openapi_name: "broken-spec", schema: { ...spec, info: { ...spec.info, description: "x".repeat(1024 ** 2) } } });
    expect([huge.status, huge.body.message]).toEqual([400, expect.stringMatching(/^schema is \d+ bytes, more than the limit of 1048576$/)]);
    const badName = await register({ openapi_name: "../x", schema: spec });
    expect([badName.status, badName.body.message]).toEqual([400, expect.stringContaining("openapi_name must be")]);
    expect((await register({ openapi_name: "broken-spec" })).status).toBe(404);
  });

  test("a tenant may keep at most 100 specs; replacing one is always allowed", async () => {
    const spec = todoSpec(upstream.host);
    for (let i = 0; i < 100; i++) expect((await register({ openapi_name: `spec-${i}`, schema: spec }, tenants.beta)).status).toBe(200);
    const over = await register({ openapi_name: "spec-100", schema: spec }, tenants.beta);
    expect([over.status, over.body.message]).toEqual([400, "tenant 'beta' already has 100 OpenAPI schemas, the most it may register"]);
    expect((await register({ openapi_name: "spec-7", schema: spec }, tenants.beta)).status).toBe(200);
    // Other tenants are not counted against beta's limit.
    expect((await register({ openapi_name: "todo", schema: spec, auth: { apikey: "todo-key-0123456789" } })).status).toBe(200);
  });

  test("a Swagger 2.0 document is read as the original's client converted it: host, basePath, body parameter, apiKey header", async () => {
    const swagger = {
      swagger: "2.0",
      info: { title: "todo v2", version: "1" },
      host: upstream.host,
      schemes: ["http"],
      basePath: "/v1",
      securityDefinitions: { key: { type: "apiKey", in: "header", name: "X-Todo-Key" } },
      definitions: { Todo: { type: "object", required: ["todo"], properties: { todo: { type: "string" } } } },
      paths: {
        "/todos/{username}": {
          post: {
            operationId: "addTodo2",
            security: [{ key: [] }],
            parameters: [{ in: "path", name: "username", required: true, type: "string" }, { in: "body", name: "body", schema: { $ref: "#/definitions/Todo" } }],
          },
        },
      },
    };
    expect((await register({ openapi_name: "todo2", schema: swagger, auth: { apikey: "v2-key-0123456789" } })).status).toBe(200);
    const reply = await execute({ openapi_name: "todo2", operation: "addTodo2", params: { username: "di", todo: "tea" } });
    expect(reply.body.output).toEqual({ method: "POST", path: "/v1/todos/di", query: {}, body: { todo: "tea" } });
    expect(upstream.seen.at(-1)!.headers.get("x-todo-key")).toBe("v2-key-0123456789");
    expect((await execute({ openapi_name: "todo2", operation: "addTodo2", params: { username: "di" } })).body.message).toContain("missing required parameter 'todo' (in body)");
    expect((await register({ openapi_name: "todo2" })).body.output).toEqual(swagger);
  });

  test("specs are kept in the manager's SQLite and survive a restart", async () => {
    const db = new Database(join(manager.project.root, "data", "tool-manager.sqlite"), { readonly: true });
    const rows = db.query("SELECT tenant_id, name FROM openapi_specs WHERE tenant_id = 'alpha' ORDER BY name").all();
    db.close();
    expect(rows).toEqual([
      { tenant_id: "alpha", name: "closed" },
      { tenant_id: "alpha", name: "todo" },
      { tenant_id: "alpha", name: "todo2" },
    ]);
    const project = manager.project;
    await manager.kernel.stop();
    // A row this version cannot read (written by hand) does not keep the manager from starting, nor stay in its way.
    const writable = new Database(join(project.root, "data", "tool-manager.sqlite"));
    writable.run("INSERT INTO openapi_specs (tenant_id, name, schema, auth, updated_at) VALUES ('alpha', 'corrupt', '{\"openapi\": \"9\"}', NULL, 'x')");
    writable.close();
    manager = await bootManager({ ports: portRange(), managerExtra: `    openapi_hosts: ["${upstream.host}", "${partner.host}"]\n` }, project);
    expect((await register({ openapi_name: "corrupt" })).status).toBe(404);
    const reply = await execute({ operation: "getTodos", params: { username: "cy" } });
    expect(reply.body.output.path).toBe("/v1/todos/cy");
    expect(upstream.seen.at(-1)!.headers.get("authorization")).toBe("Bearer todo-key-0123456789");
  });
});
