import { Type } from "@sinclair/typebox";
import { definePlugin } from "../../../core/plugin.ts";
import { RemoteDeployment } from "./remote-deployment.ts";

export default definePlugin({
  name: "remote",
  kind: "deployment",
  version: "0.1.0",
  description:
    "a rocklet that already runs elsewhere (config url and token) serves one sandbox at a time: start binds the sandbox " +
    "to it, stop closes its sessions (/close); the image and limits of the spec are not used",
  config: Type.Object({
    url: Type.String({ pattern: "^https?://[^/]+/?$", description: "Base URL of the rocklet, e.g. http://10.0.0.5:22555" }),
    token: Type.String({ default: "", secret: true, description: "The rocklet's token (empty when it runs with --insecure)" }),
  }),
  permissions: (config) => ({ net: [new URL(config.url).host] }),
  setup(ctx) {
    const deployment = new RemoteDeployment({
      name: ctx.name,
      url: ctx.config.url.replace(/\/$/, ""),
      token: ctx.config.token,
      fetch: ctx.fetch,
      log: ctx.log,
    });
    return { deployment };
  },
});
