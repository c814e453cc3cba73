/**
 * embed() of the openai, vllm, ollama and dashscope clients against loopback servers that speak each vendor's
 * embeddings wire format: the requests they receive (path, key, body, batches of the vendor's size) and the vectors
 * given back in input order, whatever order the upstream lists them in.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Kernel } from "../../core/kernel.ts";
import { ModelError, type ModelClient } from "../../core/kinds/model.ts";
import { createDashScopeClient } from "../../plugins/models/dashscope/client.ts";
import { createOllamaClient } from "../../plugins/models/ollama/client.ts";
import { createVllmClient } from "../../plugins/models/vllm/client.ts";
import { createOpenAIClient } from "../../plugins/protocol/openai-chat/client.ts";
import { repoRoot, tempProject } from "../support/project.ts";
import { fastRetries, json, SECRET_KEY, serveLoopback, type Loopback, type Received } from "./support/loopback.ts";

/** A vector that says which text it belongs to. */
const vectorOf = (text: string) => [text.length, text.codePointAt(0) ?? 0, 0.5];
const texts = (n: number) => Array.from({ length: n }, (_, i) => `text ${"x".repeat(i)}${String.fromCodePoint(0x41 + i)}`);

/** OpenAI's answer, entries listed backwards (the index is what orders them). */
const openaiAnswer = (request: Received) =>
  json(200, {
    object: "list",
    data: (request.body.input as string[]).map((text, index) => ({ object: "embedding", index, embedding: vectorOf(text) })).reverse(),
    model: request.body.model,
    usage: { prompt_tokens: 3, total_tokens: 3 },
  });

const ollamaAnswer = (request: Received) => json(200, { model: request.body.model, embeddings: (request.body.input as string[]).map(vectorOf), total_duration: 1, prompt_eval_count: 3 });

const dashscopeAnswer = (request: Received) =>
  json(200, {
    output: { embeddings: (request.body.input.texts as string[]).map((text, text_index) => ({ text_index, embedding: vectorOf(text) })).reverse() },
    usage: { total_tokens: 3 },
    request_id: "req-emb",
  });

async function embedFailure(client: ModelClient, input: string[]): Promise<ModelError> {
  try {
    await client.embed!(input);
  } catch (error) {
    return error as ModelError;
  }
  throw new Error("expected embed to fail");
}

let upstream: Loopback | undefined;
afterEach(() => upstream?.stop());

describe("openai embed", () => {
  const client = (base: string, extra: Record<string, unknown> = {}) => createOpenAIClient({ api_base: `${base}/v1`, api_key: SECRET_KEY, model: "gpt-test", ...fastRetries, ...extra }, { fetch });

  test("posts /v1/embeddings with the key and the configured default model; vectors come back in input order", async () => {
    upstream = serveLoopback(openaiAnswer);
    const input = texts(3);
    expect(await client(upstream.base).embed!(input)).toEqual(input.map(vectorOf));
    const [request] = upstream.received;
    expect([request.method, request.path, request.headers.get("authorization")]).toEqual(["POST", "/v1/embeddings", `Bearer ${SECRET_KEY}`]);
    expect(request.body).toEqual({ model: "text-embedding-3-small", input, encoding_format: "float" });
  });

  test("batches of embedding_batch_size texts, in order; options.model wins over embedding_model", async () => {
    upstream = serveLoopback(openaiAnswer);
    const input = texts(5);
    const vectors = await client(upstream.base, { embedding_model: "emb-config", embedding_batch_size: 2 }).embed!(input, { model: "emb-call" });
    expect(vectors).toEqual(input.map(vectorOf));
    expect(upstream.received.map((r) => r.body.input)).toEqual([input.slice(0, 2), input.slice(2, 4), input.slice(4)]);
    expect(upstream.received.map((r) => r.body.model)).toEqual(["emb-call", "emb-call", "emb-call"]);
  });

  test("no texts, no request", async () => {
    upstream = serveLoopback(openaiAnswer);
    expect(await client(upstream.base).embed!([])).toEqual([]);
    expect(upstream.received).toEqual([]);
  });

  test("an upstream error is a ModelError with its status and message; a missing vector is named", async () => {
    upstream = serveLoopback(() => json(400, { error: { message: "model 'nope' does not support embeddings", type: "invalid_request_error" } }));
    const error = await embedFailure(client(upstream.base), ["a"]);
    expect(error).toBeInstanceOf(ModelError);
    expect([error.status, error.message]).toEqual([400, expect.stringContaining("returned HTTP 400: model 'nope' does not support embeddings")]);
    expect(error.message).not.toContain(SECRET_KEY);
    upstream.stop();
    upstream = serveLoopback(() => json(200, { data: [{ index: 0, embedding: [1, 2] }] }));
    const short = await embedFailure(client(upstream.base), ["a", "b"]);
    expect([short.status, short.message]).toEqual([undefined, expect.stringContaining("no embedding for input 1 (1 vectors for 2 texts)")]);
  });
});

describe("vllm embed", () => {
  test("speaks OpenAI's form on the server's /v1/embeddings; the served model is the default", async () => {
    upstream = serveLoopback(openaiAnswer);
    const client = createVllmClient({ api_base: `${upstream.base}/v1`, model: "BAAI/bge-m3", ...fastRetries }, { fetch });
    const input = texts(300);
    expect(await client.embed!(input)).toEqual(input.map(vectorOf));
    expect(upstream.received.map((r) => [r.path, r.body.model, r.body.input.length, r.headers.get("authorization")])).toEqual([
      ["/v1/embeddings", "BAAI/bge-m3", 256, "Bearer EMPTY"],
      ["/v1/embeddings", "BAAI/bge-m3", 44, "Bearer EMPTY"],
    ]);
  });
});

