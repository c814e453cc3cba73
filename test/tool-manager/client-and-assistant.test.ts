/**
 * ToolServiceProxy against a real manager, and the assistant's `execute_tools` switch: a scripted model asks for
 * the calculator, the assistant runs it through the tool manager and returns the model's answer to the result.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ToolServiceError, ToolServiceProxy } from "../../plugins/clients/tool-client/index.ts";
import { available, dockerSocket } from "../support/env.ts";
import { freePort } from "../support/project.ts";
import nested from "../tools/fixtures/tools/nested-args/tool.ts";
import { nestedAsOriginal, nestedList } from "../tools/nested-args-forms.ts";
import { python, readAsOriginal } from "../support/original-tool-reader.ts";
import { bootManager, ensureTestNodeBinary, portRange, tenants, waitSettled, type BootedManager } from "./support.ts";

const socket = dockerSocket();

describe.skipIf(!available("docker", socket))("ToolServiceProxy and the assistant through the tool manager (real engine)", () => {
  const ports = portRange();
  const managerPort = freePort();
  const upstreamBodies: any[] = [];
  let engine: Docker;
  let manager: BootedManager;

  const upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (request.method === "GET") return Response.json({ object: "list", data: [] });
      const body = await request.json();
      upstreamBodies.push(body);
      const last = body.messages.at(-1).content as string;
      const observation = /Observation: <result>([\s\S]*?)<\/result>/.exec(last)?.[1];
      const text = observation ? `The result is ${observation}.` : 'Action: calculator\nAction Input: {"expression": "6*7"}\n';
      const frames = [{ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }];
      return new Response(frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join("") + "data: [DONE]\n\n", { headers: { "content-type": "text/event-stream" } });
    },
  });

  beforeAll(async () => {
    engine = new Docker({ socketPath: socket });
    await ensureTestNodeBinary();
    const assistant = `  openai:
    api_base: http://127.0.0.1:${upstream.port}/v1
    model: scripted
    supports_tools: false
    max_retries: 0
  assistant:
    port: 0
    model_server: openai
    execute_tools: true
    tool_manager: { url: "http://127.0.0.1:${managerPort}", tenant: beta, token: ${tenants.beta} }
`;
    manager = await bootManager({ ports, extra: assistant, managerPort });
  }, 60_000);

  afterAll(async () => {
    for (const [tool, tenant, token] of [["RenewInstance", "alpha", tenants.alpha], ["calculator", "beta", tenants.beta], ["nested_args", "alpha", tenants.alpha]]) {
      await manager?.call("/remove_tool", { body: { tool_name: tool, tenant_id: tenant }, token });
    }
    await manager?.close();
    upstream.stop(true);
    for (const name of ["RenewInstance_alpha", "calculator_beta", "nested_args_alpha"]) await engine.getContainer(name).remove({ force: true }).catch(() => undefined);
  });

  test("open → call → remove, as the original's ToolServiceProxy example", async () => {
    const proxy = await ToolServiceProxy.open({ toolName: "RenewInstance", toolCfg: { test: "xxx" }, tenantId: "alpha", managerUrl: manager.url, token: tenants.alpha });
    expect(proxy.description).toBe("续费一台包年包月ECS实例");
    expect(proxy.schema).toEqual({
      type: "object",
      properties: { instance_id: { type: "string", description: "ECS实例ID" }, period: { type: "string", description: "续费时长以月为单位" } },
      required: ["instance_id", "period"],
    });
    expect(await proxy.call('{"instance_id": 123, "period": "mon"}')).toBe("{'result': '已完成ECS实例ID为123的续费，续费时长mon月'}");
    const bad = (await proxy.call({ period: "mon" }).catch((e) => e)) as ToolServiceError;
    expect(bad).toBeInstanceOf(ToolServiceError);
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("instance_id: is required");
    await proxy.remove();
    expect(await proxy.status()).toBe("exited");

    const wrongToken = new ToolServiceProxy({ toolName: "RenewInstance", tenantId: "alpha", managerUrl: manager.url, token: tenants.beta });
    expect((await wrongToken.create().catch((e) => e)).status).toBe(403);
  }, 60_000);

  test("tool_info of a JSON-Schema tool: the original's list form, which its client reads; JSON Schema when asked, and our client asks", async () => {
    await manager.call("/create_tool_service", { body: { tool_name: "nested_args", tenant_id: "alpha" } });
    expect((await waitSettled(manager, "nested_args", "alpha", tenants.alpha)).body.output.status).toBe("running");

    const info = await manager.call("/tool_info", { body: { tool_name: "nested_args", tenant_id: "alpha" } });
    expect(info.status).toBe(200);
    expect(info.body.output).toEqual({ name: "nested_args", description: "Echoes its arguments", parameters: nestedList });
    if (available("python3", python)) expect(readAsOriginal(info.body.output, { query: "q", filters: {} })).toEqual({ function: nestedAsOriginal, missing: [] });

    for (const asked of [{ query: { parameters_format: "json_schema" } }, { body: { tool_name: "nested_args", tenant_id: "alpha", parameters_format: "json_schema" } }]) {
      const schema = await manager.call("/tool_info", { body: { tool_name: "nested_args", tenant_id: "alpha" }, ...asked });
      expect(schema.body.output.parameters).toEqual(nested.parameters);
    }
    const bad = await manager.call("/tool_info", { body: { tool_name: "nested_args", tenant_id: "alpha", parameters_format: "yaml" } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain("parameters_format must be one of list, json_schema");

    const proxy = await ToolServiceProxy.open({ toolName: "nested_args", tenantId: "alpha", managerUrl: manager.url, token: tenants.alpha });
    expect(proxy.parameters).toEqual(nested.parameters);
    expect(proxy.schema).toEqual(nested.parameters as Record<string, unknown>);
    const args = { query: "q", filters: { region: "cn", limit: 2 }, tags: ["a"] };
    expect(await proxy.call(JSON.stringify(args))).toEqual(args);
    expect(((await proxy.call({ query: "q", filters: {} }).catch((e) => e)) as ToolServiceError).message).toContain("region");
  }, 60_000);

  test("the assistant executes the model's tool call through the tool manager and answers with the result", async () => {
    const response = await fetch(`${manager.kernel.server("assistant")!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "scripted",
        messages: [{ role: "user", content: "What is 6*7?" }],
        tools: [{ type: "function", function: { name: "calculator", description: "arithmetic", parameters: [{ name: "expression", type: "string", required: true }] } }],
      }),
    });
    const body = (await response.json()) as any;
    expect(response.status).toBe(200);
    expect(body.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: 'The result is {"expression":"6*7","result":42}.', tool_calls: null } });
    expect(upstreamBodies).toHaveLength(2);
    expect(manager.instances.records.get("calculator_beta")?.status).toBe("running");
  }, 60_000);
});
