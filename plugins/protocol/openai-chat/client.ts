/** ModelClient for OpenAI's chat completions API and servers that speak it. */
import type { ChatEvent, ChatMessage, ChatOptions, EmbedOptions, ModelClient } from "../../../core/kinds/model.ts";
import { flatten } from "../model-http/decoder.ts";
import { byIndex, embedInBatches } from "../model-http/embeddings.ts";
import type { ClientDeps } from "../model-http/deps.ts";
import { readCommonErrorMessage } from "../model-http/errors.ts";
import { resolveHttpSettings } from "../model-http/settings.ts";
import { asArray, asObject, asString } from "../model-http/shape.ts";
import { bearerHeaders, listModels, postJsonStream, type Upstream } from "../model-http/upstream.ts";
import { chatCompletionsBody } from "./body.ts";
import { OPENAI_DEFAULTS, type OpenAIConfig } from "./config.ts";
import { ChatCompletionDecoder } from "./events.ts";

/** Keyless OpenAI-compatible servers take this placeholder; it is no secret to mask. */
const PLACEHOLDER_KEY = "EMPTY";

export function createOpenAIClient(config: OpenAIConfig, deps: ClientDeps): ModelClient {
  const name = deps.name ?? "openai";
  const apiBase = (config.api_base ?? OPENAI_DEFAULTS.api_base).replace(/\/+$/, "");
  const supportsTools = config.supports_tools ?? OPENAI_DEFAULTS.supports_tools;
  const includeUsage = config.include_usage ?? OPENAI_DEFAULTS.include_usage;
  const { timeoutMs, retry } = resolveHttpSettings(config);
  const upstream: Upstream = {
    client: name,
    fetch: deps.fetch,
    log: deps.log,
    secrets: config.api_key && config.api_key !== PLACEHOLDER_KEY ? [config.api_key] : [],
    retry,
    timeoutMs,
    readErrorMessage: readCommonErrorMessage,
  };
  const headers = bearerHeaders(config.api_key);
  const url = `${apiBase}/chat/completions`;

  function chatBatches(messages: ChatMessage[], options: ChatOptions = {}): AsyncIterable<ChatEvent[]> {
    const body = chatCompletionsBody(messages, options, { model: config.model, supportsTools, includeUsage });
    return postJsonStream(
      upstream,
      { url, body, headers, accept: "text/event-stream", signal: options.signal, timeoutMs: options.timeoutMs },
      (ctx) => new ChatCompletionDecoder(ctx),
    );
  }

  return {
    name,
    supportsTools,
    ...(config.supports_images !== false ? { imageUrls: "any" as const } : {}),
    chatBatches,
    chat: (messages, options) => flatten(chatBatches(messages, options)),
    async models(): Promise<string[]> {
      if (config.models?.length) return [...config.models];
      const ids = (listing: unknown) => asArray(asObject(listing)?.data).flatMap((entry) => asString(asObject(entry)?.id) ?? []);
      return listModels(upstream, `${apiBase}/models`, headers, ids, [config.model]);
    },
    embed(input: string[], options: EmbedOptions = {}): Promise<number[][]> {
      const model = options.model ?? config.embedding_model ?? OPENAI_DEFAULTS.embedding_model;
      return embedInBatches(
        upstream,
        input,
        {
          url: `${apiBase}/embeddings`,
          headers,
          batchSize: config.embedding_batch_size ?? OPENAI_DEFAULTS.embedding_batch_size,
          body: (texts) => ({ model, input: texts, encoding_format: "float" }),
          vectors: (answer) => byIndex(asObject(answer)?.data, "index"),
        },
        options,
      );
    },
  };
}
