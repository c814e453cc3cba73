/** The official e2b SDK pointed straight at an in-process rocklet (no control plane): the data plane alone. */
import { expect } from "bun:test";
import { Sandbox } from "e2b";
import { ENVD_VERSION } from "../../plugins/protocol/envd/version.ts";
import type { TestRocklet } from "../rocklet/harness.ts";

export function sdkSandbox(rocklet: TestRocklet, token = rocklet.token): Sandbox {
  // The constructor is what Sandbox.create/connect call with the control plane's answer; it is protected in the typings.
  const Direct = Sandbox as unknown as new (opts: Record<string, unknown>) => Sandbox;
  return new Direct({ sandboxId: "direct", envdAccessToken: token, envdVersion: ENVD_VERSION, sandboxUrl: rocklet.url, apiKey: "unused" });
}

/** A terminal (`sandbox.pty`) runs what is typed into it and shows the answer; it is killed afterwards. */
export async function expectTerminalAnswers(sandbox: Sandbox): Promise<void> {
  let screen = "";
  const terminal = await sandbox.pty.create({ cols: 80, rows: 24, onData: (data) => void (screen += new TextDecoder().decode(data)) });
  await sandbox.pty.sendInput(terminal.pid, new TextEncoder().encode("echo $((6*7))\n"));
  for (let i = 0; i < 250 && !screen.includes("42"); i++) await Bun.sleep(20);
  expect(screen).toContain("42");
  await sandbox.pty.kill(terminal.pid);
}
