/**
 * The JSON body of a streaming POST /api/chat. Sampling settings and stop words go in `options` (Ollama's
 * names: max_tokens is num_predict). `extra` is merged into the top level, its `options` into ours.
 */
import { ModelError, type ChatMessage, type ChatOptions, type ToolCall } from "../../../core/kinds/model.ts";
import { base64Payload, contentText, imageParts } from "../../protocol/model-http/content.ts";
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
  const wire: Record<string, unknown> = { role: message.role, content: contentText(message.content) };
  // Ollama takes a message's images as base64 beside its text (the client declares data: URLs only).
  const images = imageParts(message.content).map((part) => {
    const payload = base64Payload(part.image_url.url);
    if (payload === undefined) throw new ModelError("ollama takes images inline only: a data:<mime>;base64,… URL, not a link", 400);
    return payload;
  });
  if (images.length) wire.images = images;
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
