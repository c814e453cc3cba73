/** ModelClient for DashScope's native text-generation API (streamed as SSE). */
import type { ChatEvent, ChatMessage, ChatOptions, EmbedOptions, ModelClient } from "../../../core/kinds/model.ts";
import { hasImages } from "../../protocol/model-http/content.ts";
import { flatten } from "../../protocol/model-http/decoder.ts";
import { byIndex, embedInBatches } from "../../protocol/model-http/embeddings.ts";
import type { ClientDeps } from "../../protocol/model-http/deps.ts";
import { readCommonErrorMessage, type ErrorMessageReader } from "../../protocol/model-http/errors.ts";
import { resolveHttpSettings } from "../../protocol/model-http/settings.ts";
import { asObject, asString } from "../../protocol/model-http/shape.ts";
import { bearerHeaders, postJsonStream, type Upstream } from "../../protocol/model-http/upstream.ts";
import { generationBody } from "./body.ts";
import { DASHSCOPE_DEFAULTS, DASHSCOPE_EMBEDDING_PATH, DASHSCOPE_GENERATION_PATH, DASHSCOPE_MULTIMODAL_PATH, type DashScopeConfig } from "./config.ts";
import { GenerationDecoder } from "./events.ts";

/** DashScope's error bodies are `{code, message, request_id}`. */
const readDashScopeError: ErrorMessageReader = (body) => {
  const object = asObject(body);
  const message = asString(object?.message);
  if (message === undefined) return readCommonErrorMessage(body);
  const code = asString(object?.code);
  const requestId = asString(object?.request_id);
  return `${code ? `${code}: ` : ""}${message}${requestId ? ` (request_id ${requestId})` : ""}`;
};

export function createDashScopeClient(config: DashScopeConfig, deps: ClientDeps): ModelClient {
  const name = deps.name ?? "dashscope";
  const apiBase = (config.api_base ?? DASHSCOPE_DEFAULTS.api_base).replace(/\/+$/, "");
  const incrementalOutput = config.incremental_output ?? DASHSCOPE_DEFAULTS.incremental_output;
  const { timeoutMs, retry } = resolveHttpSettings(config);
  const upstream: Upstream = {
    client: name,
    fetch: deps.fetch,
    log: deps.log,
    secrets: [config.api_key],
    retry,
    timeoutMs,
    readErrorMessage: readDashScopeError,
  };
  const frames = { incrementalOutput, log: deps.log };
  const headers = bearerHeaders(config.api_key, { "x-dashscope-sse": "enable" });

  function chatBatches(messages: ChatMessage[], options: ChatOptions = {}): AsyncIterable<ChatEvent[]> {
    const multimodal = hasImages(messages);
    const body = generationBody(messages, options, { model: config.model, incrementalOutput, multimodal });
    const path = multimodal ? DASHSCOPE_MULTIMODAL_PATH : DASHSCOPE_GENERATION_PATH;
    return postJsonStream(
      upstream,
      { url: `${apiBase}${path}`, body, headers, accept: "text/event-stream", signal: options.signal, timeoutMs: options.timeoutMs },
      (ctx) => new GenerationDecoder(ctx, frames),
    );
  }

  return {
    name,
    supportsTools: false,
    ...(config.supports_images !== false ? { imageUrls: "any" as const } : {}),
    chatBatches,
    chat: (messages, options) => flatten(chatBatches(messages, options)),
    async models(): Promise<string[]> {
      return [...new Set([config.model, ...(config.models ?? [])])];
    },
    embed(input: string[], options: EmbedOptions = {}): Promise<number[][]> {
      const model = options.model ?? config.embedding_model ?? DASHSCOPE_DEFAULTS.embedding_model;
      return embedInBatches(
        upstream,
        input,
        {
          url: `${apiBase}${DASHSCOPE_EMBEDDING_PATH}`,
          headers: bearerHeaders(config.api_key),
          batchSize: config.embedding_batch_size ?? DASHSCOPE_DEFAULTS.embedding_batch_size,
          body: (texts) => ({ model, input: { texts }, ...(options.purpose ? { parameters: { text_type: options.purpose } } : {}) }),
          vectors: (answer) => byIndex(asObject(asObject(answer)?.output)?.embeddings, "text_index"),
        },
        options,
      );
    },
  };
}
