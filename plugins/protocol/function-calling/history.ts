/**
 * The conversation so far, rewritten for a model that knows nothing of tool calls:
 *
 * - an assistant turn with `tool_calls` becomes the text the model would have written for them: its
 *   content (if any), then `Action: <name>\nAction Input: <arguments>` per call, one call per line pair,
 *   as the parallel template shows; calls whose `Action:` text the content already holds are not written
 *   again (the original answered with the model's raw text as `content` beside the parsed `tool_calls`);
 * - a run of `tool` messages becomes one `user` message of observations in the original's format
 *   (`\nObservation: <result>…</result>\nAnswer:`, one `Observation:` line per result, in the order of the
 *   calls they answer), since the original fed tool results back on the user side of the conversation;
 * - `developer` is treated as `system`; content-part lists keep their text parts only, joined by line breaks,
 *   except a `user` message with `image_url` parts: it keeps its text and image parts, in order (the caller
 *   checks that the model takes images).
 */
import type { ChatMessage, ContentPart as ChatContentPart } from "../../../core/kinds/model.ts";
import { ACTION_MARKER } from "./grammar.ts";
import { parseReply } from "./parse.ts";
import { formatTemplate, OBSERVATION_LINE } from "./templates.ts";

export interface ContentPart {
  type: string;
  text?: string;
  /** An assistant's `refusal` part: read as its text. */
  refusal?: string;
  image_url?: { url: string; detail?: string };
}

export interface RequestToolCall {
  id?: string;
  type?: string;
  function: { name: string; arguments: string | Record<string, unknown> };
}

/** A message as OpenAI clients send it; the project's `ChatMessage` is one. */
export interface RequestMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  content?: string | null | readonly ContentPart[];
  name?: string;
  tool_calls?: readonly RequestToolCall[] | null;
  tool_call_id?: string;
}

export interface RenderedHistory {
  messages: ChatMessage[];
  /** Index in `messages` of the last message that was a client `user` message, or -1. */
  lastUserIndex: number;
}

export function messageText(content: RequestMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (part?.type === "text" ? part.text : part?.type === "refusal" ? part.refusal : undefined))
    .filter((text) => typeof text === "string")
    .join("\n");
}

/** A user message's content for the model: its text, or its text and image parts in order when it has images. */
export function userContent(content: RequestMessage["content"]): string | ChatContentPart[] {
  if (!Array.isArray(content) || !content.some((part) => part?.type === "image_url")) return messageText(content);
  return content.flatMap((part): ChatContentPart[] => {
    if (part?.type === "text" && typeof part.text === "string") return [{ type: "text", text: part.text }];
    if (part?.type === "image_url" && part.image_url) {
      const { url, detail } = part.image_url;
      return [{ type: "image_url", image_url: detail === undefined ? { url } : { url, detail } }];
    }
    return [];
  });
}

export function toolCallsAsText(content: string, calls: readonly RequestToolCall[]): string {
  const actions = calls
    .map((call) => `Action: ${call.function.name}\nAction Input: ${argumentsText(call.function.arguments)}`)
    .join("\n");
  const preamble = content.trimEnd();
  return preamble === "" ? actions : `${preamble}\n${actions}`;
}

export function observationsText(results: readonly string[]): string {
  const lines = results.map((result) => formatTemplate(OBSERVATION_LINE, { exec_result: result }));
  return `\n${lines.join("\n")}\nAnswer:`;
}

export function renderHistory(messages: readonly RequestMessage[]): RenderedHistory {
  const rendered: ChatMessage[] = [];
  let lastUserIndex = -1;
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index];
    switch (message.role) {
      case "tool": {
        let end = index;
        while (end + 1 < messages.length && messages[end + 1].role === "tool") end++;
        const results = inCallOrder(messages.slice(index, end + 1), messages[index - 1]);
        rendered.push({ role: "user", content: observationsText(results) });
        index = end;
        break;
      }
      case "assistant": {
        const text = messageText(message.content);
        const calls = callsNotWrittenIn(text, message.tool_calls ?? []);
        rendered.push({ role: "assistant", content: calls.length > 0 ? toolCallsAsText(text, calls) : text });
        break;
      }
      case "system":
      case "developer":
        rendered.push({ role: "system", content: messageText(message.content) });
        break;
      default:
        rendered.push({ role: "user", content: userContent(message.content) });
        lastUserIndex = rendered.length - 1;
    }
  }
  return { messages: rendered, lastUserIndex };
}

/**
 * The calls whose text `content` does not hold yet. A call written in the content (found as the reply parser
 * finds calls, offering the turn's own call names) stands for one call of that name, in order; arguments are
 * not compared, since the text holds them as the model wrote them and `tool_calls` holds them parsed.
 */
function callsNotWrittenIn(content: string, calls: readonly RequestToolCall[]): readonly RequestToolCall[] {
  if (calls.length === 0 || !content.includes(ACTION_MARKER)) return calls;
  const written = parseReply(content, { toolNames: calls.map((call) => call.function.name), newCallId: () => "" }).tool_calls.map((call) => call.function.name);
  return calls.filter((call) => {
    const at = written.indexOf(call.function.name);
    if (at < 0) return true;
    written.splice(at, 1);
    return false;
  });
}

/**
 * An assistant turn's text for a backend that is given its calls natively: the text before the calls when the
 * content holds their Action text (as the original's answers do), so that the model does not see them twice.
 */
export function textBeforeCalls(content: string, calls: readonly RequestToolCall[]): string {
  if (calls.length === 0 || !content.includes(ACTION_MARKER)) return content;
  const parsed = parseReply(content, { toolNames: calls.map((call) => call.function.name), newCallId: () => "" });
  return parsed.tool_calls.length > 0 ? parsed.content : content;
}

/** Tool results sorted by the position of their call in the assistant turn before them; unknown ids last. */
function inCallOrder(results: readonly RequestMessage[], before: RequestMessage | undefined): string[] {
  const calls = before?.role === "assistant" ? (before.tool_calls ?? []) : [];
  const position = (result: RequestMessage) => {
    const at = calls.findIndex((call) => call.id !== undefined && call.id === result.tool_call_id);
    return at < 0 ? calls.length : at;
  };
  return [...results].sort((a, b) => position(a) - position(b)).map((result) => messageText(result.content));
}

function argumentsText(args: string | Record<string, unknown>): string {
  return typeof args === "string" ? args : JSON.stringify(args);
}
