/** The official e2b SDK pointed straight at an in-process rocklet (no control plane): the data plane alone. */
import { Sandbox } from "e2b";
import { ENVD_VERSION } from "../../plugins/protocol/envd/version.ts";
import type { TestRocklet } from "../rocklet/harness.ts";

export function sdkSandbox(rocklet: TestRocklet, token = rocklet.token): Sandbox {
  // The constructor is what Sandbox.create/connect call with the control plane's answer; it is protected in the typings.
  const Direct = Sandbox as unknown as new (opts: Record<string, unknown>) => Sandbox;
  return new Direct({ sandboxId: "direct", envdAccessToken: token, envdVersion: ENVD_VERSION, sandboxUrl: rocklet.url, apiKey: "unused" });
}
