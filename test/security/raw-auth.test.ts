/**
 * No request reaches a protected route without the token, whatever its shape (issue 12, item 1). Every service the
 * kernel hosts runs with a token; every route of each server's route table (so a route added later is probed too)
 * gets the request shapes of raw-http.ts over a raw socket. Each must be refused, and afterwards nothing the routes
 * would have done has happened: no sandbox record, no env, no worker, no tool instance, no call to the model upstream.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject, type TempProject } from "../support/project.ts";
import { concretePath, probesFor, runProbes } from "./raw-http.ts";

const token = "kernel-token-7f3a9c";
let project: TempProject;
let kernel: Kernel;
let upstreamCalls = 0;
const upstream = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    upstreamCalls++;
    if (request.method === "GET") return Response.json({ object: "list", data: [{ id: "probe", object: "model" }] });
    const frame = { choices: [{ index: 0, delta: { content: "ran" }, finish_reason: "stop" }] };
    return new Response(`data: ${JSON.stringify(frame)}\n\ndata: [DONE]\n\n`, { headers: { "content-type": "text/event-stream" } });
  },
});
// A live worker endpoint, so that a registration made by a probe would survive the Agent's health checks.
const workerStub = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 204 }) });

/** What each probe's body would do if its route ran. */
const bodies: Record<string, { type: string; text: string }> = {
  admin: {
    type: "application/json",
    // templateID: E2B's create on the admin would start a sandbox too.
    text: JSON.stringify({ image: "python:3.11", sandbox_id: "raw-probe", command: "echo ran", session: "raw-probe", path: "/tmp/raw-probe", content: "x", sandbox_ids: ["raw-probe"], templateID: "base" }),
  },
  envhub: { type: "application/json", text: JSON.stringify({ env_name: "raw-probe", image: "probe:1", owner: "raw-probe" }) },
  assistant: { type: "application/json", text: JSON.stringify({ model: "probe", messages: [{ role: "user", content: "hi" }] }) },
  agent: {
    type: "application/x-www-form-urlencoded",
    text: new URLSearchParams({ name: "raw-probe", endpoint: `http://127.0.0.1:${workerStub.port}/chat`, slots: "1", history_id: "1", user_id: "u", input: '[{"msg":"hi","isbot":false}]' }).toString(),
  },
  "tool-manager": {
    type: "application/json",
    text: JSON.stringify({
      tool_name: "calculator",
      tenant_id: "alice",
      params: '{"expression":"1+1"}',
      openapi_name: "raw-probe",
      operation: "listModels",
      schema: { openapi: "3.0.1", info: { title: "probe", version: "1" }, servers: [{ url: `http://127.0.0.1:${upstream.port}/v1` }], paths: { "/models": { get: { operationId: "listModels" } } } },
    }),
  },
};
/** Routes that answer without the kernel token (the tool manager's own routes check tenant tokens and are probed). */
const open: Record<string, string[]> = { "tool-manager": ["/"] };
const isOpen = (service: string, path: string) => path === "/health" || (open[service] ?? []).includes(path);

const authed = (service: string, path: string, init: RequestInit = {}) =>
  fetch(kernel.server(service)!.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

beforeAll(async () => {
  project = tempProject("rock-raw-auth-");
  const config = project.config(`server:
  token: ${token}
docker:
  socket: ${join(project.root, "no-docker.sock")}
plugins:
  envhub: { port: 0 }
  local: { stop_grace_ms: 200 }
  local-operator: {}
  admin: { port: 0, reconcile_interval_ms: 600000 }
  openai: { api_base: "http://127.0.0.1:${upstream.port}/v1", model: probe, max_retries: 0 }
  assistant: { port: 0, model_server: openai }
  agent: { port: 0, health_interval_ms: 200 }
  calculator: {}
  tool-manager: { port: 0, tools: [calculator], tenants: { alice: alice-token-123 }, openapi_hosts: ["127.0.0.1:${upstream.port}"] }
`);
  kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ROCK_DATA_DIR: join(project.root, "data") } });
  await kernel.start();
});

afterAll(async () => {
  await kernel?.stop();
  upstream.stop(true);
  workerStub.stop(true);
  project?.remove();
});

