/**
 * Local mode end to end, every party its own process: the service started by the CLI, a real agent on the openai
 * SDK, the trainer calling `anti-call-llm`, `watch-agent` noticing the agent's exit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appendRecord, responseLine } from "../../plugins/programs/model-service/log-records.ts";
import { ModelClient } from "../../plugins/programs/model-service/model-client.ts";
import { toPythonJson } from "../../plugins/programs/model-service/python-json.ts";
import { rockLastRequest, rockRequest, rockResponse } from "./support/rock-reader.ts";
import { agentScript, serviceDir, type ServiceDir } from "./support/service.ts";

const completion = (content: string) => JSON.stringify({ id: `c-${content}`, object: "chat.completion", model: "policy", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });

function startAgent(service: ServiceDir, turns: number, mode = "plain") {
  const child = Bun.spawn([process.execPath, agentScript, `${service.url}/v1`, String(turns), mode], { stdout: "pipe", stderr: "inherit" });
  const output = new Response(child.stdout).text().then((t) => t.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
  return { child, output };
}

async function waitForText(service: ServiceDir, needle: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await service.log()).includes(needle)) return;
    await Bun.sleep(20);
  }
  throw new Error(`${needle} did not appear in ${service.logFile}:\n${await service.log()}`);
}

const python = Bun.which("python3");
/** `json.dumps(json.loads(text), ensure_ascii=False)` by Python itself when it is installed. */
function pythonDumps(text: string): string {
  if (!python) return toPythonJson(text, { escapeMarkers: false });
  const script = "import json,sys; print(json.dumps(json.loads(sys.stdin.read()), ensure_ascii=False), end='')";
  return Bun.spawnSync([python, "-c", script], { stdin: Buffer.from(text), env: { PYTHONIOENCODING: "utf-8" } }).stdout.toString();
}

