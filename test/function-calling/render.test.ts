import { describe, expect, test } from "bun:test";
import { normaliseTools, ToolDefinitionError } from "../../plugins/protocol/function-calling/parameters.ts";
import { type RenderRequest, renderPrompt } from "../../plugins/protocol/function-calling/render.ts";

// The README / seed tool, list-form parameters.
const WEATHER = {
  type: "function",
  function: {
    name: "amap_weather",
    description: "amap weather tool",
    parameters: [{ name: "location", type: "string", description: "城市/区具体名称，如`北京市海淀区`请描述为`海淀区`", required: true }],
  },
};
const SEARCH = {
  type: "function",
  function: {
    name: "web_search",
    description: "search the web",
    parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
  },
};
const WEATHER_LINE =
  'amap_weather: amap_weather API. amap weather tool Parameters: [{"name": "location", "type": "string", "description": "城市/区具体名称，如`北京市海淀区`请描述为`海淀区`", "required": true}] Format the arguments as a JSON object.';
const SEARCH_LINE =
  'web_search: web_search API. search the web Parameters: {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]} Format the arguments as a JSON object.';

// Reference §3.3 zh_parallel with tool_descs = WEATHER_LINE, tool_names = amap_weather.
const ZH_PARALLEL_WEATHER =
  "\n# 工具\n\n## 你拥有如下工具：\n\n" +
  WEATHER_LINE +
  "\n\n## 当你需要调用工具时，请在你的回复中穿插如下的工具调用命令，可以根据需求调用零次或多次：\n\n工具调用\n" +
  "Action: 工具1的名称，必须是[amap_weather]之一\nAction Input: 工具1的输入\n" +
  "Action: 工具2的名称，必须是[amap_weather]之一\nAction Input: 工具2的输入\n...\n" +
  "Action: 工具N的名称，必须是[amap_weather]之一\nAction Input: 工具N的输入\n" +
  "Observation: <result>工具1返回的结果</result>\nObservation: <result>工具2返回的结果</result>\n...\n" +
  "Observation: <result>工具N返回的结果</result>\n\n" +
  "Answer: 根据Observation总结本次工具调用返回的结果，如果结果中出现url，请使用如下格式展示出来：![图片](url)\n\n";
// Reference §3.3 zh (single call).
const ZH_WEATHER =
  "\n# 工具\n\n## 你拥有如下工具：\n\n" +
  WEATHER_LINE +
  "\n\n## 当你需要调用工具时，请在你的回复中穿插如下的工具调用命令，可以根据需求调用零次或多次：\n\n工具调用\n" +
  "Action: 工具的名称，必须是[amap_weather]之一\nAction Input: 工具的输入\nObservation: <result>工具返回的结果</result>\n" +
  "Answer: 根据Observation总结本次工具调用返回的结果，如果结果中出现url，请使用如下格式展示出来：![图片](url)\n\n";
// Reference §3.3 en_parallel with the search tool only.
const EN_PARALLEL_SEARCH =
  "\n# Tools\n\n## You have the following tools:\n\n" +
  SEARCH_LINE +
  "\n\n## When you need to call a tool, please intersperse the following tool command in your reply. You can call zero or more times according to your needs:\n\nTool Invocation\n" +
  "Action: The name of the tool 1, must be one of [web_search]\nAction Input: Tool input ot tool 1\n" +
  "Action: The name of the tool 2, must be one of [web_search]\nAction Input: Tool input ot tool 2\n...\n" +
  "Action: The name of the tool N, must be one of [web_search]\nAction Input: Tool input ot tool N\n" +
  "Observation: <result>Tool 1 returns result</result>\nObservation: <result>Tool 1 returns result</result>\n...\n" +
  "Observation: <result>Tool N returns result</result>\n" +
  "Answer: Summarize the results of this tool call based on Observation. If the result contains url, please display it in the following format:![Image](URL)\n\n";

function render(request: Omit<RenderRequest, "tools"> & { tools?: unknown }) {
  return renderPrompt({ ...request, tools: normaliseTools(request.tools) });
}

