/**
 * A whole chat completion told as an OpenAI stream, for agents that ask for `stream: true` when the answer comes
 * whole (from the trainer, or from a recorded trajectory): one chunk with the message as its delta (tool calls get
 * their `index`) and the finish reason, a usage chunk when the agent asked for one, then `[DONE]`. A response that
 * already is a list of chunks is streamed as it is.
 */
type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

export function completionChunks(completion: unknown, includeUsage: boolean): unknown[] {
  if (Array.isArray(completion)) return completion;
  if (!isObject(completion) || completion.object === "chat.completion.chunk") return [completion];
  const { choices, usage, object: _object, ...rest } = completion;
  const chunk = {
    ...rest,
    object: "chat.completion.chunk",
    choices: (Array.isArray(choices) ? choices : []).filter(isObject).map((choice, position) => {
      const { message, index, finish_reason, ...others } = choice;
      return { ...others, index: index ?? position, delta: deltaOf(message), finish_reason: finish_reason ?? "stop" };
    }),
  };
  const chunks: unknown[] = [chunk];
  if (includeUsage && usage !== undefined) chunks.push({ ...rest, object: "chat.completion.chunk", choices: [], usage });
  return chunks;
}

function deltaOf(message: unknown): JsonObject {
  if (!isObject(message)) return {};
  const { tool_calls, ...delta } = message;
  if (!Array.isArray(tool_calls)) return delta;
  return { ...delta, tool_calls: tool_calls.map((call, index) => (isObject(call) ? { index, ...call } : call)) };
}

export function sseBody(chunks: unknown[]): string {
  return chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join("") + "data: [DONE]\n\n";
}

export function wantsUsage(request: JsonObject): boolean {
  return isObject(request.stream_options) && request.stream_options.include_usage === true;
}
