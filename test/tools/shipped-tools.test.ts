import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { PreparedTool } from "../../plugins/protocol/tool-call/prepared-tool.ts";
import { evaluate } from "../../plugins/tools/calculator/arithmetic.ts";
import calculator from "../../plugins/tools/calculator/tool.ts";
import codeInterpreter from "../../plugins/tools/code-interpreter/tool.ts";
import hmacSigner from "../../plugins/tools/hmac-signer/tool.ts";
import renewInstance from "../../plugins/tools/renew-instance/tool.ts";
import { bootAdmin } from "../admin/support.ts";

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
  test("runs code in a real sandbox through a real admin service, starting one on first use and reusing it", async () => {
    const admin = await bootAdmin("    token: admin-token-1\n");
    try {
      const tool = new PreparedTool(codeInterpreter);
      const config = tool.config({ admin_url: admin.kernel.server("admin")!.url, token: "admin-token-1", image: "python:3.11", memory: "512m" });
      const first: any = await codeInterpreter.call(tool.arguments({ code: "echo $((1+1)); echo oops >&2; exit 3", language: "bash" }) as any, context(config));
      expect(first).toMatchObject({ language: "bash", exit_code: 3, stdout: "2\n", stderr: "oops\n" });
      const second: any = await codeInterpreter.call(tool.arguments({ code: "pwd > /dev/null; echo again", language: "bash" }) as any, context(config));
      expect(second.sandbox_id).toBe(first.sandbox_id);
      expect(second.stdout).toBe("again\n");
      const listed = await fetch(`${admin.base}/sandboxes`, { headers: { authorization: "Bearer admin-token-1" } }).then((r) => r.json());
      expect(JSON.stringify(listed)).toContain(first.sandbox_id);
      const refused: any = await (codeInterpreter.call as any)(tool.arguments({ code: "echo x", language: "bash" }) as any, context({ ...config, token: "wrong-token-9" })).catch((e: unknown) => e);
      expect(String(refused.message ?? refused)).toContain("missing or invalid bearer token");
      expect(() => tool.arguments({ code: "x", language: "ruby" })).toThrow("language: must be one of");
    } finally {
      await admin.close();
    }
  });
});
