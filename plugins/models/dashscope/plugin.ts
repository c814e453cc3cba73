import { modelPlugin } from "../../shared/model-plugin.ts";
import { createDashScopeClient } from "./client.ts";
import { DASHSCOPE_DEFAULTS, DashScopeConfig } from "./config.ts";

export default modelPlugin({
  name: "dashscope",
  version: "0.1.0",
  description: "DashScope native text-generation API with SSE (X-DashScope-SSE)",
  schema: DashScopeConfig,
  urlField: "api_base",
  defaultUrl: DASHSCOPE_DEFAULTS.api_base,
  keyEnv: "DASHSCOPE_API_KEY",
  create: (config, deps) => {
    if (!config.api_key) throw new Error("no API key: set plugins.dashscope.api_key or the DASHSCOPE_API_KEY env var");
    return createDashScopeClient(config, deps);
  },
});
