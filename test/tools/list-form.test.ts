/** `/tool_info`'s list form of a tool declared with a JSON Schema, read the way the original's client reads it. */
import { describe, expect, test } from "bun:test";
import { normaliseParameters } from "../../plugins/protocol/function-calling/parameters.ts";
import { listForm, parametersIn } from "../../plugins/protocol/tool-call/list-form.ts";
import { available } from "../support/env.ts";
import { python, readAsOriginal } from "../support/original-tool-reader.ts";
import nested from "./fixtures/tools/nested-args/tool.ts";
import { nestedAsOriginal, nestedList } from "./nested-args-forms.ts";

describe("list form of JSON Schema parameters", () => {
  test("one item per property with name, type, description, required; nested objects and arrays keep their shape in schema", () => {
    expect(listForm(nested.parameters as Record<string, unknown>)).toEqual(nestedList);
  });

  test("types are single names: from type lists, anyOf members, or implied by the keywords", () => {
    const list = listForm({
      type: "object",
      properties: {
        a: { anyOf: [{ type: "null" }, { type: "integer" }] },
        b: { properties: { x: {} } },
        c: { items: {} },
        d: { enum: [1, 2] },
        e: {},
        f: { type: ["null"] },
      },
    });
    expect(list.map((item) => [item.name, item.type])).toEqual([["a", "integer"], ["b", "object"], ["c", "array"], ["d", "number"], ["e", "string"], ["f", "null"]]);
    expect(list.every((item) => item.description === "" && item.required === false)).toBe(true);
  });

  test("read back by our list reader, it is the declared schema again (but for a type and description always given, and no null type)", () => {
    const declared = structuredClone(nested.parameters) as any;
    declared.properties.note.type = "string";
    declared.properties.tags.description = "";
    declared.properties.mode.type = "string"; // implied by its enum; the original needs a type
    expect(normaliseParameters(listForm(nested.parameters as Record<string, unknown>))).toEqual({ ...declared, required: ["query", "filters"] });
  });

  test("parametersIn: a list stays as declared; json_schema converts a list", () => {
    const list = [{ name: "x", type: "string", description: "d", required: true }];
    expect(parametersIn("list", list)).toBe(list);
    expect(parametersIn("json_schema", list)).toEqual({ type: "object", properties: { x: { type: "string", description: "d" } }, required: ["x"] });
    expect(parametersIn("json_schema", nested.parameters)).toEqual(nested.parameters as Record<string, unknown>);
  });

  test("the original's client reads the list form, and fails on the JSON Schema (as it did on ours)", () => {
    if (!available("python3", python)) return;
    const info = { name: nested.name, description: nested.description };
    expect(readAsOriginal({ ...info, parameters: nested.parameters })).toEqual({ error: "TypeError" });
    expect(readAsOriginal({ ...info, parameters: listForm(nested.parameters as Record<string, unknown>) }, { query: "q" })).toEqual({ function: nestedAsOriginal, missing: ["filters"] });
  });
});
