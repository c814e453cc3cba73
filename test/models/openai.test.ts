import { afterEach, describe, expect, test } from "bun:test";
import { ModelError } from "../../core/kinds/model.ts";
import { createOpenAIClient } from "../../plugins/protocol/openai-chat/client.ts";
import { OpenAIConfig } from "../../plugins/protocol/openai-chat/config.ts";
import { Value } from "@sinclair/typebox/value";
import { collect, failure, fastRetries, json, SECRET_KEY, serveLoopback, sse, textOf, type Loopback } from "./support/loopback.ts";
import { describeTransport } from "./support/transport-suite.ts";

function chunk(delta: Record<string, unknown>, finish: string | null = null) {
  return { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-test", choices: [{ index: 0, delta, finish_reason: finish }] };
}

const usageChunk = { id: "chatcmpl-1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } };

const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

const okFrames = [chunk({ role: "assistant", content: "" }), chunk({ content: "Hello" }), chunk({ content: ", world" }), chunk({}, "stop"), usageChunk];

const client = (base: string, overrides: Record<string, unknown> = {}, log?: (m: string, f?: Record<string, unknown>) => void) =>
  createOpenAIClient({ api_base: `${base}/v1`, api_key: SECRET_KEY, model: "gpt-test", ...fastRetries, ...overrides }, { fetch, log });

describeTransport("openai", {
  client,
  ok: (opts) => sse(okFrames, { ...opts, lead: ": ok\n\n" }),
  okText: "Hello, world",
  error: (status, message, headers) => json(status, { error: { message, type: "invalid_request_error", code: null } }, headers),
  cutPieces: [`data: ${JSON.stringify(chunk({ content: "Hel" }))}\n\n`, `data: ${JSON.stringify(chunk({ content: "lo" }))}\n\n`],
  contentType: "text/event-stream",
});

describe("openai: chat", () => {
  let upstream: Loopback | undefined;
  afterEach(() => upstream?.stop());

  test("streams text deltas, then one finish with the include_usage usage", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const events = await collect(client(upstream.base).chat([{ role: "user", content: "hi" }]));
    expect(events).toEqual([
      { type: "text", text: "Hello" },
      { type: "text", text: ", world" },
      { type: "finish", reason: "stop", usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } },
    ]);
  });

  test("posts the documented request: bearer key, stream, include_usage, options and extra", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    await collect(
      client(upstream.base).chat([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], {
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 50,
        stop: ["Observation:"],
        seed: 7,
        extra: { presence_penalty: 0.5, stream: false, stream_options: { continuous_usage_stats: true } },
      }),
    );
    const [request] = upstream.received;
    expect([request.method, request.path]).toEqual(["POST", "/v1/chat/completions"]);
    expect(request.headers.get("authorization")).toBe(`Bearer ${SECRET_KEY}`);
    expect(request.body).toEqual({
      model: "gpt-test",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      stream: true,
      stream_options: { continuous_usage_stats: true, include_usage: true },
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      stop: ["Observation:"],
      seed: 7,
      presence_penalty: 0.5,
    });
  });

  test("a request's model wins over the configured one; no key means no Authorization header", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const keyless = createOpenAIClient({ api_base: `${upstream.base}/v1`, model: "gpt-test" }, { fetch });
    await collect(keyless.chat([{ role: "user", content: "hi" }], { model: "other" }));
    expect(upstream.received[0].body.model).toBe("other");
    expect(upstream.received[0].headers.get("authorization")).toBeNull();
  });

  test("native tools are sent, and tool_call deltas become tool_call events", async () => {
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];
    upstream = serveLoopback(() =>
      sse([
        chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } }] }),
        chunk({}, "tool_calls"),
        usageChunk,
      ]),
    );
    const weather = client(upstream.base);
    expect(weather.supportsTools).toBe(true);
    const events = await collect(weather.chat([{ role: "user", content: "weather?" }], { tools, tool_choice: "auto" }));
    expect(upstream.received[0].body.tools).toEqual(tools);
    expect(upstream.received[0].body.tool_choice).toBe("auto");
    expect(events).toEqual([
      { type: "tool_call", index: 0, id: "call_1", name: "get_weather", arguments: "" },
      { type: "tool_call", index: 0, arguments: '{"city":' },
      { type: "tool_call", index: 0, arguments: '"Paris"}' },
      { type: "tool_call", index: 1, id: "call_2", name: "get_time", arguments: "{}" },
      { type: "finish", reason: "tool_calls", usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } },
    ]);
  });

  test("assistant tool calls and tool results are sent in OpenAI's shape", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const call = { id: "call_1", type: "function" as const, function: { name: "f", arguments: "{}" } };
    await collect(
      client(upstream.base).chat([
        { role: "user", content: "go" },
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", content: "42", tool_call_id: "call_1", name: "f" },
      ]),
    );
    expect(upstream.received[0].body.messages).toEqual([
      { role: "user", content: "go" },
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", content: "42", name: "f", tool_call_id: "call_1" },
    ]);
  });

  test("image_url parts are sent as OpenAI's vision parts, in order; supports_images false declares none", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const content = [
      { type: "text" as const, text: "What is in this picture?" },
      { type: "image_url" as const, image_url: { url: "https://example.test/cat.png", detail: "low" } },
      { type: "image_url" as const, image_url: { url: PNG } },
    ];
    const vision = client(upstream.base);
    expect(vision.imageUrls).toBe("any");
    await collect(vision.chat([{ role: "system", content: "be brief" }, { role: "user", content }]));
    expect(upstream.received[0].body.messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content }]);
    expect(client(upstream.base, { supports_images: false }).imageUrls).toBeUndefined();
  });

  test("with supports_tools false, tools are not sent", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const plain = client(upstream.base, { supports_tools: false });
    expect(plain.supportsTools).toBe(false);
    await collect(plain.chat([{ role: "user", content: "hi" }], { tools: [{ type: "function", function: { name: "f" } }], tool_choice: "auto" }));
    expect(upstream.received[0].body.tools).toBeUndefined();
    expect(upstream.received[0].body.tool_choice).toBeUndefined();
  });

  test("include_usage false leaves stream_options out, and finish carries no usage", async () => {
    upstream = serveLoopback(() => sse(okFrames.slice(0, 4)));
    const events = await collect(client(upstream.base, { include_usage: false }).chat([{ role: "user", content: "hi" }]));
    expect(upstream.received[0].body.stream_options).toBeUndefined();
    expect(events.at(-1)).toEqual({ type: "finish", reason: "stop" });
  });

  test("an error object inside the stream is a ModelError with its message", async () => {
    upstream = serveLoopback(() => sse([chunk({ content: "partial" }), { error: { message: "context overflow", type: "server_error" } }]));
    const error = await failure(client(upstream.base).chat([{ role: "user", content: "hi" }]));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain("context overflow");
  });

  test("a stream that ends cleanly without [DONE] or a finish reason was cut", async () => {
    upstream = serveLoopback(() => sse([chunk({ content: "Hel" })], { done: false }));
    const error = await failure(client(upstream.base).chat([{ role: "user", content: "hi" }]));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain("without [DONE]");
  });

  test("a data line that is not JSON is a ModelError naming the frame", async () => {
    upstream = serveLoopback(() => sse(["{not json"]));
    const error = await failure(client(upstream.base).chat([{ role: "user", content: "hi" }]));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain("{not json");
  });
});

