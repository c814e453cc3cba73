/**
 * The Agent with real workers on loopback: `bun core/cli.ts` with only the agent plugin, and `bun run worker`
 * processes registering with it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { available, redisUrl } from "../support/env.ts";
import { freePort } from "../support/project.ts";
import { eventually, form, history, promtool, promtoolProblems, seriesValue, startAgent, startWorker, stop, type AgentProc, type WorkerProc } from "../workers/support.ts";

const post = (agent: AgentProc, path: string, fields: Record<string, string>) => fetch(`${agent.v1}${path}`, { method: "POST", body: form(fields) });
const list = async (agent: AgentProc, name?: string): Promise<string[]> =>
  (await fetch(`${agent.v1}worker/list${name === undefined ? "" : `?name=${encodeURIComponent(name)}`}`)).json();
const metricsOf = async (url: string) => (await fetch(`${url}/metrics`)).text();
const accepted = async (worker: WorkerProc) => seriesValue(await metricsOf(worker.url), "worker_api_accepted_requests_total") ?? 0;

describe.skipIf(!available("redis", redisUrl()))("agent with two example workers, registrations in Redis", () => {
  const port = freePort();
  const keyPrefix = `agent-test-${process.pid}-${Date.now()}:`;
  const agentOptions = { port, redisUrl: redisUrl(), keyPrefix, agent: { health_interval_ms: 400, health_failures: 2 } };
  let agent: AgentProc;
  let one: WorkerProc;
  let two: WorkerProc;

  beforeAll(async () => {
    agent = await startAgent(agentOptions);
    // A long check interval, so that what the restarted Agent knows comes from the store, not re-registration.
    const env = { AGENT_ENDPOINT: agent.v1, CHECK_INTERVAL_MS: "60000" };
    [one, two] = await Promise.all([startWorker("workers/example", env), startWorker("workers/example", env)]);
    await eventually(async () => (await list(agent, "example")).length === 2, 10_000, "both workers registered");
  });
  afterAll(async () => {
    await Promise.all([stop(one, "SIGKILL"), stop(two, "SIGKILL")]);
    await stop(agent);
  });

  test("both registered under one name, after they listen", async () => {
    expect(await list(agent)).toEqual(["example"]);
    expect((await list(agent, "example")).sort()).toEqual([one.endpoint, two.endpoint].sort());
    for (const worker of [one, two]) {
      expect(seriesValue(await metricsOf(worker.url), "worker_agc_state", { worker_agc_state: "registered" })).toBe(1);
    }
  });

  test("a chat through the Agent reaches a worker and streams back", async () => {
    expect(await (await post(agent, "worker/schedule", { name: "example", history_id: "1", user_id: "u" })).text()).toBe("READY");
    const response = await post(agent, "chat/completions", { name: "example", history_id: "1", user_id: "u", input: history(["我用鼠标打开软件", false]) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe("我用滑鼠開啟軟體");
  });

  test("a multipart form (curl -F) works as well as a urlencoded one", async () => {
    const multipart = new FormData();
    multipart.append("name", "example");
    multipart.append("input", history(["我用鼠标打开软件", false]));
    const response = await fetch(`${agent.v1}chat/completions`, { method: "POST", body: multipart });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("我用滑鼠開啟軟體");
  });

  test("concurrent conversations go to different workers (least busy first), then BUSY / NOMACHINE", async () => {
    const before = [await accepted(one), await accepted(two)];
    expect(await (await post(agent, "worker/schedule", { name: "example", history_id: "10", user_id: "u" })).text()).toBe("READY");
    expect(await (await post(agent, "worker/schedule", { name: "example", history_id: "11", user_id: "u" })).text()).toBe("READY");
    expect(await (await post(agent, "worker/schedule", { name: "example", history_id: "12", user_id: "u" })).text()).toBe("BUSY");
    expect(await (await post(agent, "worker/schedule", { name: "zzz", history_id: "12", user_id: "u" })).text()).toBe("NOMACHINE");
    const answers = await Promise.all(
      ["10", "11"].map(async (id) => (await post(agent, "chat/completions", { name: "example", history_id: id, user_id: "u", input: history(["网络", false]) })).text()),
    );
    expect(answers).toEqual(["網路", "網路"]);
    expect([(await accepted(one)) - before[0], (await accepted(two)) - before[1]]).toEqual([1, 1]);
  });

  test("chats without a reservation spread over the workers too", async () => {
    const before = [await accepted(one), await accepted(two)];
    for (let i = 0; i < 4; i++) {
      expect(await (await post(agent, "chat/completions", { name: "example", input: history(["软件", false]) })).text()).toBe("軟體");
    }
    expect([(await accepted(one)) - before[0], (await accepted(two)) - before[1]]).toEqual([2, 2]);
  });

  test("a worker's HTTP error comes back as an error, not as chat text", async () => {
    const response = await post(agent, "chat/completions", { name: "example", input: history() });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("I didn't see your input!");
    const unknown = await post(agent, "chat/completions", { name: "nobody", input: history(["hi", false]) });
    expect(unknown.status).toBe(404);
  });

  test("bad input gets a 4xx naming the field, with the original's words in the body", async () => {
    const cases: [string, Record<string, string>, number, string, string][] = [
      ["worker/register", { name: "x" }, 400, "Failed", "endpoint"],
      ["worker/register", { endpoint: "http://127.0.0.1:1/x" }, 400, "Failed", "name"],
      ["worker/register", { name: "x", endpoint: "not a url" }, 400, "Failed", "endpoint"],
      ["worker/register", { name: "x", endpoint: "http://127.0.0.1:1/x", slots: "0" }, 400, "Failed", "slots"],
      ["worker/unregister", { name: "x" }, 400, "Failed", "endpoint"],
      ["worker/schedule", { name: "x" }, 400, "BUSY", "history_id"],
      ["chat/completions", { input: "[]" }, 400, "", "name"],
      ["chat/abort", { history_id: "__import__('os').system('id')", user_id: "u" }, 400, "Failed", "history_id"],
      ["chat/abort", { history_id: "[1]" }, 400, "Failed", "user_id"],
    ];
    for (const [path, fields, status, body, field] of cases) {
      const response = await post(agent, path, fields);
      expect([path, response.status, await response.text(), response.headers.get("x-error-field")]).toEqual([path, status, body, field]);
    }
  });

  test("register/unregister keep the Kernel's wire: duplicates Failed, unregister by base URL", async () => {
    // A live endpoint, so that the Agent's health checks keep it registered while the test runs.
    const healthy = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(null, { status: 204 }) });
    try {
      const base = `http://127.0.0.1:${healthy.port}`;
      const fields = { name: "wire", endpoint: `${base}/chat/` };
      expect(await (await post(agent, "worker/register", fields)).text()).toBe("Success");
      expect(await (await post(agent, "worker/register", { ...fields, endpoint: `${base}/chat` })).text()).toBe("Failed");
      expect(await (await post(agent, "worker/unregister", { name: "wire", endpoint: `${base}/anything` })).text()).toBe("Success");
      expect(await (await post(agent, "worker/unregister", { name: "wire", endpoint: `${base}/anything` })).text()).toBe("Failed");
    } finally {
      healthy.stop(true);
    }
  });

  test("metrics: workers per name, dispatches, failures; promtool accepts them", async () => {
    const text = await metricsOf(agent.url);
    expect(seriesValue(text, "rock_agent_registered_workers", { name: "example" })).toBe(2);
    expect(seriesValue(text, "rock_agent_dispatches_total", { name: "example" })).toBeGreaterThanOrEqual(7);
    expect(seriesValue(text, "rock_agent_dispatch_failures_total", { name: "example", reason: "worker_error" })).toBe(1);
    expect(seriesValue(text, "rock_agent_dispatch_failures_total", { name: "nobody", reason: "no_worker" })).toBe(1);
    if (promtool) expect(await promtoolProblems(text, ["rock_agent_"])).toEqual([]);
  });

  test("restarting the Agent keeps the registrations (Redis store)", async () => {
    await stop(agent);
    agent = await startAgent(agentOptions);
    expect((await list(agent, "example")).sort()).toEqual([one.endpoint, two.endpoint].sort());
    expect(agent.stderr()).not.toContain("worker registered");
    expect(await (await post(agent, "chat/completions", { name: "example", input: history(["软件", false]) })).text()).toBe("軟體");
  });

  test("SIGTERM: the worker unregisters before it exits", async () => {
    const started = Date.now();
    await stop(one, "SIGTERM");
    expect(await one.exited).toBe(0);
    expect(await list(agent, "example")).toEqual([two.endpoint]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(seriesValue(await metricsOf(agent.url), "rock_agent_dropped_workers_total", { name: "example" })).toBeUndefined();
  });

  test("SIGKILL: the health check drops the dead worker", async () => {
    await stop(two, "SIGKILL");
    await eventually(async () => (await list(agent, "example")).length === 0, 5000, "dead worker dropped");
    expect(await list(agent)).toEqual([]);
    expect(seriesValue(await metricsOf(agent.url), "rock_agent_dropped_workers_total", { name: "example", reason: "health" })).toBe(1);
    expect(await (await post(agent, "worker/schedule", { name: "example", history_id: "1", user_id: "u" })).text()).toBe("NOMACHINE");
  });
});

describe("agent with in-process store and slow workers", () => {
  const port = freePort();
  let agent: AgentProc;
  let workers: WorkerProc[] = [];

  beforeAll(async () => {
    agent = await startAgent({ port });
    const env = { AGENT_ENDPOINT: agent.v1, CHECK_INTERVAL_MS: "300", LLM_NAME: "slow" };
    workers = await Promise.all([startWorker("workers/slow-reflect", env), startWorker("workers/slow-reflect", env)]);
    await eventually(async () => (await list(agent, "slow")).length === 2, 10_000, "both workers registered");
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => stop(w, "SIGKILL")));
    await stop(agent);
  });

  test("concurrent chats: one per worker, the third is told every worker is busy", async () => {
    const chat = () => post(agent, "chat/completions", { name: "slow", input: history(["abcd", false]) });
    const [a, b] = await Promise.all([chat(), chat()]);
    const c = await chat();
    expect([a.status, b.status, c.status]).toEqual([200, 200, 503]);
    expect(await c.text()).toContain("busy");
    expect(await Promise.all([a.text(), b.text()])).toEqual(["abcd", "abcd"]);
    expect(await Promise.all(workers.map(accepted))).toEqual([1, 1]);
  });

  test("chat/abort (JSON list of history ids) stops the stream in progress", async () => {
    expect(await (await post(agent, "worker/schedule", { name: "slow", history_id: "42", user_id: "u" })).text()).toBe("READY");
    const response = await post(agent, "chat/completions", { name: "slow", history_id: "42", user_id: "u", input: history(["abcdefghijklmnopqrstuvwxyz", false]) });
    await Bun.sleep(250);
    expect(await (await post(agent, "chat/abort", { history_id: "[41, 42]", user_id: "u" })).text()).toBe("Success");
    const started = Date.now();
    const partial = await response.text();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(partial.length).toBeLessThan(10);
  });

  test("a client that leaves mid-stream frees its worker at the Agent", async () => {
    const leaving = await Promise.all(
      [0, 1].map(async () => {
        const controller = new AbortController();
        const response = await fetch(`${agent.v1}chat/completions`, { method: "POST", body: form({ name: "slow", input: history(["abcdefghijklmnop", false]) }), signal: controller.signal });
        expect(response.status).toBe(200);
        return controller;
      }),
    );
    for (const controller of leaving) controller.abort();
    await eventually(async () => {
      const answers = await Promise.all([0, 1].map(() => post(agent, "chat/completions", { name: "slow", input: history(["ok", false]) })));
      return answers.every((r) => r.status === 200) && (await Promise.all(answers.map((r) => r.text()))).every((t) => t === "ok");
    }, 5000, "both workers free again");
  });

  test("workers register again by themselves when a restarted Agent has forgotten them", async () => {
    await stop(agent);
    // With the in-process store the new Agent starts empty; the workers' periodic check (every 300 ms) may already
    // have registered again by the time it answers, so only the end state is asserted.
    agent = await startAgent({ port });
    await eventually(async () => (await list(agent, "slow")).length === 2, 5000, "workers registered again");
  });
});
