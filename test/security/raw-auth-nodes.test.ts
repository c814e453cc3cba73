/**
 * The programs with their own token checks, the rocklet, the tool node and the worker, probed like the kernel services
 * (raw-auth.test.ts): every route but the public ones refuses every request shape without the token, and the work
 * the routes would do is not done.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Tool } from "../../core/kinds/tool.ts";
import { PreparedTool } from "../../plugins/protocol/tool-call/prepared-tool.ts";
import { startToolNode } from "../../plugins/programs/tool-node/server.ts";
import { createLogger } from "../../core/log.ts";
import { WorkerMetrics } from "../../workers/runtime/metrics.ts";
import { startWorkerServer, type WorkerServer } from "../../workers/runtime/server.ts";
import { scratchDir, startTestRocklet, type TestRocklet } from "../rocklet/harness.ts";
import { probesFor, runProbes } from "./raw-http.ts";

describe("rocklet", () => {
  let rocklet: TestRocklet;
  const dir = scratchDir("raw-auth-");
  const marker = join(dir, "ran");
  // Also envd's Start (process) and MakeDir (path): each would leave the marker if it ran.
  const body = JSON.stringify({
    command: `touch ${marker}`,
    session: "raw-probe",
    path: marker,
    content: "x",
    target_path: marker,
    process: { cmd: "touch", args: [marker] },
  });
  const open = ["GET /", "GET /is_alive", "GET /health"];

  beforeAll(() => {
    rocklet = startTestRocklet();
  });
  afterAll(() => rocklet.stop());

  test("every route but GET /, GET /is_alive and envd's GET /health answers 401 to every request shape; no command runs, no file is written", async () => {
    const publicAnswers = { "/": JSON.stringify({ message: "hello world" }), "/is_alive": JSON.stringify({ is_alive: true, message: "" }) };
    const routes = rocklet.routes.filter((r) => !open.includes(r));
    expect(routes).toEqual(
      expect.arrayContaining(["POST /execute", "POST /write_file", "GET /portforward", "POST /process.Process/Start", "POST /files"]),
    );
    const target = { port: rocklet.port, publicPath: "/is_alive", body: { type: "application/json", text: body }, token: rocklet.token };
    const probes = [...routes, "GET /no-such-route"].flatMap((r) => {
      const [method, path] = r.split(" ");
      return probesFor(method, path, target);
    });
    expect(await runProbes(rocklet.port, probes, publicAnswers)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    // The same body with the token does write the marker: the check above could have seen it.
    expect((await rocklet.post("/write_file", { path: marker, content: "x" })).status).toBe(200);
    expect(existsSync(marker)).toBe(true);
  }, 120_000);
});

describe("tool node", () => {
  let calls = 0;
  const token = "node-token-123456";
  const counting: Tool = {
    name: "counting_tool",
    description: "counts its calls",
    parameters: { type: "object", properties: {} },
    call: () => ++calls,
  };
  let node: ReturnType<typeof startToolNode>;

  beforeAll(() => {
    node = startToolNode({ tool: new PreparedTool(counting), config: {}, token, hostname: "127.0.0.1", port: 0 });
  });
  afterAll(() => node.stop());

  test("GET /tool_info and POST /execute_tool answer 401 to every request shape; the tool never runs", async () => {
    const port = node.server.port!;
    const publicAnswers = { "/": JSON.stringify({ message: "Hello World" }), "/health": JSON.stringify({ status: "ok", tool: "counting_tool" }) };
    const target = { port, publicPath: "/health", body: { type: "application/json", text: JSON.stringify({ params: "{}", request_id: "raw" }) }, token };
    const probes = ["GET /tool_info", "POST /execute_tool", "GET /no-such-route"].flatMap((r) => {
      const [method, path] = r.split(" ");
      return probesFor(method, path, target);
    });
    expect(await runProbes(port, probes, publicAnswers)).toEqual([]);
    expect(calls).toBe(0);
    const ran = await fetch(`http://127.0.0.1:${port}/execute_tool`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: target.body.text });
    expect((await ran.json()).output).toBe(1);
  }, 120_000);
});

describe("worker", () => {
  let generations = 0;
  const token = "worker-token-123456";
  let worker: WorkerServer;

  beforeAll(() => {
    worker = startWorkerServer({
      host: "127.0.0.1",
      port: 0,
      endpoint: "/chat",
      concurrentLimit: 4,
      process: {
        async *process() {
          generations++;
          yield "generated";
        },
      },
      metrics: new WorkerMetrics("raw-probe", { usesDefaultProcess: false, mainClass: "probe" }),
      extraRegistries: [],
      log: createLogger({ plugin: "raw-probe" }),
      token,
    });
  });
  afterAll(() => worker.stop());

  test("the chat, abort and metrics routes answer 401 to every request shape; nothing is generated", async () => {
    const input = JSON.stringify([{ msg: "hi", isbot: false }]);
    const target = { port: worker.port, publicPath: "/health", body: { type: "application/x-www-form-urlencoded", text: `input=${encodeURIComponent(input)}` }, token };
    const probes = ["POST /chat", "POST /chat/abort", "GET /chat/abort", "GET /metrics", "GET /no-such-route"].flatMap((r) => {
      const [method, path] = r.split(" ");
      return probesFor(method, path, target);
    });
    // /health answers 204 with no body.
    expect(await runProbes(worker.port, probes, { "/health": "" })).toEqual([]);
    expect(generations).toBe(0);
    const ran = await fetch(`http://127.0.0.1:${worker.port}/chat`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": target.body.type }, body: target.body.text });
    expect(await ran.text()).toBe("generated");
    expect(generations).toBe(1);
  }, 120_000);
});
