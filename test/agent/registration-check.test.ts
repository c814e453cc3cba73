/**
 * The worker's periodic registration check against both Agents: ours (`bun core/cli.ts`), and a loopback server
 * that answers exactly as the original Kuwa kernel's routes do (src/kernel/src/kuwa/kernel/routes/executor.py:
 * `worker/list` answers the names only and ignores `?name=`; a registration of a name and endpoint it already holds
 * answers `Failed`). The worker's state must stay `registered` across checks, and an Agent restarted without its
 * records must get the worker back.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { freePort } from "../support/project.ts";
import { eventually, seriesValue, startAgent, startWorker, stop, type AgentProc, type WorkerProc } from "../workers/support.ts";

type Entry = [endpoint: string, state: string, historyId: string | number, userId: string | number];

/** The original kernel's worker routes, in memory (a kernel started without records.pickle). */
function startKernel(port: number, data: Record<string, Entry[]> = {}) {
  let requests = 0;
  const text = (body: string) => new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
  const formatted = (endpoint: string) => (endpoint.endsWith("/") ? endpoint.slice(0, -1) : endpoint);
  const base = (url: string) => {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(request) {
      requests++;
      const path = new URL(request.url).pathname;
      const form = request.method === "POST" ? await request.formData() : new FormData();
      const name = form.get("name") as string | null;
      const endpoint = form.get("endpoint") as string | null;
      if (request.method === "POST" && path === "/v1.0/worker/register") {
        if (endpoint === null || name === null || (data[name] ?? []).some((e) => e[0] === formatted(endpoint))) return text("Failed");
        (data[name] ??= []).push([formatted(endpoint), "READY", -1, -1]);
        return text("Success");
      }
      if (request.method === "POST" && path === "/v1.0/worker/unregister") {
        if (name !== null && endpoint !== null && data[name]) {
          const old = data[name].length;
          data[name] = data[name].filter((e) => base(e[0]) !== base(endpoint));
          if (data[name].length === 0) delete data[name];
          if (!data[name] || old !== data[name].length) return text("Success");
        }
        return text("Failed");
      }
      if (request.method === "GET" && path === "/v1.0/worker/list") return Response.json(Object.keys(data));
      return new Response("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", { status: 404, headers: { "content-type": "text/html; charset=utf-8" } });
    },
  });
  return {
    v1: `http://127.0.0.1:${port}/v1.0/`,
    data,
    get requests() {
      return requests;
    },
    stop: () => server.stop(true),
  };
}

const stateOf = async (worker: WorkerProc) => {
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  return ["uninitialized", "trying", "registered", "failed"].find((state) => seriesValue(text, "worker_agc_state", { worker_agc_state: state }) === 1);
};

/** The worker's state at every poll for `ms` (its checks run every 150 ms). */
async function statesDuring(worker: WorkerProc, ms: number): Promise<string[]> {
  const seen: string[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(100)) seen.push((await stateOf(worker)) ?? "none");
  return [...new Set(seen)];
}

const checks = { CHECK_INTERVAL_MS: "150", RETRY_BASE_MS: "100" };
let worker: WorkerProc | undefined;
let kernel: ReturnType<typeof startKernel> | undefined;
let agent: AgentProc | undefined;

afterEach(async () => {
  await stop(worker, "SIGKILL");
  kernel?.stop();
  await stop(agent);
  worker = kernel = agent = undefined;
});

describe("registration check against the original Kuwa kernel's routes", () => {
  test("the state stays registered across checks, with one record; a kernel restarted empty gets the worker back", async () => {
    const port = freePort();
    kernel = startKernel(port);
    worker = await startWorker("workers/example", { AGENT_ENDPOINT: kernel.v1, LLM_NAME: "kuwa-check", ...checks });
    await eventually(async () => (await stateOf(worker!)) === "registered", 10_000, "registered");
    const before = kernel.requests;
    expect(await statesDuring(worker, 1500)).toEqual(["registered"]);
    expect(kernel.requests - before).toBeGreaterThanOrEqual(5); // the checks ran
    expect(kernel.data).toEqual({ "kuwa-check": [[worker.endpoint, "READY", -1, -1]] });

    kernel.stop();
    await Bun.sleep(400);
    kernel = startKernel(port);
    await eventually(() => kernel!.data["kuwa-check"]?.length === 1, 5000, "registered with the restarted kernel");
    await eventually(async () => (await stateOf(worker!)) === "registered", 5000, "state registered again");
    expect(await statesDuring(worker, 1000)).toEqual(["registered"]);
    expect(kernel.data).toEqual({ "kuwa-check": [[worker.endpoint, "READY", -1, -1]] });
  }, 30_000);

  test("a kernel that still holds the endpoint (worker restarted on its port) counts as registered", async () => {
    const port = freePort();
    const workerPort = freePort();
    const endpoint = `http://127.0.0.1:${workerPort}/v1/completion`;
    kernel = startKernel(port, { "kuwa-known": [[endpoint, "READY", -1, -1]] });
    worker = await startWorker("workers/example", { AGENT_ENDPOINT: kernel.v1, LLM_NAME: "kuwa-known", PORT: String(workerPort), RETRY_COUNT: "1", ...checks });
    expect(worker.endpoint).toBe(endpoint);
    await eventually(async () => (await stateOf(worker!)) === "registered", 5000, "registered");
    expect(await statesDuring(worker, 800)).toEqual(["registered"]);
    expect(worker.child.exitCode).toBeNull();
    expect(kernel.data).toEqual({ "kuwa-known": [[endpoint, "READY", -1, -1]] });
  }, 20_000);
});

describe("registration check against our Agent", () => {
  const list = async (name: string): Promise<string[]> => (await fetch(`${agent!.v1}worker/list?name=${name}`)).json();

  test("the state stays registered across checks; a restarted Agent (empty store) gets the worker back", async () => {
    const port = freePort();
    agent = await startAgent({ port });
    worker = await startWorker("workers/example", { AGENT_ENDPOINT: agent.v1, LLM_NAME: "ours-check", ...checks });
    await eventually(async () => (await stateOf(worker!)) === "registered", 10_000, "registered");
    expect(await statesDuring(worker, 1500)).toEqual(["registered"]);
    expect(await list("ours-check")).toEqual([worker.endpoint]);

    await stop(agent);
    agent = await startAgent({ port });
    await eventually(async () => (await list("ours-check")).length === 1, 5000, "registered with the restarted Agent");
    await eventually(async () => (await stateOf(worker!)) === "registered", 5000, "state registered again");
    expect(await statesDuring(worker, 1000)).toEqual(["registered"]);
    expect(await list("ours-check")).toEqual([worker.endpoint]);
  }, 40_000);
});