describe("ollama embed", () => {
  const client = (base: string, extra: Record<string, unknown> = {}) => createOllamaClient({ host: base, model: "llama3", ...fastRetries, ...extra }, { fetch });

  test("posts /api/embed {model, input, keep_alive}; vectors in input order, batched", async () => {
    upstream = serveLoopback(ollamaAnswer);
    const input = texts(5);
    expect(await client(upstream.base, { keep_alive: "5m", embedding_batch_size: 3 }).embed!(input)).toEqual(input.map(vectorOf));
    expect(upstream.received.map((r) => [r.method, r.path, r.headers.get("authorization")])).toEqual([
      ["POST", "/api/embed", null],
      ["POST", "/api/embed", null],
    ]);
    expect(upstream.received.map((r) => r.body)).toEqual([
      { model: "nomic-embed-text", input: input.slice(0, 3), keep_alive: "5m" },
      { model: "nomic-embed-text", input: input.slice(3), keep_alive: "5m" },
    ]);
  });

  test("a model that is not pulled is a ModelError 404 saying so", async () => {
    upstream = serveLoopback(() => json(404, { error: 'model "nomic-embed-text" not found, try pulling it first' }));
    const error = await embedFailure(client(upstream.base), ["a"]);
    expect([error.status, error.message]).toEqual([404, expect.stringContaining("(pull it on the Ollama host first)")]);
  });
});

describe("dashscope embed", () => {
  const client = (base: string, extra: Record<string, unknown> = {}) => createDashScopeClient({ api_base: base, api_key: SECRET_KEY, model: "qwen-max", ...fastRetries, ...extra }, { fetch });

  test("posts the native text-embedding API with input.texts and parameters.text_type, in batches of 10", async () => {
    upstream = serveLoopback(dashscopeAnswer);
    const input = texts(23);
    expect(await client(upstream.base).embed!(input, { purpose: "query" })).toEqual(input.map(vectorOf));
    const [first] = upstream.received;
    expect([first.method, first.path, first.headers.get("authorization"), first.headers.get("x-dashscope-sse")]).toEqual([
      "POST",
      "/api/v1/services/embeddings/text-embedding/text-embedding",
      `Bearer ${SECRET_KEY}`,
      null,
    ]);
    expect(first.body).toEqual({ model: "text-embedding-v3", input: { texts: input.slice(0, 10) }, parameters: { text_type: "query" } });
    expect(upstream.received.map((r) => r.body.input.texts.length)).toEqual([10, 10, 3]);
  });

  test("without a purpose no parameters are sent; DashScope's error body is the message", async () => {
    upstream = serveLoopback(dashscopeAnswer);
    await client(upstream.base, { embedding_model: "text-embedding-v2" }).embed!(["a"]);
    expect(upstream.received[0].body).toEqual({ model: "text-embedding-v2", input: { texts: ["a"] } });
    upstream.stop();
    upstream = serveLoopback(() => json(400, { code: "InvalidParameter", message: "batch size is invalid, it should not be larger than 10.", request_id: "req-9" }));
    const error = await embedFailure(client(upstream.base, { embedding_batch_size: 25 }), texts(11));
    expect([error.status, error.message]).toEqual([400, expect.stringContaining("InvalidParameter: batch size is invalid, it should not be larger than 10. (request_id req-9)")]);
  });
});

describe("embed through the kernel", () => {
  test("each plugin takes embedding_model and embedding_batch_size from its config and embeds through its scoped fetch", async () => {
    upstream = serveLoopback((request) =>
      request.path === "/v1/embeddings" ? openaiAnswer(request) : request.path === "/api/embed" ? ollamaAnswer(request) : dashscopeAnswer(request),
    );
    const project = tempProject();
    const base = upstream.base;
    const config = project.config(`plugins:
  openai: { api_base: "${base}/v1", api_key: sk-test-1234, model: m, embedding_model: emb-openai, embedding_batch_size: 2 }
  vllm: { api_base: "${base}/v1", model: served-model }
  ollama: { host: "${base}", model: llama3, embedding_model: emb-ollama }
  dashscope: { api_base: "${base}", api_key: ds-key-1234, model: qwen-max, embedding_model: text-embedding-v4 }
`);
    const kernel = await Kernel.load({ root: repoRoot, configFile: config, env: {} });
    await kernel.start();
    try {
      const input = texts(3);
      for (const name of ["openai", "vllm", "ollama", "dashscope"]) {
        expect(await kernel.instance<{ client: ModelClient }>(name)!.client.embed!(input)).toEqual(input.map(vectorOf));
      }
      const models = upstream.received.map((r) => [r.path, r.body.model]);
      expect(models).toEqual([
        ["/v1/embeddings", "emb-openai"],
        ["/v1/embeddings", "emb-openai"],
        ["/v1/embeddings", "served-model"],
        ["/api/embed", "emb-ollama"],
        ["/api/v1/services/embeddings/text-embedding/text-embedding", "text-embedding-v4"],
      ]);
    } finally {
      await kernel.stop();
      project.remove();
    }
  });
});
