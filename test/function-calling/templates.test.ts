import { describe, expect, test } from "bun:test";
import { pythonJsonDumps } from "../../plugins/protocol/function-calling/python-json.ts";
import {
  describeTools,
  detectLanguage,
  formatTemplate,
  OBSERVATION_TEMPLATE,
  PROMPT_TEMPLATE,
  REQUIRED_TOOL_QUERY_PREFIX,
  STOP_WORDS,
  TOOL_DESCRIPTION_TEMPLATE,
  TOOL_QUERY_PREFIX,
  TOOL_TEMPLATE,
  toolSystemBlock,
} from "../../plugins/protocol/function-calling/templates.ts";

// Written from reference §3.3 (zh, en are quoted there JSON-escaped) and modelscope-agent 0.7.1 for the parallel forms.
const ZH =
  "\n# 工具\n\n## 你拥有如下工具：\n\n{tool_descs}\n\n## 当你需要调用工具时，请在你的回复中穿插如下的工具调用命令，可以根据需求调用零次或多次：\n\n工具调用\nAction: 工具的名称，必须是[{tool_names}]之一\nAction Input: 工具的输入\nObservation: <result>工具返回的结果</result>\nAnswer: 根据Observation总结本次工具调用返回的结果，如果结果中出现url，请使用如下格式展示出来：![图片](url)\n\n";
const ZH_PARALLEL =
  "\n# 工具\n\n## 你拥有如下工具：\n\n{tool_descs}\n\n## 当你需要调用工具时，请在你的回复中穿插如下的工具调用命令，可以根据需求调用零次或多次：\n\n工具调用\nAction: 工具1的名称，必须是[{tool_names}]之一\nAction Input: 工具1的输入\nAction: 工具2的名称，必须是[{tool_names}]之一\nAction Input: 工具2的输入\n...\nAction: 工具N的名称，必须是[{tool_names}]之一\nAction Input: 工具N的输入\nObservation: <result>工具1返回的结果</result>\nObservation: <result>工具2返回的结果</result>\n...\nObservation: <result>工具N返回的结果</result>\n\nAnswer: 根据Observation总结本次工具调用返回的结果，如果结果中出现url，请使用如下格式展示出来：![图片](url)\n\n";
const EN =
  "\n# Tools\n\n## You have the following tools:\n\n{tool_descs}\n\n## When you need to call a tool, please intersperse the following tool command in your reply. You can call zero or more times according to your needs:\n\nTool Invocation\nAction: The name of the tool, must be one of [{tool_names}]\nAction Input: Tool input\nObservation: <result>Tool returns result</result>\nAnswer: Summarize the results of this tool call based on Observation. If the result contains url, please display it in the following format:![Image](URL)\n\n";
const EN_PARALLEL =
  "\n# Tools\n\n## You have the following tools:\n\n{tool_descs}\n\n## When you need to call a tool, please intersperse the following tool command in your reply. You can call zero or more times according to your needs:\n\nTool Invocation\nAction: The name of the tool 1, must be one of [{tool_names}]\nAction Input: Tool input ot tool 1\nAction: The name of the tool 2, must be one of [{tool_names}]\nAction Input: Tool input ot tool 2\n...\nAction: The name of the tool N, must be one of [{tool_names}]\nAction Input: Tool input ot tool N\nObservation: <result>Tool 1 returns result</result>\nObservation: <result>Tool 1 returns result</result>\n...\nObservation: <result>Tool N returns result</result>\nAnswer: Summarize the results of this tool call based on Observation. If the result contains url, please display it in the following format:![Image](URL)\n\n";

