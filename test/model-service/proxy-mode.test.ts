import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { startModelService, type RunningService } from "../../plugins/programs/model-service/server.ts";
import { silentLog } from "../../plugins/programs/model-service/service-log.ts";
import { resolveSettings, type Flags } from "../../plugins/programs/model-service/settings.ts";
import { rawHttp } from "../security/raw-http.ts";
import { repoRoot } from "./support/service.ts";
import { scriptedUpstream, status, type ScriptedUpstream } from "./support/scripted-upstream.ts";

const vendorCompletion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  model: "qwen-max",
  choices: [{ index: 0, message: { role: "assistant", content: "hello", reasoning_content: "thinking…" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  x_vendor_trace: { region: "cn" },
};
const completionText = JSON.stringify(vendorCompletion);
const sseText =
  ": keep-alive comment\n\n" +
  'data: {"id":"s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}],"x_vendor":1}\n\n' +
  'data: {"id":"s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo","tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"ls","arguments":"{\\"a\\""}}]},"finish_reason":null}]}\n\n' +
  'data: {"id":"s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]}\n\n' +
  "data: [DONE]\n\n";

const base = join(repoRoot, "test", ".tmp", "model-service");
mkdirSync(base, { recursive: true });
let dir: string;
let upstream: ScriptedUpstream;
let other: ScriptedUpstream;
const services: RunningService[] = [];

function serve(flags: Flags, configYaml?: string): RunningService {
  const configFile = configYaml ? join(dir, `config-${services.length}.yml`) : undefined;
  if (configFile) writeFileSync(configFile, configYaml!);
  const settings = resolveSettings({ type: "proxy", host: "127.0.0.1", port: "0", "log-file": join(dir, "LLMService.log"), "retry-base-delay-ms": "5", ...flags, ...(configFile ? { "config-file": configFile } : {}) }, {});
  const service = startModelService(settings, silentLog);
  services.push(service);
  return service;
}

const post = (service: RunningService, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${service.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-agent", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

beforeAll(() => {
  dir = mkdtempSync(join(base, "proxy-"));
  upstream = scriptedUpstream(() => new Response(completionText, { headers: { "content-type": "application/json", "x-request-id": "up-1" } }));
  other = scriptedUpstream(() => new Response(completionText, { headers: { "content-type": "application/json" } }));
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  upstream.seen.length = 0;
  other.seen.length = 0;
});
afterAll(() => {
  upstream.stop();
  other.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("forwarding", () => {
  test("bytes pass unchanged both ways, vendor fields and headers included", async () => {
    const service = serve({ "proxy-base-url": upstream.url });
    const body = '{"model":"qwen-max","messages":[{"role":"user","content":"hi"}],"enable_thinking":true}';
    const response = await post(service, body);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(completionText);
    expect(response.headers.get("x-request-id")).toBe("up-1");
    expect(upstream.seen).toEqual([{ path: "/v1/chat/completions", body, authorization: "Bearer sk-agent" }]);
  });

  test("an SSE stream is passed through byte for byte", async () => {
    upstream.script(() => new Response(sseText, { headers: { "content-type": "text/event-stream" } }));
    const service = serve({ "proxy-base-url": upstream.url });
    const response = await post(service, { model: "qwen-max", stream: true, messages: [] });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(await response.text()).toBe(sseText);
  });

  test("rules route by model with their own keys; 'default' takes the rest; no model is refused", async () => {
    const service = serve({}, `proxy_rules:\n  qwen-max:\n    base_url: ${other.url}/\n    api_key: sk-rule\n  default: ${upstream.url}\n`);
    expect((await post(service, { model: "qwen-max", messages: [] })).status).toBe(200);
    expect((await post(service, { model: "anything", messages: [] })).status).toBe(200);
    expect(other.seen.map((s) => s.authorization)).toEqual(["Bearer sk-rule"]);
    expect(upstream.seen.map((s) => s.authorization)).toEqual(["Bearer sk-agent"]);
    const noModel = await post(service, { messages: [] });
    expect(noModel.status).toBe(400);
    expect((await noModel.json()).error.message).toBe("Model name is required for routing.");
    expect((await post(service, "[1,2]")).status).toBe(400);
  });

  test("the openai SDK works through the proxy, streaming or not", async () => {
    const service = serve({ "proxy-base-url": upstream.url });
    const client = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: "sk-agent", maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: "qwen-max", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0].message.content).toBe("hello");
    upstream.script(() => new Response(sseText, { headers: { "content-type": "text/event-stream" } }));
    let content = "";
    for await (const chunk of await client.chat.completions.create({ model: "qwen-max", messages: [], stream: true })) content += chunk.choices[0]?.delta?.content ?? "";
    expect(content).toBe("hello");
  });
});

describe("retries", () => {
  test("429 and 5xx are retried with backoff until the upstream answers", async () => {
    upstream.script(status(429, { error: { message: "slow down" } }, { "retry-after-ms": "10" }), status(500), status(503));
    const service = serve({ "proxy-base-url": upstream.url });
    const response = await post(service, { model: "m", messages: [] });
    expect(response.status).toBe(200);
    expect(upstream.seen).toHaveLength(4);
  });

  test("400 and other 4xx are never retried and reach the agent as they are", async () => {
    for (const code of [400, 401, 404, 422]) {
      upstream.seen.length = 0;
      upstream.script(status(code, { error: { message: "bad request", param: "messages" } }));
      const service = serve({ "proxy-base-url": upstream.url });
      const response = await post(service, { model: "m", messages: [] });
      expect(response.status).toBe(code);
      expect(await response.json()).toEqual({ error: { message: "bad request", param: "messages" } });
      expect(upstream.seen).toHaveLength(1);
    }
  });

  test("when retries run out the last error is returned; an unreachable upstream is a 502", async () => {
    upstream.script(status(500), status(500), status(500));
    const service = serve({ "proxy-base-url": upstream.url, "max-retries": "2" });
    expect((await post(service, { model: "m", messages: [] })).status).toBe(500);
    expect(upstream.seen).toHaveLength(3);

    const dead = serve({ "proxy-base-url": "http://127.0.0.1:1/v1", "max-retries": "1" });
    const unreachable = await post(dead, { model: "m", messages: [] });
    expect(unreachable.status).toBe(502);
    expect((await unreachable.json()).error.message).toContain("cannot reach 127.0.0.1:1 after 2 attempt(s)");
  });

  test("retryable_status_codes narrows what is retried", async () => {
    upstream.script(status(503));
    const service = serve({ "proxy-base-url": upstream.url, "retryable-status-codes": "429,500" });
    expect((await post(service, { model: "m", messages: [] })).status).toBe(503);
    expect(upstream.seen).toHaveLength(1);
    expect(() => serve({ "proxy-base-url": upstream.url, "retryable-status-codes": "400" })).toThrow(/status codes among 429 and 500-599/);
  });
});

describe("trajectories", () => {
  test("calls are recorded to JSONL and replayed in order", async () => {
    const recording = join(dir, "traj.jsonl");
    const recorder = serve({ "proxy-base-url": upstream.url, "recording-file": recording });
    await (await post(recorder, { model: "qwen-max", messages: [{ role: "user", content: "one" }] })).text();
    upstream.script(() => new Response(sseText, { headers: { "content-type": "text/event-stream" } }));
    await (await post(recorder, { model: "qwen-max", stream: true, messages: [{ role: "user", content: "two" }] })).text();
    upstream.script(status(400));
    await (await post(recorder, { model: "qwen-max", messages: [] })).text();
    await Bun.sleep(50);

    const entries = readFileSync(recording, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(entries.map((e) => [e.model, e.stream, e.status])).toEqual([
      ["qwen-max", false, "success"],
      ["qwen-max", true, "success"],
      ["qwen-max", false, "failure"],
    ]);
    expect(entries[0].response).toEqual(vendorCompletion);
    expect(entries[1].response.choices[0]).toEqual({
      index: 0,
      message: { role: "assistant", content: "hello", tool_calls: [{ id: "t1", type: "function", function: { name: "ls", arguments: '{"a":1}' } }] },
      finish_reason: "tool_calls",
    });
    expect(entries[1].response.x_vendor).toBe(1);
    expect(entries[2].error).toContain("HTTP 400");
    for (const key of ["response_time", "start_time", "end_time"]) expect(typeof entries[0][key]).toBe("number");

    const replayer = serve({ "replay-file": recording });
    expect(await (await post(replayer, { model: "qwen-max", messages: [] })).json()).toEqual(vendorCompletion);
    const streamed = await (await post(replayer, { model: "qwen-max", stream: true, messages: [] })).text();
    expect(streamed.endsWith("data: [DONE]\n\n")).toBe(true);
    const chunk = JSON.parse(streamed.split("\n\n")[0].slice("data: ".length));
    expect(chunk.choices[0].delta.tool_calls[0]).toMatchObject({ index: 0, id: "t1" });
    expect((await post(replayer, { model: "qwen-max", messages: [] })).status).toBe(502);
    const exhausted = await post(replayer, { model: "qwen-max", messages: [] });
    expect(exhausted.status).toBe(404);
    expect((await exhausted.json()).error.message).toBe("trajectory exhausted at step 4 (total recorded steps=3)");
    expect(upstream.seen).toHaveLength(3);
  });

  test("recording and replay together are refused", () => {
    expect(() => serve({ "recording-file": join(dir, "a"), "replay-file": join(dir, "b") })).toThrow(/mutually exclusive/);
  });
});

describe("proxying to our own token-protected assistant", () => {
  test("the key from api_key_env reaches the assistant as its bearer token; without it the assistant's 401 comes back", async () => {
    const { Kernel } = await import("../../core/kernel.ts");
    const token = `assistant-token-${crypto.randomUUID()}`;
    const configFile = join(dir, "assistant.yml");
    writeFileSync(configFile, `server:\n  token: ${token}\nplugins:\n  echo: {}\n  assistant:\n    port: 0\n    model_server: echo\n`);
    const kernel = await Kernel.load({ root: repoRoot, configFile, env: { ROCK_DATA_DIR: join(dir, "data") } });
    await kernel.start();
    try {
      const assistant = `${kernel.server("assistant")!.url}/v1`;
      const serveWith = (rule: string, env: Record<string, string>) => {
        const file = join(dir, `rules-${services.length}.yml`);
        writeFileSync(file, `proxy_rules:\n  default: ${rule}\n`);
        const service = startModelService(resolveSettings({ type: "proxy", host: "127.0.0.1", port: "0", "log-file": join(dir, "LLMService.log"), "config-file": file }, env), silentLog);
        services.push(service);
        return service;
      };
      const body = { model: "echo", messages: [{ role: "user", content: "through the model service" }] };
      const keyed = serveWith(`{ base_url: "${assistant}", api_key_env: ASSISTANT_TOKEN }`, { ASSISTANT_TOKEN: token });
      const answered = await post(keyed, body);
      expect(answered.status).toBe(200);
      expect(((await answered.json()) as any).choices[0].message.content).toBe("through the model service");
      const bare = serveWith(`"${assistant}"`, {});
      expect((await post(bare, body)).status).toBe(401);
    } finally {
      await kernel.stop();
    }
  });
});

describe("odd requests", () => {
  test("a Host header Bun cannot build a URL from gets a 400 naming it, not a 500", async () => {
    const service = serve({ "proxy-base-url": upstream.url });
    for (const host of ["a@b", "", "x y"]) {
      const reply = await rawHttp(service.port, `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(reply.status).toBe(400);
      if (reply.body) expect(reply.body).toContain("Host header");
    }
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
  });
});
