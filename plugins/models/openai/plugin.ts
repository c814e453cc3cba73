import { modelPlugin } from "../../shared/model-plugin.ts";
import { createOpenAIClient } from "../../protocol/openai-chat/client.ts";
import { OPENAI_DEFAULTS, OpenAIConfig } from "../../protocol/openai-chat/config.ts";

export default modelPlugin({
  name: "openai",
  version: "0.1.0",
  description: "OpenAI chat completions (any OpenAI-compatible server), streaming SSE with usage",
  schema: OpenAIConfig,
  urlField: "api_base",
  defaultUrl: OPENAI_DEFAULTS.api_base,
  keyEnv: "OPENAI_API_KEY",
  create: createOpenAIClient,
});
