/** The tool node's HTTP surface, in process (the container tests run the compiled binary). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PreparedTool } from "../../plugins/protocol/tool-call/prepared-tool.ts";
import { startToolNode } from "../../plugins/programs/tool-node/server.ts";
import faulty from "./fixtures/tools/faulty/tool.ts";

describe("tool node", () => {
  let node: ReturnType<typeof startToolNode>;
  let base: string;
  const token = "node-token-123456";
  const call = (path: string, body?: unknown, auth: string | null = `Bearer ${token}`) =>
    fetch(base + path, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...(auth ? { authorization: auth } : {}), "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  beforeAll(() => {
    node = startToolNode({ tool: new PreparedTool(faulty), config: {}, token, hostname: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${node.server.port}`;
  });
  afterAll(() => node.stop());

  test("health and hello need no token; everything else does", async () => {
    expect(await call("/health", undefined, null)).toEqual({ status: 200, body: { status: "ok", tool: "faulty_tool" } });
    expect((await call("/", undefined, null)).body).toEqual({ message: "Hello World" });
    expect((await call("/tool_info", undefined, null)).status).toBe(401);
    expect((await call("/tool_info", undefined, "Bearer wrong-token-000")).status).toBe(401);
  });

  test("tool_info answers the declared parameters in the envelope", async () => {
    const info = await call("/tool_info?request_id=r1");
    expect(info.body).toEqual({ request_id: "r1", message: "", output: { name: "faulty_tool", description: expect.any(String), parameters: faulty.parameters } });
  });

  test("execute_tool: result, bad arguments (400), a throwing tool (422), the request id echoed", async () => {
    expect((await call("/execute_tool/", { params: '{"mode":"ok"}', request_id: "r2" })).body).toEqual({ request_id: "r2", message: "", output: "ok" });
    const bad = await call("/execute_tool", { params: '{"mode":"nope"}', request_id: "r3" });
    expect(bad).toEqual({ status: 400, body: { request_id: "r3", message: expect.stringContaining("Failed to execute tool 'faulty_tool': mode: must be one of") } });
    const thrown = await call("/execute_tool", { params: { mode: "throw" } });
    expect(thrown.status).toBe(422);
    expect(thrown.body.message).toBe("Failed to execute tool 'faulty_tool' with error: thrown on purpose");
    expect((await call("/execute_tool", "not json")).status).toBe(400);
  });
});
