import { afterEach, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ModelError } from "../../core/kinds/model.ts";
import { createDashScopeClient } from "../../plugins/models/dashscope/client.ts";
import { DashScopeConfig } from "../../plugins/models/dashscope/config.ts";
import { CumulativeText, type Revision } from "../../plugins/models/dashscope/cumulative.ts";
import { collect, failure, fastRetries, json, SECRET_KEY, serveLoopback, streamedBody, textOf, type Loopback } from "./support/loopback.ts";
import { describeTransport } from "./support/transport-suite.ts";

let frameId = 0;

/** One SSE event as DashScope sends it (result_format "message"). */
function frame(content: string, finish = "null", outputTokens = 1): string {
  const data = {
    output: { choices: [{ message: { content, role: "assistant" }, finish_reason: finish }] },
    usage: { total_tokens: 10 + outputTokens, output_tokens: outputTokens, input_tokens: 10 },
    request_id: "req-123",
  };
  return `id:${++frameId}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(data)}\n\n`;
}

function errorFrame(status: number, code: string, message: string): string {
  return `id:${++frameId}\nevent:error\n:HTTP_STATUS/${status}\ndata:${JSON.stringify({ code, message, request_id: "req-err" })}\n\n`;
}

function sseOf(pieces: string[], opts: { firstDelayMs?: number; delayMs?: number } = {}): Response {
  return new Response(streamedBody(pieces, { ...opts, lead: ":ok\n\n" }), { headers: { "content-type": "text/event-stream" } });
}

const cumulativeFrames = () => [frame("你好", "null", 1), frame("你好，世界", "null", 3), frame("你好，世界！", "stop", 4)];

const client = (base: string, overrides: Record<string, unknown> = {}, log?: (m: string, f?: Record<string, unknown>) => void) =>
  createDashScopeClient({ api_base: base, api_key: SECRET_KEY, model: "qwen-max", ...fastRetries, ...overrides }, { fetch, log });

const ask = [{ role: "user" as const, content: "打个招呼" }];

describeTransport("dashscope", {
  client,
  ok: (opts) => sseOf(cumulativeFrames(), opts),
  okText: "你好，世界！",
  error: (status, message, headers) => json(status, { code: "Throttling", message, request_id: "req-http" }, headers),
  cutPieces: [frame("你好"), frame("你好，世")],
  contentType: "text/event-stream",
});

