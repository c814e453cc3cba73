/**
 * The message list of the original's agent loop (`RolePlay._run` of modelscope-agent 0.7.1, reference §5.1), with its
 * prompt text byte for byte: system = [knowledge block] + [tool block, single-call template] + instruction block;
 * the history without a leading system message; the query with the `( … )` prefix naming the tools and the
 * knowledge base. Each tool's description line takes its own language (zh when its description has CJK), and its
 * parameters are shown as the JSON Schema the original built from the list form.
 */
import type { ChatMessage } from "../../../core/kinds/model.ts";
import type { JsonSchema } from "../function-calling/parameters.ts";
import {
  describeTools,
  detectLanguage,
  formatTemplate,
  type Lang,
  PROMPT_TEMPLATE,
  TOOL_QUERY_PREFIX,
  TOOL_TEMPLATE,
} from "../function-calling/templates.ts";

export const KNOWLEDGE_TEMPLATE: Record<Lang, string> = {
  zh: "\n\n# 知识库\n\n{ref_doc}\n\n",
  en: "\n\n# Knowledge Base\n\n{ref_doc}\n\n",
};

export const KNOWLEDGE_QUERY_PREFIX: Record<Lang, string> = {
  zh: "。请查看前面的知识库",
  en: ". Please read the knowledge base at the beginning",
};

export interface PromptTool {
  name: string;
  description: string;
  schema: JsonSchema;
}

export interface AgentPromptInput {
  instruction: string;
  tools: readonly PromptTool[];
  /** Every message but the last. */
  history: readonly { role: string; content: string }[];
  query: string;
  /** The knowledge text, already cut to its limit; absent or empty: no knowledge block. */
  refDoc?: string;
  lang: Lang;
}

/** The original's language rule for a run: zh when the query, the history, the knowledge or the extra keys have CJK. */
export function agentLanguage(query: string, history: readonly { content: string }[], refDoc: string | undefined, extras: Record<string, unknown>): Lang {
  return detectLanguage([query, ...history.map((m) => m.content), refDoc ?? "", JSON.stringify(extras)]);
}

export function agentMessages(input: AgentPromptInput): ChatMessage[] {
  const { lang, tools, refDoc } = input;
  let system = "";
  let prefix = "";
  if (refDoc) system += formatTemplate(KNOWLEDGE_TEMPLATE[lang], { ref_doc: refDoc });
  if (tools.length) {
    const toolNames = tools.map((tool) => tool.name).join(",");
    const toolDescs = tools.map((tool) => describeTools([{ ...tool, promptParameters: tool.schema }])).join("\n\n");
    system += formatTemplate(TOOL_TEMPLATE[lang], { tool_descs: toolDescs, tool_names: toolNames });
    prefix += formatTemplate(TOOL_QUERY_PREFIX[lang], { tool_names: toolNames });
  }
  if (refDoc) prefix += KNOWLEDGE_QUERY_PREFIX[lang];
  system += formatTemplate(PROMPT_TEMPLATE[lang], { role_prompt: input.instruction });

  const history = input.history[0]?.role === "system" ? input.history.slice(1) : input.history;
  return [
    { role: "system", content: system },
    ...history.map((m) => ({ role: m.role as ChatMessage["role"], content: m.content })),
    { role: "user", content: (prefix ? `(${prefix})` : "") + input.query },
  ];
}
