/** The worker's HTTP API on a real `bun run worker` process (no Agent: IGNORE_AGENT=true). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../support/project.ts";
import { eventually, form, history, promtool, promtoolProblems, seriesValue, startWorker, stop, type WorkerProc } from "./support.ts";

const noAgent = () => ({ IGNORE_AGENT: "false", AGENT_ENDPOINT: `http://127.0.0.1:${freePort()}/v1.0/`, RETRY_COUNT: "0" });
const standalone = () => ({ ...noAgent(), IGNORE_AGENT: "true", CHECK_INTERVAL_MS: "0" });

async function post(worker: WorkerProc, fields: Record<string, string>) {
  return fetch(worker.endpoint, { method: "POST", body: form(fields) });
}

describe("example worker", () => {
  let worker: WorkerProc;
  beforeAll(async () => {
    worker = await startWorker("workers/example", standalone(), true); // through `bun run worker`, as documented
  });
  afterAll(() => stop(worker));

  test("streams the OpenCC'd reflection as text/plain", async () => {
    const response = await post(worker, { input: history(["我用鼠标打开软件", false]) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe("我用滑鼠開啟軟體");
  });

  test("only the last user message is reflected; other form fields are ignored", async () => {
    const response = await post(worker, { input: history(["软件", false], ["ok", true], ["网络", false]), name: "x", history_id: "7" });
    expect(await response.text()).toBe("網路");
  });

  test("multipart forms work too", async () => {
    const body = new FormData();
    body.set("input", history(["软件", false]));
    expect(await (await fetch(worker.endpoint, { method: "POST", body })).text()).toBe("軟體");
  });

  test("empty input: the original's 400, naming the field", async () => {
    for (const input of [history(), history(["", false]), history(["hi", false], ["", false])]) {
      const response = await post(worker, { input });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ message: "I didn't see your input!", field: "input" });
    }
  });

  test("bad input: 400 Bad request naming the field", async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, "input"],
      [{ input: "not json" }, "input"],
      [{ input: '{"msg":"x"}' }, "input"],
      [{ input: '["x"]' }, "input[0]"],
      [{ input: '[{"msg":"x"}]' }, "input[0].isbot"],
      [{ input: '[{"msg":"x","isbot":"no"}]' }, "input[0].isbot"],
      [{ input: '[{"msg":3,"isbot":false}]' }, "input[0].msg"],
    ];
    for (const [fields, field] of cases) {
      const response = await post(worker, fields);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ message: "Bad request", field });
    }
    const json = await fetch(worker.endpoint, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(json.status).toBe(400);
  });

  test("health, wrong method, unknown route", async () => {
    const health = await fetch(`${worker.url}/health`);
    expect(health.status).toBe(204);
    expect(await health.text()).toBe("");
    expect((await fetch(worker.endpoint)).status).toBe(405);
    expect((await fetch(`${worker.url}/nope`)).status).toBe(404);
  });

  test("metrics: the original names and labels, and promtool accepts them", async () => {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    const app = { app_name: "example" };
    expect(seriesValue(text, "worker_framework_version_info", app)).toBe(1);
    expect(seriesValue(text, "worker_agc_state", { ...app, worker_agc_state: "failed" })).toBe(1);
    expect(seriesValue(text, "worker_agc_state", { ...app, worker_agc_state: "registered" })).toBe(0);
    expect(seriesValue(text, "worker_agc_registration_info", { ...app, llm_name: "example", public_endpoint: worker.endpoint })).toBe(1);
    expect(seriesValue(text, "worker_layout_config_info", { ...app, default_layout: "True", main_class: "echo" })).toBe(1);
    expect(seriesValue(text, "worker_layout_state", { ...app, worker_layout_state: "idle" })).toBe(1);
    expect(seriesValue(text, "worker_api_received_requests_total", app)).toBeGreaterThan(0);
    expect(seriesValue(text, "worker_api_rejected_requests_total", app)).toBeGreaterThan(0);
    expect(seriesValue(text, "worker_api_accepted_requests_total", app)).toBeGreaterThan(0);
    expect(seriesValue(text, "worker_layout_process_time_seconds_bucket", { ...app, le: "60" })).toBeGreaterThan(0);
    expect(seriesValue(text, "worker_layout_output_length_charters_bucket", { ...app, le: "2000" })).toBeGreaterThan(0);
    expect(seriesValue(text, "worker_layout_output_throughput_charters_per_second_count", app)).toBeGreaterThan(0);
    expect(text).toContain("process_cpu_user_seconds_total"); // the plugin host's registry is shown too
    // prometheus_client's *_created beside each counter and histogram, in unix seconds.
    for (const created of ["worker_agc_attempts_created", "worker_api_received_requests_created", "worker_layout_process_time_seconds_created"]) {
      expect(seriesValue(text, created, app)).toBeGreaterThan(Date.now() / 1000 - 600);
    }
    if (promtool) expect(await promtoolProblems(text, ["worker_"])).toEqual([]);
  });
});

describe("slow worker: concurrency and abort", () => {
  let worker: WorkerProc;
  beforeAll(async () => {
    worker = await startWorker("workers/slow-reflect", { ...standalone(), CONCURRENT_LIMIT: "2" });
  });
  afterAll(() => stop(worker));

  test("past CONCURRENT_LIMIT the answer is the original's 503", async () => {
    const first = await post(worker, { input: history(["abcdefghij", false]) });
    const second = await post(worker, { input: history(["abcdefghij", false]) });
    const third = await post(worker, { input: history(["abcdefghij", false]) });
    expect([first.status, second.status, third.status]).toEqual([200, 200, 503]);
    expect(await third.json()).toEqual({ message: "Processing another request" });
    expect((await fetch(`${worker.url}/v1/completion/abort`)).status).toBe(200);
    await Promise.all([first.text(), second.text()]);
  });

  test("the abort route stops the stream in progress; only the named history when given", async () => {
    const one = await post(worker, { input: history(["abcdefghijklmnopqrstuvwxyz", false]), history_id: "1" });
    const two = await post(worker, { input: history(["abcdefghij", false]), history_id: "2" });
    await Bun.sleep(250);
    const aborted = await fetch(`${worker.url}/v1/completion/abort?history_id=1`);
    expect(await aborted.json()).toEqual({ msg: "Aborted" });
    const started = Date.now();
    const partial = await one.text();
    expect(Date.now() - started).toBeLessThan(500);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(10);
    expect(await two.text()).toBe("abcdefghij");
    expect(await (await fetch(`${worker.url}/v1/completion/abort`)).json()).toEqual({ msg: "No process to abort" });
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(seriesValue(metrics, "worker_layout_failed_total")).toBe(0);
    expect(seriesValue(metrics, "worker_layout_config_info", { default_layout: "False", main_class: "slow-reflect.ts" })).toBe(1);
  });

  test("a client that goes away frees its slot", async () => {
    const controller = new AbortController();
    const response = await fetch(worker.endpoint, { method: "POST", body: form({ input: history(["abcdefghijklmnop", false]) }), signal: controller.signal });
    expect(response.status).toBe(200);
    controller.abort();
    await eventually(async () => {
      const text = await (await fetch(`${worker.url}/metrics`)).text();
      return seriesValue(text, "worker_layout_state", { worker_layout_state: "idle" }) === 1;
    }, 3000, "worker idle again");
  });
});

describe("failures", () => {
  test("an exception during generation ends the stream with the error text and counts", async () => {
    const worker = await startWorker("test/workers/fixtures/failing", standalone());
    try {
      const response = await post(worker, { input: history(["hi", false]) });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("partial answer. Error occurred. Please consult support.");
      const metrics = await (await fetch(`${worker.url}/metrics`)).text();
      expect(seriesValue(metrics, "worker_layout_failed_total")).toBe(1);
      expect(seriesValue(metrics, "worker_layout_state", { worker_layout_state: "idle" })).toBe(1);
    } finally {
      await stop(worker);
    }
  });

  test("settings: booleans are parsed (IGNORE_AGENT=false is false), bad values name the variable", async () => {
    const bad = Bun.spawn([process.execPath, "run", "worker", "workers/example"], { env: { ...process.env, IGNORE_AGENT: "maybe" }, stdout: "pipe", stderr: "pipe" });
    expect(await bad.exited).toBe(2);
    expect(await new Response(bad.stderr).text()).toContain('environment variable IGNORE_AGENT: expected true/false');

    const port = Bun.spawn([process.execPath, "run", "worker", "workers/example"], { env: { ...process.env, PORT: "eighty" }, stdout: "pipe", stderr: "pipe" });
    expect(await port.exited).toBe(2);
    expect(await new Response(port.stderr).text()).toContain("environment variable PORT");

    // IGNORE_AGENT=false with no Agent: registration fails (RETRY_COUNT=1 → 2 attempts) and the worker exits.
    const started = Date.now();
    const worker = await startWorker("workers/example", { ...noAgent(), RETRY_COUNT: "1", RETRY_BASE_MS: "50" });
    expect(await worker.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(worker.stderr()).toContain("Registration failed");
  });

  test("a layout error stops the worker with the file and field", async () => {
    const child = Bun.spawn([process.execPath, "run", "worker", "workers/example"], {
      env: { ...process.env, LAYOUT_CONFIG: "test/workers/fixtures/missing.yaml" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toContain("test/workers/fixtures/missing.yaml: file not found");
  });
});

test("an error a layout module throws outside any request is logged with the secrets masked, and the worker exits 1", async () => {
  const token = `worker-secret-${crypto.randomUUID()}`;
  const worker = await startWorker("test/workers/fixtures/throws-later", { ...standalone(), WORKER_TOKEN: token });
  expect(await worker.exited).toBe(1);
  expect(worker.stderr()).toContain("uncaught exception");
  expect(worker.stderr()).toContain("background job failed with token ***");
  expect(worker.stderr()).not.toContain(token);
});

