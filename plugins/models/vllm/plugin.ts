import { modelPlugin } from "../../shared/model-plugin.ts";
import { createVllmClient } from "./client.ts";
import { VLLM_DEFAULTS, VllmConfig } from "./config.ts";

export default modelPlugin({
  name: "vllm",
  version: "0.1.0",
  description: "vLLM's OpenAI-compatible server (usage requested explicitly, EMPTY key by default)",
  schema: VllmConfig,
  urlField: "api_base",
  defaultUrl: VLLM_DEFAULTS.api_base,
  keyEnv: "VLLM_API_KEY",
  create: createVllmClient,
});
