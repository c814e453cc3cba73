/**
 * A complete model reply turned into OpenAI `content` + `tool_calls` (the original's `detect_multi_tool`,
 * fixed). See `grammar.ts` for what a call looks like. The rules on top of it:
 *
 * - `content` is the text before the first call, trailing whitespace removed; with no call it is the whole
 *   text. Text between and after calls is dropped (it is the model running ahead of the tool results).
 * - The reply is cut at `Observation:` first, as the original's stop word would have done upstream.
 * - Calls get `call_<24 random chars>` ids; `arguments` is always compact, valid JSON text.
 * - `parallelToolCalls: false` keeps only the first call.
 * - With no tool names (no tools, or `tool_choice: "none"`) nothing is parsed: `content` is the text as is.
 */
import type { ToolCall } from "../../../core/kinds/model.ts";
import { newToolCallId } from "./call-id.ts";
import { ACTION_MARKER, checkLineStart, isJsonStart, matchCall, rawArguments } from "./grammar.ts";
import { LenientJsonWriter } from "./lenient-json.ts";
import { cutAtStopMarker } from "./stop-marker.ts";

export interface ParseOptions {
  /** Names that may be called: the tools rendered into the prompt. */
  toolNames: readonly string[];
  /** Default true; false keeps the first call only. */
  parallelToolCalls?: boolean;
  /** Id factory, for tests; defaults to `newToolCallId`. */
  newCallId?: () => string;
}

export type FinishReason = "tool_calls" | "stop";

export interface ParsedReply {
  content: string;
  tool_calls: ToolCall[];
  finish_reason: FinishReason;
}

export function parseReply(text: string, options: ParseOptions): ParsedReply {
  const names = new Set(options.toolNames);
  if (names.size === 0) return { content: text, tool_calls: [], finish_reason: "stop" };
  const parallel = options.parallelToolCalls ?? true;
  const newId = options.newCallId ?? newToolCallId;

  const reply = cutAtStopMarker(text);
  const calls: ToolCall[] = [];
  let content = reply;
  let from = 0;
  for (;;) {
    const start = reply.indexOf(ACTION_MARKER, from);
    if (start < 0) break;
    const match = matchCall(reply, start, names, true);
    if (match.kind !== "call") {
      from = start + 1;
      continue;
    }
    if (calls.length === 0) content = reply.slice(0, start).trimEnd();
    const args = readArguments(reply, match.argsStart);
    calls.push({ id: newId(), type: "function", function: { name: match.name, arguments: args.json } });
    if (!parallel) break;
    from = args.end;
  }
  return { content, tool_calls: calls, finish_reason: calls.length > 0 ? "tool_calls" : "stop" };
}

/** The arguments starting at `start` and the index just after them. */
function readArguments(text: string, start: number): { json: string; end: number } {
  let first = start;
  while (first < text.length && /\s/.test(text[first])) first++;
  if (first < text.length && isJsonStart(text[first])) return readJsonArguments(text, first);

  const lineEnd = text.indexOf("\n", start);
  const line = lineEnd < 0 ? text.slice(start) : text.slice(start, lineEnd);
  return { json: rawArguments(line), end: lineEnd < 0 ? text.length : lineEnd + 1 };
}

function readJsonArguments(text: string, start: number): { json: string; end: number } {
  const writer = new LenientJsonWriter();
  let json = "";
  let at = start;
  while (at < text.length) {
    const ch = text[at++];
    json += writer.push(ch);
    if (writer.done) return { json, end: at };
    if (ch === "\n" && checkLineStart(text, at, true) === "next-call") break;
  }
  return { json: json + writer.end(), end: at };
}
