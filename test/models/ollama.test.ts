import { afterEach, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ModelError } from "../../core/kinds/model.ts";
import { createOllamaClient } from "../../plugins/models/ollama/client.ts";
import { OllamaConfig } from "../../plugins/models/ollama/config.ts";
import { collect, failure, fastRetries, json, ndjson, SECRET_KEY, serveLoopback, type Loopback } from "./support/loopback.ts";
import { describeTransport } from "./support/transport-suite.ts";

const at = "2025-01-01T00:00:00Z";
const line = (content: string) => ({ model: "llama3.2", created_at: at, message: { role: "assistant", content }, done: false });
const last = (reason = "stop") => ({
  model: "llama3.2",
  created_at: at,
  message: { role: "assistant", content: "" },
  done: true,
  done_reason: reason,
  total_duration: 1000,
  prompt_eval_count: 26,
  eval_count: 4,
});
const okLines = [line("The"), line(" sky"), line(" is blue."), last()];

const client = (base: string, overrides: Record<string, unknown> = {}, log?: (m: string, f?: Record<string, unknown>) => void) =>
  createOllamaClient({ host: base, api_key: SECRET_KEY, model: "llama3.2", ...fastRetries, ...overrides }, { fetch, log });

const ask = [{ role: "user" as const, content: "why is the sky blue?" }];

describeTransport("ollama", {
  client,
  ok: (opts) => ndjson(okLines, { ...opts, lead: "\n" }),
  okText: "The sky is blue.",
  error: (status, message, headers) => json(status, { error: message }, headers),
  cutPieces: [`${JSON.stringify(line("The"))}\n`, `${JSON.stringify(line(" sky"))}\n`],
  contentType: "application/x-ndjson",
});