describe("every kernel service with a token", () => {
  test("every route but /health answers 401 to every request shape, and no route's work is done", async () => {
    const services = kernel.servers.map((s) => s.name).sort();
    expect(services).toEqual(["admin", "agent", "assistant", "envhub", "tool-manager"]);
    const broken: string[] = [];
    const protectedRoutes = new Map<string, Set<string>>();
    for (const server of kernel.servers) {
      const publicAnswers: Record<string, string> = {};
      for (const path of ["/health", ...(open[server.name] ?? [])]) publicAnswers[path] = await (await fetch(server.url + path)).text();
      const routes = server.routes.filter((r) => !isOpen(server.name, r.path));
      protectedRoutes.set(server.name, new Set(routes.map((r) => r.path)));
      // The kernel's own routes are among them, so the table is the one requests are routed with.
      expect(routes.map((r) => r.path)).toEqual(expect.arrayContaining(["/metrics", "/openapi.json", "/docs"]));
      const target = { port: server.port, publicPath: "/health", body: bodies[server.name], token };
      const probes = [
        ...routes.flatMap((r) => probesFor(r.method, concretePath(r.path), target)),
        // Routes that do not exist answer 401 as well, so that the routes cannot be listed by probing.
        ...probesFor("GET", "/no-such-route", target),
        ...probesFor("POST", "/apis/envs/sandbox/v1/no-such-route", target),
      ];
      broken.push(...(await runProbes(server.port, probes, publicAnswers)).map((p) => `${server.name}: ${p}`));
    }
    expect(broken).toEqual([]);

    // The HTTP metrics agree (read before the checks below add authorized requests): every request a protected route saw was refused (400/401).
    const metrics = await (await authed("envhub", "/metrics")).text();
    const served = [...metrics.matchAll(/^rock_http_requests_total\{([^}]*)\} \d+/gm)].map((m) => Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]])));
    const worked = served.filter((s) => protectedRoutes.get(s.server)?.has(s.route) && s.status !== "401" && s.status !== "400");
    expect(worked).toEqual([]);

    // Nothing the probed routes do was done.
    const sandboxes = new Database(join(project.root, "data", "admin.sqlite"), { readonly: true });
    expect(sandboxes.query("SELECT sandbox_id FROM sandboxes").all()).toEqual([]);
    sandboxes.close();
    expect(await kernel.instance<{ operator: { list(): Promise<unknown[]> } }>("local-operator")!.operator.list()).toEqual([]);
    const envs = await (await authed("envhub", "/env/list", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json();
    expect(envs.envs.map((e: { env_name: string }) => e.env_name)).toEqual(["EnvhubDefaultDockerImage"]);
    expect(await (await authed("agent", "/v1.0/worker/list")).json()).toEqual([]);
    expect(kernel.instance<{ instances: { records: { all(): unknown[] } } }>("tool-manager")!.instances.records.all()).toEqual([]);
    const tools = new Database(join(project.root, "data", "tool-manager.sqlite"), { readonly: true });
    expect(tools.query("SELECT name FROM openapi_specs").all()).toEqual([]);
    tools.close();
    expect(upstreamCalls).toBe(0);
  }, 240_000);

  test("the same requests with the token do the work the probes looked for", async () => {
    const json = { "content-type": "application/json" };
    expect((await authed("envhub", "/env/register", { method: "POST", headers: json, body: bodies.envhub.text })).status).toBe(200);
    const envs = await (await authed("envhub", "/env/list", { method: "POST", headers: json, body: "{}" })).json();
    expect(envs.envs.map((e: { env_name: string }) => e.env_name)).toContain("raw-probe");

    const form = { "content-type": bodies.agent.type };
    expect(await (await authed("agent", "/v1.0/worker/register", { method: "POST", headers: form, body: bodies.agent.text })).text()).toBe("Success");
    expect(await (await authed("agent", "/v1.0/worker/list")).json()).toEqual(["raw-probe"]);

    const tenant = (path: string) =>
      fetch(kernel.server("tool-manager")!.url + path, { method: "POST", headers: { ...json, authorization: "Bearer alice-token-123" }, body: bodies["tool-manager"].text });
    expect((await tenant("/openapi_schema")).status).toBe(200);
    expect((await (await tenant("/execute_openapi")).json()).output.data).toEqual([{ id: "probe", object: "model" }]);
    expect(upstreamCalls).toBe(1);
    upstreamCalls = 0;

    const chat = await authed("assistant", "/v1/chat/completions", { method: "POST", headers: json, body: bodies.assistant.text });
    expect((await chat.json()).choices[0].message.content).toBe("ran");
    expect(upstreamCalls).toBe(1);

    const started = await (await authed("admin", "/apis/envs/sandbox/v1/start_async", { method: "POST", headers: json, body: bodies.admin.text })).json();
    expect(started.status).toBe("Success");
    const sandboxes = new Database(join(project.root, "data", "admin.sqlite"), { readonly: true });
    expect(sandboxes.query("SELECT sandbox_id FROM sandboxes").all()).toEqual([{ sandbox_id: started.result.sandbox_id }]);
    sandboxes.close();
    await authed("admin", "/apis/envs/sandbox/v1/stop", { method: "POST", headers: json, body: JSON.stringify({ sandbox_id: started.result.sandbox_id }) });
  }, 60_000);
});
