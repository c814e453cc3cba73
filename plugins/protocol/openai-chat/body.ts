/** The JSON body of a streaming POST /chat/completions. */
import type { ChatMessage, ChatOptions } from "../../../core/kinds/model.ts";
import { setIfDefined } from "../model-http/shape.ts";
import { samplingFields } from "../model-http/sampling.ts";

export interface BodySettings {
  model: string;
  supportsTools: boolean;
  includeUsage: boolean;
}

export function chatCompletionsBody(messages: ChatMessage[], options: ChatOptions, settings: BodySettings): Record<string, unknown> {
  const body = samplingFields(options);
  if (settings.supportsTools && options.tools?.length) {
    body.tools = options.tools;
    setIfDefined(body, "tool_choice", options.tool_choice);
  }
  Object.assign(body, options.extra);
  // The client reads a stream: these are not overridable by `extra`.
  body.model = options.model ?? settings.model;
  body.messages = messages.map(wireMessage);
  body.stream = true;
  if (settings.includeUsage) body.stream_options = { ...asRecord(body.stream_options), include_usage: true };
  return body;
}

function wireMessage(message: ChatMessage): Record<string, unknown> {
  const wire: Record<string, unknown> = { role: message.role, content: message.content };
  setIfDefined(wire, "name", message.name);
  if (message.tool_calls?.length) wire.tool_calls = message.tool_calls;
  setIfDefined(wire, "tool_call_id", message.tool_call_id);
  return wire;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