describe("ollama: chat", () => {
  let upstream: Loopback | undefined;
  afterEach(() => upstream?.stop());

  test("streams message.content and finishes with done_reason and eval counts", async () => {
    upstream = serveLoopback(() => ndjson(okLines));
    const events = await collect(client(upstream.base).chat(ask));
    expect(events).toEqual([
      { type: "text", text: "The" },
      { type: "text", text: " sky" },
      { type: "text", text: " is blue." },
      { type: "finish", reason: "stop", usage: { prompt_tokens: 26, completion_tokens: 4, total_tokens: 30 } },
    ]);
  });

  test("posts /api/chat with options (stop words included) and never pulls the model", async () => {
    upstream = serveLoopback(() => ndjson(okLines));
    await collect(
      client(upstream.base, { keep_alive: "10m" }).chat(ask, {
        temperature: 0.1,
        top_p: 0.5,
        max_tokens: 64,
        stop: ["Observation:", "\n\n"],
        seed: 3,
        extra: { options: { num_ctx: 8192 }, think: false },
      }),
    );
    expect(upstream.received.map((r) => r.path)).toEqual(["/api/chat"]);
    expect(upstream.received[0].body).toEqual({
      model: "llama3.2",
      messages: ask,
      stream: true,
      keep_alive: "10m",
      think: false,
      options: { temperature: 0.1, top_p: 0.5, num_predict: 64, stop: ["Observation:", "\n\n"], seed: 3, num_ctx: 8192 },
    });
  });

  test("native tool calls become complete tool_call events and finish as tool_calls", async () => {
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];
    upstream = serveLoopback(() =>
      ndjson([
        {
          model: "llama3.2",
          created_at: at,
          message: {
            role: "assistant",
            content: "",
            tool_calls: [
              { function: { name: "get_weather", arguments: { city: "Toronto" } } },
              { id: "call_x", function: { index: 1, name: "get_time", arguments: {} } },
            ],
          },
          done: false,
        },
        last("stop"),
      ]),
    );
    const events = await collect(client(upstream.base).chat(ask, { tools }));
    expect(upstream.received[0].body.tools).toEqual(tools);
    expect(events).toEqual([
      { type: "tool_call", index: 0, name: "get_weather", arguments: '{"city":"Toronto"}' },
      { type: "tool_call", index: 1, id: "call_x", name: "get_time", arguments: "{}" },
      { type: "finish", reason: "tool_calls", usage: { prompt_tokens: 26, completion_tokens: 4, total_tokens: 30 } },
    ]);
  });

  test("images go in the message's images list as base64, the text in content; a link is refused, not dropped", async () => {
    upstream = serveLoopback(() => ndjson(okLines));
    const vision = client(upstream.base);
    expect(vision.imageUrls).toBe("data-only");
    await collect(
      vision.chat([
        { role: "user", content: [{ type: "text", text: "what is" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==" } }, { type: "text", text: "this?" }] },
      ]),
    );
    expect(upstream.received[0].body.messages).toEqual([{ role: "user", content: "what is\nthis?", images: ["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="] }]);
    const link = await failure(vision.chat([{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.test/cat.png" } }] }]));
    expect(link).toBeInstanceOf(ModelError);
    expect(link.message).toContain("data:<mime>;base64");
    expect(upstream.received).toHaveLength(1);
    expect(client(upstream.base, { supports_images: false }).imageUrls).toBeUndefined();
  });

  test("tool history is sent in Ollama's shape (object arguments, tool_name)", async () => {
    upstream = serveLoopback(() => ndjson(okLines));
    await collect(
      client(upstream.base).chat([
        ...ask,
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
        { role: "tool", content: "-3C", tool_call_id: "c1", name: "get_weather" },
      ]),
    );
    expect(upstream.received[0].body.messages.slice(1)).toEqual([
      { role: "assistant", content: "", tool_calls: [{ function: { name: "get_weather", arguments: { city: "Oslo" } } }] },
      { role: "tool", content: "-3C", tool_name: "get_weather" },
    ]);
  });

  test('tool_choice "none" and supports_tools false keep tools out of the request', async () => {
    upstream = serveLoopback(() => ndjson(okLines));
    const tools = [{ type: "function" as const, function: { name: "f" } }];
    await collect(client(upstream.base).chat(ask, { tools, tool_choice: "none" }));
    await collect(client(upstream.base, { supports_tools: false }).chat(ask, { tools }));
    expect(upstream.received.map((r) => r.body.tools)).toEqual([undefined, undefined]);
  });

  test("an error line in the stream is a ModelError", async () => {
    upstream = serveLoopback(() => ndjson([line("par"), { error: "an unknown error was encountered while running the model" }]));
    const error = await failure(client(upstream.base).chat(ask));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain("an unknown error was encountered");
  });

  test("a model that is not pulled is a 404 ModelError that says to pull it, not a pull", async () => {
    upstream = serveLoopback(() => json(404, { error: "model 'llama9' not found" }));
    const error = await failure(client(upstream.base).chat(ask, { model: "llama9" }));
    expect(error.status).toBe(404);
    expect(error.message).toContain("model 'llama9' not found (pull it on the Ollama host first)");
    expect(upstream.received.map((r) => r.path)).toEqual(["/api/chat"]);
  });

  test("a stream that closes before done:true was cut", async () => {
    upstream = serveLoopback(() => ndjson([line("The"), line(" sky")]));
    const error = await failure(client(upstream.base).chat(ask));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain('"done": true');
  });

  test("models come from /api/tags", async () => {
    upstream = serveLoopback(() => json(200, { models: [{ name: "llama3.2:latest", model: "llama3.2:latest" }, { name: "qwen2.5:7b" }] }));
    expect(await client(upstream.base).models()).toEqual(["llama3.2:latest", "qwen2.5:7b"]);
    expect(upstream.received[0].path).toBe("/api/tags");
  });

  test("config schema: defaults", () => {
    const config = Value.Default(OllamaConfig, { model: "llama3.2" });
    expect(Value.Check(OllamaConfig, config)).toBe(true);
    expect(config).toMatchObject({ host: "http://localhost:11434", supports_tools: true });
  });
});