const chat = (service: ServiceDir, body: unknown) =>
  fetch(`${service.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("a session", () => {
  let service: ServiceDir;
  beforeAll(async () => {
    service = serviceDir();
    const started = await service.cli(["start", "--type", "local"]);
    expect(started.stderr).toBe("");
    expect(started.code).toBe(0);
  });
  afterAll(() => service.remove());

  test("three turns with a real agent, then SESSION_END when it exits", async () => {
    const agent = startAgent(service, 3);
    const watched = await service.cli(["watch-agent", "--pid", String(agent.child.pid)]);
    expect(JSON.parse(watched.stdout)).toEqual({ status: "watching", pid: agent.child.pid });

    const first = await service.cli(["anti-call-llm", "--index", "0"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).messages).toEqual([{ role: "user", content: "start the task" }]);

    const second = await service.cli(["anti-call-llm", "--index", "1", "--response", completion("answer 1")]);
    expect(JSON.parse(second.stdout).messages.at(-2)).toEqual({ role: "assistant", content: "answer 1" });

    // Big payloads go through a file, which is removed once the response is in the log (as in ROCK).
    const payload = join(service.dir, "anti_call_response_2.json");
    writeFileSync(payload, `${JSON.stringify(JSON.parse(completion("answer 2")), null, 2)}\n`);
    const third = await service.cli(["anti-call-llm", "--index", "2", "--response-file", payload]);
    expect(JSON.parse(third.stdout).messages.at(-2)).toEqual({ role: "assistant", content: "answer 2" });
    expect(existsSync(payload)).toBe(false);

    const end = await service.cli(["anti-call-llm", "--index", "3", "--response", completion("answer 3")]);
    expect(end.stdout).toBe("SESSION_END\n");
    expect(await agent.output).toEqual([1, 2, 3].map((turn) => ({ turn, content: `answer ${turn}` })));

    const log = await service.log();
    const kinds = log.split("\n").filter(Boolean).map((line) => line.match(/^(LLM_REQUEST|LLM_RESPONSE|SESSION_END)/)?.[1]);
    expect(kinds).toEqual(["LLM_REQUEST", "LLM_RESPONSE", "LLM_REQUEST", "LLM_RESPONSE", "LLM_REQUEST", "LLM_RESPONSE", "SESSION_END"]);
    expect(rockLastRequest(log).json).toBe("SESSION_END");
    expect(JSON.parse(rockResponse(log, 2)!).choices[0].message.content).toBe("answer 2");

    // LLMTraj.jsonl holds the last answered call (ROCK opens it with "w"), in the bytes Python's json.dumps writes.
    const trajectory = await Bun.file(join(service.dir, "LLMTraj.jsonl")).text();
    const request3 = rockRequest(log, 3)!;
    expect(trajectory).toBe(`${pythonDumps(`{"request": ${request3}, "response": ${completion("answer 3")}}`)}\n`);
    expect(JSON.parse(trajectory)).toEqual({ request: JSON.parse(request3), response: JSON.parse(completion("answer 3")) });

    // After SESSION_END a new call fails at once and the log stays as it is; so does the trajectory.
    const late = await chat(service, { model: "policy", messages: [] });
    expect(late.status).toBe(500);
    expect((await late.json()).detail).toContain("No response received from Roll process");
    expect(await service.log()).toBe(log);
    expect(await Bun.file(join(service.dir, "LLMTraj.jsonl")).text()).toBe(trajectory);
  }, 30_000);
});

describe("several agents, streams, timeouts, crashes", () => {
  let service: ServiceDir;
  let client: ModelClient;
  beforeAll(async () => {
    service = serviceDir({ REQUEST_TIMEOUT: "1", ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE: "True" });
    expect((await service.cli(["start"])).code).toBe(0);
    client = new ModelClient(service.logFile);
  });
  afterAll(async () => {
    client.close();
    await service.remove();
  });

  test("concurrent calls are matched by index, whatever order the answers come in", async () => {
    const calls = [1, 2, 3].map((n) => chat(service, { model: "policy", messages: [{ role: "user", content: `q${n}` }] }).then((r) => r.json()));
    await waitForText(service, '"index": 3}');
    for (const n of [3, 1, 2]) appendRecord(service.logFile, responseLine(completion(`a${n}`), n));
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.choices[0].message.content)).toEqual(["a1", "a2", "a3"]);
  });

  test("a streaming agent receives the trainer's answer as SSE", async () => {
    const agent = startAgent(service, 1, "stream");
    await waitForText(service, '"index": 4}');
    appendRecord(service.logFile, responseLine(completion("streamed answer"), 4));
    expect(await agent.output).toEqual([{ turn: 1, content: "streamed answer" }]);
  });

  test("REQUEST_TIMEOUT gives the agent a clear error and leaves the log alone", async () => {
    const agent = startAgent(service, 1);
    const [result] = await agent.output;
    expect(result.status).toBe(504);
    expect(result.error).toContain("no response to call 5 from the trainer within 1 s (REQUEST_TIMEOUT)");
    expect((await service.log()).trimEnd().split("\n").at(-1)).toContain('"index": 5}');
  });

  test("bad requests are refused without touching the log", async () => {
    const before = await service.log();
    const notJson = await chat(service, "{oops");
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.message).toContain("not a JSON object");
    const notJsonAnswer = await service.cli(["anti-call-llm", "--index", "5", "--response", "plain text"]);
    expect(notJsonAnswer.code).toBe(1);
    expect(notJsonAnswer.stderr).toContain("the response to call 5 is not JSON");
    const outOfRange = await service.cli(["anti-call-llm", "--index", "42", "--response", "{}"]);
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.stderr).toContain("index 42 is out of range");
    const again = await service.cli(["start"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already running");
    expect(await service.log()).toBe(before);
  }, 20_000);

  test("a malformed line in the log does not stop the service", async () => {
    appendRecord(service.logFile, "something else wrote this\n");
    const call = chat(service, { model: "policy", messages: [] }).then((r) => r.json());
    await waitForText(service, '"index": 6}');
    appendRecord(service.logFile, responseLine(completion("still fine"), 6));
    expect((await call).choices[0].message.content).toBe("still fine");
  });

  test("a killed agent is noticed by watch-agent: SESSION_END, waiting calls fail, the trainer is told", async () => {
    const agent = startAgent(service, 1);
    await waitForText(service, '"index": 7}');
    expect((await service.cli(["watch-agent", "--pid", String(agent.child.pid)])).code).toBe(0);
    agent.child.kill("SIGKILL");
    await waitForText(service, "SESSION_END\n", 3000);
    expect(await client.antiCallLlm(6, completion("too late"))).toBe("SESSION_END");
  }, 20_000);

  test("with ROCK_MODEL_SERVICE_TRAJ_APPEND_MODE every answered call is one trajectory line", async () => {
    const lines = (await Bun.file(join(service.dir, "LLMTraj.jsonl")).text()).trimEnd().split("\n").map((l) => JSON.parse(l));
    // Calls 1-3 answered at once (their lines in any order); 4 streamed; 5 timed out and 7 ended with the session: no line for them.
    const contents = lines.map((l) => [l.request.messages.at(-1)?.content ?? null, l.response.choices[0].message.content]);
    expect(contents.slice(0, 3).sort()).toEqual([["q1", "a1"], ["q2", "a2"], ["q3", "a3"]]);
    expect(contents.slice(3)).toEqual([["start the task", "streamed answer"], [null, "still fine"]]);
    expect(lines[3].request.stream).toBe(true);
  });
});

describe("process management", () => {
  test("stop is graceful; a restart keeps the previous log beside the new one", async () => {
    const service = serviceDir();
    try {
      expect((await service.cli(["stop"])).stdout).toContain("not running");
      expect((await service.cli(["start"])).code).toBe(0);
      const pending = chat(service, { model: "policy", messages: [] });
      await waitForText(service, '"index": 1}');
      const firstLog = await service.log();
      const stopped = await service.cli(["stop"]);
      expect(stopped.stdout).toMatch(/model service stopped \(pid \d+\)/);
      const answer = await pending;
      expect(answer.status).toBe(503);
      expect(existsSync(join(service.dir, "model-service.pid"))).toBe(false);

      expect((await service.cli(["start"])).code).toBe(0);
      expect(await service.log()).toBe("");
      const kept = readdirSync(service.dir).filter((f) => /^LLMService\.log\.\d+$/.test(f));
      expect(kept).toHaveLength(1);
      expect(await Bun.file(join(service.dir, kept[0])).text()).toBe(firstLog);
    } finally {
      await service.remove();
    }
  }, 20_000);

  test("a start that cannot listen reports why", async () => {
    const service = serviceDir();
    const blocker = Bun.serve({ hostname: "127.0.0.1", port: service.port, fetch: () => new Response("other") });
    try {
      const started = await service.cli(["start"]);
      expect(started.code).toBe(1);
      expect(started.stderr).toContain("exited");
      expect(started.stderr).toMatch(/EADDRINUSE|in use/i);
    } finally {
      blocker.stop(true);
      await service.remove();
    }
  });
});