describe("original prompt text, byte for byte", () => {
  test("tool blocks", () => {
    expect(TOOL_TEMPLATE.zh).toBe(ZH);
    expect(TOOL_TEMPLATE.zh_parallel).toBe(ZH_PARALLEL);
    expect(TOOL_TEMPLATE.en).toBe(EN);
    expect(TOOL_TEMPLATE.en_parallel).toBe(EN_PARALLEL);
  });

  test("instruction blocks, query prefixes, observation, stop words, description lines", () => {
    expect(PROMPT_TEMPLATE.zh).toBe("\n# 指令\n\n{role_prompt}\n\n请注意：你具有图像和视频的展示能力，也具有运行代码的能力，不要在回复中说你做不到。\n");
    expect(PROMPT_TEMPLATE.en).toBe(
      "\n#Instructions\n\n{role_prompt}\n\nNote: you have the ability to display images and videos, as well as the ability to run code. Don't say you can't do it.\n",
    );
    expect(TOOL_QUERY_PREFIX).toEqual({ zh: "。你可以使用工具：[{tool_names}]", en: ". you can use tools: [{tool_names}]" });
    expect(REQUIRED_TOOL_QUERY_PREFIX).toEqual({
      zh: "。你必须使用工具中的一个或多个：[{tool_names}]",
      en: ". you must use one or more tools: [{tool_names}]",
    });
    expect(OBSERVATION_TEMPLATE).toBe("\nObservation: <result>{exec_result}</result>\nAnswer:");
    expect(STOP_WORDS).toEqual(["Observation:", "Observation:\n"]);
    expect(TOOL_DESCRIPTION_TEMPLATE).toEqual({
      zh: "{name}: {name} API。{description} 输入参数: {parameters} Format the arguments as a JSON object.",
      en: "{name}: {name} API. {description} Parameters: {parameters} Format the arguments as a JSON object.",
    });
  });
});

describe("detectLanguage (§3.1)", () => {
  test("zh as soon as one CJK ideograph appears anywhere", () => {
    expect(detectLanguage(["What is the weather?"])).toBe("en");
    expect(detectLanguage(["What is the weather?", '{"description": "城市"}'])).toBe("zh");
    expect(detectLanguage([])).toBe("en");
  });

  test("only U+4E00–U+9FFF counts", () => {
    expect(detectLanguage(["こんにちは", "안녕하세요", "：，。"])).toBe("en");
    expect(detectLanguage(["一"])).toBe("zh");
    expect(detectLanguage(["\u9fff"])).toBe("zh");
  });
});

describe("tool description lines", () => {
  const weather = {
    name: "amap_weather",
    description: "amap weather tool",
    promptParameters: [{ name: "location", type: "string", description: "城市/区具体名称", required: true }],
  };

  test("English line, parameters as Python's json.dumps writes them", () => {
    expect(describeTools([weather])).toBe(
      'amap_weather: amap_weather API. amap weather tool Parameters: [{"name": "location", "type": "string", "description": "城市/区具体名称", "required": true}] Format the arguments as a JSON object.',
    );
  });

  test("all lines Chinese when any description is; joined by a blank line", () => {
    const search = { name: "web_search", description: "搜索网页", promptParameters: { type: "object", properties: {} } };
    expect(describeTools([weather, search])).toBe(
      'amap_weather: amap_weather API。amap weather tool 输入参数: [{"name": "location", "type": "string", "description": "城市/区具体名称", "required": true}] Format the arguments as a JSON object.' +
        "\n\n" +
        'web_search: web_search API。搜索网页 输入参数: {"type": "object", "properties": {}} Format the arguments as a JSON object.',
    );
  });

  test("the block fills descriptions and the comma-joined names", () => {
    const search = { name: "web_search", description: "search", promptParameters: {} };
    const block = toolSystemBlock([weather, search], "en", false);
    expect(block).toBe(EN.replace("{tool_descs}", describeTools([weather, search])).replace("{tool_names}", "amap_weather,web_search"));
  });
});

test("formatTemplate fills placeholders in one pass, like str.format", () => {
  expect(formatTemplate("{a}-{b}-{c}", { a: "{b}", b: "B" })).toBe("{b}-B-{c}");
});

test("pythonJsonDumps uses Python's separators and keeps non-ASCII", () => {
  expect(pythonJsonDumps({ a: [1, "中", { b: null, c: true }], "q\"k": "line\nbreak", skip: undefined })).toBe(
    '{"a": [1, "中", {"b": null, "c": true}], "q\\"k": "line\\nbreak"}',
  );
  expect(pythonJsonDumps([])).toBe("[]");
  expect(pythonJsonDumps({})).toBe("{}");
});
