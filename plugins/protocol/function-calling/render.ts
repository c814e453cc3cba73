/**
 * The message list sent to a model without native function calling (§3.4 of the reference, fixed):
 *
 * 1. With tools in effect (see `tool-choice.ts`), one system message: the tool block in the detected
 *    language (`_parallel` variant unless `parallel_tool_calls` is false), followed, when the client sent
 *    leading system (or developer) messages, by the original instruction block with their text
 *    (joined by a blank line) as the instruction. The original dropped the client's system message and
 *    wrote the literal "None" there; without a client system message the instruction block is left out.
 * 2. The rest of the conversation, rewritten by `history.ts`.
 * 3. The last client `user` message gets the original's prefix: `(。你可以使用工具：[a,b])` /
 *    `(. you can use tools: [a,b])`, or for "required" and a named function, without parentheses,
 *    `。你必须使用工具中的一个或多个：[a]` / `. you must use one or more tools: [a]`.
 *
 * With no tools in effect (none sent, an empty list, or `tool_choice: "none"`) no template text is added
 * at all; only the history rewrite applies, and `toolNames` is empty so that nothing is parsed as a call.
 */
import type { ChatMessage } from "../../../core/kinds/model.ts";
import { messageText, type RequestMessage, renderHistory } from "./history.ts";
import type { FunctionTool } from "./parameters.ts";
import { pythonJsonDumps } from "./python-json.ts";
import {
  detectLanguage,
  formatTemplate,
  type Lang,
  PROMPT_TEMPLATE,
  REQUIRED_TOOL_QUERY_PREFIX,
  STOP_WORDS,
  TOOL_QUERY_PREFIX,
  toolNamesList,
  toolSystemBlock,
} from "./templates.ts";
import { resolveToolChoice } from "./tool-choice.ts";

export interface RenderRequest {
  messages: readonly RequestMessage[];
  /** From `normaliseTools`. */
  tools?: readonly FunctionTool[];
  /** As the client sent it; invalid values throw `ToolDefinitionError`. */
  tool_choice?: unknown;
  /** Default true. */
  parallel_tool_calls?: boolean | null;
}

/** Also the options for `parseReply` / `ReplyStreamParser` on the model's answer. */
export interface RenderedPrompt {
  messages: ChatMessage[];
  lang: Lang;
  /** The tools the prompt offers; only these become tool calls. */
  toolNames: string[];
  parallelToolCalls: boolean;
  /** Stop words to send upstream (the original's); empty when no tools are in effect. */
  stop: string[];
}

export function renderPrompt(request: RenderRequest): RenderedPrompt {
  const choice = resolveToolChoice(request.tool_choice, request.tools ?? []);
  const tools = choice.tools;
  const parallel = request.parallel_tool_calls ?? true;
  if (tools.length === 0) {
    const history = renderHistory(request.messages);
    // Without tools no template is chosen, so the (whole-conversation) language check runs only if asked.
    return {
      messages: history.messages,
      get lang() {
        return detectLanguage(languageSources(request.messages, tools));
      },
      toolNames: [],
      parallelToolCalls: parallel,
      stop: [],
    };
  }
  const lang = detectLanguage(languageSources(request.messages, tools));

  const leading = countLeadingSystemMessages(request.messages);
  const instruction = request.messages
    .slice(0, leading)
    .map((message) => messageText(message.content))
    .join("\n\n");
  let system = toolSystemBlock(tools, lang, parallel);
  if (instruction.trim() !== "") system += formatTemplate(PROMPT_TEMPLATE[lang], { role_prompt: instruction });

  const history = renderHistory(request.messages.slice(leading));
  const query = history.messages[history.lastUserIndex];
  if (query) query.content = withPrefix(queryPrefix(tools, lang, choice.mustCall), query.content);

  return {
    messages: [{ role: "system", content: system }, ...history.messages],
    lang,
    toolNames: tools.map((tool) => tool.name),
    parallelToolCalls: parallel,
    stop: [...STOP_WORDS],
  };
}

/** The prefix goes before the text; with parts, on the first text part (or as a text part of its own). */
function withPrefix(prefix: string, content: ChatMessage["content"]): ChatMessage["content"] {
  if (!Array.isArray(content)) return prefix + (content ?? "");
  const first = content.findIndex((part) => part.type === "text");
  if (first < 0) return [{ type: "text", text: prefix }, ...content];
  return content.map((part, i) => (i === first && part.type === "text" ? { ...part, text: prefix + part.text } : part));
}

function queryPrefix(tools: readonly FunctionTool[], lang: Lang, mustCall: boolean): string {
  const names = { tool_names: toolNamesList(tools) };
  if (mustCall) return formatTemplate(REQUIRED_TOOL_QUERY_PREFIX[lang], names);
  return `(${formatTemplate(TOOL_QUERY_PREFIX[lang], names)})`;
}

function countLeadingSystemMessages(messages: readonly RequestMessage[]): number {
  let count = 0;
  while (count < messages.length && (messages[count].role === "system" || messages[count].role === "developer")) count++;
  return count;
}

/** Everything the original's language check saw: the conversation and the tool definitions. */
function* languageSources(messages: readonly RequestMessage[], tools: readonly FunctionTool[]): Generator<string> {
  for (const message of messages) {
    yield messageText(message.content);
    for (const call of message.tool_calls ?? []) yield `${call.function.name} ${JSON.stringify(call.function.arguments)}`;
  }
  for (const tool of tools) yield `${tool.name} ${tool.description} ${pythonJsonDumps(tool.promptParameters)}`;
}
