/** ModelClient for OpenAI's chat completions API and servers that speak it. */
import type { ChatEvent, ChatMessage, ChatOptions, ModelClient } from "../../../core/kinds/model.ts";
import type { ClientDeps } from "../../lib/model-http/deps.ts";
import { readCommonErrorMessage } from "../../lib/model-http/errors.ts";
import { resolveHttpSettings } from "../../lib/model-http/settings.ts";
import { asArray, asObject, asString } from "../../lib/model-http/shape.ts";
import { fetchUpstreamJson, streamUpstream, type Upstream } from "../../lib/model-http/upstream.ts";
import { chatCompletionsBody } from "./body.ts";
import { OPENAI_DEFAULTS, type OpenAIConfig } from "./config.ts";
import { chatCompletionEvents } from "./events.ts";

/** Keyless OpenAI-compatible servers take this placeholder; it is no secret to mask. */
const PLACEHOLDER_KEY = "EMPTY";

/** Listing models is a quick metadata call: it gets a shorter deadline than a generation. */
const MODELS_TIMEOUT_MS = 15_000;

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
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...extra,
    ...(config.api_key ? { authorization: `Bearer ${config.api_key}` } : {}),
  });

  return {
    name,
    supportsTools,
    chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
      const body = chatCompletionsBody(messages, options, { model: config.model, supportsTools, includeUsage });
      return streamUpstream(
        upstream,
        {
          url: `${apiBase}/chat/completions`,
          init: {
            method: "POST",
            headers: headers({ "content-type": "application/json", accept: "text/event-stream" }),
            body: JSON.stringify(body),
          },
          signal: options.signal,
          timeoutMs: options.timeoutMs,
        },
        chatCompletionEvents,
      );
    },
    async models(): Promise<string[]> {
      if (config.models?.length) return [...config.models];
      try {
        const listing = await fetchUpstreamJson(upstream, {
          url: `${apiBase}/models`,
          init: { method: "GET", headers: headers() },
          timeoutMs: Math.min(timeoutMs, MODELS_TIMEOUT_MS),
        });
        const ids = asArray(asObject(listing)?.data).flatMap((entry) => asString(asObject(entry)?.id) ?? []);
        if (ids.length) return ids;
      } catch (error) {
        deps.log?.(`${name}: listing models failed, using the configured model`, { error: String(error) });
      }
      return [config.model];
    },
  };
}
