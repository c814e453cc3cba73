/**
 * The SDK side: a real admin (local deployment) and sandbox; the compiled service is uploaded, started and driven
 * through the admin API exactly as a trainer outside the sandbox would.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { needsBuild } from "../../plugins/programs/compile.ts";
import { buildModelService } from "../../plugins/programs/model-service/build.ts";
import { ModelServiceError, SandboxModelService } from "../../plugins/clients/sdk/model-service.ts";
import { Sandbox } from "../../plugins/clients/sdk/index.ts";
import { bootAdminKernel, localAdminYaml, newSandboxId, type RunningAdmin } from "../sdk/support.ts";
import { freePort } from "../support/project.ts";
import { repoRoot } from "./support/service.ts";

const binary = join(repoRoot, "test", ".tmp", "model-service", "bin", "model-service");
let admin: RunningAdmin;
let sandbox: Sandbox;
let service: SandboxModelService;

beforeAll(async () => {
  mkdirSync(join(binary, ".."), { recursive: true });
  if (needsBuild(binary)) await buildModelService({ outfile: binary });
  admin = await bootAdminKernel(localAdminYaml());
  sandbox = new Sandbox({ baseUrl: admin.baseUrl, image: "python:3.11", memory: "1g", cpus: 1, sandboxId: newSandboxId("model") });
  await sandbox.start();
  const workdir = (await sandbox.execute("mktemp -d")).stdout.trim();
  service = new SandboxModelService(sandbox, { workdir, port: freePort(), localBinary: binary, commandTimeout: 60 });
}, 120_000);
afterAll(async () => {
  await service?.stop().catch(() => {});
  if (service) await sandbox.execute(["rm", "-rf", service.workdir]).catch(() => {});
  await sandbox?.stop().catch(() => {});
  await admin?.close();
});

const completion = (content: string) => JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }] });

describe("ModelService in a sandbox", () => {
  test("install, start, watch the agent, anti-call step by step, SESSION_END when the agent exits", async () => {
    await service.install();
    expect(await service.start()).toContain("model service started");
    // Local deployment: the sandbox's loopback is ours, so this process can play the agent.
    const agentCall = (n: number) =>
      fetch(`${service.agentBaseUrl}/chat/completions`, { method: "POST", body: JSON.stringify({ model: "policy", messages: [{ role: "user", content: `q${n}` }] }) }).then((r) => r.json());
    const agent = Bun.spawn(["sleep", "60"]);
    await service.watchAgent(agent.pid);

    const first = agentCall(1);
    expect(JSON.parse(await service.antiCallLlm(0)).messages[0].content).toBe("q1");
    const next = service.antiCallLlm(1, completion("a1"));
    expect((await first).choices[0].message.content).toBe("a1");
    const trajectory = JSON.parse((await sandbox.execute(["cat", service.trajFile])).stdout);
    expect([trajectory.request.messages[0].content, trajectory.response.choices[0].message.content]).toEqual(["q1", "a1"]);
    const second = agentCall(2);
    expect(JSON.parse(await next).messages[0].content).toBe("q2");

    // Above 100 KB the response travels as a file, as ROCK's SDK does.
    const big = completion("x".repeat(150 * 1024));
    const end = service.antiCallLlm(2, big);
    expect((await second).choices[0].message.content).toHaveLength(150 * 1024);
    agent.kill();
    expect(await end).toBe("SESSION_END");
    expect((await sandbox.execute(["ls", "/tmp/anti_call_response_2.json"])).exit_code).not.toBe(0);
  }, 60_000);

  test("a missing binary is refused before anything is made in the sandbox, saying how to build it", async () => {
    const workdir = `${service.workdir}-missing`;
    const missing = new SandboxModelService(sandbox, { workdir, localBinary: "/nonexistent/model-service" });
    const error = await missing.install().catch((e) => e);
    expect(error).toBeInstanceOf(ModelServiceError);
    expect(error.message).toBe("model service binary not found at /nonexistent/model-service: build it with: npx bun plugins/programs/model-service/build.ts (or pass localBinary)");
    expect((await sandbox.execute(["test", "-e", workdir])).exit_code).not.toBe(0);
  }, 30_000);

  test("a failing command reports the service's own message", async () => {
    const error = await service.antiCallLlm(99, "{}").catch((e) => e);
    expect(error).toBeInstanceOf(ModelServiceError);
    expect(error.message).toContain("index 99 is out of range");
  }, 30_000);
});
