/**
 * ModelClient for Ollama's native /api/chat. Models are never pulled here: a missing model is the
 * operator's to pull, and the 404 says so.
 */
import type { ChatEvent, ChatMessage, ChatOptions, EmbedOptions, ModelClient } from "../../../core/kinds/model.ts";
import { flatten } from "../../protocol/model-http/decoder.ts";
import { embedInBatches } from "../../protocol/model-http/embeddings.ts";
import type { ClientDeps } from "../../protocol/model-http/deps.ts";
import { readCommonErrorMessage, type ErrorMessageReader } from "../../protocol/model-http/errors.ts";
import { resolveHttpSettings } from "../../protocol/model-http/settings.ts";
import { asArray, asObject, asString } from "../../protocol/model-http/shape.ts";
import { bearerHeaders, listModels, postJsonStream, type Upstream } from "../../protocol/model-http/upstream.ts";
import { ollamaChatBody } from "./body.ts";
import { OLLAMA_DEFAULTS, type OllamaConfig } from "./config.ts";
import { OllamaChatDecoder } from "./events.ts";

/** A refused request fails when read, as every other failure of a call does. */
async function* failing(error: unknown): AsyncGenerator<never> {
  throw error;
}


const readOllamaError: ErrorMessageReader = (body) => {
  const message = readCommonErrorMessage(body);
  return message && /not found/i.test(message) ? `${message} (pull it on the Ollama host first)` : message;
};

export function createOllamaClient(config: OllamaConfig, deps: ClientDeps): ModelClient {
  const name = deps.name ?? "ollama";
  const host = (config.host ?? OLLAMA_DEFAULTS.host).replace(/\/+$/, "");
  const supportsTools = config.supports_tools ?? OLLAMA_DEFAULTS.supports_tools;
  const { timeoutMs, retry } = resolveHttpSettings(config);
  const upstream: Upstream = {
    client: name,
    fetch: deps.fetch,
    log: deps.log,
    secrets: config.api_key ? [config.api_key] : [],
    retry,
    timeoutMs,
    readErrorMessage: readOllamaError,
  };
  const headers = bearerHeaders(config.api_key);

  function chatBatches(messages: ChatMessage[], options: ChatOptions = {}): AsyncIterable<ChatEvent[]> {
    let body: Record<string, unknown>;
    try {
      body = ollamaChatBody(messages, options, { model: config.model, supportsTools, keepAlive: config.keep_alive });
    } catch (error) {
      return failing(error);
    }
    return postJsonStream(
      upstream,
      { url: `${host}/api/chat`, body, headers, accept: "application/x-ndjson", signal: options.signal, timeoutMs: options.timeoutMs },
      (ctx) => new OllamaChatDecoder(ctx),
    );
  }

  return {
    name,
    supportsTools,
    ...(config.supports_images !== false ? { imageUrls: "data-only" as const } : {}),
    chatBatches,
    chat: (messages, options) => flatten(chatBatches(messages, options)),
    async models(): Promise<string[]> {
      if (config.models?.length) return [...config.models];
      const names = (tags: unknown) =>
        asArray(asObject(tags)?.models).flatMap((entry) => {
          const model = asObject(entry);
          return asString(model?.name) ?? asString(model?.model) ?? [];
        });
      return listModels(upstream, `${host}/api/tags`, headers, names, [config.model]);
    },
    embed(input: string[], options: EmbedOptions = {}): Promise<number[][]> {
      const model = options.model ?? config.embedding_model ?? OLLAMA_DEFAULTS.embedding_model;
      return embedInBatches(
        upstream,
        input,
        {
          url: `${host}/api/embed`,
          headers,
          batchSize: config.embedding_batch_size ?? OLLAMA_DEFAULTS.embedding_batch_size,
          body: (texts) => ({ model, input: texts, ...(config.keep_alive !== undefined ? { keep_alive: config.keep_alive } : {}) }),
          vectors: (answer) => asArray(asObject(answer)?.embeddings),
        },
        options,
      );
    },
  };
}
