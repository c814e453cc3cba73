import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kernel } from "../../core/kernel.ts";
import { configureLogging } from "../../core/log.ts";
import { available } from "../support/env.ts";
import { tempProject, type TempProject } from "../support/project.ts";
import { message, rawHttp } from "../security/raw-http.ts";

let project: TempProject;
let kernel: Kernel;
let open: string; // a service without a token
let guarded: string; // the same routes behind a token

const service = (name: string) => `{
  name: "${name}",
  kind: "service",
  version: "1.2.3",
  defaultPort: 0,
  metricsPrefix: "demo_${name}_",
  setup(ctx) {
    const hits = ctx.metrics.counter({ name: "hits_total", help: "hits" });
    return {
      http: {
        title: "Demo",
        publicPaths: ["/items/open"],
        mount: (app) =>
          app
            .post("/items", ({ body }) => { hits.inc(); return { created: body.name, size: body.size }; }, {
              body: t.Object({ name: t.String({ minLength: 1 }), size: t.Integer({ minimum: 1 }) }),
            })
            .get("/items/:id", ({ params }) => { hits.inc(); return { id: params.id }; })
            .all("/any", () => { hits.inc(); return "any"; })
            .get("/boom", () => { throw new Error("disk /var/secret/path exploded"); })
            .get("/teapot", () => { throw new HttpError(418, "short and stout", "pot"); })
            .get("/answer/:kind", ({ params }) => (params.kind === "good" ? { n: 1 } : { n: "secret-one" }), {
              response: { 200: t.Object({ n: t.Integer() }) },
            })
            .get("/feed", ({ query }) => (query.stream ? new Response("data: 1\\n\\n", { headers: { "content-type": "text/event-stream" } }) : { n: 1 }), {
              response: { 200: t.Union([t.Object({ n: t.Number() }), t.String({ contentMediaType: "text/event-stream" })]) },
            }),
      },
    };
  },
}`;

beforeAll(async () => {
  project = tempProject();
  const imports = `import { t } from "elysia";\nimport { HttpError } from ${JSON.stringify(require.resolve("../../core/errors.ts"))};`;
  project.plugin("plugins/services", "open", service("open"), imports);
  project.plugin("plugins/services", "guarded", service("guarded"), imports);
  project.config("plugins:\n  open: {}\n  guarded:\n    token: s3cret-token\n");
  kernel = await Kernel.load({ root: project.root });
  await kernel.start();
  open = kernel.server("open")!.url;
  guarded = kernel.server("guarded")!.url;
});

afterAll(async () => {
  await kernel?.stop();
  project?.remove();
});