describe("openai: models", () => {
  let upstream: Loopback | undefined;
  afterEach(() => upstream?.stop());

  test("lists GET {api_base}/models with the key", async () => {
    upstream = serveLoopback(() => json(200, { object: "list", data: [{ id: "gpt-a", object: "model" }, { id: "gpt-b", object: "model" }] }));
    expect(await client(upstream.base).models()).toEqual(["gpt-a", "gpt-b"]);
    expect(upstream.received[0].path).toBe("/v1/models");
    expect(upstream.received[0].headers.get("authorization")).toBe(`Bearer ${SECRET_KEY}`);
  });

  test("falls back to the configured model when listing fails", async () => {
    upstream = serveLoopback(() => json(404, { error: { message: "not found" } }));
    const logged: string[] = [];
    expect(await client(upstream.base, {}, (m) => logged.push(m)).models()).toEqual(["gpt-test"]);
    expect(logged.join()).toContain("listing models failed");
  });

  test("a configured list is used as is, without asking the upstream", async () => {
    upstream = serveLoopback(() => json(500, {}));
    expect(await client(upstream.base, { models: ["x", "y"] }).models()).toEqual(["x", "y"]);
    expect(upstream.received.length).toBe(0);
  });
});

describe("openai: config schema", () => {
  test("accepts a minimal config, fills defaults, rejects unknown keys", () => {
    const config = Value.Default(OpenAIConfig, { model: "gpt-test" });
    expect(Value.Check(OpenAIConfig, config)).toBe(true);
    expect(config).toMatchObject({ api_base: "https://api.openai.com/v1", supports_tools: true, timeout_ms: 300_000, max_retries: 2 });
    expect(Value.Check(OpenAIConfig, { model: "m", api_kye: "typo" })).toBe(false);
    expect(Value.Check(OpenAIConfig, {})).toBe(false);
  });
});