describe("renderPrompt: the original's prompt", () => {
  test("§8#12 tool_choice auto: zh parallel block, prefixed query", () => {
    const prompt = render({ tools: [WEATHER], tool_choice: "auto", messages: [{ role: "user", content: "海淀区天气" }] });
    expect(prompt.messages).toEqual([
      { role: "system", content: ZH_PARALLEL_WEATHER },
      { role: "user", content: "(。你可以使用工具：[amap_weather])海淀区天气" },
    ]);
    expect(prompt.lang).toBe("zh");
    expect(prompt.toolNames).toEqual(["amap_weather"]);
    expect(prompt.parallelToolCalls).toBe(true);
    expect(prompt.stop).toEqual(["Observation:", "Observation:\n"]);
  });

  test("§8#11 tool_choice required replaces the prefix", () => {
    const prompt = render({ tools: [WEATHER], tool_choice: "required", messages: [{ role: "user", content: "海淀区天气" }] });
    expect(prompt.messages[1]).toEqual({ role: "user", content: "。你必须使用工具中的一个或多个：[amap_weather]海淀区天气" });
  });

  test("parallel_tool_calls false uses the single-call block", () => {
    const prompt = render({ tools: [WEATHER], parallel_tool_calls: false, messages: [{ role: "user", content: "海淀区天气" }] });
    expect(prompt.messages[0]).toEqual({ role: "system", content: ZH_WEATHER });
    expect(prompt.parallelToolCalls).toBe(false);
  });

  test("Chinese only in the tool parameters still selects zh (§3.1)", () => {
    const prompt = render({ tools: [WEATHER], messages: [{ role: "user", content: "weather in Haidian" }] });
    expect(prompt.lang).toBe("zh");
    expect(prompt.messages[1].content).toBe("(。你可以使用工具：[amap_weather])weather in Haidian");
  });

  test("English throughout", () => {
    const prompt = render({ tools: [SEARCH], messages: [{ role: "user", content: "find bun docs" }] });
    expect(prompt.messages).toEqual([
      { role: "system", content: EN_PARALLEL_SEARCH },
      { role: "user", content: "(. you can use tools: [web_search])find bun docs" },
    ]);
  });

  test("several tools: descriptions joined by a blank line, names by a comma", () => {
    const prompt = render({ tools: [WEATHER, SEARCH], tool_choice: "required", messages: [{ role: "user", content: "hi" }] });
    expect(prompt.messages[0].content).toContain(`${WEATHER_LINE}\n\n${SEARCH_LINE}\n\n## `);
    expect(prompt.messages[0].content).toContain("必须是[amap_weather,web_search]之一");
    expect(prompt.messages[1].content).toBe("。你必须使用工具中的一个或多个：[amap_weather,web_search]hi");
  });
});

