/**
 * ModelClient for Ollama's native /api/chat. Models are never pulled here: a missing model is the
 * operator's to pull, and the 404 says so.
 */
import type { ChatEvent, ChatMessage, ChatOptions, ModelClient } from "../../../core/kinds/model.ts";
import type { ClientDeps } from "../../lib/model-http/deps.ts";
import { readCommonErrorMessage, type ErrorMessageReader } from "../../lib/model-http/errors.ts";
import { resolveHttpSettings } from "../../lib/model-http/settings.ts";
import { asArray, asObject, asString } from "../../lib/model-http/shape.ts";
import { fetchUpstreamJson, streamUpstream, type Upstream } from "../../lib/model-http/upstream.ts";
import { ollamaChatBody } from "./body.ts";
import { OLLAMA_DEFAULTS, type OllamaConfig } from "./config.ts";
import { ollamaChatEvents } from "./events.ts";

const MODELS_TIMEOUT_MS = 15_000;

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
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...extra,
    ...(config.api_key ? { authorization: `Bearer ${config.api_key}` } : {}),
  });

  return {
    name,
    supportsTools,
    chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
      const body = ollamaChatBody(messages, options, { model: config.model, supportsTools, keepAlive: config.keep_alive });
      return streamUpstream(
        upstream,
        {
          url: `${host}/api/chat`,
          init: {
            method: "POST",
            headers: headers({ "content-type": "application/json", accept: "application/x-ndjson" }),
            body: JSON.stringify(body),
          },
          signal: options.signal,
          timeoutMs: options.timeoutMs,
        },
        ollamaChatEvents,
      );
    },
    async models(): Promise<string[]> {
      if (config.models?.length) return [...config.models];
      try {
        const tags = await fetchUpstreamJson(upstream, {
          url: `${host}/api/tags`,
          init: { method: "GET", headers: headers() },
          timeoutMs: Math.min(timeoutMs, MODELS_TIMEOUT_MS),
        });
        const names = asArray(asObject(tags)?.models).flatMap((entry) => {
          const model = asObject(entry);
          return asString(model?.name) ?? asString(model?.model) ?? [];
        });
        if (names.length) return names;
      } catch (error) {
        deps.log?.(`${name}: listing models failed, using the configured model`, { error: String(error) });
      }
      return [config.model];
    },
  };
}
