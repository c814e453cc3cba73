/**
 * `hmac_sign`: signs a message with a key only the tool instance holds. It shows a tool with its own config and a
 * secret in it: the key reaches the node in `tool_cfg` (marked `secret`, so it is masked in every log line) and
 * never travels with the calls.
 */
import { Type } from "@sinclair/typebox";
import { createHmac } from "node:crypto";
import { defineTool } from "../../../core/kinds/tool.ts";

export default defineTool<{ message: string }>({
  name: "hmac_sign",
  description: "Signs a message with the instance's secret key (HMAC) and returns the hex digest",
  parameters: { type: "object", properties: { message: { type: "string", description: "The text to sign" } }, required: ["message"] },
  config: Type.Object({
    key: Type.String({ minLength: 8, secret: true, description: "The signing key (secret)" }),
    algorithm: Type.Union([Type.Literal("sha256"), Type.Literal("sha512")], { default: "sha256" }),
    key_id: Type.String({ default: "default", description: "Returned with each signature so that verifiers pick the key" }),
  }),
  call: ({ message }, { config }) => ({
    key_id: config.key_id,
    algorithm: config.algorithm,
    signature: createHmac(config.algorithm, config.key).update(message).digest("hex"),
  }),
});