const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("every server", () => {
  test("/health answers without a token", async () => {
    for (const base of [open, guarded]) {
      const res = await fetch(`${base}/health`);
      expect(res.status).toBe(200);
      expect((await res.json()).status).toBe("ok");
    }
  });

  test("/metrics is Prometheus text with HTTP and plugin metrics", async () => {
    await post(open, "/items", { name: "a", size: 1 });
    const res = await fetch(`${open}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain("# TYPE demo_open_hits_total counter");
    expect(text).toMatch(/demo_open_hits_total 1/);
    expect(text).toContain('rock_http_requests_total{server="open",method="POST",route="/items",status="200"}');
    expect(text).toContain("process_cpu_seconds_total");
  });

  test("/metrics passes `promtool check metrics`", async () => {
    const promtool = Bun.which("promtool") ?? undefined;
    if (!available("promtool", promtool)) return;
    const text = await (await fetch(`${open}/metrics`)).text();
    const check = Bun.spawnSync([promtool!, "check", "metrics"], { stdin: new TextEncoder().encode(text) });
    expect(check.stdout.toString() + check.stderr.toString()).toBe("");
    expect(check.exitCode).toBe(0);
  });

  test("OpenAPI document generated from the route schemas", async () => {
    const doc = await (await fetch(`${open}/openapi.json`)).json();
    expect(doc.info).toMatchObject({ title: "Demo", version: "1.2.3" });
    const op = doc.paths["/items"].post;
    expect(JSON.stringify(op)).toContain('"minimum":1');
  });

  test("a route answering JSON or a stream is documented under both media types", async () => {
    const doc = await (await fetch(`${open}/openapi.json`)).json();
    const content = doc.paths["/feed"].get.responses["200"].content;
    expect(Object.keys(content).sort()).toEqual(["application/json", "text/event-stream"]);
    expect(content["application/json"].schema.properties.n.type).toBe("number");
    expect(content["text/event-stream"].schema.type).toBe("string");
    expect((await fetch(`${open}/feed?stream=1`)).headers.get("content-type")).toBe("text/event-stream");
  });

  test("request ids: generated, echoed from the client, returned in errors", async () => {
    const generated = await fetch(`${open}/health`);
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const given = await fetch(`${open}/boom`, { headers: { "x-request-id": "trace-42" } });
    expect(given.headers.get("x-request-id")).toBe("trace-42");
    expect((await given.json()).error.request_id).toBe("trace-42");
  });
});

describe("errors are JSON with a status and a message, never a stack trace", () => {
  test("a thrown Error is a 500 with a generic message; details stay in the log", async () => {
    const res = await fetch(`${open}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text).error.message).toBe("internal server error");
    expect(text).not.toContain("/var/secret/path");
    expect(text).not.toContain(" at ");
  });

  test("an answer that breaks its route's response schema is a 500, never sent; the log names the field", async () => {
    expect(await (await fetch(`${open}/answer/good`)).json()).toEqual({ n: 1 });
    const lines: string[] = [];
    configureLogging({ write: (line) => lines.push(line) });
    try {
      const res = await fetch(`${open}/answer/bad`, { headers: { "x-request-id": "bad-answer" } });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text).error.message).toBe("internal server error");
      expect(text).not.toContain("secret-one");
    } finally {
      configureLogging({ write: (line) => void process.stderr.write(line + "\n") });
    }
    const logged = lines.find((line) => line.includes("bad-answer"));
    expect(logged).toContain("the answer does not match the route's response schema: n:");
  });

  test("an HttpError keeps its status, message and field", async () => {
    const res = await fetch(`${open}/teapot`);
    expect(res.status).toBe(418);
    expect((await res.json()).error).toMatchObject({ message: "short and stout", field: "pot" });
  });

  test("a body failing its schema is a 400 naming the field", async () => {
    const res = await post(open, "/items", { name: "x", size: 0 });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.field).toBe("size");
    expect(error.message).toContain("size");
  });

  test("a missing field is a 400 naming it", async () => {
    const res = await post(open, "/items", { size: 2 });
    expect(res.status).toBe(400);
    expect((await res.json()).error.field).toBe("name");
  });

  test("malformed JSON is a 400", async () => {
    const res = await post(open, "/items", "{not json");
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain("could not be parsed");
  });

  test("an unknown route is a 404 in the same shape", async () => {
    const res = await fetch(`${open}/nope`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.message).toBe("no such route");
  });
});

