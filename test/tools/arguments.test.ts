import { describe, expect, test } from "bun:test";
import { parseParams } from "../../plugins/protocol/tool-call/params.ts";
import { checkValue } from "../../plugins/protocol/tool-call/schema-check.ts";
import { parseTenantTokens } from "../../plugins/services/tool-manager/tenant-auth.ts";

describe("params", () => {
  test("a JSON string or an object; raw line breaks inside strings are tolerated, as the original did", () => {
    expect(parseParams('{"a": 1}')).toEqual({ a: 1 });
    expect(parseParams({ a: 1 })).toEqual({ a: 1 });
    expect(parseParams('{"code": "print(1)\nprint(2)"}')).toEqual({ code: "print(1)\nprint(2)" });
  });

  test.each([
    ["", "params: are empty"],
    ["   ", "params: are empty"],
    [null, "params: are empty"],
    ["{nope", "params: are not valid JSON"],
    ["[1, 2]", "params: must be a JSON object (got an array)"],
    ["42", "params: must be a JSON object (got number)"],
  ])("%p is refused", (params, message) => expect(() => parseParams(params)).toThrow(message));
});

describe("schema check", () => {
  const schema = {
    type: "object",
    properties: {
      name: { type: "string", minLength: 2 },
      count: { type: "integer", minimum: 0, maximum: 10 },
      ratio: { type: "number" },
      tags: { type: "array", items: { type: "string" } },
      mode: { enum: ["a", "b"] },
    },
    required: ["name"],
    additionalProperties: false,
  };

  test("valid arguments pass; numbers for strings become strings", () => {
    expect(checkValue(schema, { name: 12, count: 3, ratio: 2, tags: ["x", 5], mode: "a" })).toEqual({ name: "12", count: 3, ratio: 2, tags: ["x", "5"], mode: "a" });
  });

  test.each([
    [{}, "name: is required"],
    [{ name: "x" }, "name: must be at least 2 characters"],
    [{ name: "xy", count: 1.5 }, "count: expected integer, got number"],
    [{ name: "xy", count: 11 }, "count: must be <= 10"],
    [{ name: "xy", tags: [{}] }, "tags[0]: expected string, got object"],
    [{ name: "xy", mode: "c" }, 'mode: must be one of "a", "b"'],
    [{ name: "xy", extra: 1 }, "extra: is not a parameter of this tool"],
    [{ name: ["xy"] }, "name: expected string, got array"],
  ])("%p is refused: %s", (value, message) => expect(() => checkValue(schema, value)).toThrow(message));
});

describe("tenant tokens from the environment", () => {
  test("tenant:token pairs", () => {
    expect(parseTenantTokens("alpha:tok-a-123, beta:tok:with:colons")).toEqual({ alpha: "tok-a-123", beta: "tok:with:colons" });
    expect(() => parseTenantTokens("alpha")).toThrow("tenant:token");
    expect(() => parseTenantTokens(":x")).toThrow("tenant:token");
  });
});
