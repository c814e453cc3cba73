import { modelPlugin } from "../../shared/model-plugin.ts";
import { createOllamaClient } from "./client.ts";
import { OLLAMA_DEFAULTS, OllamaConfig } from "./config.ts";

export default modelPlugin({
  name: "ollama",
  version: "0.1.0",
  description: "Ollama /api/chat, NDJSON streaming; models must already be pulled",
  schema: OllamaConfig,
  urlField: "host",
  defaultUrl: OLLAMA_DEFAULTS.host,
  keyEnv: "OLLAMA_API_KEY",
  create: createOllamaClient,
});