describe("dashscope: chat", () => {
  let upstream: Loopback | undefined;
  afterEach(() => upstream?.stop());

  test("diffs cumulative frames into deltas and reports usage from input/output tokens", async () => {
    upstream = serveLoopback(() => sseOf(cumulativeFrames()));
    const events = await collect(client(upstream.base).chat(ask));
    expect(events).toEqual([
      { type: "text", text: "你好" },
      { type: "text", text: "，世界" },
      { type: "text", text: "！" },
      { type: "finish", reason: "stop", usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 } },
    ]);
  });

  test("posts the native request: SSE header, bearer key, input.messages, parameters", async () => {
    upstream = serveLoopback(() => sseOf(cumulativeFrames()));
    await collect(
      client(upstream.base).chat([{ role: "system", content: "简短" }, ...ask], {
        temperature: 0.3,
        top_p: 0.8,
        max_tokens: 100,
        stop: ["Observation:"],
        seed: 1,
        extra: { enable_search: true, result_format: "text" },
      }),
    );
    const [request] = upstream.received;
    expect([request.method, request.path]).toEqual(["POST", "/api/v1/services/aigc/text-generation/generation"]);
    expect(request.headers.get("x-dashscope-sse")).toBe("enable");
    expect(request.headers.get("authorization")).toBe(`Bearer ${SECRET_KEY}`);
    expect(request.body).toEqual({
      model: "qwen-max",
      input: { messages: [{ role: "system", content: "简短" }, ...ask] },
      parameters: {
        temperature: 0.3,
        top_p: 0.8,
        max_tokens: 100,
        stop: ["Observation:"],
        seed: 1,
        enable_search: true,
        result_format: "message",
        incremental_output: false,
      },
    });
  });

  test("a request with images goes to the multimodal API, every content as {text}/{image} items; its list answer is read", async () => {
    const listFrame = (text: string, finish = "null") =>
      `id:${++frameId}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({ output: { choices: [{ message: { content: [{ text }], role: "assistant" }, finish_reason: finish }] }, request_id: "r" })}\n\n`;
    upstream = serveLoopback(() => sseOf([listFrame("一只"), listFrame("一只猫", "stop")]));
    const vision = client(upstream.base);
    expect(vision.imageUrls).toBe("any");
    const events = await collect(
      vision.chat([
        { role: "system", content: "简短" },
        { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.test/cat.png" } }, { type: "text", text: "这是什么？" }] },
      ]),
    );
    expect(textOf(events)).toBe("一只猫");
    const [request] = upstream.received;
    expect(request.path).toBe("/api/v1/services/aigc/multimodal-generation/generation");
    expect(request.body.input).toEqual({
      messages: [
        { role: "system", content: [{ text: "简短" }] },
        { role: "user", content: [{ image: "https://example.test/cat.png" }, { text: "这是什么？" }] },
      ],
    });
    expect(client(upstream.base, { supports_images: false }).imageUrls).toBeUndefined();
  });

  test("incremental_output: frames are deltas already", async () => {
    upstream = serveLoopback(() => sseOf([frame("你好"), frame("，世界"), frame("！", "stop", 4)]));
    const events = await collect(client(upstream.base, { incremental_output: true }).chat(ask));
    expect(upstream.received[0].body.parameters.incremental_output).toBe(true);
    expect(textOf(events)).toBe("你好，世界！");
  });

  test("a frame that rewrites streamed text resumes after the emitted text, without repeating it, and logs it", async () => {
    upstream = serveLoopback(() => sseOf([frame("Hello wor"), frame("Hello, world"), frame("Hello, world!", "stop")]));
    const logged: Record<string, unknown>[] = [];
    const events = await collect(client(upstream.base, {}, (_m, f) => logged.push(f ?? {})).chat(ask));
    expect(textOf(events)).toBe("Hello world!");
    expect(logged).toEqual([{ at: 5, emitted: 9, frame: 12 }]);
  });

  test("a half-decoded character at the end of a frame is held back until the next frame fixes it", async () => {
    upstream = serveLoopback(() => sseOf([frame("ab\uFFFD"), frame("ab好"), frame("ab好!", "stop")]));
    const events = await collect(client(upstream.base).chat(ask));
    expect(events.filter((e) => e.type === "text")).toEqual([
      { type: "text", text: "ab" },
      { type: "text", text: "好" },
      { type: "text", text: "!" },
    ]);
  });

  test("an error frame is a ModelError with its HTTP status, code, message and request id", async () => {
    upstream = serveLoopback(() => sseOf([errorFrame(400, "InvalidParameter", "Range of input length should be [1, 30720]")]));
    const error = await failure(client(upstream.base).chat(ask));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("InvalidParameter: Range of input length should be [1, 30720] (request_id req-err)");
    expect(upstream.received.length).toBe(1);
  });

  test("an error frame after some text still fails the stream", async () => {
    upstream = serveLoopback(() => sseOf([frame("半"), errorFrame(500, "InternalError", "model crashed")]));
    const error = await failure(client(upstream.base).chat(ask));
    expect([error.status, error.message.includes("model crashed")]).toEqual([500, true]);
  });

  test("finish_reason length is passed on", async () => {
    upstream = serveLoopback(() => sseOf([frame("太长"), frame("太长了", "length")]));
    const events = await collect(client(upstream.base).chat(ask));
    expect(events.at(-1)).toMatchObject({ type: "finish", reason: "length" });
  });

  test("an answer in output.text (models without result_format message) is read too", async () => {
    const textFrame = (text: string, finish: string) =>
      `event:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({ output: { text, finish_reason: finish }, usage: { input_tokens: 2, output_tokens: 2 } })}\n\n`;
    upstream = serveLoopback(() => sseOf([textFrame("ok", "null"), textFrame("okay", "stop")]));
    const events = await collect(client(upstream.base).chat(ask));
    expect(events).toEqual([
      { type: "text", text: "ok" },
      { type: "text", text: "ay" },
      { type: "finish", reason: "stop", usage: { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 } },
    ]);
  });

  test("a stream that closes before a finishing frame was cut", async () => {
    upstream = serveLoopback(() => sseOf([frame("你"), frame("你好")]));
    const error = await failure(client(upstream.base).chat(ask));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.message).toContain("before a frame with a finish_reason");
  });

  test("the HTTP error body's code, message and request id are reported", async () => {
    upstream = serveLoopback(() => json(401, { code: "InvalidApiKey", message: "Invalid API-key provided.", request_id: "req-401" }));
    const error = await failure(client(upstream.base).chat(ask));
    expect(error.status).toBe(401);
    expect(error.message).toContain("InvalidApiKey: Invalid API-key provided. (request_id req-401)");
  });

  test("models are the configured ones", async () => {
    const models = await createDashScopeClient({ api_key: SECRET_KEY, model: "qwen-max", models: ["qwen-plus", "qwen-max"] }, { fetch }).models();
    expect(models).toEqual(["qwen-max", "qwen-plus"]);
  });

  test("config schema requires the key and the model", () => {
    expect(Value.Check(DashScopeConfig, Value.Default(DashScopeConfig, { api_key: "k", model: "qwen-max" }))).toBe(true);
    expect(Value.Check(DashScopeConfig, { model: "qwen-max" })).toBe(false);
    expect(Value.Check(DashScopeConfig, { api_key: "", model: "qwen-max" })).toBe(false);
  });
});

describe("CumulativeText", () => {
  test("prefix extensions give their new part", () => {
    const text = new CumulativeText();
    expect(["a", "ab", "abc"].map((f) => text.next(f))).toEqual(["a", "b", "c"]);
  });

  test("a frame shorter than what was emitted gives nothing and reports no revision", () => {
    const revisions: Revision[] = [];
    const text = new CumulativeText((r) => revisions.push(r));
    expect([text.next("abcd"), text.next("ab"), text.next("abcde")]).toEqual(["abcd", "", "e"]);
    expect(revisions).toEqual([]);
  });

  test("a rewrite whose emitted end cannot be found again resumes at the emitted length", () => {
    const text = new CumulativeText();
    expect(text.next("The cat sat")).toBe("The cat sat");
    expect(text.next("The dog slept well")).toBe("pt well");
  });

  test("a shorter rewritten frame waits, and the next one is aligned on the emitted end", () => {
    const revisions: Revision[] = [];
    const text = new CumulativeText((r) => revisions.push(r));
    expect(text.next("Hello world")).toBe("Hello world");
    expect(text.next("Hello, wor")).toBe("");
    expect(text.next("Hello, world!")).toBe("!");
    expect(revisions.length).toBe(2);
  });

  test("a lone high surrogate is held back until its pair arrives", () => {
    const text = new CumulativeText();
    const emoji = "🎉";
    expect(text.next(`x${emoji[0]}`)).toBe("x");
    expect(text.next(`x${emoji}`)).toBe(emoji);
  });

  test("finish releases a held-back tail that really is the end", () => {
    const text = new CumulativeText();
    expect(text.next("a\uFFFD")).toBe("a");
    expect(text.finish("a\uFFFD")).toBe("\uFFFD");
  });
});
