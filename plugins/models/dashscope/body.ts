/**
 * The JSON body of a DashScope generation call. DashScope's vendor knobs (top_k, repetition_penalty,
 * enable_search, …) live under `parameters`, so `extra` is merged there.
 */
import type { ChatMessage, ChatOptions } from "../../../core/kinds/model.ts";
import { contentText } from "../../protocol/model-http/content.ts";
import { setIfDefined } from "../../protocol/model-http/shape.ts";
import { samplingFields } from "../../protocol/model-http/sampling.ts";

export function generationBody(
  messages: ChatMessage[],
  options: ChatOptions,
  settings: { model: string; incrementalOutput: boolean; multimodal?: boolean },
): Record<string, unknown> {
  const parameters = samplingFields(options);
  Object.assign(parameters, options.extra);
  // The stream parser depends on these two.
  parameters.result_format = "message";
  parameters.incremental_output = settings.incrementalOutput;
  return {
    model: options.model ?? settings.model,
    input: { messages: messages.map((message) => wireMessage(message, settings.multimodal ?? false)) },
    parameters,
  };
}

/** The multimodal API takes every content as a list of `{text}` and `{image: url}` items, in order. */
function wireMessage(message: ChatMessage, multimodal: boolean): Record<string, unknown> {
  const content = multimodal ? multimodalContent(message.content) : contentText(message.content);
  const wire: Record<string, unknown> = { role: message.role, content };
  setIfDefined(wire, "name", message.name);
  if (message.tool_calls?.length) wire.tool_calls = message.tool_calls;
  setIfDefined(wire, "tool_call_id", message.tool_call_id);
  return wire;
}

function multimodalContent(content: ChatMessage["content"]): ({ text: string } | { image: string })[] {
  if (!Array.isArray(content)) return [{ text: content ?? "" }];
  return content.map((part) => (part.type === "text" ? { text: part.text } : { image: part.image_url.url }));
}
