/**
 * The JSON body of a streaming POST /api/chat. Sampling settings and stop words go in `options` (Ollama's
 * names: max_tokens is num_predict). `extra` is merged into the top level, its `options` into ours.
 */
import type { ChatMessage, ChatOptions, ToolCall } from "../../../core/kinds/model.ts";
import { asObject, setIfDefined } from "../../protocol/model-http/shape.ts";
import { samplingFields } from "../../protocol/model-http/sampling.ts";

export interface ChatBodySettings {
  model: string;
  supportsTools: boolean;
  keepAlive?: string | number;
}

export function ollamaChatBody(messages: ChatMessage[], options: ChatOptions, settings: ChatBodySettings): Record<string, unknown> {
  const sampling = samplingFields(options, "num_predict");

  const body: Record<string, unknown> = {};
  setIfDefined(body, "keep_alive", settings.keepAlive);
  // Ollama has no tool_choice: "none" can only be honoured by not offering the tools.
  if (settings.supportsTools && options.tools?.length && options.tool_choice !== "none") body.tools = options.tools;
  Object.assign(body, options.extra);
  body.options = { ...sampling, ...asObject(options.extra?.options) };
  body.model = options.model ?? settings.model;
  body.messages = messages.map(wireMessage);
  body.stream = true;
  return body;
}

function wireMessage(message: ChatMessage): Record<string, unknown> {
  const wire: Record<string, unknown> = { role: message.role, content: message.content ?? "" };
  if (message.tool_calls?.length) wire.tool_calls = message.tool_calls.map(wireToolCall);
  // Ollama names the tool a result belongs to; it has no call ids.
  if (message.role === "tool") setIfDefined(wire, "tool_name", message.name);
  return wire;
}

/** Ollama takes arguments as an object, not OpenAI's JSON string. */
function wireToolCall(call: ToolCall): Record<string, unknown> {
  let args: unknown = {};
  try {
    args = JSON.parse(call.function.arguments || "{}");
  } catch {
    args = { input: call.function.arguments };
  }
  return { function: { name: call.function.name, arguments: args } };
}
