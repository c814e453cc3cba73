/**
 * The assistant's chat endpoint driven by the official `openai` SDK, with real model plugins behind it:
 * the echo model, and an OpenAI-compatible loopback upstream that answers with scripted ReAct text
 * (prompt path) or native tool calls (native path).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { Kernel } from "../../core/kernel.ts";
import { repoRoot, tempProject } from "../support/project.ts";

const received: any[] = [];
/** Models of the hanging kind whose upstream request ended because we went away. */
const cancelledUpstream = new Set<string>();
const scripts: Record<string, string> = {
  "scripted-weather": 'I will check the weather.\nAction: get_weather\nAction Input: {"city": "Paris"}\nObservation:',
  "scripted-parallel": 'Action: get_weather\nAction Input: {"city": "Paris"}\nAction: get_weather\nAction Input: {\n  "city": "东京"\n}\n',
  "scripted-unknown": "Action: launch_rocket\nAction Input: {}\n",
  "scripted-zh": '好的，我来查一下。\nAction: get_weather\nAction Input: {"city": "北京"}',
};

function sse(frames: unknown[]): Response {
  const body = frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join("") + "data: [DONE]\n\n";
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

const upstream = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    if (req.method === "GET") return Response.json({ object: "list", data: [{ id: "native-1", object: "model" }] });
    const body = await req.json();
    received.push(body);
    const model: string = body.model;
    const last = body.messages.at(-1);
    const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
    if (model.startsWith("native")) {
      if (body.tools) {
        return sse([
          { choices: [{ index: 0, delta: { role: "assistant", tool_calls: [{ index: 0, id: "call_native1", type: "function", function: { name: "get_weather", arguments: "" } }] } }] },
          { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }] },
          { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] } }] },
          { choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: "call_native2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }] } }] },
          { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
          { choices: [], usage },
        ]);
      }
      return sse([{ choices: [{ index: 0, delta: { content: "no tools" }, finish_reason: "stop" }] }, { choices: [], usage }]);
    }
    if (model.startsWith("scripted-hang")) {
      // Never finishes: one token (or none), then silence until the caller goes away.
      req.signal.addEventListener("abort", () => cancelledUpstream.add(model));
      const first = model.endsWith("-token") ? `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "tok" } }] })}\n\n` : "";
      return new Response(
        new ReadableStream({
          start: (controller) => (first ? controller.enqueue(new TextEncoder().encode(first)) : undefined),
          cancel: () => void cancelledUpstream.add(model),
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    }
    if (model === "scripted-break") {
      // One token, then the connection breaks.
      const token = new TextEncoder().encode(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "tok" } }] })}\n\n`);
      return new Response(
        new ReadableStream({
          async pull(controller) {
            controller.enqueue(token);
            await Bun.sleep(20);
            controller.error(new Error("connection lost"));
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    }
    if (model === "scripted-slow") await Bun.sleep(300);
    let text = scripts[model] ?? "";
    if (model === "scripted-roundtrip") {
      text = typeof last.content === "string" && last.content.includes("Observation:") ? "It is sunny in Paris." : scripts["scripted-weather"];
    }
    if (!text) text = `plain answer to ${typeof last.content === "string" ? last.content.slice(0, 20) : "?"}`;
    const pieces = text.match(/[\s\S]{1,7}/g)!;
    return sse([
      ...pieces.map((p) => ({ choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
      { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
      { choices: [], usage },
    ]);
  },
});

const project = tempProject();
let kernel: Kernel;
let client: OpenAI;
let base: string;

const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather of a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const timeTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: "function",
  function: { name: "get_time", description: "Local time", parameters: { type: "object", properties: {} } },
};

beforeAll(async () => {
  const config = project.config(`plugins:
  echo: {}
  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: scripted
    supports_tools: false
    max_retries: 0
  vllm:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: native
    supports_tools: true
  ollama:
    host: http://127.0.0.1:1
    model: gone
    max_retries: 0
  assistant:
    port: 0
    model_server: echo
    keepalive_ms: 50
    models:
      "scripted*": openai
      "native*": vllm
      "down*": ollama
