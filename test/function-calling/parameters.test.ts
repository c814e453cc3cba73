import { describe, expect, test } from "bun:test";
import {
  normaliseParameters,
  normaliseTools,
  ToolDefinitionError,
  toToolSpec,
} from "../../plugins/protocol/function-calling/parameters.ts";

const LIST_FORM = [
  { name: "location", type: "string", description: "城市/区具体名称", required: true },
  { name: "unit", description: "unit", schema: { type: "string", default: "c" }, enum: ["c", "f"] },
  { name: "days", type: "integer", description: "days", required: false, enum: [] },
];

describe("normaliseParameters", () => {
  test("list form becomes JSON Schema the way 0.7.1 built it", () => {
    expect(normaliseParameters(LIST_FORM)).toEqual({
      type: "object",
      properties: {
        location: { type: "string", description: "城市/区具体名称" },
        unit: { type: "string", description: "unit", enum: ["c", "f"], default: "c" },
        days: { type: "integer", description: "days" },
      },
      required: ["location"],
    });
  });

  test("JSON Schema passes through unchanged", () => {
    const schema = { type: "object", properties: { q: { type: "string" } }, required: ["q"], additionalProperties: false };
    expect(normaliseParameters(schema)).toBe(schema);
    expect(normaliseParameters({ properties: {} })).toEqual({ properties: {} });
  });

  test("absent parameters mean no arguments", () => {
    expect(normaliseParameters(undefined)).toEqual({ type: "object", properties: {} });
    expect(normaliseParameters(null)).toEqual({ type: "object", properties: {} });
    expect(normaliseParameters([])).toEqual({ type: "object", properties: {}, required: [] });
  });
});

describe("normaliseTools", () => {
  const weather = { type: "function", function: { name: "amap_weather", description: "amap weather tool", parameters: LIST_FORM } };

  test("keeps the parameters as sent for the prompt and JSON Schema for everything else", () => {
    const [tool] = normaliseTools([weather]);
    expect(tool.name).toBe("amap_weather");
    expect(tool.description).toBe("amap weather tool");
    expect(tool.promptParameters).toBe(LIST_FORM);
    expect(tool.parameters.type).toBe("object");
    expect(toToolSpec(tool)).toEqual({
      type: "function",
      function: { name: "amap_weather", description: "amap weather tool", parameters: tool.parameters },
    });
  });

  test("no tools, missing type, missing description and parameters", () => {
    expect(normaliseTools(undefined)).toEqual([]);
    expect(normaliseTools(null)).toEqual([]);
    const [tool] = normaliseTools([{ function: { name: "now" } }]);
    expect(tool).toEqual({
      name: "now",
      description: "",
      parameters: { type: "object", properties: {} },
      promptParameters: { type: "object", properties: {} },
    });
  });

  const invalid: [string, unknown, string, string][] = [
    ["tools not an array", { function: {} }, "tools", "tools must be an array"],
    ["tool not an object", ["amap_weather"], "tools[0]", "tools[0] must be an object"],
    ["wrong type", [{ type: "retrieval", function: { name: "a" } }], "tools[0].type", 'tools[0].type must be "function"'],
    ["missing function", [{ type: "function" }], "tools[0].function", "tools[0].function is required"],
    ["non-object function", [{ type: "function", function: "a" }], "tools[0].function", "tools[0].function must be an object"],
    ["array function", [{ type: "function", function: [] }], "tools[0].function", "tools[0].function must be an object"],
    ["missing name", [{ function: { description: "x" } }], "tools[0].function.name", "tools[0].function.name is required"],
    ["empty name", [{ function: { name: "" } }], "tools[0].function.name", "tools[0].function.name is required"],
    ["name not a string", [{ function: { name: 3 } }], "tools[0].function.name", "tools[0].function.name must be a string"],
    ["name with a line break", [{ function: { name: "a\nb" } }], "tools[0].function.name", "tools[0].function.name must not contain line breaks or commas"],
    ["name with a comma", [{ function: { name: "a,b" } }], "tools[0].function.name", "tools[0].function.name must not contain line breaks or commas"],
    ["name with spaces around", [{ function: { name: " a" } }], "tools[0].function.name", "tools[0].function.name must not start or end with whitespace"],
    [
      "duplicate names",
      [{ function: { name: "a" } }, { function: { name: "a" } }],
      "tools[1].function.name",
      'tools[1].function.name duplicates tools[0] ("a")',
    ],
    ["description not a string", [{ function: { name: "a", description: 1 } }], "tools[0].function.description", "tools[0].function.description must be a string"],
    [
      "parameters a string",
      [{ function: { name: "a", parameters: "{}" } }],
      "tools[0].function.parameters",
      "tools[0].function.parameters must be a JSON Schema object or a list of parameters",
    ],
    [
      "schema of another type",
      [{ function: { name: "a", parameters: { type: "array" } } }],
      "tools[0].function.parameters.type",
      'tools[0].function.parameters.type must be "object" (arguments are a JSON object)',
    ],
    [
      "properties not an object",
      [{ function: { name: "a", parameters: { type: "object", properties: [] } } }],
      "tools[0].function.parameters.properties",
      "tools[0].function.parameters.properties must be an object",
    ],
    [
      "required not a list of names",
      [{ function: { name: "a", parameters: { type: "object", required: [1] } } }],
      "tools[0].function.parameters.required",
      "tools[0].function.parameters.required must be an array of strings",
    ],
    [
      "list item not an object",
      [{ function: { name: "a", parameters: ["location"] } }],
      "tools[0].function.parameters[0]",
      "tools[0].function.parameters[0] must be an object",
    ],
    [
      "list item without a name",
      [{ function: { name: "a", parameters: [{ type: "string" }] } }],
      "tools[0].function.parameters[0].name",
      "tools[0].function.parameters[0].name must be a non-empty string",
    ],
    [
      "list item type not a string",
      [{ function: { name: "a", parameters: [{ name: "x", type: ["string"] }] } }],
      "tools[0].function.parameters[0].type",
      "tools[0].function.parameters[0].type must be a string",
    ],
    [
      "list item schema not an object",
      [{ function: { name: "a", parameters: [{ name: "x", schema: "string" }] } }],
      "tools[0].function.parameters[0].schema",
      "tools[0].function.parameters[0].schema must be an object",
    ],
    [
      "duplicate parameter names",
      [{ function: { name: "a", parameters: [{ name: "x" }, { name: "x" }] } }],
      "tools[0].function.parameters[1].name",
      'tools[0].function.parameters[1].name duplicates parameter "x"',
    ],
  ];
  for (const [name, tools, field, message] of invalid) {
    test(`rejects: ${name}`, () => {
      let error: unknown;
      try {
        normaliseTools(tools);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ToolDefinitionError);
      expect((error as ToolDefinitionError).field).toBe(field);
      expect((error as ToolDefinitionError).message).toBe(message);
      expect((error as ToolDefinitionError).name).toBe("ToolDefinitionError");
    });
  }
});
