/**
 * The prompt text of modelscope-agent 0.7.1 (`llm/utils/function_call_with_raw_prompt.py`, `agents/role_play.py`,
 * `tools/base.py`), byte for byte, typos included: models tuned on it expect exactly this wording.
 * Placeholders are `{name}` and are filled in one pass, like Python's `str.format`.
 */
import { pythonJsonDumps } from "./python-json.ts";

export type Lang = "zh" | "en";

const CJK = /[\u4e00-\u9fff]/;

/** The original's rule (§3.1): "zh" as soon as any CJK ideograph appears in any of the texts. */
export function detectLanguage(texts: Iterable<string>): Lang {
  for (const text of texts) if (CJK.test(text)) return "zh";
  return "en";
}

/** Replaces `{key}` by `values[key]` in one pass, so that placeholders inside the values stay as they are. */
export function formatTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, key: string) => (Object.hasOwn(values, key) ? values[key] : placeholder));
}

const TOOL_HEADER_ZH =
  "\n# 工具\n\n## 你拥有如下工具：\n\n{tool_descs}\n\n## 当你需要调用工具时，请在你的回复中穿插如下的工具调用命令，可以根据需求调用零次或多次：\n\n工具调用\n";
const ANSWER_ZH = "Answer: 根据Observation总结本次工具调用返回的结果，如果结果中出现url，请使用如下格式展示出来：![图片](url)\n\n";
const TOOL_HEADER_EN =
  "\n# Tools\n\n## You have the following tools:\n\n{tool_descs}\n\n## When you need to call a tool, please intersperse the following tool command in your reply. You can call zero or more times according to your needs:\n\nTool Invocation\n";
const ANSWER_EN =
  "Answer: Summarize the results of this tool call based on Observation. If the result contains url, please display it in the following format:![Image](URL)\n\n";

/** The tool system block, keyed `lang` or `lang_parallel` (the latter when `parallel_tool_calls` is on). */
export const TOOL_TEMPLATE = {
  zh:
    TOOL_HEADER_ZH +
    "Action: 工具的名称，必须是[{tool_names}]之一\nAction Input: 工具的输入\nObservation: <result>工具返回的结果</result>\n" +
    ANSWER_ZH,
  zh_parallel:
    TOOL_HEADER_ZH +
    "Action: 工具1的名称，必须是[{tool_names}]之一\nAction Input: 工具1的输入\n" +
    "Action: 工具2的名称，必须是[{tool_names}]之一\nAction Input: 工具2的输入\n...\n" +
    "Action: 工具N的名称，必须是[{tool_names}]之一\nAction Input: 工具N的输入\n" +
    "Observation: <result>工具1返回的结果</result>\nObservation: <result>工具2返回的结果</result>\n...\n" +
    "Observation: <result>工具N返回的结果</result>\n\n" +
    ANSWER_ZH,
  en:
    TOOL_HEADER_EN +
    "Action: The name of the tool, must be one of [{tool_names}]\nAction Input: Tool input\nObservation: <result>Tool returns result</result>\n" +
    ANSWER_EN,
  en_parallel:
    TOOL_HEADER_EN +
    "Action: The name of the tool 1, must be one of [{tool_names}]\nAction Input: Tool input ot tool 1\n" +
    "Action: The name of the tool 2, must be one of [{tool_names}]\nAction Input: Tool input ot tool 2\n...\n" +
    "Action: The name of the tool N, must be one of [{tool_names}]\nAction Input: Tool input ot tool N\n" +
    // Upstream repeats "Tool 1" here; kept.
    "Observation: <result>Tool 1 returns result</result>\nObservation: <result>Tool 1 returns result</result>\n...\n" +
    "Observation: <result>Tool N returns result</result>\n" +
    ANSWER_EN,
} as const;

/** One line per tool (`BaseTool.parser_function`). */
export const TOOL_DESCRIPTION_TEMPLATE: Record<Lang, string> = {
  zh: "{name}: {name} API。{description} 输入参数: {parameters} Format the arguments as a JSON object.",
  en: "{name}: {name} API. {description} Parameters: {parameters} Format the arguments as a JSON object.",
};

/** The instruction block; the original filled `role_prompt` with the agent instruction. */
export const PROMPT_TEMPLATE: Record<Lang, string> = {
  zh: "\n# 指令\n\n{role_prompt}\n\n请注意：你具有图像和视频的展示能力，也具有运行代码的能力，不要在回复中说你做不到。\n",
  en: "\n#Instructions\n\n{role_prompt}\n\nNote: you have the ability to display images and videos, as well as the ability to run code. Don't say you can't do it.\n",
};

/** Put inside `( … )` before the user query when the model may use tools. */
export const TOOL_QUERY_PREFIX: Record<Lang, string> = {
  zh: "。你可以使用工具：[{tool_names}]",
  en: ". you can use tools: [{tool_names}]",
};

/** Put, without parentheses, before the user query when the model must use a tool (`tool_choice: "required"`). */
export const REQUIRED_TOOL_QUERY_PREFIX: Record<Lang, string> = {
  zh: "。你必须使用工具中的一个或多个：[{tool_names}]",
  en: ". you must use one or more tools: [{tool_names}]",
};

/** One tool result, as the parallel template shows them. */
export const OBSERVATION_LINE = "Observation: <result>{exec_result}</result>";

/** How a tool result was fed back to the model (`DEFAULT_EXEC_TEMPLATE`). */
export const OBSERVATION_TEMPLATE = `\n${OBSERVATION_LINE}\nAnswer:`;

/** Stop words the original sent upstream with every tool-enabled call. */
export const STOP_WORDS: readonly string[] = ["Observation:", "Observation:\n"];

export interface DescribedTool {
  name: string;
  description: string;
  promptParameters: unknown;
}

/** The language of the description lines: "zh" if any tool description has CJK, decided once for all lines. */
export function describeTools(tools: readonly DescribedTool[]): string {
  const template = TOOL_DESCRIPTION_TEMPLATE[detectLanguage(tools.map((tool) => tool.description))];
  return tools
    .map((tool) =>
      formatTemplate(template, {
        name: tool.name,
        description: tool.description,
        parameters: pythonJsonDumps(tool.promptParameters),
      }),
    )
    .join("\n\n");
}

export function toolNamesList(tools: readonly DescribedTool[]): string {
  return tools.map((tool) => tool.name).join(",");
}

export function toolSystemBlock(tools: readonly DescribedTool[], lang: Lang, parallel: boolean): string {
  const key: keyof typeof TOOL_TEMPLATE = parallel ? `${lang}_parallel` : lang;
  const template = TOOL_TEMPLATE[key];
  return formatTemplate(template, { tool_descs: describeTools(tools), tool_names: toolNamesList(tools) });
}
