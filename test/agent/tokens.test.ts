/**
 * A token-protected Agent with real worker processes: workers send AGENT_TOKEN, register their own token, and the
 * Agent calls them with it. A worker without the Agent's token fails at start with a message naming AGENT_TOKEN.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { freePort } from "../support/project.ts";
import { eventually, form, history, startAgent, startWorker, stop, type AgentProc, type WorkerProc } from "../workers/support.ts";

const AGENT_TOKEN = `agent-token-${crypto.randomUUID()}`;
const auth = { authorization: `Bearer ${AGENT_TOKEN}` };
const post = (agent: AgentProc, path: string, fields: Record<string, string>, headers: Record<string, string> = auth) =>
  fetch(`${agent.v1}${path}`, { method: "POST", body: form(fields), headers });
const list = async (agent: AgentProc, name: string): Promise<string[]> => (await fetch(`${agent.v1}worker/list?name=${name}`, { headers: auth })).json();
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8");

describe("token-protected Agent and workers", () => {
  let agent: AgentProc;

  beforeAll(async () => {
    agent = await startAgent({ port: freePort(), agent: { token: AGENT_TOKEN }, env: { ROCK_LOG_LEVEL: "debug" } });
  });
  afterAll(() => stop(agent));

  test("a worker with AGENT_TOKEN registers, serves a chat through the Agent, and unregisters at shutdown", async () => {
    const worker = await startWorker("workers/example", { AGENT_ENDPOINT: agent.v1, AGENT_TOKEN, LLM_NAME: "guarded" });
    try {
      await eventually(async () => (await list(agent, "guarded")).includes(worker.endpoint), 10_000, "registered");
      const chat = await post(agent, "chat/completions", { name: "guarded", input: history(["我用鼠标打开软件", false]) });
      expect(chat.status).toBe(200);
      expect(await chat.text()).toBe("我用滑鼠開啟軟體");
      // The worker takes chats from its Agent only: without its token, 401; /health stays open.
      const direct = await fetch(worker.endpoint, { method: "POST", body: form({ input: history(["hi", false]) }) });
      expect(direct.status).toBe(401);
      expect((await fetch(`${worker.url}/health`)).status).toBe(204);
      // The Agent itself refuses calls without its token.
      expect((await post(agent, "chat/completions", { name: "guarded", input: history(["hi", false]) }, {})).status).toBe(401);
      // Tokens travel in the environment, never on a command line.
      expect(cmdline(worker.child.pid)).not.toContain(AGENT_TOKEN);
      await stop(worker);
      expect(await list(agent, "guarded")).toEqual([]);
      expect(worker.stderr()).toContain("unregistered from the agent");
      expect(worker.stderr() + agent.stderr()).not.toContain(AGENT_TOKEN);
    } finally {
      await stop(worker, "SIGKILL");
    }
  }, 30_000);

  test("chat/abort reaches a token-protected worker's abort route", async () => {
    const worker = await startWorker("workers/slow-reflect", { AGENT_ENDPOINT: agent.v1, AGENT_TOKEN, LLM_NAME: "slow-guarded", WORKER_TOKEN: "worker-token-0123456789" });
    try {
      await eventually(async () => (await list(agent, "slow-guarded")).length === 1, 10_000, "registered");
      const response = await post(agent, "chat/completions", { name: "slow-guarded", history_id: "7", user_id: "u", input: history(["abcdefghijklmnopqrstuvwxyz", false]) });
      expect(response.status).toBe(200);
      await Bun.sleep(250);
      expect(await (await post(agent, "chat/abort", { history_id: "[7]", user_id: "u" })).text()).toBe("Success");
      expect((await response.text()).length).toBeLessThan(10);
      // The worker answered the abort itself: the Agent did not have to cut the stream.
      expect(agent.stderr()).not.toContain("worker abort failed");
      expect(agent.stderr() + worker.stderr()).not.toContain("worker-token-0123456789");
    } finally {
      await stop(worker);
    }
  }, 30_000);

  test("a worker restarted on the same endpoint with a new token is called with the new one", async () => {
    const port = String(freePort());
    const env = { AGENT_ENDPOINT: agent.v1, AGENT_TOKEN, LLM_NAME: "restarted", PORT: port };
    const first = await startWorker("workers/example", { ...env, WORKER_TOKEN: "first-token-0123456789" });
    await eventually(async () => (await list(agent, "restarted")).length === 1, 10_000, "registered");
    await stop(first, "SIGKILL"); // no unregistration: the Agent keeps the old token
    const second = await startWorker("workers/example", { ...env, WORKER_TOKEN: "second-token-0123456789" });
    try {
      await Bun.sleep(300);
      const chat = await post(agent, "chat/completions", { name: "restarted", input: history(["软件", false]) });
      expect(chat.status).toBe(200);
      expect(await chat.text()).toBe("軟體");
    } finally {
      await stop(second);
    }
  }, 30_000);

  for (const [what, token, says] of [
    ["without AGENT_TOKEN", undefined, "AGENT_TOKEN is not set"],
    ["with a wrong AGENT_TOKEN", "wrong-token-0123456789", "AGENT_TOKEN does not match"],
  ] as const) {
    test(`a worker ${what} fails at start, at once, naming the setting`, async () => {
      const started = Date.now();
      const worker = await startWorker("workers/example", { AGENT_ENDPOINT: agent.v1, AGENT_TOKEN: token, LLM_NAME: "refused" });
      const code = await worker.exited;
      expect(code).not.toBe(0);
      expect(Date.now() - started).toBeLessThan(5000); // no retries with backoff: a 401 does not get better
      expect(worker.stderr()).toContain("answered 401 to worker/register");
      expect(worker.stderr()).toContain(says);
      expect(worker.stderr()).toContain("ROCK_AGENT_TOKEN");
      if (token) expect(worker.stderr()).not.toContain(token);
      expect(await list(agent, "refused")).toEqual([]);
    }, 30_000);
  }
});
