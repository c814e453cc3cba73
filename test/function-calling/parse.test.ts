import { describe, expect, test } from "bun:test";
import { parseReply } from "../../plugins/protocol/function-calling/parse.ts";
import { DEFAULT_TOOL_NAMES, REPLY_CASES } from "./cases.ts";

describe("parseReply", () => {
  for (const c of REPLY_CASES) {
    test(c.name, () => {
      const reply = parseReply(c.text, { toolNames: c.toolNames ?? DEFAULT_TOOL_NAMES, parallelToolCalls: c.parallel });
      expect(reply.content).toBe(c.content);
      expect(reply.tool_calls.map((call) => [call.function.name, call.function.arguments])).toEqual(c.calls);
      expect(reply.finish_reason).toBe(c.calls.length > 0 ? "tool_calls" : "stop");
      for (const call of reply.tool_calls) {
        expect(call.type).toBe("function");
        expect(() => JSON.parse(call.function.arguments)).not.toThrow();
      }
    });
  }

  test("every call gets a distinct call_<24 alphanumerics> id", () => {
    const reply = parseReply(REPLY_CASES[0].text, { toolNames: DEFAULT_TOOL_NAMES });
    const ids = reply.tool_calls.map((call) => call.id);
    for (const id of ids) expect(id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("the id factory can be injected", () => {
    let n = 0;
    const reply = parseReply(REPLY_CASES[0].text, { toolNames: DEFAULT_TOOL_NAMES, newCallId: () => `call_${n++}` });
    expect(reply.tool_calls.map((call) => call.id)).toEqual(["call_0", "call_1"]);
  });

  test("the README reply maps onto the OpenAI message shape", () => {
    const reply = parseReply('Action: amap_weather\nAction Input: {"location": "海淀区"}\n', {
      toolNames: ["amap_weather"],
      newCallId: () => "call_x",
    });
    expect(reply).toEqual({
      content: "",
      tool_calls: [{ id: "call_x", type: "function", function: { name: "amap_weather", arguments: '{"location":"海淀区"}' } }],
      finish_reason: "tool_calls",
    });
  });
});
