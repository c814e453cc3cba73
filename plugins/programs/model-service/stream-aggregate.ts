/**
 * Folds a streamed chat completion (SSE chunks) into the whole completion, for the trajectory record. Text fields of
 * the deltas are concatenated, tool calls are assembled by their index, any other field keeps its last value.
 */
import { parseSSE } from "../../protocol/model-http/sse.ts";

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

interface ChoiceState {
  index: number;
  message: JsonObject;
  toolCalls: Map<number, JsonObject>;
  finish_reason: unknown;
}

export async function aggregateStream(body: ReadableStream<Uint8Array>): Promise<JsonObject> {
  const top: JsonObject = {};
  const choices = new Map<number, ChoiceState>();
  for await (const event of parseSSE(body)) {
    if (event.data.trim() === "[DONE]") continue;
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      continue;
    }
    if (!isObject(chunk)) continue;
    for (const [key, value] of Object.entries(chunk)) if (key !== "choices" && key !== "object" && value !== null) top[key] = value;
    for (const choice of Array.isArray(chunk.choices) ? chunk.choices.filter(isObject) : []) foldChoice(choices, choice);
  }
  return {
    ...top,
    object: "chat.completion",
    choices: [...choices.values()].map((c) => ({
      index: c.index,
      message: c.toolCalls.size ? { ...c.message, tool_calls: [...c.toolCalls.values()] } : c.message,
      finish_reason: c.finish_reason ?? null,
    })),
  };
}

function foldChoice(choices: Map<number, ChoiceState>, choice: JsonObject): void {
  const index = typeof choice.index === "number" ? choice.index : 0;
  let state = choices.get(index);
  if (!state) choices.set(index, (state = { index, message: {}, toolCalls: new Map(), finish_reason: undefined }));
  if (choice.finish_reason !== undefined && choice.finish_reason !== null) state.finish_reason = choice.finish_reason;
  const delta = isObject(choice.delta) ? choice.delta : {};
  for (const [key, value] of Object.entries(delta)) {
    if (key === "tool_calls" && Array.isArray(value)) value.filter(isObject).forEach((call) => foldToolCall(state.toolCalls, call));
    else if (typeof value === "string" && key !== "role") state.message[key] = `${(state.message[key] as string | undefined) ?? ""}${value}`;
    else if (value !== null) state.message[key] = value;
  }
}

function foldToolCall(calls: Map<number, JsonObject>, delta: JsonObject): void {
  const index = typeof delta.index === "number" ? delta.index : calls.size;
  const call = calls.get(index) ?? { id: undefined, type: "function", function: { name: "", arguments: "" } };
  const fn = call.function as { name: string; arguments: string };
  if (typeof delta.id === "string") call.id = delta.id;
  if (typeof delta.type === "string") call.type = delta.type;
  if (isObject(delta.function)) {
    if (typeof delta.function.name === "string") fn.name += delta.function.name;
    if (typeof delta.function.arguments === "string") fn.arguments += delta.function.arguments;
  }
  calls.set(index, call);
}
