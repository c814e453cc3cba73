import { afterEach, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ModelError } from "../../core/kinds/model.ts";
import { createVllmClient } from "../../plugins/models/vllm/client.ts";
import { VllmConfig } from "../../plugins/models/vllm/config.ts";
import { collect, failure, fastRetries, json, SECRET_KEY, serveLoopback, sse, type Loopback } from "./support/loopback.ts";
import { describeTransport } from "./support/transport-suite.ts";

/** vLLM's chunks: the finish reason rides on the last text chunk, usage comes in a choices-less chunk. */
function chunk(content: string, finish: string | null = null) {
  return { id: "chatcmpl-v", object: "chat.completion.chunk", created: 1, model: "qwen", choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }] };
}
const usage = { id: "chatcmpl-v", object: "chat.completion.chunk", created: 1, model: "qwen", choices: [], usage: { prompt_tokens: 5, total_tokens: 8, completion_tokens: 3 } };
const okFrames = [chunk(""), chunk("Bonjour"), chunk(" tout", null), chunk(" le monde", "stop"), usage];

const client = (base: string, overrides: Record<string, unknown> = {}, log?: (m: string, f?: Record<string, unknown>) => void) =>
  createVllmClient({ api_base: `${base}/v1`, api_key: SECRET_KEY, model: "qwen", ...fastRetries, ...overrides }, { fetch, log });

describeTransport("vllm", {
  client,
  ok: (opts) => sse(okFrames, { ...opts, lead: ": ok\n\n" }),
  okText: "Bonjour tout le monde",
  // vLLM's own error body
  error: (status, message, headers) => json(status, { object: "error", message, type: "BadRequestError", param: null, code: status }, headers),
  cutPieces: [`data: ${JSON.stringify(chunk("Bon"))}\n\n`],
  contentType: "text/event-stream",
});

describe("vllm: quirks", () => {
  let upstream: Loopback | undefined;
  afterEach(() => upstream?.stop());

  test("image_url parts reach vLLM's OpenAI-compatible server as they are", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const content = [{ type: "image_url" as const, image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } }, { type: "text" as const, text: "describe" }];
    const vllm = client(upstream.base);
    expect(vllm.imageUrls).toBe("any");
    await collect(vllm.chat([{ role: "user", content }]));
    expect(upstream.received[0].body.messages).toEqual([{ role: "user", content }]);
  });

  test("always asks for usage, sends key EMPTY when none is configured, and is named vllm", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const vllm = createVllmClient({ api_base: `${upstream.base}/v1`, model: "qwen" }, { fetch });
    expect(vllm.name).toBe("vllm");
    const events = await collect(vllm.chat([{ role: "user", content: "salut" }]));
    expect(upstream.received[0].headers.get("authorization")).toBe("Bearer EMPTY");
    expect(upstream.received[0].body.stream_options).toEqual({ include_usage: true });
    expect(events.at(-1)).toEqual({ type: "finish", reason: "stop", usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
  });

  test("tools are off by default (vLLM rejects them without --enable-auto-tool-choice) and can be enabled", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    const tools = [{ type: "function" as const, function: { name: "f" } }];
    const plain = client(upstream.base);
    expect(plain.supportsTools).toBe(false);
    await collect(plain.chat([{ role: "user", content: "x" }], { tools }));
    expect(upstream.received[0].body.tools).toBeUndefined();
    const withTools = client(upstream.base, { supports_tools: true });
    await collect(withTools.chat([{ role: "user", content: "x" }], { tools }));
    expect(upstream.received[1].body.tools).toEqual(tools);
  });

  test("sampling extras such as top_k and repetition_penalty pass through", async () => {
    upstream = serveLoopback(() => sse(okFrames));
    await collect(client(upstream.base).chat([{ role: "user", content: "x" }], { extra: { top_k: 20, repetition_penalty: 1.05 } }));
    expect(upstream.received[0].body).toMatchObject({ top_k: 20, repetition_penalty: 1.05 });
  });

  test("vLLM's in-stream error object is a ModelError with its code as status", async () => {
    upstream = serveLoopback(() => sse([chunk("a"), { object: "error", message: "max_tokens is too large", type: "BadRequestError", code: 400 }]));
    const error = await failure(client(upstream.base).chat([{ role: "user", content: "x" }]));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("max_tokens is too large");
  });

  test("models come from /v1/models", async () => {
    upstream = serveLoopback(() => json(200, { object: "list", data: [{ id: "Qwen/Qwen2.5-7B-Instruct", object: "model", owned_by: "vllm" }] }));
    expect(await client(upstream.base).models()).toEqual(["Qwen/Qwen2.5-7B-Instruct"]);
    expect(upstream.received[0].path).toBe("/v1/models");
  });

  test("config schema: defaults and required model", () => {
    const config = Value.Default(VllmConfig, { model: "qwen" });
    expect(Value.Check(VllmConfig, config)).toBe(true);
    expect(config).toMatchObject({ api_base: "http://localhost:8000/v1", supports_tools: false });
    expect(Value.Check(VllmConfig, { api_base: "http://x" })).toBe(false);
  });
});