describe("renderPrompt: fixes", () => {
  test("the client's system message becomes the instruction, not the literal None", () => {
    const prompt = render({
      tools: [WEATHER],
      messages: [
        { role: "system", content: "你是天气助手。" },
        { role: "user", content: "海淀区天气" },
      ],
    });
    expect(prompt.messages).toEqual([
      {
        role: "system",
        content: `${ZH_PARALLEL_WEATHER}\n# 指令\n\n你是天气助手。\n\n请注意：你具有图像和视频的展示能力，也具有运行代码的能力，不要在回复中说你做不到。\n`,
      },
      { role: "user", content: "(。你可以使用工具：[amap_weather])海淀区天气" },
    ]);
  });

  test("several leading system/developer messages are joined; later ones stay in place", () => {
    const prompt = render({
      tools: [SEARCH],
      messages: [
        { role: "system", content: "Be brief." },
        { role: "developer", content: [{ type: "text", text: "Cite sources." }] },
        { role: "user", content: "q1" },
        { role: "system", content: "Now answer in French." },
      ],
    });
    expect(prompt.messages[0].content).toBe(
      `${EN_PARALLEL_SEARCH}\n#Instructions\n\nBe brief.\n\nCite sources.\n\nNote: you have the ability to display images and videos, as well as the ability to run code. Don't say you can't do it.\n`,
    );
    expect(prompt.messages.slice(1)).toEqual([
      { role: "user", content: "(. you can use tools: [web_search])q1" },
      { role: "system", content: "Now answer in French." },
    ]);
  });

  test("no tools: no template text at all", () => {
    const messages = [
      { role: "system" as const, content: "Be brief." },
      { role: "user" as const, content: "海淀区天气" },
    ];
    for (const request of [{ messages }, { messages, tools: [] }, { messages, tools: [WEATHER], tool_choice: "none" }]) {
      const prompt = render(request);
      expect(prompt.messages).toEqual(messages);
      expect(prompt.toolNames).toEqual([]);
      expect(prompt.stop).toEqual([]);
    }
  });

  test("object tool_choice renders only the named tool and tells the model to use it", () => {
    const prompt = render({
      tools: [WEATHER, SEARCH],
      tool_choice: { type: "function", function: { name: "web_search" } },
      messages: [{ role: "user", content: "find bun docs" }],
    });
    expect(prompt.messages).toEqual([
      { role: "system", content: EN_PARALLEL_SEARCH },
      { role: "user", content: ". you must use one or more tools: [web_search]find bun docs" },
    ]);
    expect(prompt.toolNames).toEqual(["web_search"]);
  });

  test("invalid tool_choice values are ToolDefinitionErrors naming the field", () => {
    const messages = [{ role: "user" as const, content: "x" }];
    const cases: [unknown, string][] = [
      [{ type: "function", function: { name: "nope" } }, "tool_choice.function.name"],
      [{ type: "function" }, "tool_choice.function.name"],
      [{ type: "other", function: { name: "web_search" } }, "tool_choice.type"],
      [42, "tool_choice"],
    ];
    for (const [tool_choice, field] of cases) {
      expect(() => render({ tools: [SEARCH], tool_choice, messages })).toThrow(ToolDefinitionError);
      try {
        render({ tools: [SEARCH], tool_choice, messages });
      } catch (error) {
        expect((error as ToolDefinitionError).field).toBe(field);
      }
    }
    // Other strings behave like "auto", as in the original.
    expect(render({ tools: [SEARCH], tool_choice: "any", messages }).toolNames).toEqual(["web_search"]);
  });

  test("assistant tool_calls with content null come back as the model's Action text; tool results as observations", () => {
    const prompt = render({
      tools: [WEATHER],
      parallel_tool_calls: true,
      messages: [
        { role: "user", content: "北京和上海的天气" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "amap_weather", arguments: '{"location":"北京"}' } },
            { id: "call_b", type: "function", function: { name: "amap_weather", arguments: '{"location":"上海"}' } },
          ],
        },
        // Answers out of order: rendered in the order of the calls.
        { role: "tool", tool_call_id: "call_b", content: "上海：多云" },
        { role: "tool", tool_call_id: "call_a", content: "北京：晴" },
      ],
    });
    expect(prompt.messages.slice(1)).toEqual([
      { role: "user", content: "(。你可以使用工具：[amap_weather])北京和上海的天气" },
      {
        role: "assistant",
        content: 'Action: amap_weather\nAction Input: {"location":"北京"}\nAction: amap_weather\nAction Input: {"location":"上海"}',
      },
      {
        role: "user",
        content: "\nObservation: <result>北京：晴</result>\nObservation: <result>上海：多云</result>\nAnswer:",
      },
    ]);
  });

  test("an assistant turn whose content already holds its calls' Action text is not written twice", () => {
    const raw = '好的。\nAction: amap_weather\nAction Input: {"location": "北京"}\nAction: amap_weather\nAction Input: {"location": "上海"}\n\n';
    const calls = [
      { type: "function", function: { name: "amap_weather", arguments: '{"location": "北京"}' } },
      { type: "function", function: { name: "amap_weather", arguments: '{"location": "上海"}' } },
    ];
    const assistant = (content: string, toolCalls = calls) => render({ tools: [WEATHER], messages: [{ role: "user", content: "天气" }, { role: "assistant", content, tool_calls: toolCalls }] }).messages[2];
    // The original's answer replayed: its content is the model's raw text, tool_calls beside it.
    expect(assistant(raw)).toEqual({ role: "assistant", content: raw });
    // Only the first call in the text: the second is written after it, once.
    expect(assistant('Action: amap_weather\nAction Input: {"location": "北京"}').content).toBe(
      'Action: amap_weather\nAction Input: {"location": "北京"}\nAction: amap_weather\nAction Input: {"location": "上海"}',
    );
    // A content that merely mentions another tool's Action text still gets the calls written.
    expect(assistant("I would write Action: web_search\nAction Input: {}", calls.slice(0, 1)).content).toBe(
      'I would write Action: web_search\nAction Input: {}\nAction: amap_weather\nAction Input: {"location": "北京"}',
    );
  });

  test("a single tool result is exactly the original's observation template", () => {
    const prompt = render({
      tools: [SEARCH],
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: "Let me search.",
          tool_calls: [{ id: "c1", type: "function", function: { name: "web_search", arguments: '{"query":"q"}' } }],
        },
        { role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "result text" }] },
        { role: "assistant", content: "Here it is." },
        { role: "user", content: "thanks, and q2?" },
      ],
    });
    expect(prompt.messages.slice(1)).toEqual([
      { role: "user", content: "q" },
      { role: "assistant", content: 'Let me search.\nAction: web_search\nAction Input: {"query":"q"}' },
      { role: "user", content: "\nObservation: <result>result text</result>\nAnswer:" },
      { role: "assistant", content: "Here it is." },
      { role: "user", content: "(. you can use tools: [web_search])thanks, and q2?" },
    ]);
  });

  test("history is rewritten even when no tools are offered", () => {
    const prompt = render({
      tool_choice: "none",
      tools: [SEARCH],
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "web_search", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "r" },
      ],
    });
    expect(prompt.messages).toEqual([
      { role: "user", content: "q" },
      { role: "assistant", content: "Action: web_search\nAction Input: {}" },
      { role: "user", content: "\nObservation: <result>r</result>\nAnswer:" },
    ]);
  });

  test("content parts keep their text, joined; a user message with images keeps its parts in order", () => {
    const textOnly = render({ messages: [{ role: "user", content: [{ type: "text", text: "What is" }, { type: "text", text: "this?" }] }] });
    expect(textOnly.messages).toEqual([{ role: "user", content: "What is\nthis?" }]);
    const image = { type: "image_url" as const, image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } };
    const prompt = render({
      messages: [{ role: "user", content: [{ type: "text", text: "What is in" }, image, { type: "text", text: "this picture?" }] }],
    });
    expect(prompt.messages).toEqual([{ role: "user", content: [{ type: "text", text: "What is in" }, image, { type: "text", text: "this picture?" }] }]);
    // With tools the query prefix goes on the first text part, the image stays where it was.
    const withTools = render({ tools: [SEARCH], messages: [{ role: "user", content: [image, { type: "text", text: "find it" }] }] });
    expect(withTools.messages[1]).toEqual({ role: "user", content: [image, { type: "text", text: "(. you can use tools: [web_search])find it" }] });
  });
});
