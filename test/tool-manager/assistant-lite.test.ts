/**
 * `/v1/assistants/lite` with `use_tool_api: true`: the agent's tools are tool-manager instances in tool-node containers
 * on the real engine. A loopback OpenAI-compatible model writes ReAct text; the assistant opens RenewInstance through
 * the manager, runs the model's call in the container and feeds the result back, as in process.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { available, dockerSocket } from "../support/env.ts";
import { freePort } from "../support/project.ts";
import { bootManager, ensureTestNodeBinary, portRange, tenants, type BootedManager } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("/v1/assistants/lite through the tool manager (real engine)", () => {
  const ports = portRange();
  const managerPort = freePort();
  const received: any[] = [];
  let engine: Docker;
  let manager: BootedManager;

  const upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (request.method === "GET") return Response.json({ object: "list", data: [] });
      const body = await request.json();
      received.push(body);
      const observed = (body.messages.at(-1).content as string).includes("Observation: <result>");
      const acts: Record<string, string> = {
        renew: 'Action: RenewInstance\nAction Input: {"instance_id": "i-9", "period": "2"}\n',
        faulty: 'Action: faulty_tool\nAction Input: {"mode": "throw"}\n',
      };
      const text = observed ? "Done." : acts[body.model];
      const frames = [{ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }];
      return new Response(frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join("") + "data: [DONE]\n\n", { headers: { "content-type": "text/event-stream" } });
    },
  });

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    await ensureTestNodeBinary();
    manager = await bootManager({
      ports,
      managerPort,
      extra: `  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: scripted
    supports_tools: false
    max_retries: 0
  assistant:
    port: 0
    model_server: openai
    tool_manager: { url: "http://127.0.0.1:${managerPort}", tenant: beta, token: ${tenants.beta} }
`,
    });
  }, 60_000);

  afterAll(async () => {
    for (const tool of ["RenewInstance", "faulty_tool"]) await manager?.call("/remove_tool", { body: { tool_name: tool, tenant_id: "beta" }, token: tenants.beta });
    await manager?.close();
    upstream.stop(true);
    for (const name of ["RenewInstance_beta", "faulty_tool_beta"]) await engine.getContainer(name).remove({ force: true }).catch(() => undefined);
  });

  const lite = (model: string, tools: string[], stream = false) =>
    fetch(`${manager.kernel.server("assistant")!.url}/v1/assistants/lite`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        messages: [{ role: "user", content: "renew i-9 for two months" }],
        llm_config: { model, model_server: "openai" },
        agent_config: { instruction: "You renew instances.", tools },
        use_tool_api: true,
        stream,
      }),
    });

  test("RenewInstance runs in its tool node; the model's second call holds the node's result", async () => {
    const before = received.length;
    const response = await lite("renew", ["RenewInstance"], true);
    expect(response.status).toBe(200);
    const observation = "\nObservation: <result>{'result': '已完成ECS实例ID为i-9的续费，续费时长2月'}</result>\nAnswer:";
    expect(await response.text()).toBe('Action: RenewInstance\nAction Input: {"instance_id": "i-9", "period": "2"}\n' + observation + "Done.");
    expect(manager.instances.records.get("RenewInstance_beta")?.status).toBe("running");
    const calls = received.slice(before);
    expect(calls).toHaveLength(2);
    // The description and parameters came from the node's tool_info; the tool's own description is Chinese.
    expect(calls[0].messages[0].content).toContain('RenewInstance: RenewInstance API。续费一台包年包月ECS实例 输入参数: {"type": "object", "properties": {"instance_id": {"type": "string", "description": "ECS实例ID"}');
    expect(calls[1].messages.at(-1).content).toEndWith(observation);
  }, 90_000);

  test("a tool that throws in its node: the original's observation text, and the loop goes on", async () => {
    const response = await lite("faulty", ["faulty_tool"]);
    const body = (await response.json()) as any;
    expect(response.status).toBe(200);
    expect(body.output.response).toMatch(/^Action: faulty_tool\nAction Input: \{"mode": "throw"\}\n\nObservation: <result>Tool api faulty_tool failed to call\. Args: \{"mode":"throw"\}\.Details: [^<]*thrown on purpose[^<]*<\/result>\nAnswer:Done\.$/);
  }, 90_000);

  test("a tool the manager does not offer: 400 naming the entry, no container left", async () => {
    const before = received.length;
    const response = await lite("renew", ["RenewInstance", "launch_rocket"]);
    const body = (await response.json()) as any;
    expect(response.status).toBe(400);
    expect(body.message).toContain("agent_config.tools[1]");
    expect(body.message).toContain("launch_rocket");
    expect(received.length).toBe(before);
    expect(await engine.getContainer("launch_rocket_beta").inspect().catch((e) => e.statusCode)).toBe(404);
  }, 90_000);
});
