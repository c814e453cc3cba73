import { modelPlugin } from "../../shared/model-plugin.ts";
import { createEchoClient } from "./client.ts";
import { EchoConfig } from "./config.ts";

export default modelPlugin({
  name: "echo",
  version: "0.1.0",
  description: "offline reflect model: answers with the last user message (the embedded default)",
  schema: EchoConfig,
  create: createEchoClient,
});
