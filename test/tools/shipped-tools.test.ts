import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { PreparedTool } from "../../plugins/lib/tool-node/prepared-tool.ts";
import { evaluate } from "../../plugins/tools/calculator/arithmetic.ts";
import calculator from "../../plugins/tools/calculator/tool.ts";
import codeInterpreter from "../../plugins/tools/code-interpreter/tool.ts";
import hmacSigner from "../../plugins/tools/hmac-signer/tool.ts";
import renewInstance from "../../plugins/tools/renew-instance/tool.ts";

const context = (config: Record<string, unknown> = {}) => ({ config, kwargs: {}, signal: new AbortController().signal });

describe("calculator", () => {
  test.each([
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["2 ** 3 ** 2", 512],
    ["2^10", 1024],
    ["-2 ** 2", -4],
    ["7 % 4", 3],
    ["sqrt(16) + abs(-2)", 6],
    ["max(1, 5, 3)", 5],
    ["round(pi * 100) / 100", 3.14],
    [".5e1", 5],
  ])("%s = %p", (expression, value) => expect(evaluate(expression)).toBe(value));

  test.each([
    ["1 +", "ends too early"],
    ["2 $ 3", "unexpected character"],
    ["foo(1)", "unknown name 'foo'"],
    ["(1", "expected ')'"],
    ["1 2", "unexpected '2'"],
    ["1/0", "not a finite number"],
    ["process.exit(1)", "unexpected character"],
    ["constructor", "unknown name 'constructor'"],
  ])("%s is refused (%s)", (expression, problem) => expect(() => evaluate(expression)).toThrow(problem));

  test("the tool answers the expression and its value", async () => {
    expect(await calculator.call({ expression: "6*7" }, context())).toEqual({ expression: "6*7", result: 42 });
  });
});

describe("RenewInstance", () => {
  test("answers the original's text, its number argument accepted as a string", async () => {
    const tool = new PreparedTool(renewInstance);
    const args = tool.arguments('{"instance_id": 123, "period": "mon"}');
    expect(args).toEqual({ instance_id: "123", period: "mon" });
    expect(await renewInstance.call(args as any, context())).toBe("{'result': '已完成ECS实例ID为123的续费，续费时长mon月'}");
  });
});

describe("hmac_sign (a tool with its own config and a secret)", () => {
  const tool = new PreparedTool(hmacSigner);

  test("the key comes from the config, defaults fill the rest", async () => {
    const config = tool.config({ key: "secret-key-1" });
    expect(config).toEqual({ key: "secret-key-1", algorithm: "sha256", key_id: "default" });
    const out = await hmacSigner.call({ message: "hi" }, context(config));
    expect(out).toEqual({ key_id: "default", algorithm: "sha256", signature: createHmac("sha256", "secret-key-1").update("hi").digest("hex") });
  });

  test("a missing or short key is a config error naming the field; the key is known to be secret", () => {
    expect(() => tool.config({})).toThrow("tool_cfg of 'hmac_sign' field 'key'");
    expect(() => tool.config({ key: "short" })).toThrow("field 'key'");
    expect(tool.secretValues({ key: "secret-key-1", key_id: "k1", api_token: "tok-123456" })).toEqual(["secret-key-1", "tok-123456"]);
  });
});

describe("code_interpreter", () => {
  test("runs code in a sandbox through the admin service, starting one on first use and reusing it", async () => {
    const calls: { path: string; body: any; auth: string | null }[] = [];
    const admin = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        const path = new URL(request.url).pathname;
        const body = await request.json();
        calls.push({ path, body, auth: request.headers.get("authorization") });
        const result = path.endsWith("/start") ? { sandbox_id: "sbx-1" } : { stdout: "2\n", stderr: "", exit_code: 0 };
        return Response.json({ status: "Success", message: null, error: null, result });
      },
    });
    try {
      const tool = new PreparedTool(codeInterpreter);
      const config = tool.config({ admin_url: `http://127.0.0.1:${admin.port}`, token: "admin-token-1", image: "python:3.11" });
      const first = await codeInterpreter.call(tool.arguments({ code: "print(1+1)" }) as any, context(config));
      expect(first).toEqual({ sandbox_id: "sbx-1", language: "python", exit_code: 0, stdout: "2\n", stderr: "" });
      await codeInterpreter.call(tool.arguments({ code: "echo 2", language: "bash" }) as any, context(config));
      expect(calls.map((c) => c.path)).toEqual(["/apis/envs/sandbox/v1/start", "/apis/envs/sandbox/v1/execute", "/apis/envs/sandbox/v1/execute"]);
      expect(calls[0].body).toMatchObject({ image: "python:3.11" });
      expect(calls[2].body).toEqual({ sandbox_id: "sbx-1", command: ["bash", "-c", "echo 2"], timeout: 60 });
      expect(calls.every((c) => c.auth === "Bearer admin-token-1")).toBe(true);
      expect(() => tool.arguments({ code: "x", language: "ruby" })).toThrow("language: must be one of");
    } finally {
      admin.stop(true);
    }
  });
});