`);
  kernel = await Kernel.load({ root: repoRoot, configFile: config, env: { ...process.env, MODEL_SERVER: "" } });
  await kernel.start();
  base = kernel.server("assistant")!.url;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused-by-the-server", maxRetries: 0 });
});

afterAll(async () => {
  await kernel?.stop();
  upstream.stop(true);
  project.remove();
});

async function streamed(params: Omit<OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming, "stream">) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let content = "";
  let finish: string | null = null;
  const calls: { id?: string; name: string; arguments: string }[] = [];
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? "";
    for (const call of choice.delta.tool_calls ?? []) {
      const entry = (calls[call.index] ??= { name: "", arguments: "" });
      if (call.id) entry.id = call.id;
      entry.name += call.function?.name ?? "";
      entry.arguments += call.function?.arguments ?? "";
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, finish, calls, chunks };
}

describe("chat without tools", () => {
  test("non-stream through the echo model, with the original envelope fields", async () => {
    const res = await client.chat.completions.create({ model: "any-model", messages: [{ role: "user", content: "我用鼠标打开软件" }] });
    expect(res.choices[0].message.content).toBe("我用鼠标打开软件");
    expect(res.choices[0].finish_reason).toBe("stop");
    expect(res.object).toBe("chat.completion");
    expect(res.id).toMatch(/^chatcmpl_[0-9a-f-]{36}$/);
    const raw = res as any;
    expect(raw.request_id).toBe(res.id);
    expect(raw.system_fingerprint).toBe(res.id);
    expect(raw.message).toBe("");
    expect(raw.output).toBeNull();
    expect(res.usage!.total_tokens).toBeGreaterThan(0);
  });

  test("stream through the echo model ends with finish_reason and [DONE]", async () => {
    const out = await streamed({ model: "m", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello there world" }] });
    expect(out.content).toBe("hello there world");
    expect(out.finish).toBe("stop");
    expect(out.chunks).toBeGreaterThan(2);
  });

  test("GET /v1/models lists what the backends serve", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain("echo");
  });
});

describe("function calling through the prompt (model without native tools)", () => {
  test("non-stream: Action text becomes tool_calls with ids; content is the text before it", async () => {
    const res = await client.chat.completions.create({
      model: "scripted-weather",
      messages: [{ role: "system", content: "You are a weather bot." }, { role: "user", content: "weather in Paris?" }],
      tools: [weatherTool, timeTool],
    });
    const message = res.choices[0].message;
    expect(res.choices[0].finish_reason).toBe("tool_calls");
    expect(message.content).toBe("I will check the weather.");
    expect(message.tool_calls).toHaveLength(1);
    const call = message.tool_calls![0] as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(call.type).toBe("function");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });
    const sent = received.at(-1);
    expect(sent.messages[0].role).toBe("system");
    expect(sent.messages[0].content).toContain("get_weather");
    expect(sent.messages[0].content).toContain("You are a weather bot.");
    expect(sent.stop).toContain("Observation:");
    expect(sent.tools).toBeUndefined();
  });

  test("stream: content streams first, then tool_calls deltas, finish_reason tool_calls", async () => {
    const out = await streamed({ model: "scripted-weather", messages: [{ role: "user", content: "weather?" }], tools: [weatherTool] });
    expect(out.content).toBe("I will check the weather.");
    expect(out.finish).toBe("tool_calls");
    expect(out.calls).toHaveLength(1);
    expect(out.calls[0].id).toMatch(/^call_/);
    expect(out.calls[0].name).toBe("get_weather");
    expect(JSON.parse(out.calls[0].arguments)).toEqual({ city: "Paris" });
  });

  test("parallel calls, multi-line JSON and Chinese arguments; parallel_tool_calls:false keeps the first", async () => {
    const both = await client.chat.completions.create({ model: "scripted-parallel", messages: [{ role: "user", content: "two cities" }], tools: [weatherTool] });
    const args = both.choices[0].message.tool_calls!.map((c: any) => JSON.parse(c.function.arguments));
    expect(args).toEqual([{ city: "Paris" }, { city: "东京" }]);
    const ids = both.choices[0].message.tool_calls!.map((c) => c.id);
    expect(new Set(ids).size).toBe(2);
    const one = await client.chat.completions.create({ model: "scripted-parallel", messages: [{ role: "user", content: "two" }], tools: [weatherTool], parallel_tool_calls: false });
    expect(one.choices[0].message.tool_calls).toHaveLength(1);
    const streamedOne = await streamed({ model: "scripted-parallel", messages: [{ role: "user", content: "two" }], tools: [weatherTool], parallel_tool_calls: false });
    expect(streamedOne.calls).toHaveLength(1);
  });

  test("Chinese conversation: zh template, content before the call kept", async () => {
    const res = await client.chat.completions.create({ model: "scripted-zh", messages: [{ role: "user", content: "北京天气怎么样？" }], tools: [weatherTool] });
    expect(res.choices[0].message.content).toBe("好的，我来查一下。");
    expect(JSON.parse((res.choices[0].message.tool_calls![0] as any).function.arguments)).toEqual({ city: "北京" });
    expect(received.at(-1).messages[0].content).toContain("工具");
  });

  test("a name not in the tool list is not turned into a call", async () => {
    const res = await client.chat.completions.create({ model: "scripted-unknown", messages: [{ role: "user", content: "go" }], tools: [weatherTool] });
    expect(res.choices[0].message.tool_calls).toBeNull();
    expect(res.choices[0].finish_reason).toBe("stop");
  });

  test('tool_choice "none" renders no tools and parses nothing', async () => {
    const res = await client.chat.completions.create({ model: "scripted-weather", messages: [{ role: "user", content: "weather?" }], tools: [weatherTool], tool_choice: "none" });
    expect(res.choices[0].message.tool_calls).toBeNull();
    expect(res.choices[0].message.content).toContain("Action: get_weather");
    expect(JSON.stringify(received.at(-1).messages)).not.toContain("get_weather");
  });

  test("object-form tool_choice renders only that function", async () => {
    await client.chat.completions.create({
      model: "scripted-weather",
      messages: [{ role: "user", content: "time?" }],
      tools: [weatherTool, timeTool],
      tool_choice: { type: "function", function: { name: "get_time" } },
    });
    const system = received.at(-1).messages[0].content;
    expect(system).toContain("get_time");
    expect(system).not.toContain("get_weather");
  });

  test("list-form parameters (the seed's) are accepted", async () => {
    const res = await client.chat.completions.create({
      model: "scripted-weather",
      messages: [{ role: "user", content: "weather?" }],
      tools: [{ type: "function", function: { name: "get_weather", description: "w", parameters: [{ name: "city", type: "string", description: "City", required: true }] as any } }],
    });
    expect(res.choices[0].finish_reason).toBe("tool_calls");
  });

  test("full round trip: the tool result goes back as role:tool and the model answers", async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: "user", content: "weather in Paris?" }];
    const first = await client.chat.completions.create({ model: "scripted-roundtrip", messages, tools: [weatherTool] });
    const call = first.choices[0].message.tool_calls![0];
    messages.push({ role: "assistant", content: null, tool_calls: first.choices[0].message.tool_calls! });
    messages.push({ role: "tool", tool_call_id: call.id, content: '{"sky": "sunny"}' });
    const second = await client.chat.completions.create({ model: "scripted-roundtrip", messages, tools: [weatherTool] });
    expect(second.choices[0].message.content).toBe("It is sunny in Paris.");
    expect(second.choices[0].finish_reason).toBe("stop");
    const sent = JSON.stringify(received.at(-1).messages);
    expect(sent).toContain("Action: get_weather");
    expect(sent).toContain("Observation:");
    expect(sent).toContain("sunny");
  });

  test("a turn the original answered (raw Action text in content, tool_calls beside it) reaches the model with the Action text once", async () => {
    const raw = 'I will check the weather.\nAction: get_weather\nAction Input: {"city": "Paris"}';
    const replay = (content: string) =>
      client.chat.completions.create({
        model: "scripted-roundtrip",
        tools: [weatherTool],
        messages: [
          { role: "user", content: "weather in Paris?" },
          // The original's tool calls have no id; the SDK's type wants one.
          { role: "assistant", content, tool_calls: [{ type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } } as any] },
          { role: "tool", tool_call_id: "x", content: '{"sky": "sunny"}' },
        ],
      });
    await replay(raw);
    expect(received.at(-1).messages[2]).toEqual({ role: "assistant", content: raw });
    // The reverse: a content without the Action text still gets the call written after it.
    await replay("I will check the weather.");
    expect(received.at(-1).messages[2]).toEqual({ role: "assistant", content: raw });
  });
});

describe("native function calling (backend that supports tools)", () => {
  test("a turn the original answered, replayed to a native backend: the Action text is left out of content, the calls go natively", async () => {
    const calls = [{ id: "call_1", type: "function" as const, function: { name: "get_weather", arguments: '{"city": "Paris"}' } }];
    const replay = (content: string) =>
      client.chat.completions.create({
        model: "native-1",
        tools: [weatherTool],
        messages: [
          { role: "user", content: "weather in Paris?" },
          { role: "assistant", content, tool_calls: calls },
          { role: "tool", tool_call_id: "call_1", content: "sunny" },
        ],
      });
    await replay('I will check the weather.\nAction: get_weather\nAction Input: {"city": "Paris"}');
    expect(received.at(-1).messages[1]).toEqual({ role: "assistant", content: "I will check the weather.", tool_calls: calls });
    await replay('Action: get_weather\nAction Input: {"city": "Paris"}');
    expect(received.at(-1).messages[1]).toEqual({ role: "assistant", content: null, tool_calls: calls });
    // Text that holds no call of this turn is sent as it is.
    await replay("Checking. Action: maybe later");
    expect(received.at(-1).messages[1].content).toBe("Checking. Action: maybe later");
  });

  test("tools are sent upstream and native tool calls come back; parallel false keeps the first", async () => {
    const res = await client.chat.completions.create({ model: "native-1", messages: [{ role: "user", content: "weather" }], tools: [weatherTool] });
    expect(received.at(-1).tools[0].function.name).toBe("get_weather");
    expect(res.choices[0].finish_reason).toBe("tool_calls");
    expect(res.choices[0].message.tool_calls!.map((c: any) => [c.id, c.function.arguments])).toEqual([
      ["call_native1", '{"city":"Oslo"}'],
      ["call_native2", '{"city":"Rome"}'],
    ]);
    const out = await streamed({ model: "native-1", messages: [{ role: "user", content: "weather" }], tools: [weatherTool], parallel_tool_calls: false });
    expect(out.calls).toEqual([{ id: "call_native1", name: "get_weather", arguments: '{"city":"Oslo"}' }]);
    expect(out.finish).toBe("tool_calls");
  });
});

describe("image_url parts: passed to backends that take images, refused with a 400 naming the part elsewhere", () => {
  const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
  const picture = (url = PNG) => [
    { type: "text" as const, text: "What is the weather in this picture?" },
    { type: "image_url" as const, image_url: { url, detail: "low" as const } },
  ];
  const raw = (body: unknown) =>
    fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("through the prompt (model without native tools): the user message keeps its image, the tool prefix goes on its text", async () => {
    const res = await client.chat.completions.create({ model: "scripted-weather", tools: [weatherTool], messages: [{ role: "user", content: picture("https://example.test/sky.png") }] });
    expect(res.choices[0].finish_reason).toBe("tool_calls");
    const user = received.at(-1).messages[1];
    expect(user.role).toBe("user");
    expect(user.content).toEqual([
      { type: "text", text: "(. you can use tools: [get_weather])What is the weather in this picture?" },
      { type: "image_url", image_url: { url: "https://example.test/sky.png", detail: "low" } },
    ]);
  });

  test("native tools and plain chat: the parts are sent as the client wrote them", async () => {
    await client.chat.completions.create({ model: "native-1", tools: [weatherTool], messages: [{ role: "user", content: picture() }] });
    expect(received.at(-1).messages).toEqual([{ role: "user", content: picture() }]);
    const out = await streamed({ model: "scripted-plain", messages: [{ role: "system", content: "be brief" }, { role: "user", content: picture() }] });
    expect(out.finish).toBe("stop");
    expect(received.at(-1).messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: picture() }]);
  });

  test("text parts reach the model (the request schema used to strip their text)", async () => {
    const res = await client.chat.completions.create({ model: "any-model", messages: [{ role: "user", content: [{ type: "text", text: "hello" }, { type: "text", text: "parts" }] }] });
    expect(res.choices[0].message.content).toBe("hello\nparts");
  });

  test("a backend without images (echo) answers 400 naming the part, stream or not, and nothing is sent", async () => {
    for (const stream of [false, true]) {
      const res = await raw({ model: "any-model", stream, messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }, { role: "user", content: picture() }] });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.error.message).toBe("messages[2].content[1]: image_url parts are not supported by model 'any-model' (backend 'echo')");
      expect(body.error.param).toBe("messages.2.content.1");
    }
  });

  test("a backend that takes images inline only (ollama) refuses a link; images outside user messages and parts without a URL are refused", async () => {
    const before = received.length;
    const link = await raw({ model: "down-1", messages: [{ role: "user", content: picture("https://example.test/sky.png") }] });
    expect(link.status).toBe(400);
    expect((await link.json()).error.message).toBe("messages[0].content[1].image_url.url: backend 'ollama' takes images inline only: a data:<mime>;base64,… URL, not a link");
    const inSystem = await raw({ model: "scripted-x", messages: [{ role: "system", content: picture() }, { role: "user", content: "hi" }] });
    expect(inSystem.status).toBe(400);
    expect((await inSystem.json()).error.message).toBe("messages[0].content[1]: image_url parts are accepted in user messages only, not in 'system'");
    const noUrl = await raw({ model: "scripted-x", messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] });
    expect(noUrl.status).toBe(400);
    expect((await noUrl.json()).error.param).toBe("messages.0.content.0.image_url.url");
    // Other kinds of parts are not dropped either.
    const audio = await raw({ model: "scripted-x", messages: [{ role: "user", content: [{ type: "text", text: "listen" }, { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }] }] });
    expect(audio.status).toBe(400);
    expect((await audio.json()).error).toMatchObject({ message: "messages[0].content[1]: 'input_audio' parts are not supported (text and image_url are)", param: "messages.0.content.1.type" });
    expect(received.length).toBe(before);
  });

  test("an assistant's refusal part is replayed as its text", async () => {
    await client.chat.completions.create({
      model: "scripted-x",
      messages: [
        { role: "user", content: "do something bad" },
        { role: "assistant", content: [{ type: "refusal", refusal: "I can't help with that." }] },
        { role: "user", content: "ok, something good then" },
      ],
    });
    expect(received.at(-1).messages[1]).toEqual({ role: "assistant", content: "I can't help with that." });
  });
});

describe("streaming details", () => {
  test("a keep-alive comment is sent while waiting for the first token", async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "scripted-slow", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    expect(text).toContain(": keep-alive\n\n");
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  test("a stream carries the request id (the client's own when it sent one) and no-cache", async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-from-client" },
      body: JSON.stringify({ model: "scripted-x", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.headers.get("x-request-id")).toBe("req-from-client");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(await res.text()).toContain("data: [DONE]");
  });

  test("a stream that breaks ends with an error frame whose request_id is the chunks' id", async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "scripted-break", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    const frames = (await res.text()).split("\n\n").filter((f) => f.startsWith("data: {")).map((f) => JSON.parse(f.slice(6)));
    const error = frames.find((f) => f.error);
    const chunks = frames.filter((f) => f.object === "chat.completion.chunk");
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks[0].id).toMatch(/^chatcmpl_[0-9a-f-]{36}$/);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(error.request_id).toBe(chunks[0].id);
  });

  test("stream_options.include_usage adds OpenAI's usage chunk", async () => {
    const stream = await client.chat.completions.create({ model: "scripted-x", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
    let usage;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
  });
});

describe("a client that goes away cancels the upstream request", () => {
  async function cancelled(model: string): Promise<boolean> {
    for (let i = 0; i < 100 && !cancelledUpstream.has(model); i++) await Bun.sleep(20);
    return cancelledUpstream.has(model);
  }
  const post = (model: string, stream: boolean, signal: AbortSignal) =>
    fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }),
      signal,
    });

  test("mid-stream, after the first token", async () => {
    const leave = new AbortController();
    const res = await post("scripted-hang-token", true, leave.signal);
    const reader = res.body!.getReader();
    let seen = "";
    while (!seen.includes('"tok"')) seen += new TextDecoder().decode((await reader.read()).value);
    leave.abort();
    expect(await cancelled("scripted-hang-token")).toBe(true);
  });

  test("while a stream still waits for its first token", async () => {
    const leave = new AbortController();
    const res = await post("scripted-hang-stream", true, leave.signal);
    expect(res.status).toBe(200);
    leave.abort();
    expect(await cancelled("scripted-hang-stream")).toBe(true);
  });

  test("before a plain answer came", async () => {
    const leave = new AbortController();
    const pending = post("scripted-hang-plain", false, leave.signal).catch(() => "left");
    await Bun.sleep(100);
    leave.abort();
    expect(await pending).toBe("left");
    expect(await cancelled("scripted-hang-plain")).toBe(true);
  });
});

describe("bad input gets an OpenAI-style error naming the field", () => {
  const raw = (body: unknown) =>
    fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("missing model", async () => {
    const res = await raw({ messages: [{ role: "user", content: "x" }] });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.param).toBe("model");
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.request_id).toBeString();
  });

  test("missing or empty messages", async () => {
    expect((await (await raw({ model: "m" })).json()).error.param).toBe("messages");
    const empty = await raw({ model: "m", messages: [] });
    expect(empty.status).toBe(400);
    expect((await empty.json()).error.param).toBe("messages");
  });

  test("tools that are not an array, and a tool without a name (through the SDK)", async () => {
    const notArray = await raw({ model: "m", messages: [{ role: "user", content: "x" }], tools: { type: "function" } });
    expect(notArray.status).toBe(400);
    expect((await notArray.json()).error.param).toBe("tools");
    const error = await client.chat.completions
      .create({ model: "m", messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { description: "no name" } as any }] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.status).toBe(400);
    expect(error.param).toBe("tools[0].function.name");
  });

  test("a replayed assistant turn whose tool call lacks its function is 400 naming the field", async () => {
    for (const [calls, param] of [
      [[{}], "messages.1.tool_calls.0.function"],
      [[{ type: "function", function: { arguments: "{}" } }], "messages.1.tool_calls.0.function.name"],
      [[{ type: "function", function: { name: "f" } }], "messages.1.tool_calls.0.function.arguments"],
      [["f"], "messages.1.tool_calls.0"],
    ] as const) {
      const res = await raw({ model: "m", messages: [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: calls }, { role: "tool", tool_call_id: "a", content: "r" }] });
      expect(res.status).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
  });

  test("an upstream that is down: 502 naming the upstream, stream or not", async () => {
    const error = await client.chat.completions.create({ model: "down-1", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(502);
    expect(error.message).toContain("upstream model 'ollama' failed");
    expect(error.message).toContain("127.0.0.1:1");
    const streamError = await client.chat.completions.create({ model: "down-1", messages: [{ role: "user", content: "x" }], stream: true }).catch((e) => e);
    expect(streamError.status).toBe(502);
  });

  test("an unknown model when the service only serves listed models", async () => {
    const strict = tempProject();
    const config = strict.config("plugins:\n  echo: {}\n  assistant:\n    port: 0\n    any_model: false\n");
    const k = await Kernel.load({ root: repoRoot, configFile: config, env: {} });
    await k.start();
    try {
      const sdk = new OpenAI({ baseURL: `${k.server("assistant")!.url}/v1`, apiKey: "x", maxRetries: 0 });
      const error = await sdk.chat.completions.create({ model: "gpt-9", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error.param).toBe("model");
      expect(error.message).toContain("gpt-9");
      const ok = await sdk.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "fine" }] });
      expect(ok.choices[0].message.content).toBe("fine");
    } finally {
      await k.stop();
      strict.remove();
    }
  });
});
