/**
 * The chat endpoint takes what the original's pydantic model took: an optional field sent as null
 * (`tool_call_id: null`, `name: null`, `user: null`, …) is absent, on the prompt path and the native path; a required
 * field sent as null is still a 400 naming it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const received: any[] = [];
const upstream = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    received.push(await req.json());
    const frames = [{ choices: [{ index: 0, delta: { role: "assistant", content: "done" }, finish_reason: "stop" }] }];
    const body = frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join("") + "data: [DONE]\n\n";
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  },
});

const project = tempProject();
let kernel: Kernel;
let base: string;

beforeAll(async () => {
  const config = project.config(`plugins:
  echo: {}
  vllm:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: native
    supports_tools: true
    max_retries: 0
  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: prompted
    supports_tools: false
    max_retries: 0
  assistant:
    port: 0
    model_server: echo
    models:
      "native*": vllm
      "prompted*": openai
`);
  kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
  await kernel.start();
  base = kernel.server("assistant")!.url;
});

afterAll(async () => {
  await kernel?.stop();
  upstream.stop(true);
  project.remove();
});

const chat = (body: unknown) => fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

const tool = { type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };

/** A conversation as a pydantic-based client serialises it: every unset optional field as null. */
const conversation = [
  { role: "system", content: "be brief", name: null, tool_calls: null, tool_call_id: null },
  { role: "user", content: "weather in Paris?", name: null, tool_calls: null, tool_call_id: null },
  { role: "assistant", content: null, name: null, tool_call_id: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
  { role: "tool", content: "sunny", name: null, tool_calls: null, tool_call_id: null },
];
const unsetOptions = { stream: null, stream_options: null, temperature: null, top_p: null, max_tokens: null, stop: null, seed: null, user: null, tool_choice: null, parallel_tool_calls: null };

const nullKeys = (value: unknown, at = ""): string[] => {
  if (Array.isArray(value)) return value.flatMap((item, i) => nullKeys(item, `${at}[${i}]`));
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => (inner === null ? [`${at}.${key}`] : nullKeys(inner, `${at}.${key}`)));
};

describe("optional fields sent as null", () => {
  test("native path: accepted, and no null reaches the backend in their place", async () => {
    received.length = 0;
    const res = await chat({ model: "native-1", messages: conversation, tools: [tool], ...unsetOptions });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe("done");
    const sent = received.at(-1);
    expect(sent.messages.map((m: any) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    // The assistant turn's content may be null on the wire (OpenAI's own form); no other field is.
    expect(nullKeys(sent).filter((where) => where !== ".messages[2].content")).toEqual([]);
  });

  test("prompt path: accepted, the tool result rendered as an observation", async () => {
    received.length = 0;
    const res = await chat({ model: "prompted-1", messages: conversation, tools: [tool], ...unsetOptions });
    expect(res.status).toBe(200);
    expect(JSON.stringify(received.at(-1).messages)).toContain("sunny");
  });

  test("stream: null is not a stream", async () => {
    const res = await chat({ model: "echo", messages: [{ role: "user", content: "hi", name: null }], stream: null });
    expect(res.headers.get("content-type")).toContain("application/json");
    expect((await res.json()).choices[0].message.content).toBe("hi");
  });
});

describe("required fields stay required", () => {
  test.each([
    [{ model: null, messages: [{ role: "user", content: "x" }] }, "model"],
    [{ model: "echo", messages: null }, "messages"],
    [{ model: "echo", messages: [{ role: null, content: "x" }] }, "messages.0.role"],
    [{ model: "echo", messages: [{ role: "user", content: "x" }, { role: "assistant", tool_calls: [{ function: { name: null, arguments: "{}" } }] }] }, "messages.1.tool_calls.0.function.name"],
  ])("%j is a 400 naming %s", async (body, param) => {
    const res = await chat(body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe(param);
  });
});