describe("bearer token", () => {
  test("missing or wrong token: 401, and the route does not run", async () => {
    const before = await (await fetch(`${guarded}/metrics`, { headers: { authorization: "Bearer s3cret-token" } })).text();
    const missing = await post(guarded, "/items", { name: "a", size: 1 });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");
    expect((await missing.json()).error.message).toContain("bearer token");
    const wrong = await post(guarded, "/items", { name: "a", size: 1 }, { authorization: "Bearer s3cret-tokem" });
    expect(wrong.status).toBe(401);
    // Elysia routes an ALL route apart from the per-method ones (its Bun adapter even lists the bare handler for Bun).
    for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"]) expect([method, (await fetch(`${guarded}/any`, { method })).status]).toEqual([method, 401]);
    const after = await (await fetch(`${guarded}/metrics`, { headers: { authorization: "Bearer s3cret-token" } })).text();
    const count = (text: string) => /demo_guarded_hits_total (\d+)/.exec(text)?.[1];
    expect(count(after)).toBe(count(before));
    // The refusals are counted, so that probing shows in /metrics.
    const refused = (text: string, method: string) => Number(new RegExp(`rock_http_requests_total\\{server="guarded",method="${method}",route="refused",status="401"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(refused(after, "POST") - refused(before, "POST")).toBe(3);
    expect(refused(after, "PROPFIND") - refused(before, "PROPFIND")).toBe(1);
  });

  test("right token: the route runs; /metrics and /openapi.json are protected too", async () => {
    const ok = await post(guarded, "/items", { name: "a", size: 1 }, { authorization: "Bearer s3cret-token" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ created: "a", size: 1 });
    expect((await fetch(`${guarded}/metrics`)).status).toBe(401);
    expect((await fetch(`${guarded}/openapi.json`)).status).toBe(401);
  });

  test("a public path is public only when the route it matches is: /items/open is served by /items/:id, which is not", async () => {
    const hits = async () => /demo_guarded_hits_total (\d+)/.exec(await (await fetch(`${guarded}/metrics`, { headers: { authorization: "Bearer s3cret-token" } })).text())?.[1];
    const before = await hits();
    const refused = await fetch(`${guarded}/items/open`);
    expect(refused.status).toBe(401);
    expect(await hits()).toBe(before);
    expect(await (await fetch(`${guarded}/items/open`, { headers: { authorization: "Bearer s3cret-token" } })).json()).toEqual({ id: "open" });
  });

  test("a public path asked with a method it has no route for: 401 without the token, 404 with it", async () => {
    expect((await post(guarded, "/health", {})).status).toBe(401);
    expect((await post(guarded, "/health", {}, { authorization: "Bearer s3cret-token" })).status).toBe(404);
    expect((await post(open, "/health", {})).status).toBe(404);
  });
});

describe("request targets and Host headers", () => {
  const port = (base: string) => Number(new URL(base).port);
  const get = (base: string, target: string, host: string | undefined, headers: [string, string][] = []) =>
    rawHttp(port(base), message("GET", target, [...(host === undefined ? [] : ([["Host", host]] as [string, string][])), ["Connection", "close"], ...headers]));

  test("a Host of one to three characters is routed on the request's path (a service named `api` works)", async () => {
    for (const host of ["x", "api", "x:1"]) {
      const reply = await get(open, "/items/open", host);
      expect([host, reply.status, JSON.parse(reply.body)]).toEqual([host, 200, { id: "open" }]);
      expect((await get(guarded, "/health?/items/7", host)).body).toBe(JSON.stringify({ status: "ok", service: "guarded" }));
      // Bun's router has no POST /health, so Elysia's routes this one: on the path, not on a slash in the query.
      const body = JSON.stringify({ name: "q", size: 1 });
      const sneaked = await rawHttp(port(open), message("POST", "/health?/items", [["Host", host], ["Connection", "close"], ["Content-Type", "application/json"]], body));
      expect([host, sneaked.status]).toEqual([host, 404]);
      expect((await get(guarded, "/items/7", host)).status).toBe(401);
      expect(JSON.parse((await get(guarded, "/items/7", host, [["Authorization", "Bearer s3cret-token"]])).body)).toEqual({ id: "7" });
    }
  });

  test("a Host header that is not a host name: 400 naming it, on every server", async () => {
    for (const base of [open, guarded]) {
      for (const host of ["", "x/items/open?", "a@b", "x#"]) {
        const reply = await get(base, "/items/7", host);
        expect([host, reply.status]).toEqual([host, 400]);
        expect(JSON.parse(reply.body).error).toMatchObject({ field: "host", message: expect.stringContaining("Host header") });
      }
    }
  });
});
