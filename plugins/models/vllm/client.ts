/**
 * vLLM speaks OpenAI's chat completions, so this is the OpenAI client with vLLM's defaults: usage is always
 * requested (vLLM streams none unless stream_options.include_usage is set), and the key is "EMPTY" when none
 * is configured, as vLLM's own docs do.
 */
import type { ModelClient } from "../../../core/kinds/model.ts";
import type { ClientDeps } from "../../protocol/model-http/deps.ts";
import { createOpenAIClient } from "../../protocol/openai-chat/client.ts";
import { VLLM_DEFAULTS, type VllmConfig } from "./config.ts";

export function createVllmClient(config: VllmConfig, deps: ClientDeps): ModelClient {
  return createOpenAIClient(
    {
      ...config,
      api_base: config.api_base ?? VLLM_DEFAULTS.api_base,
      api_key: config.api_key || VLLM_DEFAULTS.api_key,
      supports_tools: config.supports_tools ?? VLLM_DEFAULTS.supports_tools,
      include_usage: true,
      // One server serves one model: the chat model is the embedding model unless another is named.
      embedding_model: config.embedding_model ?? config.model,
      embedding_batch_size: config.embedding_batch_size ?? VLLM_DEFAULTS.embedding_batch_size,
    },
    { ...deps, name: deps.name ?? "vllm" },
  );
}
